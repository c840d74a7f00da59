package sfu

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/internal/safepath"
)

// One WebM per call. Besides each track's own file (record.go), every
// recorded track of a room goes into one WebM file that any browser or
// player opens: VP8 video and Opus audio of each party, one WebM track per
// party and kind (a party that reconnects goes on in the same track), on
// one timeline. A track's place on it is when its first packet arrived
// (from the room's first recorder on) plus its RTP timestamps, so that the
// parties' audio and video stay aligned as they were heard.
//
// The WebM is written on its own goroutine: each recorder's goroutine (not
// the forwarding loop) turns packets into frames, one message per frame,
// and the muxer puts them in order and writes a cluster at a time. The
// head of the file (EBML header, SeekHead, Info with the duration, Tracks)
// is final only when the call ends, so the file begins with webmReserved
// bytes written last; until then it is named WebMFile+".part". Cues at the
// end make it seekable in a browser. While the call goes on, the reserved
// bytes hold a provisional head (a Segment of unknown size, the tracks
// known so far), rewritten before a cluster with a new track or a new
// picture size reaches the file: a server killed mid-call leaves a .part
// that Salvage finishes (webm_recover.go).
const (
	// WebMFile is the name of a call's WebM in its recording directory.
	WebMFile = "call.webm"
	// WebMCodec is the Codec of a call's WebM in its Recording.
	WebMCodec = "video/webm"

	webmReserved   = 4096                     // the head of the file: room for a few dozen tracks
	webmReorder    = 1500                     // ms a frame may wait for earlier ones of other tracks
	webmMaxCluster = 5000                     // ms a cluster spans at most
	webmMinCluster = 1000                     // ms before a video keyframe starts a new one
	webmQueue      = 512                      // frames waiting for the muxer
	maxVP8Frame    = 4 << 20                  // a VP8 frame larger than this is dropped (by the WebM and the IVF writers)
	webmTimescale  = uint64(time.Millisecond) // block timecodes in ms

	// The most bytes parts of the file take, reserved from the room's
	// RecordBudget before they are written: a cluster's ID and size, its
	// Timecode element, one CuePoint, and the Cues element's ID and size.
	webmClusterHead = 12
	webmTimecodeMax = 10
	webmCuePointMax = 34
	webmCuesHeadMax = 12
)

// callWebM is a room's WebM muxer, made with the room's first recorder.
type callWebM struct {
	once   sync.Once
	m      *webmMuxer
	err    error
	budget *RecordBudget // the room's; nil: no cap
}

// source returns the muxer input of a new track, or nil if the call has
// no WebM (it could not be made; the per-track files go on).
func (c *callWebM) source(dir, participant, kind string, codec webrtc.RTPCodecParameters) *webmSource {
	c.once.Do(func() { c.m, c.err = newWebMMuxer(dir, c.budget) })
	if c.m == nil {
		return nil
	}
	return c.m.source(participant, kind, codec)
}

// finish ends the WebM: nil if the room recorded nothing.
func (c *callWebM) finish() (*Recording, error) {
	c.once.Do(func() {}) // no recorder came: nothing to finish
	if c.err != nil {
		return nil, c.err
	}
	if c.m == nil {
		return nil, nil
	}
	return c.m.finish()
}

type webmTrack struct {
	num           uint64
	participant   string
	kind          string
	width, height uint64 // from the first VP8 keyframe
	channels      uint64
	inFile        bool // a frame of it was written: the head names it
}

type webmFrame struct {
	t    *webmTrack
	ms   int64 // since the muxer began
	key  bool
	data []byte
	buf  *[]byte // data's buffer, from webmBuffers: back to it once written
}

// webmBuffers are the frames' copies on their way to the muxer, reused:
// a copy made per frame was a sixth of what the server allocated while
// recording a call.
var webmBuffers = sync.Pool{New: func() any { return new([]byte) }}

// webmBufferMax: a frame buffer larger than this (a big keyframe) is left
// to the collector rather than kept.
const webmBufferMax = 256 << 10

// newWebMFrame is a frame of t holding a copy of data.
func newWebMFrame(t *webmTrack, ms int64, key bool, data []byte) webmFrame {
	b := webmBuffers.Get().(*[]byte)
	*b = append((*b)[:0], data...)
	return webmFrame{t: t, ms: ms, key: key, data: *b, buf: b}
}

