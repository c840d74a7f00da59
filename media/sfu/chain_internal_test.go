package sfu

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/senim-kz/senim/internal/testtool"
)

// The send chains a benchmark sets side by side: the SFU's ("sfu"), the
// same with pion's NACK responder and transport-wide sequence numbering in
// place of sendpath.go's ("pion"), and that with pion's statistics
// interceptor too ("stats").
const (
	chainSFU = "sfu"
	chainGCC = "sfu-gcc" // the SFU's, with pion's GCC for Senim's estimator

	chainPion  = "pion"
	chainStats = "stats"
)

// sendChain is the interceptor chain the SFU's connections send through
// (with pion's pieces instead, for chainPion and chainStats), bound for one
// VP8 stream with RTX and transport-wide sequence numbers, writing to w.
// rtcpIn, if set, is what the chain's RTCP reader reads.
func sendChain(t testing.TB, variant string, w interceptor.RTPWriter, rtcpIn interceptor.RTCPReader) (interceptor.RTPWriter, interceptor.RTCPReader) {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(VP8, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	switch variant {
	case chainSFU:
		onBWE := func(string, cc.BandwidthEstimator) {}
		if err := registerInterceptors(m, ir); err != nil {
			t.Fatal(err)
		}
		if err := registerBWE(m, ir, Config{BWEInitial: 1_000_000, BWEMax: 20_000_000}, onBWE); err != nil {
			t.Fatal(err)
		}
	case chainGCC:
		if err := registerInterceptors(m, ir); err != nil {
			t.Fatal(err)
		}
		if err := registerEstimator(m, ir, pionGCC, func(string, cc.BandwidthEstimator) {}); err != nil {
			t.Fatal(err)
		}
	default:
		// pion's own, as the SFU registered them before sendpath.go.
		if err := webrtc.ConfigureNackWithOptions(m, ir, nil, nack.ResponderSize(nackHistory)); err != nil {
			t.Fatal(err)
		}
		if err := webrtc.ConfigureRTCPReports(ir); err != nil {
			t.Fatal(err)
		}
		if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
			t.Fatal(err)
		}
		if variant == chainStats {
			if err := webrtc.ConfigureStatsInterceptor(ir); err != nil {
				t.Fatal(err)
			}
		}
		// registerBWE's estimator as it was (pion's GCC), with pion's stamper.
		bwe, err := cc.NewInterceptor(pionGCC)
		if err != nil {
			t.Fatal(err)
		}
		ir.Add(bwe)
		if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, ir); err != nil {
			t.Fatal(err)
		}
	}
	chain, err := ir.Build("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = chain.Close() })
	var r interceptor.RTCPReader
	if rtcpIn != nil {
		r = chain.BindRTCPReader(rtcpIn)
	}
	info := &interceptor.StreamInfo{ID: "v", SSRC: 1234, PayloadType: 96, MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		SSRCRetransmission: 5678, PayloadTypeRetransmission: 97,
		RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", ID: 5}},
		RTCPFeedback:        []interceptor.RTCPFeedback{{Type: "nack"}, {Type: "transport-cc"}}}
	return chain.BindLocalStream(info, w), r
}

// pionGCC is pion's congestion controller as registerBWE made it before
// estimator.go.
func pionGCC() (cc.BandwidthEstimator, error) {
	return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(1_000_000), gcc.SendSideBWEMaxBitrate(20_000_000),
		gcc.SendSideBWEMinBitrate(minBWE), gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
}

// sendPackets writes n packets of a 1100-byte payload through w as a down
// track does: a header without extensions, and no attributes (pion's
// track writer passes none).
func sendPackets(tb testing.TB, w interceptor.RTPWriter, h *rtp.Header, payload []byte) {
	h.SequenceNumber++
	h.Timestamp += 3000
	h.Extension, h.ExtensionProfile, h.Extensions = false, 0, nil
	if _, err := w.Write(h, payload, nil); err != nil {
		tb.Fatal(err)
	}
}

