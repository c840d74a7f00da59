package sfu

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Transport-wide feedback on what a connection receives (what a
// publisher's browser estimates its uplink from): the arrival of every
// packet that carries a transport-wide sequence number, reported every
// feedbackInterval.
//
// pion's twcc.SenderInterceptor hands each such packet to a goroutine of
// its own through an unbuffered channel: a rendezvous per packet received
// on the forwarding path (and an attributes map and a parsed header made
// for it). A browser numbers every packet it sends, audio and video. This
// one records the arrival where the packet is read, in pion's own
// twcc.Recorder under a lock, and builds the feedback on a ticker: the
// same reports, without the hand-off.
const feedbackInterval = 100 * time.Millisecond

// registerFeedback is webrtc.ConfigureTWCCSender with Senim's feedback
// sender in place of pion's.
func registerFeedback(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, kind)
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
			return err
		}
	}
	ir.Add(feedbackFactory{interval: feedbackInterval})
	return nil
}

type feedbackFactory struct{ interval time.Duration }

func (f feedbackFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &feedbackSender{interval: f.interval, start: time.Now(), done: make(chan struct{})}, nil
}

// feedbackSender is one connection's.
type feedbackSender struct {
	interceptor.NoOp
	interval time.Duration
	start    time.Time

	mu     sync.Mutex
	rec    *twcc.Recorder // nil until the connection's RTCP writer is bound
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
}

// BindRTCPWriter starts the reports.
func (s *feedbackSender) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.rec != nil {
		return w
	}
	s.rec = twcc.NewRecorder(rand.Uint32()) //nolint:gosec // an SSRC, not a secret
	s.wg.Add(1)
	go s.loop(w)
	return w
}

func (s *feedbackSender) loop(w interceptor.RTCPWriter) {
	defer s.wg.Done()
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		s.mu.Lock()
		pkts := s.rec.BuildFeedbackPacket()
		s.mu.Unlock()
		if len(pkts) > 0 {
			_, _ = w.Write(pkts, nil) // a connection closing: its next tick or Close ends the loop
		}
	}
}

// BindRemoteStream records the arrival of each packet read that carries
// the stream's transport-wide sequence number.
func (s *feedbackSender) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	id := twccExtension(info)
	if id == 0 {
		return reader
	}
	r := &feedbackReader{s: s, id: id, ssrc: info.SSRC, next: reader}
	return r
}

func (s *feedbackSender) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// feedbackReader is one received stream's. Its header is reused from
// packet to packet (under mu: pion reads a stream from one goroutine at a
// time, the lock only makes it so).
type feedbackReader struct {
	s    *feedbackSender
	id   uint8
	ssrc uint32
	next interceptor.RTPReader

	mu  sync.Mutex
	hdr rtp.Header
}

func (r *feedbackReader) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	n, a, err := r.next.Read(b, a)
	if err != nil {
		return n, a, err
	}
	r.mu.Lock()
	seq, ok := r.transportSeq(b[:n])
	r.mu.Unlock()
	if !ok {
		return n, a, nil // not RTP, or not numbered: nothing to report
	}
	at := time.Since(r.s.start).Microseconds()
	r.s.mu.Lock()
	if r.s.rec != nil {
		r.s.rec.Record(r.ssrc, seq, at)
	}
	r.s.mu.Unlock()
	return n, a, nil
}

// transportSeq is the packet's transport-wide sequence number (RFC 8285
// extension, draft-holmer-rmcat-transport-wide-cc-extensions-01).
func (r *feedbackReader) transportSeq(pkt []byte) (uint16, bool) {
	if _, err := r.hdr.Unmarshal(pkt); err != nil {
		return 0, false
	}
	var ext rtp.TransportCCExtension
	if x := r.hdr.GetExtension(r.id); x == nil || ext.Unmarshal(x) != nil {
		return 0, false
	}
	return ext.TransportSequence, true
}
