package sfu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/senim-kz/senim/internal/hashfile"
	"github.com/senim-kz/senim/internal/safepath"
)

// Recording is one finished track file of a room.
type Recording struct {
	Participant string    `json:"participant"`
	Kind        string    `json:"kind"`  // audio or video
	Codec       string    `json:"codec"` // audio/opus, video/VP8
	File        string    `json:"file"`  // the name in the room's recording directory
	SHA256      string    `json:"sha256"`
	Bytes       int64     `json:"bytes"`
	Duration    int64     `json:"duration_ms"` // from the RTP timestamps
	Packets     int64     `json:"packets"`
	Started     time.Time `json:"started"`
	Ended       time.Time `json:"ended"`
	// Cut: the file was finished after the server stopped mid-call (a
	// call's WebM Salvage recovered): it ends where the server stopped.
	Cut bool `json:"cut,omitempty"`
}

type mediaWriter interface {
	WriteRTP(*rtp.Packet) error
	Close() error
}

// RecordBudget caps what a room's recording writes to disk together:
// every byte of every file of the call, the track files (their headers,
// framing and frames) and the call's WebM (its head, clusters, blocks and
// index) alike. Each writer reserves what a packet or frame can cost before
// writing it and gives back what it did not use, so the files never pass
// the cap together. Past the cap every writer of the room stops, each file
// ends where it is (the WebM is still finished: its head and index were
// reserved beforehand), and Capped is called once; forwarding goes on.
type RecordBudget struct {
	max    int64
	used   atomic.Int64
	spent  atomic.Bool
	once   sync.Once
	capped func()
}

// NewRecordBudget returns a budget of max bytes (0: none) that calls capped
// once, from a recording goroutine, when it runs out; capped must not block.
func NewRecordBudget(max int64, capped func()) *RecordBudget {
	return &RecordBudget{max: max, capped: capped}
}

// take reserves n bytes; false once the budget is spent (then for good:
// no file of the room grows any more).
func (b *RecordBudget) take(n int64) bool {
	if b == nil || b.max <= 0 {
		return true
	}
	if b.spent.Load() {
		return false
	}
	if b.used.Add(n) <= b.max {
		return true
	}
	b.spent.Store(true)
	b.once.Do(func() {
		if b.capped != nil {
			b.capped()
		}
	})
	return false
}

// give returns n reserved bytes that were not written.
func (b *RecordBudget) give(n int64) {
	if b == nil || b.max <= 0 || n <= 0 {
		return
	}
	b.used.Add(-n)
}

// Spent reports whether the cap was reached.
func (b *RecordBudget) Spent() bool { return b != nil && b.max > 0 && b.spent.Load() }

// Recording runs beside forwarding, not in its way. The forwarding loop
// copies each packet into a ring of reused slots (no allocation, no
// channel send per packet) and goes on; the recorder's own goroutine
// drains the ring every drainEvery (or when it is half full) and writes
// the packets through a buffer of fileBuffer bytes. The buffer reaches the
// file when it is full and at the first drain flushEvery after the last
// flush, so a file costs a write per fileBuffer bytes or per second,
// whichever comes first, instead of one per drain (measured: a flush per
// drain was about half of what recording cost the server). A full ring
// makes the forwarding loop wait for the disk, as writing inline did: a
// recording never loses a packet.
//
// The crash window: a packet reaches the file (the OS's page cache) at
// most drainEvery+flushEvery (1.25 s) after it arrived; a server killed
// mid-call loses at most that much of each track file (Salvage takes what
// is there), and the call's WebM its last cluster or so (webm.go). The
// file is synced once, on close.
const (
	ivfFrameHeader = 12 // bytes before each frame of an IVF file
	oggPageHeader  = 27 // bytes of an Ogg page's header, before its segment table
)

const (
	ringSlots  = 128 // packets; 192 KiB per recorded track
	slotBytes  = 1500
	drainEvery = 250 * time.Millisecond
	flushEvery = time.Second
	fileBuffer = 64 << 10
)

// slot is one packet waiting in the ring, with when it arrived.
type slot struct {
	n  int
	at time.Time
	b  [slotBytes]byte
}

// recorder writes one track. The track's forwarding loop is its only
// producer (add, finish); its goroutine (drain) is the only consumer.
type recorder struct {
	budget     *RecordBudget // shared by the room's recorders; nil: no cap
	slots      []slot
	head, tail atomic.Uint64 // head: next slot to write out; tail: next slot to fill
	kick       chan struct{} // producer → writer: the ring is half full
	space      chan struct{} // writer → producer: slots were freed
	done       chan struct{} // closed by finish
	exited     chan struct{} // closed by the writer goroutine

	// The writer goroutine's alone until exited.
	w      mediaWriter
	out    *bufferedFile
	webm   *webmSource // the call's WebM; nil: none
	credit int64       // bytes reserved from the budget and not yet written
	audio  bool
	pkt    rtp.Packet
	path   string
	rec    Recording
	clock  uint32
	have   bool
	lastTS uint32
	ticks  uint64
	failed error
	// flushed: when the buffer last reached the file.
	flushed time.Time
}

