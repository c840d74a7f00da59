package sfu

import (
	"encoding/binary"
	"math"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// The estimator on synthetic transport-wide feedback: a sender that sends
// at the estimate through a simulated bottleneck (a rate, a queue that
// drops what would wait over queueMax, random loss, a one-way delay), and
// a receiver that reports every feedbackEvery what arrived, as a browser
// does.

const (
	simPacket      = 1200 // bytes
	feedbackEvery  = 50_000
	simOneWayDelay = 20_000 // µs
)

type simSent struct {
	seq      uint16
	arrival  int64 // µs, receiver's clock; lost when !received
	received bool
}

// sim is a sender, a bottleneck and a receiver, in µs.
type sim struct {
	t        *testing.T
	e        *estimator
	now      int64
	nextSend int64
	nextFb   int64
	seq      uint16
	capacity float64 // bits/s
	loss     float64
	queueMax int64 // µs: the bottleneck drops what would wait longer
	drops    int   // packets the queue dropped
	free     int64 // when the link is free
	pending  []simSent
	fbCount  uint8
	rng      *rand.Rand
	// send, if set, is the rate the sender sends at (bits/s); else the
	// estimate.
	send func() float64
}

func newSim(t *testing.T, initial int, capacity float64, seq uint16) *sim {
	return &sim{t: t, e: newEstimator(initial, minBWE, 20_000_000), capacity: capacity, seq: seq, queueMax: 400_000, rng: rand.New(rand.NewSource(7))}
}

// run advances the simulation by d µs.
func (s *sim) run(d int64) {
	end := s.now + d
	for s.now < end {
		if s.nextSend <= s.nextFb {
			s.now = s.nextSend
			s.sendOne()
			rate := float64(s.e.GetTargetBitrate())
			if s.send != nil {
				rate = s.send()
			}
			s.nextSend += int64(simPacket * 8 / rate * 1e6)
		} else {
			s.now = s.nextFb
			s.feedback()
			s.nextFb += feedbackEvery
		}
	}
}

func (s *sim) sendOne() {
	s.e.sentAt(s.seq, simPacket, s.now)
	p := simSent{seq: s.seq}
	s.seq++
	at := s.now + simOneWayDelay
	start := max(at, s.free)
	switch {
	case start-at > s.queueMax:
		s.drops++
	case s.rng.Float64() >= s.loss:
		s.free = start + int64(simPacket*8/s.capacity*1e6)
		p.arrival, p.received = s.free, true
	}
	s.pending = append(s.pending, p)
}

// feedback reports, in order, the packets sent that arrived by now or were
// lost, up to the first still on its way.
func (s *sim) feedback() {
	n := 0
	for n < len(s.pending) && (!s.pending[n].received || s.pending[n].arrival <= s.now) {
		n++
	}
	// A receiver learns of a loss only from a later packet received.
	for n > 0 && !s.pending[n-1].received {
		n--
	}
	if n == 0 {
		return
	}
	s.e.feedback(makeFeedback(s.pending[:n], s.fbCount), s.now)
	s.fbCount++
	s.pending = append(s.pending[:0], s.pending[n:]...)
}

// makeFeedback is the transport-wide feedback reporting pkts (consecutive
// numbers): two-bit status vectors, arrival deltas in 250 µs.
func makeFeedback(pkts []simSent, count uint8) *rtcp.TransportLayerCC {
	fb := &rtcp.TransportLayerCC{BaseSequenceNumber: pkts[0].seq, PacketStatusCount: uint16(len(pkts)), FbPktCount: count}
	var ref int64 = -1
	for _, p := range pkts {
		if p.received {
			ref = p.arrival / 64000
			break
		}
	}
	if ref < 0 {
		ref = 0
	}
	fb.ReferenceTime = uint32(ref) & 0xFFFFFF
	prev := ref * 64000
	for i := 0; i < len(pkts); i += 7 {
		c := &rtcp.StatusVectorChunk{Type: rtcp.TypeTCCStatusVectorChunk, SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit}
		for j := i; j < i+7; j++ {
			sym := rtcp.TypeTCCPacketNotReceived
			if j < len(pkts) && pkts[j].received {
				q := pkts[j].arrival / 250 * 250
				d := q - prev
				prev = q
				sym = rtcp.TypeTCCPacketReceivedSmallDelta
				if d < 0 || d > 255*250 {
					sym = rtcp.TypeTCCPacketReceivedLargeDelta
				}
				fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: sym, Delta: d})
			}
			c.SymbolList = append(c.SymbolList, sym)
		}
		fb.PacketChunks = append(fb.PacketChunks, c)
	}
	return fb
}