// release gives the frame's buffer back; the frame is not used after.
func (fr *webmFrame) release() {
	if fr.buf != nil && cap(*fr.buf) <= webmBufferMax {
		*fr.buf = (*fr.buf)[:0]
		webmBuffers.Put(fr.buf)
	}
	*fr = webmFrame{}
}

type webmMuxer struct {
	dir, path string
	t0        time.Time
	in        chan webmFrame
	exited    chan struct{}
	budget    *RecordBudget
	app       string // the Info's WritingApp

	mu     sync.Mutex
	tracks map[string]*webmTrack
	order  []*webmTrack

	// The writer goroutine's alone until exited.
	f        *os.File
	w        *bufio.Writer
	pos      int64 // bytes written to the file
	pending  []webmFrame
	newest   int64
	base     int64 // the first written frame's ms: the file's zero
	started  bool
	cluster  bytes.Buffer // the open cluster's blocks
	clusterT int64        // ms of the open cluster; -1: none
	cues     []webm.CuePoint
	last     int64
	frames   int64
	first    time.Time
	failed   error
	stopped  bool // the room's budget is spent: no more frames
	// headDirty: a track or a picture size the file's head does not
	// name yet; the provisional head is rewritten before the next cluster.
	headDirty bool
}

func newWebMMuxer(dir string, budget *RecordBudget) (*webmMuxer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path, err := safepath.Join(dir, WebMFile+".part")
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	m := &webmMuxer{dir: dir, path: path, t0: time.Now(), in: make(chan webmFrame, webmQueue), exited: make(chan struct{}),
		tracks: map[string]*webmTrack{}, f: f, w: bufio.NewWriterSize(f, fileBuffer), clusterT: -1, budget: budget, app: "senim"}
	// The head and the Cues' own ID and size are reserved up front, so
	// that the file can always be finished.
	m.stopped = !budget.take(webmReserved + webmCuesHeadMax)
	// The head is written last, over these bytes.
	if _, err := m.w.Write(make([]byte, webmReserved)); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	m.pos = webmReserved
	go m.run()
	return m, nil
}

func (m *webmMuxer) source(participant, kind string, codec webrtc.RTPCodecParameters) *webmSource {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := participant + "\x00" + kind
	t := m.tracks[key]
	if t == nil {
		t = &webmTrack{num: uint64(len(m.order) + 1), participant: participant, kind: kind, channels: uint64(codec.Channels)}
		if t.channels == 0 {
			t.channels = 2
		}
		m.tracks[key] = t
		m.order = append(m.order, t)
	}
	return &webmSource{m: m, t: t, clock: codec.ClockRate, video: kind == "video"}
}

// webmSource turns one track's RTP packets into WebM frames. It runs on
// the track's recorder goroutine.
//
// A VP8 frame goes into the WebM only whole: it begins at a packet that
// starts the frame's first partition, and every packet to its last (the
// marker) follows in sequence with the frame's timestamp; a frame missing
// a packet is dropped, and so are inter frames before the first keyframe.
// (The track's IVF keeps pion's rules, which differ: it keeps a frame whose
// middle or last packet was lost, run into the next one.) Its bytes are not
// put together a second time: each packet the frame takes, the IVF writer
// took too, just after the frame's previous one, so the frame is a run of
// the IVF writer's frame (ivf.go) and is copied from there, once, at its
// last packet. Where the IVF writer did not take a packet the frame takes
// (inter frames before the IVF's first keyframe, which the WebM drops in
// the end anyway), or there is no IVF writer, the frame is put together
// here (frame, own). TestWebMFramesFromIVF compares the frames with those
// the source put together itself before.
type webmSource struct {
	m       *webmMuxer
	t       *webmTrack
	clock   uint32
	video   bool
	started bool
	offset  int64  // ms from the muxer's start to the track's first packet
	lastTS  uint32 // RTP timestamp last seen
	ext     int64  // RTP ticks since the first packet (unwrapped)
	nextSeq uint16
	keyed   bool // a keyframe was sent: inter frames may follow
	vp8     codecs.VP8Packet

	// The VP8 frame being put together: size bytes so far (0: none).
	// They are bytes start.. of the IVF writer's frame gen, or, if own,
	// frame.
	ivf     *ivfWriter // the track's IVF writer, which wrote the packet just before; nil: none
	size    int
	frameTS int64
	gen     uint64
	start   int
	own     bool
	frame   []byte
}