// A packet sent to a subscriber allocates nothing on its way through the
// SFU's own interceptors, its bandwidth estimator's record of it included
// (pion's GCC made 2: a list element and its entry). pion's NACK responder
// and transport-wide sequence numbering, and the attributes the controller
// makes when it gets none, made 6 more (BenchmarkSendChain).
func TestSendChainAllocations(t *testing.T) {
	if testtool.Race {
		t.Skip("the race detector changes what allocates")
	}
	var n int
	var ext []byte
	w, _ := sendChain(t, chainSFU, interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		n++
		ext = h.GetExtension(5)
		return len(p), nil
	}), nil)
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1234}
	payload := make([]byte, 1100)
	for range 2 * nackHistory { // the history's slots fill once
		sendPackets(t, w, &h, payload)
	}
	a := testing.AllocsPerRun(2000, func() { sendPackets(t, w, &h, payload) })
	if n < 2000 {
		t.Fatalf("%d packets went through the chain", n)
	}
	if a != 0 {
		t.Errorf("%v allocations per packet sent, want none", a)
	}
	if len(ext) != 2 || int(binary.BigEndian.Uint16(ext)) != n-1 {
		t.Errorf("transport-wide sequence number %x of the %dth packet", ext, n)
	}
}

// nackIn is an RTCP reader that returns one NACK, then blocks the test no
// more: later reads fail.
type nackIn struct{ raw [][]byte }

func (r *nackIn) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	if len(r.raw) == 0 {
		return 0, nil, bytes.ErrTooLarge
	}
	n := copy(b, r.raw[0])
	r.raw = r.raw[1:]
	return n, a, nil
}

// A NACK is answered from the history on the RTX stream (RFC 4588): the
// RTX SSRC and payload type, its own sequence numbers, the original
// sequence number first in the payload, then the payload as it was sent.
// What the history no longer holds is not sent.
func TestNackRepairsOnRTX(t *testing.T) {
	var sent []rtp.Packet
	capture := interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		sent = append(sent, rtp.Packet{Header: h.Clone(), Payload: append([]byte(nil), p...)})
		return len(p), nil
	})
	raw, err := rtcp.Marshal([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 1234,
		Nacks: []rtcp.NackPair{{PacketID: 1000 + 2*nackHistory - 3, LostPackets: 0b11}, {PacketID: 1000}}}})
	if err != nil {
		t.Fatal(err)
	}
	in := &nackIn{raw: [][]byte{raw}}
	w, r := sendChain(t, chainSFU, capture, in)
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1234, SequenceNumber: 999}
	for i := range 2 * nackHistory {
		p := []byte{byte(i), byte(i >> 8), 0xaa}
		sendPackets(t, w, &h, p)
	}
	media := len(sent)
	if _, _, err := r.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	repairs := sent[media:]
	// 1000+2·512-3 and the two after it are held; 1000 is long gone.
	if len(repairs) != 3 {
		t.Fatalf("%d repairs sent, want 3", len(repairs))
	}
	for i, r := range repairs {
		seq := uint16(1000 + 2*nackHistory - 3 + i)
		k := int(seq - 1000)
		if r.SSRC != 5678 || r.PayloadType != 97 || binary.BigEndian.Uint16(r.Payload) != seq ||
			!bytes.Equal(r.Payload[2:], []byte{byte(k), byte(k >> 8), 0xaa}) {
			t.Errorf("repair %d: ssrc %d pt %d payload %x", i, r.SSRC, r.PayloadType, r.Payload)
		}
		if i > 0 && r.SequenceNumber != repairs[i-1].SequenceNumber+1 {
			t.Errorf("RTX sequence numbers %d then %d", repairs[i-1].SequenceNumber, r.SequenceNumber)
		}
	}
}

// BenchmarkSendChain is the send chain per packet, the SFU's beside the
// same with pion's GCC for Senim's estimator, and beside pion's pieces
// (and with pion's statistics interceptor), side by side:
//
//	go test ./media/sfu -run '^$' -bench SendChain -benchtime 200000x -count 3
func BenchmarkSendChain(b *testing.B) {
	for _, variant := range []string{chainSFU, chainGCC, chainPion, chainStats} {
		b.Run(variant, func(b *testing.B) {
			w, _ := sendChain(b, variant, interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
				return len(p), nil
			}), nil)
			h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1234}
			payload := make([]byte, 1100)
			b.ReportAllocs()
			for b.Loop() {
				sendPackets(b, w, &h, payload)
			}
		})
	}
}
