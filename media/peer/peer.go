// Package peer is a WebRTC participant of Senim's calls in Go: it answers
// the SFU's offers, publishes synthetic VP8 video and Opus audio, and counts
// what it receives. The tests, the load tool and the benchmark use it as
// the notary's and the client's browser; it speaks the same signaling as
// the browser apps (see transport/protocol/PROTOCOL.md, "Media").
package peer

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// Signal is what the peer sends the SFU: an answer or a candidate.
type Signal struct {
	Kind      string                   `json:"kind"`
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
}

// Peer is one participant's connection.
type Peer struct {
	PC   *webrtc.PeerConnection
	send func(Signal)

	video, audio *webrtc.TrackLocalStaticSample
	keyframe     atomic.Bool                   // a keyframe is wanted next
	layers       []*webrtc.TrackLocalStaticRTP // simulcast: q, h, f
	layerSender  *webrtc.RTPSender

	// KeyframeRequests counts PLI and FIR that reached this publisher.
	KeyframeRequests atomic.Int64
	// RED, set before Publish, sends the microphone as RED (RFC 2198):
	// each packet carries the one before too (the API must take RED).
	RED bool
	red *webrtc.TrackLocalStaticRTP
	// KeyframesOnRequest, set before Publish, sends keyframes only when the
	// SFU asks (and the first frame), as browsers do: not every 3 s.
	KeyframesOnRequest bool

	sig      sync.Mutex // orders an answer before its candidates
	mu       sync.Mutex
	received map[string]*Received // by track id
	pending  []webrtc.ICECandidateInit
}

// Received counts one incoming track.
type Received struct {
	Stream, Track, Codec string
	Packets, Bytes       atomic.Int64
	Payload              atomic.Int64 // RTP payload bytes
	// Lost counts the packets missing from the sequence (never received;
	// late ones count as lost too), LongestLoss the most missing in a row.
	Lost, LongestLoss atomic.Int64
	// Late counts packets that came after a later one: repairs, on a
	// network that does not reorder. RTX tells whether the sender
	// declared a repair stream (RFC 4588) for the track.
	Late atomic.Int64
	RTX  bool
	// Layer is the simulcast layer (0 lowest) of the last video frame that
	// came from a Publish'd peer (its frames carry it); -1 before one.
	Layer atomic.Int32
	// Width is the picture width of the last VP8 keyframe received (0
	// before one): which simulcast layer of a browser's camera comes.
	Width atomic.Int32
}

// New makes a peer on api (sfu.NewAPI's, so codecs match) with the given
// ICE configuration (TURN servers, relay-only policy). send carries its
// signals to the SFU.
func New(api *webrtc.API, cfg webrtc.Configuration, send func(Signal)) (*Peer, error) {
	pc, err := api.NewPeerConnection(cfg)
	if err != nil {
		return nil, err
	}
	p := &Peer{PC: pc, send: send, received: map[string]*Received{}}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			init := c.ToJSON()
			// After the answer that announces their generation: Offer holds
			// sig while it answers.
			p.sig.Lock()
			p.send(Signal{Kind: "candidate", Candidate: &init})
			p.sig.Unlock()
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		r := &Received{Stream: t.StreamID(), Track: t.ID(), Codec: t.Codec().MimeType, RTX: t.HasRTX()}
		r.Layer.Store(-1)
		p.mu.Lock()
		p.received[t.ID()] = r
		p.mu.Unlock()
		buf := make([]byte, 1500)
		var pkt rtp.Packet
		var next uint16
		for i := 0; ; i++ {
			n, _, err := t.Read(buf)
			if err != nil {
				return
			}
			r.Packets.Add(1)
			r.Bytes.Add(int64(n))
			if pkt.Unmarshal(buf[:n]) != nil {
				continue
			}
			r.Payload.Add(int64(len(pkt.Payload)))
			if gap := int64(pkt.SequenceNumber - next); i > 0 && gap > 0 && gap < 1000 {
				r.Lost.Add(gap)
				if gap > r.LongestLoss.Load() {
					r.LongestLoss.Store(gap)
				}
			}
			if d := int16(pkt.SequenceNumber - next); i == 0 || d >= 0 {
				next = pkt.SequenceNumber + 1
			} else {
				r.Late.Add(1)
			}
			// A VP8 frame's first packet: descriptor (S set), then the frame,
			// whose byte 10 is its layer.
			if pl := pkt.Payload; len(pl) > 11 && pl[0]&0x10 != 0 && pl[0]&0x80 == 0 && pl[11]&0xf0 == layerMark {
				r.Layer.Store(int32(pl[11] & 0x0f))
			}
			if w := vp8KeyframeWidth(pkt.Payload); w > 0 {
				r.Width.Store(int32(w))
			}
		}
	})
	return p, nil
}

