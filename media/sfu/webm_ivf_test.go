package sfu

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
)

// oldWebMVP8 is how the WebM source put VP8 frames together itself before
// it took them from the IVF writer (main, e2dc704): the reference the new
// source's frames are compared with.
type oldWebMVP8 struct {
	nextSeq uint16
	started bool
	frame   []byte
	frameTS int64
	keyed   bool
	vp8     codecs.VP8Packet
	out     []webmFrame
}

func (s *oldWebMVP8) packet(p *rtp.Packet, ms int64) {
	if !s.started {
		s.started, s.nextSeq = true, p.SequenceNumber
	}
	lost := p.SequenceNumber != s.nextSeq
	s.nextSeq = p.SequenceNumber + 1
	if _, err := s.vp8.Unmarshal(p.Payload); err != nil || len(s.vp8.Payload) == 0 {
		s.frame = s.frame[:0]
		return
	}
	if s.vp8.S == 1 && s.vp8.PID == 0 {
		s.frame, s.frameTS = s.frame[:0], ms
	} else if lost || len(s.frame) == 0 || s.frameTS != ms {
		s.frame = s.frame[:0]
		return
	}
	if len(s.frame)+len(s.vp8.Payload) > maxVP8Frame {
		s.frame = s.frame[:0]
		return
	}
	s.frame = append(s.frame, s.vp8.Payload...)
	if !p.Marker {
		return
	}
	key := s.frame[0]&0x01 == 0
	if key {
		s.keyed = true
	}
	if s.keyed {
		s.out = append(s.out, webmFrame{ms: s.frameTS, key: key, data: append([]byte(nil), s.frame...)})
	}
	s.frame = s.frame[:0]
}

// chaosVP8 is n VP8 packets as nothing well-behaved sends them: random
// starts (of partition 0 or a later one), markers, keyframe bits,
// sequence numbers that skip, repeat and go back, timestamps of a few
// frames mixed, empty payloads and descriptors too short to parse.
func chaosVP8(rnd *rand.Rand, n int) []*rtp.Packet {
	var out []*rtp.Packet
	seq, ts := uint16(rnd.Uint32()), rnd.Uint32()
	for range n {
		switch rnd.IntN(10) {
		case 0:
			seq += uint16(rnd.IntN(4)) // lost, or repeated
		case 1:
			seq -= 2
		default:
			seq++
		}
		if rnd.IntN(4) == 0 {
			ts += 3000
		} else if rnd.IntN(20) == 0 {
			ts -= 3000
		}
		var payload []byte
		switch rnd.IntN(40) {
		case 0: // empty
		case 1:
			payload = []byte{0x90} // X set, no room for its extension: not VP8
		default:
			payload = make([]byte, 1+rnd.IntN(1400))
			for j := range payload {
				payload[j] = byte(rnd.Uint32())
			}
			payload[0] = 0
			if rnd.IntN(3) == 0 {
				payload[0] = 0x10 // S
				if rnd.IntN(8) == 0 {
					payload[0] |= 0x01 // of partition 1
				}
			}
			if len(payload) > 1 && rnd.IntN(6) == 0 {
				payload[1] &^= 0x01 // a keyframe's first byte
			}
		}
		out = append(out, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts,
			Marker: rnd.IntN(3) == 0, SSRC: 5}, Payload: payload})
	}
	return out
}

// The WebM's VP8 frames, taken from the IVF writer's, are exactly those
// the WebM source put together itself before, whatever comes (losses,
// repeats, reordering, frames run together, packets that are not VP8);
// and the IVF writer's file is pion's, also when its buffer is small
// enough to reach the file in the middle of frames.
func TestWebMFramesFromIVF(t *testing.T) {
	descriptors := 0
	for seed := uint64(0); seed < 40; seed++ {
		rnd := rand.New(rand.NewPCG(seed, 14))
		stream := chaosVP8(rnd, 3000)
		if seed == 0 {
			stream = append(stream, vp8Stream()...)
		}
		var file, ref bytes.Buffer
		ivf, err := newIVFWriter(newBufferedFile(&file, 1000+rnd.IntN(8000)))
		if err != nil {
			t.Fatal(err)
		}
		pion, err := ivfwriter.NewWith(&ref, ivfwriter.WithCodec(webrtc.MimeTypeVP8))
		if err != nil {
			t.Fatal(err)
		}
		m := &webmMuxer{in: make(chan webmFrame, len(stream)), t0: time.Now()}
		src := &webmSource{m: m, t: &webmTrack{kind: "video"}, clock: 90000, video: true, ivf: ivf}
		old := &oldWebMVP8{}
		var ext int64
		for i, p := range stream {
			if i > 0 {
				ext += int64(int32(p.Timestamp - stream[i-1].Timestamp))
			}
			var d codecs.VP8Packet
			if _, err := d.Unmarshal(p.Payload); len(p.Payload) > 0 && err == nil && len(d.Payload) == 0 {
				// A descriptor alone: pion's writer reads past its end
				// (and panics); Senim's leaves it out.
				if err := ivf.WriteRTP(p); err != nil || ivf.took {
					t.Fatalf("seed %d, packet %d: a descriptor alone was taken (%v)", seed, i, err)
				}
				src.packet(p, m.t0)
				old.packet(p, ext*1000/90000)
				descriptors++
				continue
			}
			errNew, errPion := ivf.WriteRTP(p), pion.WriteRTP(p)
			if (errNew == nil) != (errPion == nil) {
				t.Fatalf("seed %d, packet %d: the IVF writer says %v, pion's %v", seed, i, errNew, errPion)
			}
			src.packet(p, m.t0)
			old.packet(p, ext*1000/90000)
		}
		close(m.in)
		var got []webmFrame
		for fr := range m.in {
			got = append(got, fr)
		}
		if len(got) != len(old.out) {
			t.Fatalf("seed %d: %d frames, put together as before %d", seed, len(got), len(old.out))
		}
		for i := range got {
			if got[i].ms != old.out[i].ms || got[i].key != old.out[i].key || !bytes.Equal(got[i].data, old.out[i].data) {
				t.Fatalf("seed %d: frame %d differs (%d ms, key %v, %d bytes; before %d ms, key %v, %d bytes)", seed, i,
					got[i].ms, got[i].key, len(got[i].data), old.out[i].ms, old.out[i].key, len(old.out[i].data))
			}
		}
		if seed < 3 && len(got) < 50 {
			t.Fatalf("seed %d: only %d frames: the stream tests little", seed, len(got))
		}
		if err := ivf.out.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(file.Bytes(), ref.Bytes()) {
			t.Fatalf("seed %d: the IVF file (%d bytes) is not pion's (%d)", seed, file.Len(), ref.Len())
		}
	}
	if descriptors == 0 {
		t.Fatal("no packet was a descriptor alone")
	}
}
