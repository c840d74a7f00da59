package sfu

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
)

// packets is a fake remote track: it hands out the same packets in turn,
// forever (loop) or until they run out (io.EOF).
type packets struct {
	raw  [][]byte
	next int
	loop bool
}

func (p *packets) Read(b []byte) (int, interceptor.Attributes, error) {
	if p.next == len(p.raw) {
		if !p.loop {
			return 0, nil, io.EOF
		}
		p.next = 0
	}
	n := copy(b, p.raw[p.next])
	p.next++
	return n, nil, nil
}

// vp8Packets are n one-packet VP8 frames, 33 ms apart, the first a keyframe.
func vp8Packets(t testing.TB, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		frame := make([]byte, 900)
		for j := range frame {
			frame[j] = byte(i + j)
		}
		if i == 0 {
			frame[0] &^= 0x01 // keyframe
		} else {
			frame[0] |= 0x01
		}
		// VP8 payload descriptor: S=1 (start of partition 0).
		p := rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, PayloadType: 96, SequenceNumber: uint16(60000 + i),
			Timestamp: 4294960000 + uint32(3000*i), SSRC: 42}, Payload: append([]byte{0x10}, frame...)}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// oneLayer is a published VP8 track of one layer, recorded by rec (if not
// nil), with one subscriber whose down track is local.
func oneLayer(local *webrtc.TrackLocalStaticRTP, rec *recorder) *published {
	t := &published{key: "v", kind: webrtc.RTPCodecTypeVideo, codec: VP8, rec: rec}
	t.layers[0] = &layer{}
	t.addSub(newDownTrack(t, &peer{}, local))
	return t
}

// discard is a subscriber's connection that counts what it is sent.
type discard struct {
	n    int
	last rtp.Header
}

func (d *discard) WriteRTP(h *rtp.Header, _ []byte) (int, error) { d.n++; d.last = *h; return 0, nil }
func (d *discard) Write(b []byte) (int, error)                   { d.n++; return len(b), nil }

// bindCtx binds a local track to a discard writer, as a sender does.
type bindCtx struct{ w webrtc.TrackLocalWriter }

func (c bindCtx) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{VP8, Opus}
}
func (c bindCtx) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (c bindCtx) SSRC() webrtc.SSRC                                      { return 1234 }
func (c bindCtx) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c bindCtx) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c bindCtx) WriteStream() webrtc.TrackLocalWriter                   { return c.w }
func (c bindCtx) ID() string                                             { return "test" }
func (c bindCtx) RTCPReader() interceptor.RTCPReader                     { return nil }

func bind(t testing.TB, local *webrtc.TrackLocalStaticRTP, w webrtc.TrackLocalWriter) {
	t.Helper()
	if _, err := local.Bind(bindCtx{w}); err != nil {
		t.Fatal(err)
	}
}