func (s *webmSource) packet(p *rtp.Packet, now time.Time) {
	if s.clock == 0 {
		return
	}
	if !s.started {
		s.started, s.lastTS, s.offset = true, p.Timestamp, now.Sub(s.m.t0).Milliseconds()
		s.nextSeq = p.SequenceNumber
	}
	s.ext += int64(int32(p.Timestamp - s.lastTS))
	s.lastTS = p.Timestamp
	ms := s.offset + s.ext*1000/int64(s.clock)
	if !s.video {
		if len(p.Payload) > 0 {
			s.m.in <- newWebMFrame(s.t, ms, true, p.Payload)
		}
		return
	}
	lost := p.SequenceNumber != s.nextSeq
	s.nextSeq = p.SequenceNumber + 1
	if _, err := s.vp8.Unmarshal(p.Payload); err != nil || len(s.vp8.Payload) == 0 {
		s.drop()
		return
	}
	if s.vp8.S == 1 && s.vp8.PID == 0 {
		s.drop() // a new frame: what was unfinished is dropped
		s.frameTS = ms
	} else if lost || s.size == 0 || s.frameTS != ms {
		s.drop() // a piece of a frame whose start was lost
		return
	}
	if s.size+len(s.vp8.Payload) > maxVP8Frame || !s.take(s.vp8.Payload) {
		s.drop()
		return
	}
	if !p.Marker {
		return
	}
	frame := s.frame
	if !s.own {
		f, _ := s.ivf.frame(s.gen) // take saw it there
		frame = f[s.start : s.start+s.size]
	}
	key := frame[0]&0x01 == 0
	if key {
		s.keyed = true
	}
	if s.keyed {
		s.m.in <- newWebMFrame(s.t, s.frameTS, key, frame)
	}
	s.drop()
}

// take adds payload to the frame: where the IVF writer just put it, if
// that is right after the frame's bytes there, else into frame. false:
// the frame's bytes so far are nowhere (never, as the IVF writer works:
// the frame is dropped).
func (s *webmSource) take(payload []byte) bool {
	if !s.own {
		iv := s.ivf
		switch {
		case iv != nil && iv.took && s.size == 0:
			s.gen, s.start, s.size = iv.gen, iv.at, len(payload)
			return true
		case iv != nil && iv.took && iv.gen == s.gen && iv.at == s.start+s.size:
			s.size += len(payload)
			return true
		}
		s.frame = s.frame[:0]
		if s.size > 0 { // the frame so far, from the IVF writer's
			f, ok := iv.frame(s.gen)
			if !ok || len(f) < s.start+s.size {
				return false
			}
			s.frame = append(s.frame, f[s.start:s.start+s.size]...)
		}
		s.own = true
	}
	s.frame = append(s.frame, payload...)
	s.size += len(payload)
	return true
}

// drop ends the frame being put together.
func (s *webmSource) drop() {
	s.size, s.own, s.frame = 0, false, s.frame[:0]
}

func (m *webmMuxer) run() {
	defer close(m.exited)
	for fr := range m.in {
		// Into its place by time: frames come nearly in order, so this
		// looks at the last few.
		i := len(m.pending)
		m.pending = append(m.pending, fr)
		for ; i > 0 && m.pending[i-1].ms > fr.ms; i-- {
			m.pending[i] = m.pending[i-1]
		}
		m.pending[i] = fr
		if fr.ms > m.newest {
			m.newest = fr.ms
		}
		if len(m.pending) > 1 && m.pending[0].ms <= m.newest-webmReorder {
			m.flush(m.newest - webmReorder)
		}
	}
	m.flush(math.MaxInt64)
	m.closeCluster()
}

// flush writes the pending frames up to ms (all, at the end), in order.
func (m *webmMuxer) flush(upTo int64) {
	n := 0
	for n < len(m.pending) && m.pending[n].ms <= upTo {
		m.write(m.pending[n])
		m.pending[n].release() // written into the cluster: the frame is not kept
		n++
	}
	m.pending = append(m.pending[:0], m.pending[n:]...)
}