// mean is the estimate's average over d µs of the simulation.
func (s *sim) mean(d int64) float64 {
	var sum float64
	n := 0
	for end := s.now + d; s.now < end; n++ {
		s.run(100_000)
		sum += float64(s.e.GetTargetBitrate())
	}
	return sum / float64(n)
}

// At a steady capacity the estimate settles near it: neither far over (a
// queue and losses) nor far under (video lower than the link allows).
func TestEstimatorConverges(t *testing.T) {
	for _, capacity := range []float64{500_000, 2_000_000} {
		s := newSim(t, 300_000, capacity, 0)
		s.run(60_000_000)
		got := s.mean(20_000_000)
		if got < 0.6*capacity || got > 1.3*capacity {
			t.Errorf("capacity %.0f: the estimate averages %.0f bits/s", capacity, got)
		}
	}
}

// When the capacity drops, the estimate follows within seconds.
func TestEstimatorCapacityDrop(t *testing.T) {
	s := newSim(t, 1_000_000, 3_000_000, 0)
	s.run(40_000_000)
	before := s.e.GetTargetBitrate()
	if before < 1_500_000 {
		t.Fatalf("the estimate is %d bits/s before the drop", before)
	}
	s.capacity = 500_000
	s.run(3_000_000)
	if got := s.e.GetTargetBitrate(); got > 700_000 {
		t.Errorf("3 s after the capacity fell from 3 Mbit/s to 500 kbit/s the estimate is %d bits/s (was %d)", got, before)
	}
}

// With a queue that never drops, the delay's growth alone brings the
// estimate down to the new capacity.
func TestEstimatorDelayAloneCuts(t *testing.T) {
	s := newSim(t, 1_000_000, 3_000_000, 0)
	s.queueMax = 1 << 40
	s.run(40_000_000)
	before := s.e.GetTargetBitrate()
	s.capacity = 500_000
	s.run(5_000_000)
	if got := s.e.GetTargetBitrate(); got > 700_000 || s.drops != 0 {
		t.Errorf("5 s after the capacity fell from 3 Mbit/s to 500 kbit/s (no loss: %d dropped) the estimate is %d bits/s (was %d)", s.drops, got, before)
	}
}

// With nothing lost or delayed, the estimate grows to 1.5 times what is
// received and no further: a layer far above what is sent is never shown
// to fit (bwe.go probes from this ceiling). The rate received is measured
// over the packets' span in the window, a little over what is sent.
func TestEstimatorCeiling(t *testing.T) {
	s := newSim(t, 300_000, 100_000_000, 0)
	s.send = func() float64 { return 300_000 }
	s.run(30_000_000)
	if got := s.e.GetTargetBitrate(); got < 400_000 || got > 1.1*(1.5*300_000+10_000) {
		t.Errorf("sending 300 kbit/s on a free link, the estimate is %d bits/s after 30 s", got)
	}
}

// Loss over 10% cuts the estimate, with no delay to show; once the loss
// ends it grows back.
func TestEstimatorLossCutsThenRecovers(t *testing.T) {
	s := newSim(t, 1_000_000, 100_000_000, 0)
	rate := 1_000_000.0
	s.send = func() float64 { return rate } // the sender keeps sending: loss is all there is
	s.run(10_000_000)
	before := s.e.GetTargetBitrate()
	s.loss = 0.25
	s.run(5_000_000)
	cut := s.e.GetTargetBitrate()
	if float64(cut) > 0.5*float64(before) {
		t.Fatalf("at 25%% loss the estimate went from %d to %d bits/s", before, cut)
	}
	s.loss = 0.01
	s.send = nil // now as a sender does: at the estimate
	s.run(30_000_000)
	if got := s.e.GetTargetBitrate(); got < 2*cut {
		t.Errorf("after the loss the estimate went from %d to only %d bits/s", cut, got)
	}
	// Under 2% lost it does not cut.
	s.loss = 0.015
	s.send = func() float64 { return rate }
	s.run(5_000_000)
	at := s.e.GetTargetBitrate()
	s.run(5_000_000)
	if got := s.e.GetTargetBitrate(); got < at {
		t.Errorf("at 1.5%% loss the estimate fell from %d to %d bits/s", at, got)
	}
}

