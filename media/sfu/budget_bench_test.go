package sfu

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// BenchmarkCappedRecording is what recording a packet costs under a room's
// cap (2 TiB here: never reached), as a server records by default
// (call.max_recording_bytes): the track file and the call's WebM, every
// byte of both reserved from the budget. cpu-ns/pkt counts every goroutine.
//
//	go test ./media/sfu -run '^$' -bench CappedRecording -benchtime 50000x -count 3
func BenchmarkCappedRecording(b *testing.B) {
	for _, codec := range []webrtc.RTPCodecParameters{Opus, VP8} {
		name := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(codec.MimeType), "audio/"), "video/")
		raw, step := opusPackets(b, 1), uint32(960)
		if codec.MimeType == VP8.MimeType {
			raw, step = vp8Packets(b, 2), 3000
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			budget := NewRecordBudget(1<<41, nil)
			mux := &callWebM{budget: budget}
			rec, err := newBudgetedRecorder(dir, 1, "client:1", codec, mux, budget)
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
			if _, err := mux.finish(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(rusageCPU(b)-cpu0)/float64(b.N), "cpu-ns/pkt")
		})
	}
}
