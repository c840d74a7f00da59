package sfu

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
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
}

type mediaWriter interface {
	WriteRTP(*rtp.Packet) error
	Close() error
}

// RecordBudget caps what a room's recorders write together: the RTP payload
// bytes of every track (the files add a few bytes of framing per packet).
// Past the cap every recorder of the room stops writing, its file ends
// where it is, and Capped is called once; forwarding goes on.
type RecordBudget struct {
	max    int64
	used   atomic.Int64
	once   sync.Once
	capped func()
}

// NewRecordBudget returns a budget of max bytes (0: none) that calls capped
// once, from a forwarding goroutine, when it runs out; capped must not block.
func NewRecordBudget(max int64, capped func()) *RecordBudget {
	return &RecordBudget{max: max, capped: capped}
}

// take spends n bytes; false once the budget is spent.
func (b *RecordBudget) take(n int) bool {
	if b == nil || b.max <= 0 {
		return true
	}
	if b.used.Add(int64(n)) <= b.max {
		return true
	}
	b.used.Store(b.max + 1) // stays spent: no wrap however long the call
	b.once.Do(func() {
		if b.capped != nil {
			b.capped()
		}
	})
	return false
}

// Spent reports whether the cap was reached.
func (b *RecordBudget) Spent() bool { return b != nil && b.max > 0 && b.used.Load() > b.max }

// recorder writes one track. Only the track's forwarding loop uses it.
type recorder struct {
	budget *RecordBudget // shared by the room's recorders; nil: no cap
	w      mediaWriter
	path   string
	rec    Recording
	clock  uint32
	have   bool
	lastTS uint32
	ticks  uint64
	failed error
}

// syncedFile reaches the disk before it closes: a finished recording is
// named in the act's log, so it must outlive a crash that follows.
type syncedFile struct{ *os.File }

func (f syncedFile) Close() error {
	if err := f.Sync(); err != nil {
		_ = f.File.Close()
		return err
	}
	return f.File.Close()
}

func newRecorder(dir, key, participant string, codec webrtc.RTPCodecParameters) (*recorder, error) {
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
	name := key + ext
	// The name comes from the participant's stream id: checked, like every
	// path a request influences.
	path, err := safepath.Join(dir, name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	var w mediaWriter
	if kind == "audio" {
		w, err = oggwriter.NewWith(syncedFile{f}, codec.ClockRate, codec.Channels)
	} else {
		w, err = ivfwriter.NewWith(syncedFile{f}, ivfwriter.WithCodec(webrtc.MimeTypeVP8))
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &recorder{w: w, path: f.Name(), clock: codec.ClockRate,
		rec: Recording{Participant: participant, Kind: kind, Codec: codec.MimeType, File: name}}, nil
}

func (r *recorder) write(p *rtp.Packet) {
	if r.failed != nil || !r.budget.take(len(p.Payload)) {
		return
	}
	now := time.Now()
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
}

// finish closes the file (synced) and hashes it.
func (r *recorder) finish() (Recording, error) {
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
// got, hashed as it is. Durations are unknown (0); participant and kind
// come from the file names the room gave them.
func Salvage(dir string) ([]Recording, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Recording
	for _, e := range entries {
		name := e.Name()
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
	return out, nil
}