// Publish adds a synthetic camera (VP8) and microphone (Opus) and sends
// frames until ctx ends: 30 frames/s of about bitrate/240 bytes each, a
// keyframe every 3 s (see KeyframesOnRequest) and whenever the SFU asks;
// 20 ms Opus frames. Call it before the first offer is answered, as a
// browser adds its tracks before answering.
func (p *Peer) Publish(ctx context.Context, stream string, bitrate int) error {
	var err error
	if p.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "camera", stream); err != nil {
		return err
	}
	if p.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "microphone", stream); err != nil {
		return err
	}
	tracks := []webrtc.TrackLocal{p.video, p.audio}
	if p.RED {
		if p.red, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: "audio/red", ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"}, "microphone", stream); err != nil {
			return err
		}
		tracks[1] = p.red
	}
	for _, t := range tracks {
		sender, err := p.PC.AddTrack(t)
		if err != nil {
			return err
		}
		go p.readRTCP(sender)
	}
	p.keyframe.Store(true)
	go p.sendVideo(ctx, bitrate/240)
	if p.RED {
		go p.sendRED(ctx)
	} else {
		go p.sendAudio(ctx)
	}
	return nil
}

func (p *Peer) readRTCP(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.KeyframeRequests.Add(1)
				p.keyframe.Store(true)
			}
		}
	}
}

// PublishSimulcast is Publish with the camera in three simulcast layers
// (rids q, h and f) of the given bitrates, lowest first, as a browser
// sends with sendEncodings. Each frame's byte 10 names its layer, so a
// receiving Peer tells which it gets (Received.Layer).
func (p *Peer) PublishSimulcast(ctx context.Context, stream string, bitrates [3]int) error {
	var err error
	for _, rid := range []string{"q", "h", "f"} {
		t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "camera", stream, webrtc.WithRTPStreamID(rid))
		if err != nil {
			return err
		}
		p.layers = append(p.layers, t)
	}
	if p.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "microphone", stream); err != nil {
		return err
	}
	video, err := p.PC.AddTrack(p.layers[0])
	if err != nil {
		return err
	}
	for _, l := range p.layers[1:] {
		if err := video.AddEncoding(l); err != nil {
			return err
		}
	}
	p.layerSender = video
	for _, rid := range []string{"q", "h", "f"} {
		go p.readSimulcastRTCP(video, rid)
	}
	audio, err := p.PC.AddTrack(p.audio)
	if err != nil {
		return err
	}
	go p.readRTCP(audio)
	p.keyframe.Store(true)
	go p.sendLayers(ctx, bitrates)
	go p.sendAudio(ctx)
	return nil
}

func (p *Peer) readSimulcastRTCP(sender *webrtc.RTPSender, rid string) {
	for {
		pkts, _, err := sender.ReadSimulcastRTCP(rid)
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.KeyframeRequests.Add(1)
				p.keyframe.Store(true)
			}
		}
	}
}

// vp8KeyframeWidth is the width a VP8 keyframe's first packet gives
// (RFC 7741 payload descriptor, then RFC 6386's frame header: a 3-byte
// tag, the start code 9d 01 2a, 14 bits of width), or 0 for any other
// packet.
func vp8KeyframeWidth(p []byte) int {
	if len(p) < 1 || p[0]&0x10 == 0 || p[0]&0x07 != 0 { // S, PartID 0
		return 0
	}
	i := 1
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			return 0
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(p) <= i {
				return 0
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	f := p[min(i, len(p)):]
	if len(f) < 10 || f[0]&0x01 != 0 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0
	}
	return int(binary.LittleEndian.Uint16(f[6:8]) & 0x3fff)
}

