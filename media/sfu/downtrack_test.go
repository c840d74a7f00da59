package sfu

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// seqs records what a subscriber's connection is sent.
type seqs struct {
	hdrs     []rtp.Header
	payloads [][]byte
}

func (s *seqs) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	s.hdrs = append(s.hdrs, *h)
	s.payloads = append(s.payloads, append([]byte(nil), p...))
	return len(p), nil
}
func (s *seqs) Write(b []byte) (int, error) { return len(b), nil }

// vp8 is a one-packet VP8 frame of layer l: a keyframe or not.
func vp8(l int, seq uint16, ts uint32, key bool) *rtp.Packet {
	frame := byte(0x01)
	if key {
		frame = 0x00
	}
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: uint32(100 + l), Marker: true},
		Payload: []byte{0x10, frame, byte(l)}}
}

// A subscriber switched from one layer to another sees one stream: one
// SSRC, sequence numbers one after the other, timestamps going on; the
// switch waits for the new layer's keyframe; pausing stops at once and
// resuming starts on a keyframe.
func TestDownTrackSwitchesOnKeyframesAsOneStream(t *testing.T) {
	local, err := webrtc.NewTrackLocalStaticRTP(VP8.RTPCodecCapability, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	out := &seqs{}
	bind(t, local, out)
	pub := &published{key: "v", kind: webrtc.RTPCodecTypeVideo, codec: VP8}
	pub.layers[0], pub.layers[2] = &layer{}, &layer{}
	d := newDownTrack(pub, &peer{}, local)
	if d.target.Load() != 2 {
		t.Fatalf("a new subscriber is to get layer %d, want the best (2)", d.target.Load())
	}
	now := time.Now().UnixNano()
	// Layers 0 and 2 run with their own numbering; the subscriber starts on
	// layer 2's keyframe.
	send := func(i int, key0, key2 bool) {
		d.write(0, vp8(0, uint16(1000+i), uint32(5000+3000*i), key0), nil, key0, now+int64(i)*33e6)
		d.write(2, vp8(2, uint16(60000+i), uint32(90000+3000*i), key2), nil, key2, now+int64(i)*33e6)
	}
	send(0, false, false) // no keyframe yet: nothing
	send(1, true, true)
	send(2, false, false)
	d.target.Store(0)
	send(3, false, false) // layer 2 goes on until layer 0's keyframe
	send(4, true, false)  // the switch
	send(5, false, false)
	d.target.Store(noLayer)
	send(6, false, false) // paused
	d.target.Store(0)
	send(7, false, false) // waits for a keyframe
	send(8, true, false)

	want := []byte{2, 2, 2, 0, 0, 0}
	if len(out.hdrs) != len(want) {
		t.Fatalf("%d packets sent, want %d", len(out.hdrs), len(want))
	}
	for i, h := range out.hdrs {
		if got := out.payloads[i][2]; got != want[i] {
			t.Errorf("packet %d is of layer %d, want %d", i, got, want[i])
		}
		if h.SSRC != 1234 {
			t.Errorf("packet %d: SSRC %d, not the subscriber's", i, h.SSRC)
		}
		if i > 0 {
			if h.SequenceNumber != out.hdrs[i-1].SequenceNumber+1 {
				t.Errorf("packet %d: sequence %d after %d", i, h.SequenceNumber, out.hdrs[i-1].SequenceNumber)
			}
			if d := int32(h.Timestamp - out.hdrs[i-1].Timestamp); d <= 0 || d > 90000 {
				t.Errorf("packet %d: timestamp moves by %d", i, d)
			}
		}
	}
}

func TestIsKeyframe(t *testing.T) {
	for _, c := range []struct {
		payload []byte
		want    bool
	}{
		{[]byte{0x10, 0x00}, true},                   // S, partition 0, P clear
		{[]byte{0x10, 0x01}, false},                  // an interframe
		{[]byte{0x00, 0x00}, false},                  // not the frame's start
		{[]byte{0x90, 0x80, 0x81, 0x02, 0x00}, true}, // X, I with a 15-bit picture id
		{[]byte{0x90, 0x80, 0x05, 0x01}, false},
		{[]byte{0x90}, false},
		{nil, false},
	} {
		if got := isKeyframe(webrtc.RTPCodecTypeVideo, c.payload); got != c.want {
			t.Errorf("% x: %v, want %v", c.payload, got, c.want)
		}
	}
}

// The offer asks for the three layers on the camera's m-section alone; the
// answer's echo of them (pion's) is taken out, its send layers kept.
func TestSimulcastSDP(t *testing.T) {
	offer := "v=0\r\nm=audio 9 X 111\r\na=mid:0\r\na=recvonly\r\nm=video 9 X 96\r\na=mid:1\r\na=recvonly\r\nm=video 9 X 96\r\na=mid:2\r\na=sendonly\r\n"
	got := simulcastOffer(offer, "1")
	want := "a=mid:1\r\na=recvonly\r\na=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\na=simulcast:recv q;h;f\r\nm=video"
	if !strings.Contains(got, want) || strings.Count(got, "a=simulcast") != 1 {
		t.Errorf("offer:\n%s", got)
	}
	if simulcastOffer(offer, "") != offer {
		t.Error("an offer without the camera's mid changed")
	}
	answer := "m=video 9 X 96\r\na=rid:q recv\r\na=rid:q send\r\na=simulcast:recv q;h;f\r\na=simulcast:send q;h;f\r\n"
	if got := answerWithoutRecvRIDs(answer); got != "m=video 9 X 96\r\na=rid:q send\r\na=simulcast:send q;h;f\r\n" {
		t.Errorf("answer:\n%s", got)
	}
}

func TestREDPrimary(t *testing.T) {
	red := []byte{0x80 | 111, 0x0f, 0x00, 0x03, 111, 'a', 'b', 'c', 'P', 'Q'}
	if p, ok := redPrimary(red); !ok || string(p) != "PQ" {
		t.Errorf("%q %v", p, ok)
	}
	if p, ok := redPrimary([]byte{111, 'x'}); !ok || string(p) != "x" {
		t.Errorf("a primary block alone: %q %v", p, ok)
	}
	for _, bad := range [][]byte{nil, {0x80 | 111, 0}, {0x80 | 111, 0x0f, 0x00, 0x09, 111, 'a'}} {
		if _, ok := redPrimary(bad); ok {
			t.Errorf("% x taken for RED", bad)
		}
	}
}

// A layer the publisher stopped sending (a browser drops its top layer
// when its own uplink is short) is not chosen however well it would fit;
// the next one down is.
func TestIdleLayerIsNotChosen(t *testing.T) {
	pub := &published{key: "v", kind: webrtc.RTPCodecTypeVideo, codec: VP8}
	for i := range pub.layers {
		pub.layers[i] = &layer{}
	}
	pub.layers[0].bytes.Store(10_000)
	pub.layers[1].bytes.Store(40_000)
	pub.layers[2].bytes.Store(100_000)
	pub.measure(allocInterval)
	d := newDownTrack(pub, &peer{}, nil)
	now := time.Now()
	if got := d.choose(pub.rates(), 10e6, now); got != 2 {
		t.Fatalf("with every layer sending, layer %d is chosen", got)
	}
	pub.layers[0].bytes.Add(10_000)
	pub.layers[1].bytes.Add(40_000) // layer 2 sends nothing this tick
	pub.measure(allocInterval)
	if got := d.choose(pub.rates(), 10e6, now); got != 1 {
		t.Fatalf("layer %d is chosen, not 1, while layer 2 is idle", got)
	}
}

// A try one layer up (the estimate at its ceiling, 1.5 times what is
// sent) holds while the estimate climbs towards the layer tried, and steps
// back down, waiting twice as long for the next try, once it backs off
// under where it sat before the try.
// Judged by the estimate alone, it stepped down at the next allocation:
// the estimate cannot climb 8% a second that fast.
func TestLayerTryHoldsWhileTheEstimateClimbs(t *testing.T) {
	pub := &published{key: "v", kind: webrtc.RTPCodecTypeVideo, codec: VP8, every: 1 << 62} // no PLI sent: no publisher here
	for i := range pub.layers {
		pub.layers[i] = &layer{}
	}
	pub.layers[0].bytes.Store(6_250) // 100 kbit/s over allocInterval
	pub.layers[1].bytes.Store(25_000)
	pub.layers[2].bytes.Store(75_000)
	pub.measure(allocInterval)
	rates := pub.rates()
	d := newDownTrack(pub, &peer{}, nil)
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	step := func(at time.Duration, share float64) int32 {
		next := d.choose(rates, share, t0.Add(at))
		d.retarget(next, t0.Add(at))
		return next
	}
	if got := step(0, 600_000); got != 1 {
		t.Fatalf("at 600 kbit/s, layer %d", got)
	}
	at := probeBackoff
	if got := step(at, 600_000); got != 2 {
		t.Fatalf("at the ceiling after the back-off, no try: layer %d", got)
	}
	share := 600_000.0
	for share < float64(rates[2])/headroom {
		at += allocInterval
		share *= 1.039
		if got := step(at, share); got != 2 {
			t.Fatalf("at %s, the share climbing at %.0f: layer %d", at, share, got)
		}
	}
	if d.try.on {
		t.Fatal("the try still open once the layer fits")
	}
	// A drop later: down, the back-off as at first.
	at += time.Minute
	if got := step(at, 800_000); got != 1 || d.backoff != probeBackoff {
		t.Fatalf("a drop a minute later: layer %d, back-off %s", got, d.backoff)
	}
	// The next try backs off: down, and the wait doubles.
	at += probeBackoff
	if got := step(at, 600_000); got != 2 {
		t.Fatalf("the next try: layer %d", got)
	}
	at += allocInterval
	if got := step(at, 640_000); got != 2 {
		t.Fatalf("climbing on the try: layer %d", got)
	}
	at += allocInterval
	if got := step(at, 500_000); got != 1 || d.backoff != 2*probeBackoff {
		t.Fatalf("backed off on the try: layer %d, back-off %s", got, d.backoff)
	}
}