// Transport-wide sequence numbers wrap at 16 bits: feedback across the wrap
// is read as any other.
func TestEstimatorWraparound(t *testing.T) {
	s := newSim(t, 300_000, 1_000_000, 65_000)
	s.run(60_000_000)
	if s.seq > 60_000 && s.seq < 65_000 {
		t.Fatalf("the sequence did not wrap: %d", s.seq)
	}
	if got := s.mean(20_000_000); got < 600_000 || got > 1_300_000 {
		t.Errorf("across the wrap the estimate averages %.0f bits/s at 1 Mbit/s", got)
	}
	// The ring's slot of a number sent long ago (the number came round)
	// is not taken for it.
	e := newEstimator(1_000_000, minBWE, 20_000_000)
	e.sentAt(5, 1000, 0)
	if _, ok := e.take(5, true, int64(2*sentMaxAge/1000)); ok {
		t.Error("a packet sent 20 s ago was acknowledged")
	}
	if _, ok := e.take(5+sentRing, true, 1000); ok {
		t.Error("another number in the same slot was acknowledged")
	}
	if _, ok := e.take(5, true, 1000); !ok {
		t.Error("the packet just sent was not acknowledged")
	}
}

// Feedback for packets never sent, feedback repeated, and feedback that
// does not add up change nothing and do not panic.
func TestEstimatorHostileFeedback(t *testing.T) {
	e := newEstimator(1_000_000, minBWE, 20_000_000)
	for i := range 100 {
		e.sentAt(uint16(i), 1200, int64(i)*5000)
	}
	// Never sent: 1000 on.
	fb := makeFeedback([]simSent{{seq: 1000, arrival: 100_000, received: true}, {seq: 1001}, {seq: 1002, arrival: 120_000, received: true}}, 0)
	e.feedback(fb, 600_000)
	if len(e.acks) != 0 {
		t.Errorf("%d packets never sent were acknowledged", len(e.acks))
	}
	// Real, then the same again.
	var pkts []simSent
	for i := range 50 {
		pkts = append(pkts, simSent{seq: uint16(i), arrival: 30_000 + int64(i)*5000, received: i%10 != 3})
	}
	e.feedback(makeFeedback(pkts, 1), 600_000)
	if len(e.acks) != 50 {
		t.Fatalf("%d of 50 packets acknowledged", len(e.acks))
	}
	stats := e.GetStats()
	e.feedback(makeFeedback(pkts, 2), 650_000)
	if len(e.acks) != 0 {
		t.Errorf("%d packets acknowledged twice", len(e.acks))
	}
	if got := e.GetStats(); got["averageLoss"] != stats["averageLoss"] || got["receivedBitrate"] != stats["receivedBitrate"] {
		t.Errorf("a repeated feedback moved the estimator: %v, then %v", stats, got)
	}
	// A feedback whose deltas run out: what it says after is not taken.
	for i := 100; i < 105; i++ {
		e.sentAt(uint16(i), 1200, 550_000)
	}
	short := makeFeedback([]simSent{{seq: 100, arrival: 600_000, received: true}, {seq: 101, arrival: 601_000, received: true}, {seq: 102}, {seq: 103}, {seq: 104}}, 3)
	short.RecvDeltas = short.RecvDeltas[:1]
	e.feedback(short, 650_000)
	if len(e.acks) != 1 {
		t.Errorf("%d packets taken from a feedback with one delta for two packets received", len(e.acks))
	}
	// More statuses than deltas, a count far beyond the chunks, and
	// deltas at the ends of their range.
	hostile := []*rtcp.TransportLayerCC{
		{BaseSequenceNumber: 50, PacketStatusCount: 65535, ReferenceTime: 0xFFFFFF,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedLargeDelta, RunLength: 8191}}},
		{BaseSequenceNumber: 60, PacketStatusCount: 40,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 40}},
			RecvDeltas:   []*rtcp.RecvDelta{{Delta: math.MaxInt64}, {Delta: math.MinInt64}, nil, {Delta: -8_192_000}}},
		{BaseSequenceNumber: 70, PacketStatusCount: 30, ReferenceTime: 1 << 23,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.StatusVectorChunk{SymbolSize: 1, SymbolList: []uint16{3, 2, 1, 9, 0, 2, 2}}, nil, &rtcp.RunLengthChunk{}},
			RecvDeltas:   []*rtcp.RecvDelta{{Delta: 8_191_750}, {Delta: -8_192_000}, {Delta: 0}, {Delta: 1 << 40}}},
		{PacketStatusCount: 0, PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{RunLength: 8191}}},
	}
	for _, fb := range hostile {
		e.feedback(fb, 700_000)
		if got := e.GetTargetBitrate(); got < minBWE || got > 20_000_000 {
			t.Fatalf("the estimate went to %d bits/s", got)
		}
	}
	if err := e.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{}, hostile[0]}, nil); err != nil {
		t.Error(err)
	}
	// After Close, feedback is not read.
	_ = e.Close()
	e.sentAt(200, 1200, 800_000)
	e.feedback(makeFeedback([]simSent{{seq: 200, arrival: 900_000, received: true}}, 3), 900_000)
	if len(e.acks) != 0 {
		t.Error("feedback read after Close")
	}
}

