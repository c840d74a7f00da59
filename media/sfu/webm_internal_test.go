package sfu

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/internal/testtool"
)

// BenchmarkRecordingWebM is what the call's WebM adds to recording a
// packet: "tracks" records the track file alone (the ring, as before the
// WebM), "tracks+webm" feeds the call's WebM too. cpu-ns/pkt counts every
// goroutine (the recorder's and the muxer's). The packets go on in
// sequence and time, as a call's do.
//
//	go test ./media/sfu -run '^$' -bench RecordingWebM -benchmem -count 3
func BenchmarkRecordingWebM(b *testing.B) {
	for _, codec := range []webrtc.RTPCodecParameters{Opus, VP8} {
		name := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(codec.MimeType), "audio/"), "video/")
		raw, step := opusPackets(b, 1), uint32(960)
		if codec.MimeType == VP8.MimeType {
			raw, step = vp8Packets(b, 2), 3000
		}
		for _, webm := range []bool{false, true} {
			variant := map[bool]string{false: "/tracks", true: "/tracks+webm"}[webm]
			b.Run(name+variant, func(b *testing.B) {
				dir := b.TempDir()
				var mux *callWebM
				if webm {
					mux = &callWebM{}
				}
				rec, err := newRecorder(dir, 1, "client:1", codec, mux)
				if err != nil {
					b.Fatal(err)
				}
				pkt := make([]byte, 1500)
				cpu0 := rusageCPU(b)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					src := raw[0]
					if i > 0 && len(raw) > 1 {
						src = raw[1] // an inter frame after the first keyframe
					}
					n := copy(pkt, src)
					binary.BigEndian.PutUint16(pkt[2:], uint16(i))
					binary.BigEndian.PutUint32(pkt[4:], uint32(i)*step)
					rec.add(pkt[:n], time.Now())
				}
				if _, err := rec.finish(); err != nil {
					b.Fatal(err)
				}
				if mux != nil {
					if _, err := mux.finish(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(rusageCPU(b)-cpu0)/float64(b.N), "cpu-ns/pkt")
			})
		}
	}
}

// A VP8 frame reaches the WebM whole or not at all: a frame a lost packet
// cut is dropped, inter frames wait for the first keyframe, and each
// frame's time is its RTP timestamp's, from the track's first packet.
func TestWebMSourceFrames(t *testing.T) {
	t0 := time.Now()
	m := &webmMuxer{t0: t0, in: make(chan webmFrame, 16)}
	s := &webmSource{m: m, t: &webmTrack{num: 1, kind: "video"}, clock: 90000, video: true}
	send := func(seq uint16, ts uint32, start, marker, key bool) {
		payload := []byte{0x00, 0x01, 0x02, 0x03}
		if start {
			payload[0] = 0x10 // S=1, partition 0
			if key {
				payload[1] = 0x00 // P bit clear: keyframe
			}
		}
		s.packet(&rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: marker}, Payload: payload}, t0.Add(100*time.Millisecond))
	}
	send(1, 1000, true, true, false)  // an inter frame before any keyframe: not written
	send(2, 4000, true, false, true)  // a keyframe in two packets...
	send(3, 4000, false, true, false) // ...whole
	send(4, 7000, true, false, false) // an inter frame whose second packet...
	send(6, 7000, false, true, false) // ...was lost (5): dropped
	send(7, 10000, true, true, false) // a whole inter frame
	close(m.in)
	var got []webmFrame
	for f := range m.in {
		got = append(got, f)
	}
	if len(got) != 2 || !got[0].key || got[1].key || len(got[0].data) != 6 {
		t.Fatalf("frames %+v: want the keyframe (6 bytes) and the last inter frame", got)
	}
	// 100 ms after the muxer began, then 3000 and 9000 ticks of 90 kHz.
	if got[0].ms != 100+33 || got[1].ms != 100+100 {
		t.Fatalf("times %d and %d ms", got[0].ms, got[1].ms)
	}
}

// A frame's copy on its way to the WebM muxer is a reused buffer: handing
// frames over and giving them back once written allocates nothing.
func TestWebMFramesReuseBuffers(t *testing.T) {
	if testtool.Race {
		t.Skip("the race detector changes what allocates")
	}
	m := &webmMuxer{t0: time.Now(), in: make(chan webmFrame, 4), tracks: map[string]*webmTrack{}}
	src := m.source("client:1", "video", VP8)
	var pkts []*rtp.Packet
	for _, b := range vp8Packets(t, 3) {
		p := &rtp.Packet{}
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, p)
	}
	i := 0
	step := func() {
		src.packet(pkts[i%len(pkts)], time.Now())
		i++
		fr := <-m.in
		if len(fr.data) != 900 {
			t.Fatalf("a frame of %d bytes, want 900", len(fr.data))
		}
		fr.release()
	}
	step()
	if n := testing.AllocsPerRun(100, step); n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}