// Forwarding a packet allocates nothing: not the read, not the packet,
// not the copy a recording keeps (the ring's slots are reused).
func TestForwardingDoesNotAllocate(t *testing.T) {
	local, err := webrtc.NewTrackLocalStaticRTP(VP8.RTPCodecCapability, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	src := &packets{raw: vp8Packets(t, 10), loop: true}
	sink := &discard{}
	bind(t, local, sink)
	f := newForwarder(src, oneLayer(local, nil), 0, webrtc.RTPCodecTypeVideo)
	if n := testing.AllocsPerRun(1000, func() {
		if err := f.step(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("forwarding: %v allocations per packet", n)
	}
	if sink.n < 1000 {
		t.Fatalf("the subscriber got %d packets", sink.n)
	}

	// With a recording: a ring nobody drains during the run (its writer
	// goroutine would allocate in the Ogg/IVF writers, and AllocsPerRun
	// counts every goroutine), filled to just below half.
	rec := &recorder{slots: make([]slot, ringSlots), kick: make(chan struct{}, 1), space: make(chan struct{}, 1)}
	f = newForwarder(src, oneLayer(local, rec), 0, webrtc.RTPCodecTypeVideo)
	if n := testing.AllocsPerRun(ringSlots/2-2, func() {
		if err := f.step(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("forwarding and recording: %v allocations per packet", n)
	}
	if got := rec.tail.Load(); got != ringSlots/2-1 {
		t.Fatalf("%d packets in the ring, want %d", got, ringSlots/2-1)
	}

	// RED audio to a subscriber that takes Opus alone, and recorded as
	// Opus: the primary block is cut out without an allocation either.
	rl, err := newRedLocal("a", "s")
	if err != nil {
		t.Fatal(err)
	}
	opus := &discard{}
	red := &published{key: "a", kind: webrtc.RTPCodecTypeAudio, codec: RED, red: true,
		rec: &recorder{slots: make([]slot, ringSlots), kick: make(chan struct{}, 1), space: make(chan struct{}, 1)}}
	red.layers[0] = &layer{}
	d := newDownTrack(red, &peer{}, rl.opus)
	rl.d = d
	if _, err := rl.Bind(bindCtx{opus}); err != nil || !d.unred.Load() {
		t.Fatalf("bound to a subscriber without RED: unred %v, %v", d.unred.Load(), err)
	}
	red.addSub(d)
	var raw [][]byte
	for i := 0; i < 10; i++ {
		payload := append([]byte{0x80 | 111, 0x0f, 0x00, 3, 111, 1, 2, 3}, make([]byte, 80)...)
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 63, SequenceNumber: uint16(i), Timestamp: uint32(960 * i), SSRC: 9}, Payload: payload}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, b)
	}
	f = newForwarder(&packets{raw: raw, loop: true}, red, 0, webrtc.RTPCodecTypeAudio)
	if n := testing.AllocsPerRun(ringSlots/2-2, func() {
		if err := f.step(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("forwarding RED as Opus: %v allocations per packet", n)
	}
	if opus.n == 0 || red.rec.tail.Load() == 0 {
		t.Fatalf("%d packets sent, %d recorded", opus.n, red.rec.tail.Load())
	}
	if s := &red.rec.slots[0]; s.n != 12+80 {
		t.Errorf("a recorded packet of %d bytes, want the header and the 80-byte primary block", s.n)
	}
}

// A recording written through the ring and the buffer is byte for byte
// what the IVF writer makes writing each packet straight to its file, with
// the packet count and the duration from the RTP timestamps (which wrap
// here), also when the ring fills (more packets than slots, read as fast as
// they come).
func TestRecordingThroughTheRingIsExact(t *testing.T) {
	dir := t.TempDir()
	raw := vp8Packets(t, 3*ringSlots+7)
	local, err := webrtc.NewTrackLocalStaticRTP(VP8.RTPCodecCapability, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := newRecorder(dir, 1, "client:1", VP8, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newForwarder(&packets{raw: raw}, oneLayer(local, rec), 0, webrtc.RTPCodecTypeVideo)
	for f.step() == nil {
	}
	got, err := rec.finish()
	if err != nil {
		t.Fatal(err)
	}
	if got.Packets != int64(len(raw)) || got.Duration != int64(3000*(len(raw)-1)/90) {
		t.Errorf("%d packets, %d ms; want %d, %d", got.Packets, got.Duration, len(raw), 3000*(len(raw)-1)/90)
	}

	ref, err := os.Create(filepath.Join(dir, "reference.ivf"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := ivfwriter.NewWith(ref, ivfwriter.WithCodec(webrtc.MimeTypeVP8))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range raw {
		var p rtp.Packet
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRTP(&p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "reference.ivf"))
	have, _ := os.ReadFile(filepath.Join(dir, got.File))
	if len(want) < 1000 || !bytes.Equal(have, want) {
		t.Fatalf("recorded %d bytes, the writer alone %d, or they differ", len(have), len(want))
	}
	sum, n, err := HashFile(filepath.Join(dir, got.File))
	if err != nil || sum != got.SHA256 || n != got.Bytes {
		t.Fatalf("hash %s/%d, recorded %s/%d (%v)", sum, n, got.SHA256, got.Bytes, err)
	}
}

// opusPackets are n 20 ms Opus packets of 80 bytes.
func opusPackets(t testing.TB, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		payload := make([]byte, 80)
		payload[0] = 0xfc
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(960 * i), SSRC: 7}, Payload: payload}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// rusageCPU is the CPU (user + system) this process has used, every
// goroutine's: the recorder's writer goroutine counts.
func rusageCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecording is the CPU a recorded packet costs: "inline" writes
// each packet with the Ogg/IVF writer straight to the file on the
// forwarding goroutine (how recording worked before the ring), "ring"
// through the recorder (a slot copy here, the writing on its goroutine,
// buffered). cpu-ns/pkt counts every goroutine.
//
//	go test ./media/sfu -run '^$' -bench Recording -benchmem
func BenchmarkRecording(b *testing.B) {
	for _, codec := range []webrtc.RTPCodecParameters{Opus, VP8} {
		name := strings.TrimPrefix(strings.ToLower(codec.MimeType), "audio/")
		name = strings.TrimPrefix(name, "video/")
		raw := opusPackets(b, 1000)
		if codec.MimeType == VP8.MimeType {
			raw = vp8Packets(b, 1000)
		}
		b.Run(name+"/inline", func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "x"))
			if err != nil {
				b.Fatal(err)
			}
			var w mediaWriter
			if codec.MimeType == Opus.MimeType {
				w, err = oggwriter.NewWith(f, codec.ClockRate, codec.Channels)
			} else {
				w, err = ivfwriter.NewWith(f, ivfwriter.WithCodec(webrtc.MimeTypeVP8))
			}
			if err != nil {
				b.Fatal(err)
			}
			var p rtp.Packet
			cpu0 := rusageCPU(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := p.Unmarshal(raw[i%len(raw)]); err != nil {
					b.Fatal(err)
				}
				_ = time.Now() // the old recorder's clock reading
				if err := w.WriteRTP(&p); err != nil {
					b.Fatal(err)
				}
			}
			_ = w.Close()
			b.StopTimer()
			b.ReportMetric(float64(rusageCPU(b)-cpu0)/float64(b.N), "cpu-ns/pkt")
		})
		b.Run(name+"/ring", func(b *testing.B) {
			rec, err := newRecorder(b.TempDir(), 1, "p", codec, nil)
			if err != nil {
				b.Fatal(err)
			}
			cpu0 := rusageCPU(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec.add(raw[i%len(raw)], time.Now())
			}
			if _, err := rec.finish(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(rusageCPU(b)-cpu0)/float64(b.N), "cpu-ns/pkt")
		})
	}
}