func (m *webmMuxer) write(fr webmFrame) {
	if m.failed != nil || m.stopped {
		return
	}
	if !m.started {
		m.started, m.base, m.first = true, fr.ms, m.t0.Add(time.Duration(fr.ms)*time.Millisecond)
	}
	ms := fr.ms - m.base
	if ms < 0 {
		ms = 0 // later than its reorder window: at the start
	}
	rel := ms - m.clusterT
	open := m.clusterT < 0 || rel >= webmMaxCluster || rel < math.MinInt16 ||
		(fr.t.kind == "video" && fr.key && rel >= webmMinCluster)
	need := int64(simpleBlockHead(fr.t.num) + len(fr.data))
	if open {
		need += webmClusterHead + webmTimecodeMax + webmCuePointMax
	}
	if !m.budget.take(need) {
		m.stopped = true // the room's cap: the file ends with what it has
		return
	}
	if fr.t.kind == "video" && fr.key && fr.t.width == 0 {
		fr.t.width, fr.t.height = vp8Size(fr.data)
		m.headDirty = m.headDirty || fr.t.width != 0
	}
	if !fr.t.inFile {
		fr.t.inFile, m.headDirty = true, true
	}
	if open {
		m.closeCluster()
		m.clusterT, rel = ms, 0
		m.cues = append(m.cues, webm.CuePoint{CueTime: uint64(ms), CueTrackPositions: []webm.CueTrackPosition{
			{CueTrack: fr.t.num, CueClusterPosition: uint64(m.pos - m.segmentStart())}}})
	}
	m.simpleBlock(fr.t.num, int16(rel), fr.key, fr.data) // the frame is not kept
	if ms > m.last {
		m.last = ms
	}
	m.frames++
}

// simpleBlockHead is the bytes of a SimpleBlock before its frame.
func simpleBlockHead(track uint64) int {
	if track < 0x7f {
		return 13
	}
	return 14
}

// simpleBlock adds a SimpleBlock to the open cluster (Matroska, RFC 9559
// 10.2: the track number as a vint, the timecode relative to the
// cluster's, the flags, the frame; no lacing). Written here rather than
// through ebml.Marshal, whose reflection cost twenty allocations a frame;
// ebml-go's reader parses the result in the tests.
func (m *webmMuxer) simpleBlock(track uint64, rel int16, key bool, data []byte) {
	var h [16]byte
	h[0] = 0xA3 // SimpleBlock
	n := 9
	if track < 0x7f {
		h[n] = 0x80 | byte(track)
		n++
	} else { // at most a few dozen tracks: two bytes are plenty
		h[n], h[n+1] = 0x40|byte(track>>8), byte(track)
		n += 2
	}
	binary.BigEndian.PutUint16(h[n:], uint16(rel))
	n += 2
	if key {
		h[n] = 0x80
	}
	n++
	putSize(h[1:9], uint64(n-9+len(data)))
	m.cluster.Write(h[:n])
	m.cluster.Write(data)
}

// segmentStart is where the Segment's data begins: after the EBML header
// and the Segment's ID and 8-byte size.
func (m *webmMuxer) segmentStart() int64 { return int64(len(ebmlHeader())) + 12 }

// closeCluster writes the open cluster: its ID and size, its Timecode,
// then its blocks.
func (m *webmMuxer) closeCluster() {
	if m.clusterT < 0 || m.failed != nil {
		return
	}
	var tc bytes.Buffer
	err := ebml.Marshal(&struct {
		Timecode uint64 `ebml:"Timecode"`
	}{uint64(m.clusterT)}, &tc)
	m.budget.give(int64(webmTimecodeMax - tc.Len()))
	if err == nil && m.headDirty {
		// The head names the cluster's tracks before the cluster is in
		// the file (the reserved bytes go out first).
		if err = m.w.Flush(); err == nil {
			err = m.writeHead(false, 0, 0)
		}
		m.headDirty = false
	}
	head := []byte{0x1F, 0x43, 0xB6, 0x75, 0, 0, 0, 0, 0, 0, 0, 0} // Cluster, an 8-byte size
	putSize(head[4:], uint64(tc.Len()+m.cluster.Len()))
	for _, b := range [][]byte{head, tc.Bytes(), m.cluster.Bytes()} {
		if err == nil {
			_, err = m.w.Write(b)
		}
	}
	if err == nil {
		err = m.w.Flush() // a cluster at a time reaches the file
	}
	m.failed = err
	m.pos += int64(len(head) + tc.Len() + m.cluster.Len())
	m.cluster.Reset()
	m.clusterT = -1
}

