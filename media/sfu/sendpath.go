package sfu

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// The send path's own interceptors, in place of two of pion's, so that a
// packet forwarded to a subscriber allocates nothing on its way to SRTP:
//
//   - nackResponder keeps, per stream sent, the last nackHistory packets in
//     slots it reuses (pion's responder allocates a packet, a header clone
//     and its extensions for every packet, and takes a pooled buffer), and
//     answers NACKs from them, on the RTX stream where one is negotiated
//     (RFC 4588: its own sequence numbers, the original one first in the
//     payload).
//   - twccStamper puts the connection's transport-wide sequence number in
//     each packet (pion's allocates the extension's two bytes and the
//     header's extension list every packet), records the packet in the
//     connection's bandwidth estimator (estimator.go: one atomic store in
//     its ring) and hands the interceptors below it a reused attribute
//     map.
//
// Measured side by side with bench/fanout (bench/fanout/README.md).

// nackResponderFactory makes a connection's responder.
type nackResponderFactory struct{}

func (nackResponderFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &nackResponder{streams: map[uint32]*sentStream{}}, nil
}

type nackResponder struct {
	interceptor.NoOp
	mu      sync.Mutex
	streams map[uint32]*sentStream // by media SSRC
}

// sentStream is one stream sent: its last packets, by sequence number
// modulo nackHistory.
type sentStream struct {
	ssrc, rtxSSRC uint32
	rtxPT         uint8
	writer        interceptor.RTPWriter // below the responder: SRTP

	mu      sync.Mutex
	started bool
	highest uint16
	rtxSeq  uint16
	slots   [nackHistory]sentPacket
	repair  []byte // an RTX payload being sent
	hdr     rtp.Header
}

// sentPacket is what a repair needs of a packet: not its header
// extensions (the connection's, of its first sending).
type sentPacket struct {
	seq     uint16
	ok      bool
	marker  bool
	pt      uint8
	ts      uint32
	payload []byte // reused: it grows to the stream's packet size once
}

// supportsNack: the subscriber asked for NACK on the stream (as pion's
// responder decides).
func supportsNack(info *interceptor.StreamInfo) bool {
	for _, fb := range info.RTCPFeedback {
		if fb.Type == "nack" && fb.Parameter == "" {
			return true
		}
	}
	return false
}

func (n *nackResponder) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	if !supportsNack(info) {
		return writer
	}
	s := &sentStream{ssrc: info.SSRC, rtxSSRC: info.SSRCRetransmission, rtxPT: info.PayloadTypeRetransmission, writer: writer}
	n.mu.Lock()
	n.streams[info.SSRC] = s
	n.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if h.SSRC == s.ssrc {
			s.keep(h, payload)
		}
		return writer.Write(h, payload, a)
	})
}

// keep stores a packet sent, over the one nackHistory packets before.
func (s *sentStream) keep(h *rtp.Header, payload []byte) {
	s.mu.Lock()
	if !s.started || h.SequenceNumber-s.highest < 1<<15 {
		s.highest, s.started = h.SequenceNumber, true
	}
	p := &s.slots[h.SequenceNumber%nackHistory]
	p.seq, p.ok, p.marker, p.pt, p.ts = h.SequenceNumber, true, h.Marker, h.PayloadType, h.Timestamp
	p.payload = append(p.payload[:0], payload...)
	s.mu.Unlock()
}

func (n *nackResponder) UnbindLocalStream(info *interceptor.StreamInfo) {
	n.mu.Lock()
	delete(n.streams, info.SSRC)
	n.mu.Unlock()
}

func (n *nackResponder) Close() error {
	n.mu.Lock()
	n.streams = map[uint32]*sentStream{}
	n.mu.Unlock()
	return nil
}

func (n *nackResponder) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		i, attr, err := reader.Read(b, a)
		if err != nil {
			return 0, nil, err
		}
		if attr == nil {
			attr = make(interceptor.Attributes)
		}
		pkts, err := attr.GetRTCPPackets(b[:i])
		if err != nil {
			return 0, nil, err
		}
		for _, p := range pkts {
			if nack, ok := p.(*rtcp.TransportLayerNack); ok {
				n.resend(nack)
			}
		}
		return i, attr, nil
	})
}

// resend sends again what a NACK asks for and the history still holds.
func (n *nackResponder) resend(nack *rtcp.TransportLayerNack) {
	n.mu.Lock()
	s := n.streams[nack.MediaSSRC]
	n.mu.Unlock()
	if s == nil {
		return
	}
	for _, pair := range nack.Nacks {
		pair.Range(func(seq uint16) bool {
			s.resend(seq)
			return true
		})
	}
}

func (s *sentStream) resend(seq uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &s.slots[seq%nackHistory]
	if !s.started || s.highest-seq >= nackHistory || !p.ok || p.seq != seq {
		return // too old, or never sent
	}
	s.hdr = rtp.Header{Version: 2, Marker: p.marker, PayloadType: p.pt, SequenceNumber: seq, Timestamp: p.ts, SSRC: s.ssrc}
	payload := p.payload
	if s.rtxSSRC != 0 && s.rtxPT != 0 {
		s.hdr.SSRC, s.hdr.PayloadType, s.hdr.SequenceNumber = s.rtxSSRC, s.rtxPT, s.rtxSeq
		s.rtxSeq++
		s.repair = binary.BigEndian.AppendUint16(s.repair[:0], seq)
		s.repair = append(s.repair, p.payload...)
		payload = s.repair
	}
	_, _ = s.writer.Write(&s.hdr, payload, nil) // a repair lost is asked for again
}

// twccStamperFactory makes a connection's stamper: one sequence of
// transport-wide numbers for all it sends.
type twccStamperFactory struct{}

func (twccStamperFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &twccStamper{}, nil
}

type twccStamper struct {
	interceptor.NoOp
	next atomic.Uint32
}

// stampedStream is one stream's reused extension and attributes. A
// stream's packets come one at a time (a down track writes under its
// lock); mu keeps it so for anything else.
type stampedStream struct {
	mu    sync.Mutex
	id    uint8
	ext   [2]byte
	exts  [1]rtp.Extension
	attrs interceptor.Attributes
}

func (t *twccStamper) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	id := twccExtension(info)
	if id == 0 {
		return writer // not negotiated
	}
	// The estimator's recorder just below (registerBWE): the stamper
	// records each packet itself, and writes past it.
	var est *estimator
	if r, ok := writer.(*sentRecorder); ok {
		est, writer = r.e, r.next
	}
	s := &stampedStream{id: id, attrs: interceptor.Attributes{}}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		seq := uint16(t.next.Add(1) - 1) //nolint:gosec // the sequence wraps at 16 bits
		binary.BigEndian.PutUint16(s.ext[:], seq)
		if !h.Extension && len(h.Extensions) == 0 {
			h.Extensions = s.exts[:0] // SetExtension appends into the stream's own
		}
		if err := h.SetExtension(s.id, s.ext[:]); err != nil {
			return 0, err
		}
		if est != nil {
			est.sent(seq, h.MarshalSize()+len(payload))
		}
		if a == nil {
			a = s.attrs
		}
		return writer.Write(h, payload, a)
	})
}