// Whatever the feedback's bytes say, the estimator neither panics nor
// leaves its bounds.
func FuzzEstimatorFeedback(f *testing.F) {
	var pkts []simSent
	for i := range 20 {
		pkts = append(pkts, simSent{seq: uint16(i), arrival: int64(i) * 3000, received: i != 5})
	}
	fb := makeFeedback(pkts, 0)
	fb.Header = rtcp.Header{Count: rtcp.FormatTCC, Type: rtcp.TypeTransportSpecificFeedback}
	if b, err := fb.Marshal(); err == nil {
		f.Add(b)
	}
	f.Add([]byte{0x8f, 0xcd, 0x00, 0x05, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xd5, 0x55, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e := newEstimator(1_000_000, minBWE, 20_000_000)
		for i := range 40 {
			e.sentAt(uint16(i), 1200, int64(i)*2000)
		}
		pkts, err := rtcp.Unmarshal(b)
		if err != nil {
			return
		}
		for range 2 {
			if err := e.WriteRTCP(pkts, nil); err != nil {
				t.Fatal(err)
			}
		}
		if got := e.GetTargetBitrate(); got < minBWE || got > 20_000_000 {
			t.Fatalf("the estimate went to %d bits/s", got)
		}
	})
}

// The SFU's send chain records each packet in its connection's estimator
// as the stamper numbers it (no writer of the estimator's own between),
// and the estimator reads the feedback for them.
func TestSendChainFeedsTheEstimator(t *testing.T) {
	var got cc.BandwidthEstimator
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(VP8, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := registerInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	if err := registerBWE(m, ir, Config{BWEInitial: 1_000_000, BWEMax: 20_000_000}, func(_ string, e cc.BandwidthEstimator) { got = e }); err != nil {
		t.Fatal(err)
	}
	chain, err := ir.Build("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = chain.Close() })
	e, ok := got.(*estimator)
	if !ok {
		t.Fatalf("the connection's estimator is %T", got)
	}
	info := &interceptor.StreamInfo{ID: "v", SSRC: 1234, PayloadType: 96, MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: 5}}}
	var last *rtp.Header
	w := chain.BindLocalStream(info, interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		last = h
		return len(p), nil
	}))
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1234}
	payload := make([]byte, 1100)
	var pkts []simSent
	for i := range 30 {
		sendPackets(t, w, &h, payload)
		if ext := last.GetExtension(5); len(ext) != 2 || binary.BigEndian.Uint16(ext) != uint16(i) {
			t.Fatalf("packet %d went out with transport-wide number %x", i, ext)
		}
		pkts = append(pkts, simSent{seq: uint16(i), arrival: 1_000_000 + int64(i)*1000, received: true})
	}
	for i := range 30 {
		w := e.ring[i].Load()
		if uint16(w>>48) != uint16(i) || int(w>>32&sizeMask) != h.MarshalSize()+len(payload) {
			t.Fatalf("the estimator's record of packet %d: %x", i, w)
		}
	}
	if err := e.WriteRTCP([]rtcp.Packet{makeFeedback(pkts, 0)}, nil); err != nil {
		t.Fatal(err)
	}
	if len(e.acks) != 30 || e.recv.n != 30 {
		t.Errorf("%d packets acknowledged, %d counted received, of 30", len(e.acks), e.recv.n)
	}
}