// putSize writes an EBML element size as an 8-byte vint into b[:8].
func putSize(b []byte, n uint64) {
	binary.BigEndian.PutUint64(b, n)
	b[0] = 0x01
}

// finish waits for the last frames, writes the Cues and the head, syncs
// the file, names it WebMFile and hashes it. Every source's recorder must
// have finished.
func (m *webmMuxer) finish() (*Recording, error) {
	close(m.in)
	<-m.exited
	err := m.failed
	if err == nil {
		err = m.writeTail()
	}
	if err == nil {
		err = m.f.Sync()
	}
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("sfu: webm: %w", err)
	}
	final, err := safepath.Join(m.dir, WebMFile)
	if err == nil {
		err = os.Rename(m.path, final)
	}
	if err != nil {
		return nil, fmt.Errorf("sfu: webm: %w", err)
	}
	syncDir(m.dir)
	sum, n, err := HashFile(final)
	if err != nil {
		return nil, err
	}
	rec := &Recording{Kind: "video", Codec: WebMCodec, File: WebMFile, SHA256: sum, Bytes: n,
		Duration: m.last, Packets: m.frames, Started: m.first, Ended: m.first.Add(time.Duration(m.last) * time.Millisecond)}
	m.mu.Lock()
	var parties []string
	for _, t := range m.order {
		parties = append(parties, t.participant)
	}
	m.mu.Unlock()
	rec.Participant = strings.Join(dedupe(parties), " ")
	return rec, nil
}

func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

type webmSeek struct {
	SeekID       []byte `ebml:"SeekID"`
	SeekPosition uint64 `ebml:"SeekPosition,size=8"`
}

// writeTail writes the Cues after the last cluster, then the head over the
// reserved bytes.
func (m *webmMuxer) writeTail() error {
	cuesPos := m.pos
	if len(m.cues) > 0 {
		if err := ebml.Marshal(&struct {
			Cues webm.Cues `ebml:"Cues"`
		}{webm.Cues{CuePoint: m.cues}}, m.w); err != nil {
			return err
		}
	}
	if err := m.w.Flush(); err != nil {
		return err
	}
	end, err := m.f.Seek(0, 2)
	if err != nil {
		return err
	}
	return m.writeHead(true, end, cuesPos)
}

// writeHead writes the file's head over the reserved bytes: final, with
// the Segment's size (the file ends at end), the duration and the Cues (at
// cuesPos); or provisional, while the call goes on, with a Segment of
// unknown size and the tracks so far.
func (m *webmMuxer) writeHead(final bool, end, cuesPos int64) error {
	seg := m.segmentStart()

	m.mu.Lock()
	tracks := webm.Tracks{}
	for _, t := range m.order {
		e := webm.TrackEntry{Name: trackName(t), TrackNumber: t.num, TrackUID: t.num}
		if t.kind == "audio" {
			e.CodecID, e.TrackType = "A_OPUS", 2
			e.CodecPrivate = opusHead(t.channels)
			e.CodecDelay, e.SeekPreRoll = 6500000, 80000000 // 312 samples, 80 ms (the WebM guidelines)
			e.Audio = &webm.Audio{SamplingFrequency: 48000, Channels: t.channels}
		} else {
			e.CodecID, e.TrackType = "V_VP8", 1
			w, h := t.width, t.height
			if w == 0 || h == 0 {
				w, h = 640, 480 // no keyframe came: the size a decoder will correct
			}
			e.Video = &webm.Video{PixelWidth: w, PixelHeight: h}
		}
		tracks.TrackEntry = append(tracks.TrackEntry, e)
	}
	m.mu.Unlock()
	info := webm.Info{TimecodeScale: webmTimescale, MuxingApp: "senim", WritingApp: m.app}
	if final {
		info.Duration = float64(m.last) + 1
	}
	var ib, tr, sh bytes.Buffer
	if err := ebml.Marshal(&struct {
		Info webm.Info `ebml:"Info"`
	}{info}, &ib); err != nil {
		return err
	}
	if err := ebml.Marshal(&struct {
		Tracks webm.Tracks `ebml:"Tracks"`
	}{tracks}, &tr); err != nil {
		return err
	}
	seeks := func(infoAt, tracksAt uint64) error {
		sh.Reset()
		s := []webmSeek{{SeekID: []byte{0x15, 0x49, 0xA9, 0x66}, SeekPosition: infoAt}, {SeekID: []byte{0x16, 0x54, 0xAE, 0x6B}, SeekPosition: tracksAt}}
		if final && len(m.cues) > 0 {
			s = append(s, webmSeek{SeekID: []byte{0x1C, 0x53, 0xBB, 0x6B}, SeekPosition: uint64(cuesPos - seg)})
		}
		return ebml.Marshal(&struct {
			SeekHead struct {
				Seek []webmSeek `ebml:"Seek"`
			} `ebml:"SeekHead"`
		}{struct {
			Seek []webmSeek `ebml:"Seek"`
		}{s}}, &sh)
	}
	if err := seeks(0, 0); err != nil {
		return err
	}
	n := uint64(sh.Len()) // fixed-size positions: the same length with the real ones
	if err := seeks(n, n+uint64(ib.Len())); err != nil {
		return err
	}
	head := append([]byte(nil), ebmlHeader()...)
	head = append(head, 0x18, 0x53, 0x80, 0x67, 0, 0, 0, 0, 0, 0, 0, 0) // Segment, an 8-byte size
	if final {
		putSize(head[len(head)-8:], uint64(end-seg))
	} else {
		copy(head[len(head)-8:], unknownSize)
	}
	head = append(head, sh.Bytes()...)
	head = append(head, ib.Bytes()...)
	head = append(head, tr.Bytes()...)
	pad := webmReserved - len(head)
	if pad != 0 && pad < 9 {
		return fmt.Errorf("the head (%d bytes, %d tracks) does not fit in %d", len(head), len(tracks.TrackEntry), webmReserved)
	}
	head = append(head, voidElement(pad)...)
	_, err := m.f.WriteAt(head, 0)
	return err
}