// layerMark, in a frame's byte 10, with the layer in its low bits.
const layerMark = 0xa0

func (p *Peer) sendLayers(ctx context.Context, bitrates [3]int) {
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	var seq [3]uint16
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		key := p.keyframe.Swap(false) || (!p.KeyframesOnRequest && i%90 == 0)
		mid, midID, ridID := p.simulcastExtensions()
		for l, t := range p.layers {
			f := VP8Frame(max(bitrates[l]/240, 12), key)
			f[10] = layerMark | byte(l)
			// pion's receiver tells simulcast layers apart by their mid and
			// rid header extensions, which pion's sender does not write.
			for off := 0; off < len(f); off += 1100 {
				end := min(off+1100, len(f))
				desc := byte(0)
				if off == 0 {
					desc = 0x10 // S: the frame starts here
				}
				pkt := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq[l], Timestamp: uint32(3000 * i), Marker: end == len(f)},
					Payload: append([]byte{desc}, f[off:end]...)}
				seq[l]++
				if midID != 0 && ridID != 0 {
					_ = pkt.Header.SetExtension(midID, []byte(mid))
					_ = pkt.Header.SetExtension(ridID, []byte(t.RID()))
				}
				if err := t.WriteRTP(&pkt); err != nil {
					return
				}
			}
		}
	}
}

// simulcastExtensions are the camera's mid and the header extension ids of
// mid and rid, once negotiated (zeros before).
func (p *Peer) simulcastExtensions() (mid string, midID, ridID uint8) {
	for _, e := range p.layerSender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	for _, tr := range p.PC.GetTransceivers() {
		if tr.Sender() == p.layerSender {
			mid = tr.Mid()
		}
	}
	return mid, midID, ridID
}

// VP8Frame is a synthetic VP8 frame of n bytes: a keyframe carries the
// keyframe start code and a 640×480 size, so recorders and players take it.
func VP8Frame(n int, key bool) []byte {
	if n < 10 {
		n = 10
	}
	f := make([]byte, n)
	_, _ = rand.Read(f)
	if key {
		f[0] = f[0] &^ 0x01 // P bit clear: keyframe
		f[3], f[4], f[5] = 0x9d, 0x01, 0x2a
		f[6], f[7], f[8], f[9] = 0x80, 0x02, 0xe0, 0x01 // 640, 480
	} else {
		f[0] |= 0x01
	}
	return f
}

func (p *Peer) sendVideo(ctx context.Context, size int) {
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		key := p.keyframe.Swap(false) || (!p.KeyframesOnRequest && i%90 == 0)
		f := VP8Frame(max(size, 12), key)
		f[10] = layerMark // layer 0: the only one
		if err := p.video.WriteSample(media.Sample{Data: f, Duration: time.Second / 30}); err != nil && !errors.Is(err, context.Canceled) {
			return
		}
	}
}

func (p *Peer) sendAudio(ctx context.Context) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	frame := make([]byte, 80)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_, _ = rand.Read(frame[1:])
		frame[0] = 0xfc // TOC: CELT fullband 20 ms, one frame
		if err := p.audio.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond}); err != nil {
			return
		}
	}
}

// sendRED sends 20 ms Opus frames as RED: each packet's payload is a
// redundant block (the previous frame) and the primary one (RFC 2198).
func (p *Peer) sendRED(ctx context.Context) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	prev := make([]byte, 80)
	frame := make([]byte, 80)
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_, _ = rand.Read(frame[1:])
		frame[0] = 0xfc
		var payload []byte
		if i == 0 {
			payload = append([]byte{111}, frame...)
		} else {
			// F=1, PT 111, timestamp offset 960, length; then F=0, PT 111.
			const off = 960
			hdr := []byte{0x80 | 111, byte(off >> 6), byte(off&0x3f)<<2 | byte(len(prev)>>8), byte(len(prev)), 111}
			payload = append(append(hdr, prev...), frame...)
		}
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(960 * i), Marker: i == 0}, Payload: payload}
		if err := p.red.WriteRTP(&pkt); err != nil {
			return
		}
		copy(prev, frame)
	}
}