// newRecorder starts the file of a participant's n-th track of the room
// (n counts every track of the room), and feeds the call's WebM if mux is
// set. The file is named by the participant's role, the kind and n, e.g.
// client-video-4.ivf: never by who the participant is (an IIN).
func newRecorder(dir string, n int, participant string, codec webrtc.RTPCodecParameters, mux *callWebM) (*recorder, error) {
	return newBudgetedRecorder(dir, n, participant, codec, mux, nil)
}

// newBudgetedRecorder is newRecorder whose writes count against budget.
func newBudgetedRecorder(dir string, n int, participant string, codec webrtc.RTPCodecParameters, mux *callWebM, budget *RecordBudget) (*recorder, error) {
	r, err := openRecorder(dir, n, participant, codec, mux, budget)
	if err != nil {
		return nil, err
	}
	go r.run()
	return r, nil
}

// openRecorder is newBudgetedRecorder without its writer goroutine.
func openRecorder(dir string, n int, participant string, codec webrtc.RTPCodecParameters, mux *callWebM, budget *RecordBudget) (*recorder, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	kind, ext := "video", ".ivf"
	mime := strings.ToLower(codec.MimeType)
	switch mime {
	case strings.ToLower(webrtc.MimeTypeOpus):
		kind, ext = "audio", ".ogg"
	case strings.ToLower(webrtc.MimeTypeVP8):
	default:
		return nil, fmt.Errorf("sfu: no recorder for %s", codec.MimeType)
	}
	role, _, _ := strings.Cut(participant, ":")
	name := fmt.Sprintf("%s-%s-%d%s", StreamID(role), kind, n, ext)
	// The role comes from the participant's id: checked, like every path a
	// request influences.
	path, err := safepath.Join(dir, name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	out := newBufferedFile(f, fileBuffer)
	var w mediaWriter
	var ivf *ivfWriter
	if kind == "audio" {
		w, err = newOggWriter(out, codec.ClockRate, codec.Channels)
	} else {
		ivf, err = newIVFWriter(out)
		w = ivf
	}
	if err == nil {
		err = out.Flush() // the file's header is on disk from the start
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	budget.take(out.n) // the header is written: if it passed the cap, nothing more is
	r := &recorder{w: w, out: out, budget: budget, audio: kind == "audio", path: f.Name(), clock: codec.ClockRate,
		rec:   Recording{Participant: participant, Kind: kind, Codec: codec.MimeType, File: name},
		slots: make([]slot, ringSlots), kick: make(chan struct{}, 1), space: make(chan struct{}, 1),
		done: make(chan struct{}), exited: make(chan struct{}), flushed: time.Now()}
	if mux != nil {
		r.webm = mux.source(dir, participant, kind, codec)
		if r.webm != nil {
			r.webm.ivf = ivf // the WebM takes the frames the IVF writer put together
		}
	}
	return r, nil
}

// add queues one raw RTP packet that arrived at now. It waits only when
// the ring is full.
func (r *recorder) add(raw []byte, now time.Time) {
	if r.budget.Spent() {
		return // past the room's cap: the files end where they are
	}
	tail := r.tail.Load()
	for tail-r.head.Load() >= ringSlots {
		select {
		case r.kick <- struct{}{}:
		default:
		}
		<-r.space
	}
	s := &r.slots[tail%ringSlots]
	s.n = copy(s.b[:], raw)
	s.at = now
	r.tail.Store(tail + 1)
	if tail+1-r.head.Load() >= ringSlots/2 {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// run is the writer goroutine: it drains the ring on a tick, when kicked,
// and a last time when finish closes done.
func (r *recorder) run() {
	defer close(r.exited)
	tick := time.NewTicker(drainEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-r.kick:
		case <-r.done:
			r.drain(true)
			return
		}
		r.drain(false)
	}
}

// drain writes what the ring holds into the file's buffer, and the buffer
// to the file if last is set or flushEvery has passed since it last was.
func (r *recorder) drain(last bool) {
	if head, tail := r.head.Load(), r.tail.Load(); head != tail {
		for ; head != tail; head++ {
			s := &r.slots[head%ringSlots]
			r.write(s.b[:s.n], s.at)
		}
		r.head.Store(head)
		select {
		case r.space <- struct{}{}:
		default:
		}
	}
	if r.failed != nil || r.out.Buffered() == 0 {
		return
	}
	if now := time.Now(); last || now.Sub(r.flushed) >= flushEvery {
		r.flushed = now
		if err := r.out.Flush(); err != nil {
			r.failed = err
		}
	}
}

func (r *recorder) write(raw []byte, now time.Time) {
	if r.failed != nil {
		return
	}
	p := &r.pkt
	if err := p.Unmarshal(raw); err != nil {
		return // the forwarding loop skipped it too
	}
	// The most this packet can add to the file, reserved first: an Ogg
	// page (its header, segment table and the payload), or an IVF frame
	// header and the payload (the VP8 descriptor is left out of it). A
	// VP8 frame is written at its last packet, so what its packets
	// reserved is settled then.
	capped := r.budget != nil && r.budget.max > 0
	var before int64
	if capped {
		need := int64(len(p.Payload)) + ivfFrameHeader
		if r.audio {
			need = int64(len(p.Payload)) + oggPageHeader + int64(len(p.Payload))/255 + 1
		}
		if !r.budget.take(need) {
			return // past the room's cap
		}
		r.credit += need
		before = r.out.n
	}
	if !r.have {
		r.have, r.lastTS, r.rec.Started = true, p.Timestamp, now
	} else if d := int32(p.Timestamp - r.lastTS); d > 0 { // wraps; late packets do not count
		r.ticks += uint64(d)
		r.lastTS = p.Timestamp
	}
	r.rec.Ended = now
	r.rec.Packets++
	if err := r.w.WriteRTP(p); err != nil {
		r.failed = err
	}
	if capped {
		r.credit -= r.out.n - before
		if r.audio || p.Marker {
			r.budget.give(r.credit)
			r.credit = 0
		}
	}
	if r.webm != nil {
		r.webm.packet(p, now)
	}
}

// finish closes the file (synced) and hashes it.
func (r *recorder) finish() (Recording, error) {
	close(r.done)
	<-r.exited
	if err := r.w.Close(); err != nil {
		return Recording{}, fmt.Errorf("sfu: close %s: %w", r.path, err)
	}
	if r.failed != nil {
		return Recording{}, fmt.Errorf("sfu: write %s: %w", r.path, r.failed)
	}
	sum, n, err := HashFile(r.path)
	if err != nil {
		return Recording{}, err
	}
	r.rec.SHA256, r.rec.Bytes = sum, n
	if r.clock > 0 {
		r.rec.Duration = int64(r.ticks * 1000 / uint64(r.clock))
	}
	return r.rec, nil
}

// HashFile returns the hex SHA-256 and size of a file.
func HashFile(path string) (string, int64, error) { return hashfile.SHA256(path) }

// Salvage describes the files a recording directory holds, for a room that
// never finished them (the server died mid-call): each file as far as it
// got, hashed as it is. Durations of the track files are unknown (0);
// participant and kind come from the file names the room gave them: the
// role (client-video-4.ivf), or, in a recording made before names left out
// who the participant is, the participant (client-871008401427-video-4.ivf).
// The call's WebM, if the server was killed while writing it
// (call.webm.part), is finished first, as far as it got (webm_recover.go),
// and listed as WebMFile with Cut set; a call.webm the room finished is
// listed as it is. A WebM that cannot be finished is left as it is: the
// files are returned with an ErrWebMUnrecoverable; any other error comes
// with no files.
func Salvage(dir string) ([]Recording, error) {
	recovered, werr := recoverWebM(dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Recording
	for _, e := range entries {
		name := e.Name()
		if name == WebMFile && !e.IsDir() {
			if recovered != nil {
				out = append(out, *recovered)
				continue
			}
			w, err := listWebM(dir)
			if err != nil {
				return nil, err
			}
			out = append(out, w)
			continue
		}
		kind, codec := "", ""
		switch filepath.Ext(name) {
		case ".ogg":
			kind, codec = "audio", webrtc.MimeTypeOpus
		case ".ivf":
			kind, codec = "video", webrtc.MimeTypeVP8
		default:
			continue
		}
		stream, _, ok := strings.Cut(name, "-"+kind+"-")
		if !ok || e.IsDir() {
			continue
		}
		sum, n, err := HashFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		participant := strings.Replace(stream, "-", ":", 1) // client-871008401427 → client:871008401427
		out = append(out, Recording{Participant: participant, Kind: kind, Codec: codec, File: name, SHA256: sum, Bytes: n})
	}
	if werr != nil && !errors.Is(werr, ErrWebMUnrecoverable) {
		return nil, werr
	}
	return out, werr
}

// listWebM describes a call.webm found finished in a room's directory:
// the room's own (it finished the file, then the server stopped before the
// act named it), or one an earlier Salvage recovered (Cut).
func listWebM(dir string) (Recording, error) {
	path := filepath.Join(dir, WebMFile)
	f, err := os.Open(path)
	if err != nil {
		return Recording{}, err
	}
	head, _ := readWebMHead(f)
	_ = f.Close()
	sum, n, err := HashFile(path)
	if err != nil {
		return Recording{}, err
	}
	var parties []string
	for _, e := range head.Tracks.TrackEntry {
		role, _, _ := strings.Cut(e.Name, " ")
		parties = append(parties, role)
	}
	return Recording{Participant: strings.Join(dedupe(parties), " "), Kind: "video", Codec: WebMCodec, File: WebMFile,
		SHA256: sum, Bytes: n, Duration: max(int64(head.Info.Duration)-1, 0), Cut: head.Info.WritingApp == webmRecovered}, nil
}
