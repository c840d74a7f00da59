package sfu

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
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