// setRemote applies the other side's description, then the candidates that
// came before it.
func (p *Peer) setRemote(typ webrtc.SDPType, sdp string) error {
	if err := p.PC.SetRemoteDescription(webrtc.SessionDescription{Type: typ, SDP: sdp}); err != nil {
		return err
	}
	p.mu.Lock()
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	for _, c := range pending {
		if err := p.PC.AddICECandidate(c); err != nil {
			return err
		}
	}
	return nil
}

// Offer answers an offer from the SFU; the answer goes out through send.
func (p *Peer) Offer(sdp string) error {
	// The layers the SFU asks to receive (a=rid … recv) are for what this
	// peer sends; pion would take them for what it receives on that
	// m-line, where the SFU's own stream comes as one.
	if err := p.setRemote(webrtc.SDPTypeOffer, withoutRecvRIDs(sdp)); err != nil {
		return err
	}
	answer, err := p.PC.CreateAnswer(nil)
	if err != nil {
		return err
	}
	p.sig.Lock()
	defer p.sig.Unlock()
	if err := p.PC.SetLocalDescription(answer); err != nil {
		return err
	}
	p.send(Signal{Kind: "answer", SDP: answer.SDP})
	return nil
}

// MakeOffer makes this peer's own offer, for what it publishes (an SFU
// that lets the participant offer first: sfu.JoinOptions.Offers); the SFU's
// answer goes to Answer. Candidates go out through send after it.
func (p *Peer) MakeOffer() (string, error) {
	offer, err := p.PC.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	p.sig.Lock()
	defer p.sig.Unlock()
	if err := p.PC.SetLocalDescription(offer); err != nil {
		return "", err
	}
	return offer.SDP, nil
}

// Answer applies the SFU's answer to MakeOffer's offer.
func (p *Peer) Answer(sdp string) error { return p.setRemote(webrtc.SDPTypeAnswer, sdp) }

// Candidate adds the SFU's candidate.
func (p *Peer) Candidate(c webrtc.ICECandidateInit) error {
	p.mu.Lock()
	if p.PC.RemoteDescription() == nil {
		p.pending = append(p.pending, c)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	return p.PC.AddICECandidate(c)
}

// Received lists the tracks received so far.
func (p *Peer) Received() []*Received {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Received, 0, len(p.received))
	for _, r := range p.received {
		out = append(out, r)
	}
	return out
}

// ReceivedFrom sums the packets received on the tracks of one stream.
func (p *Peer) ReceivedFrom(stream string) (video, audio int64) {
	for _, r := range p.Received() {
		if r.Stream != stream {
			continue
		}
		if strings.EqualFold(r.Codec, webrtc.MimeTypeOpus) {
			audio += r.Packets.Load()
		} else {
			video += r.Packets.Load()
		}
	}
	return video, audio
}

// Close hangs up.
func (p *Peer) Close() error { return p.PC.Close() }

// Dial connects two peers directly, without an SFU (a baseline for
// benchmarks): a offers, b answers, candidates are exchanged through the
// peers' send functions, which the caller routes with Route.
func Dial(a, b *Peer) error {
	offer, err := a.PC.CreateOffer(nil)
	if err != nil {
		return err
	}
	a.sig.Lock()
	err = a.PC.SetLocalDescription(offer)
	a.sig.Unlock()
	if err != nil {
		return err
	}
	return b.Offer(offer.SDP)
}

// Route applies a signal b sent to its direct partner a (see Dial).
func Route(a *Peer, s Signal) error {
	switch s.Kind {
	case "answer":
		return a.setRemote(webrtc.SDPTypeAnswer, s.SDP)
	case "candidate":
		return a.Candidate(*s.Candidate)
	}
	return nil
}

// withoutRecvRIDs drops a=rid … recv and a=simulcast:recv lines.
func withoutRecvRIDs(sdp string) string {
	lines := strings.SplitAfter(sdp, "\r\n")
	var b strings.Builder
	for _, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(t, "a=simulcast:recv") || (strings.HasPrefix(t, "a=rid:") && strings.HasSuffix(t, " recv")) {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}