// Streams of a connection send at once while its feedback is read: the
// ring takes no lock (run with -race).
func TestEstimatorConcurrentSendAndFeedback(t *testing.T) {
	e := newEstimator(1_000_000, minBWE, 20_000_000)
	var next atomic.Uint32
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5000 {
				e.sent(uint16(next.Add(1)-1), 1200)
			}
		}()
	}
	for i := range 200 {
		var pkts []simSent
		for j := range 50 {
			pkts = append(pkts, simSent{seq: uint16(i*50 + j), arrival: int64(i*50+j) * 1000, received: j%7 != 0})
		}
		_ = e.WriteRTCP([]rtcp.Packet{makeFeedback(pkts, uint8(i))}, nil)
	}
	wg.Wait()
	if got := e.GetTargetBitrate(); got < minBWE || got > 20_000_000 {
		t.Errorf("the estimate went to %d bits/s", got)
	}
}

// TestEstimatorRecordsWithoutTheStamper: where no stamper above it
// records the packets (the stamper unwraps the recorder), the estimator's
// own recorder records each packet by the sequence number in its
// transport-wide extension, and one without the extension not at all.
func TestEstimatorRecordsWithoutTheStamper(t *testing.T) {
	e := newEstimator(1_000_000, minBWE, 5_000_000)
	info := &interceptor.StreamInfo{RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: 3}}}
	written := 0
	w := e.AddStream(info, interceptor.RTPWriterFunc(func(*rtp.Header, []byte, interceptor.Attributes) (int, error) {
		written++
		return 0, nil
	}))
	var ext [2]byte
	binary.BigEndian.PutUint16(ext[:], 4321)
	h := &rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 7, SSRC: 1}
	if err := h.SetExtension(3, ext[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(h, make([]byte, 1000), nil); err != nil {
		t.Fatal(err)
	}
	bare := &rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 8, SSRC: 1}
	if _, err := w.Write(bare, make([]byte, 1000), nil); err != nil {
		t.Fatal(err)
	}
	if written != 2 {
		t.Fatalf("%d packets reached the writer below, want 2", written)
	}
	word := e.ring[4321%sentRing].Load()
	if got := uint16(word >> 48); got != 4321 || word == 0 {
		t.Fatalf("the ring's slot for 4321 holds %#x: the packet was not recorded", word)
	}
	if size := int(word>>32) & sizeMask; size != h.MarshalSize()+1000 {
		t.Fatalf("recorded size %d, want %d", size, h.MarshalSize()+1000)
	}
	recorded := 0
	for i := range e.ring {
		if e.ring[i].Load() != 0 {
			recorded++
		}
	}
	if recorded != 1 {
		t.Fatalf("%d packets recorded, want 1 (the one without the extension is not)", recorded)
	}
	// No extension negotiated: the writer is passed through as it is.
	if got := e.AddStream(&interceptor.StreamInfo{}, w); got != w {
		t.Fatal("a stream without the transport-wide extension got a recorder")
	}
}

// The rate received is read as sent: a steady stream at 300 kbit/s (15
// packets in the window) and at 2 Mbit/s reads within 2% of its rate
// (counting the oldest packet's bytes over the gaps between the packets
// read the first 7% high).
func TestReceivedRateOfASteadyStream(t *testing.T) {
	for _, rate := range []float64{300_000, 2_000_000} {
		var r recvRate
		gap := simPacket * 8 / rate * 1e6 // µs
		for i := range 200 {
			r.add(int64(float64(i)*gap), simPacket)
		}
		if got := r.rate(); math.Abs(got-rate) > 0.02*rate {
			t.Errorf("a steady %.0f bit/s read as %.0f", rate, got)
		}
	}
}