// unknownSize is an 8-byte EBML size of "unknown" (all its value bits
// set): legal for a Segment or a Cluster (RFC 8794 6.2), how a file being
// written or cut short says "to the end".
var unknownSize = []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}

func trackName(t *webmTrack) string {
	role, _, _ := strings.Cut(t.participant, ":")
	return role + " " + t.kind
}

// ebmlHeader is the file's EBML header, the same every time.
func ebmlHeader() []byte {
	ebmlHeaderOnce.Do(func() {
		var b bytes.Buffer
		h := *webm.DefaultEBMLHeader
		if err := ebml.Marshal(&struct {
			Header webm.EBMLHeader `ebml:"EBML"`
		}{h}, &b); err != nil {
			panic(err) // a constant struct
		}
		ebmlHeaderBytes = b.Bytes()
	})
	return ebmlHeaderBytes
}

var (
	ebmlHeaderOnce  sync.Once
	ebmlHeaderBytes []byte
)

// voidElement is an EBML Void of exactly n bytes (0, or at least 9).
func voidElement(n int) []byte {
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	b[0], b[1] = 0xEC, 0x01 // Void, an 8-byte size
	binary.BigEndian.PutUint64(b[1:9], uint64(n-9))
	b[1] = 0x01
	return b
}

// opusHead is the Opus identification header a WebM Opus track carries
// (RFC 7845 5.1): version 1, the channels, a pre-skip of 312 samples,
// 48 kHz input, no gain, mapping family 0.
func opusHead(channels uint64) []byte {
	b := make([]byte, 19)
	copy(b, "OpusHead")
	b[8], b[9] = 1, byte(channels)
	binary.LittleEndian.PutUint16(b[10:], 312)
	binary.LittleEndian.PutUint32(b[12:], 48000)
	return b
}

// vp8Size reads a VP8 keyframe's width and height (RFC 6386 9.1).
func vp8Size(f []byte) (uint64, uint64) {
	if len(f) < 10 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0
	}
	return uint64(binary.LittleEndian.Uint16(f[6:]) & 0x3fff), uint64(binary.LittleEndian.Uint16(f[8:]) & 0x3fff)
}

// finishWebM ends the room's WebM once every recorder has finished, and
// adds it to the room's recordings.
func (r *Room) finishWebM() {
	rec, err := r.webm.finish()
	if err != nil {
		r.sfu.cfg.Logger.Error().Err(err).Str("room", r.opts.ID).Msg("finish the call's WebM")
		return
	}
	if rec != nil {
		r.mu.Lock()
		r.records = append(r.records, *rec)
		r.mu.Unlock()
	}
}
