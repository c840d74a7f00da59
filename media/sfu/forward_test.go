package sfu

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
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
			Timestamp: uint32(4294960000 + 3000*i), SSRC: 42}, Payload: append([]byte{0x10}, frame...)}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// Forwarding a packet allocates nothing: not the read, not the packet,
// not the copy a recording keeps (the ring's slots are reused).
func TestForwardingDoesNotAllocate(t *testing.T) {
	local, err := webrtc.NewTrackLocalStaticRTP(VP8.RTPCodecCapability, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	src := &packets{raw: vp8Packets(t, 10), loop: true}
	f := newForwarder(src, local, nil, webrtc.RTPCodecTypeVideo)
	if n := testing.AllocsPerRun(1000, func() {
		if err := f.step(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("forwarding: %v allocations per packet", n)
	}

	// With a recording: a ring nobody drains during the run (its writer
	// goroutine would allocate in the Ogg/IVF writers, and AllocsPerRun
	// counts every goroutine), filled to just below half.
	rec := &recorder{slots: make([]slot, ringSlots), kick: make(chan struct{}, 1), space: make(chan struct{}, 1)}
	f = newForwarder(src, local, rec, webrtc.RTPCodecTypeVideo)
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
	rec, err := newRecorder(dir, "client-1-video-1", "client:1", VP8)
	if err != nil {
		t.Fatal(err)
	}
	f := newForwarder(&packets{raw: raw}, local, rec, webrtc.RTPCodecTypeVideo)
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
