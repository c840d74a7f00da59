package sfu

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/senim-kz/senim/internal/testtool"
)

// sendChain is the interceptor chain the SFU's connections send through,
// bound for one VP8 stream with transport-wide sequence numbers, writing
// to w.
func sendChain(t testing.TB, withStats bool, w interceptor.RTPWriter) interceptor.RTPWriter {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(VP8, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := registerInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	if withStats {
		if err := webrtc.ConfigureStatsInterceptor(ir); err != nil {
			t.Fatal(err)
		}
	}
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, ir); err != nil {
		t.Fatal(err)
	}
	chain, err := ir.Build("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = chain.Close() })
	info := &interceptor.StreamInfo{ID: "v", SSRC: 1234, PayloadType: 96, MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", ID: 5}},
		RTCPFeedback:        []interceptor.RTCPFeedback{{Type: "nack"}, {Type: "transport-cc"}}}
	return chain.BindLocalStream(info, w)
}

// The SFU's connections send without pion's statistics interceptor, which
// clones every header sent under a lock: one allocation more per packet
// per subscriber. What remains is pion's: the NACK responder's copy of each
// packet for repairs (4) and the transport-wide sequence number (1).
func TestSendChainAllocations(t *testing.T) {
	if testtool.Race {
		t.Skip("the race detector changes what allocates")
	}
	var n int
	w := sendChain(t, false, interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		n++
		return len(p), nil
	}))
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1234}
	payload := make([]byte, 1100)
	attr := interceptor.Attributes{}
	a := testing.AllocsPerRun(2000, func() {
		h.SequenceNumber++
		h.Timestamp += 3000
		h.Extension, h.Extensions = false, h.Extensions[:0]
		if _, err := w.Write(&h, payload, attr); err != nil {
			t.Fatal(err)
		}
	})
	if n < 2000 {
		t.Fatalf("%d packets went through the chain", n)
	}
	if a > 5 {
		t.Errorf("%v allocations per packet sent, want at most pion's NACK copy and transport-wide sequence number (5)", a)
	}
}

// BenchmarkSendChain is the send chain with and without pion's statistics
// interceptor, side by side:
//
//	go test ./media/sfu -run '^$' -bench SendChain -benchtime 200000x -count 3
func BenchmarkSendChain(b *testing.B) {
	for _, withStats := range []bool{false, true} {
		name := "no-stats"
		if withStats {
			name = "stats"
		}
		b.Run(name, func(b *testing.B) {
			w := sendChain(b, withStats, interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
				return len(p), nil
			}))
			h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1234}
			payload := make([]byte, 1100)
			attr := interceptor.Attributes{}
			b.ReportAllocs()
			for b.Loop() {
				h.SequenceNumber++
				h.Timestamp += 3000
				h.Extension, h.Extensions = false, h.Extensions[:0]
				if _, err := w.Write(&h, payload, attr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
