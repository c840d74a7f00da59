package sfu

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/senim-kz/senim/metrics"
)

// Signal is a message from the room to one participant.
type Signal struct {
	// Kind is "offer" or "candidate".
	Kind      string                   `json:"kind"`
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
}

// Sink takes the room's signals; it must not block.
type Sink func(participant string, s Signal)

// RoomOptions describe a room.
type RoomOptions struct {
	// ID names the room in logs and metrics.
	ID string
	// RecordDir, if set, is where every published track is written.
	RecordDir string
	// Sink delivers signals to participants.
	Sink Sink
	// Gone, if set, is told when a participant's connection fails.
	Gone func(participant string)
	// Budget, if set, caps what the room records (see RecordBudget).
	Budget *RecordBudget
}

// Room is one call: its participants and the tracks they publish.
type Room struct {
	sfu  *SFU
	opts RoomOptions

	mu      sync.Mutex
	closed  bool
	peers   map[string]*peer
	tracks  map[string]*published
	records []Recording
	webm    callWebM // the call's WebM (webm.go)
	seq     int
	wg      sync.WaitGroup
}

type peer struct {
	id      string
	pc      *webrtc.PeerConnection
	pending []webrtc.ICECandidateInit // candidates that came before the answer
	// again: the participant is to get a new offer once it answers the
	// current one.
	again   bool
	senders map[string]*webrtc.RTPSender // published key -> the sender of its copy
}

// published is one track a participant sends, forwarded to the others.
type published struct {
	key     string
	owner   string
	kind    webrtc.RTPCodecType
	ssrc    uint32
	ownerPC *webrtc.PeerConnection
	local   *webrtc.TrackLocalStaticRTP
	lastPLI atomic.Int64
	every   time.Duration
}

// NewRoom opens a room. It costs nothing until someone joins.
func (s *SFU) NewRoom(opts RoomOptions) *Room {
	metrics.MediaRooms.Inc()
	return &Room{sfu: s, opts: opts, peers: map[string]*peer{}, tracks: map[string]*published{}}
}

// Participants lists who is in the room.
func (r *Room) Participants() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.peers))
	for id := range r.peers {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Has reports whether a participant is in the room.
func (r *Room) Has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.peers[id]
	return ok
}

// Join adds a participant with a new PeerConnection and sends them the
// first offer: what the others publish, and room to publish their own
// audio and video. Joining again replaces the participant's previous
// connection (a reloaded page).
func (r *Room) Join(id string) error {
	pc, err := r.sfu.api.NewPeerConnection(webrtc.Configuration{ICEServers: r.sfu.cfg.ICEServers})
	if err != nil {
		return fmt.Errorf("sfu: %w", err)
	}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			_ = pc.Close()
			return fmt.Errorf("sfu: %w", err)
		}
	}
	p := &peer{id: id, pc: pc, senders: map[string]*webrtc.RTPSender{}}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		// Under the room's lock: a candidate of a new offer must not overtake
		// the offer, which is sent with the lock held.
		r.mu.Lock()
		r.opts.Sink(id, Signal{Kind: "candidate", Candidate: &init})
		r.mu.Unlock()
	})
	pc.OnTrack(func(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) { r.publish(p, remote, recv) })
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed {
			go func() {
				if r.drop(p) && r.opts.Gone != nil {
					r.opts.Gone(id)
				}
			}()
		}
	})

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = pc.Close()
		return ErrClosed
	}
	old := r.peers[id]
	r.peers[id] = p
	if old == nil {
		metrics.MediaParticipants.Inc()
	}
	r.syncLocked(p, false)
	r.mu.Unlock()
	if old != nil {
		_ = old.pc.Close()
	}
	return nil
}

// Answer applies a participant's answer to the room's last offer.
func (r *Room) Answer(id, sdp string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[id]
	if !ok {
		return ErrNoParticipant
	}
	if p.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return fmt.Errorf("%w: no offer is waiting for an answer", ErrBadDescription)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadDescription, err)
	}
	for _, c := range p.pending {
		_ = p.pc.AddICECandidate(c)
	}
	p.pending = nil
	if p.again {
		p.again = false
		r.syncLocked(p, true)
	}
	return nil
}

// Candidate adds a participant's ICE candidate.
func (r *Room) Candidate(id string, c webrtc.ICECandidateInit) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[id]
	if !ok {
		return ErrNoParticipant
	}
	if p.pc.RemoteDescription() == nil || p.pc.SignalingState() != webrtc.SignalingStateStable {
		// Before the answer to our offer (an ICE restart's included), the
		// candidates may be of the generation the answer brings.
		if len(p.pending) >= 64 {
			return fmt.Errorf("%w: too many candidates before the answer", ErrBadCandidate)
		}
		p.pending = append(p.pending, c)
		return nil
	}
	if err := p.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCandidate, err)
	}
	return nil
}

// Restart sends a participant an offer with new ICE credentials: after
// their network changed, or their websocket came back on a new connection.
func (r *Room) Restart(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[id]
	if !ok {
		return ErrNoParticipant
	}
	r.offerLocked(p, true)
	return nil
}

// Leave removes a participant; what they published stops for the others.
func (r *Room) Leave(id string) error {
	r.mu.Lock()
	p, ok := r.peers[id]
	r.mu.Unlock()
	if !ok {
		return ErrNoParticipant
	}
	r.drop(p)
	return nil
}

// drop removes p if it is still the participant's connection.
func (r *Room) drop(p *peer) bool {
	r.mu.Lock()
	cur := r.peers[p.id] == p
	if cur {
		delete(r.peers, p.id)
		metrics.MediaParticipants.Dec()
	}
	r.mu.Unlock()
	_ = p.pc.Close() // its tracks end; publish's loops take them away
	return cur
}

// Close ends the call: every connection closes, recordings are finalized,
// and what was recorded is returned.
func (r *Room) Close() []Recording {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.wg.Wait()
		return r.recordings()
	}
	r.closed = true
	peers := make([]*peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	r.peers = map[string]*peer{}
	metrics.MediaParticipants.Sub(float64(len(peers)))
	r.mu.Unlock()
	for _, p := range peers {
		_ = p.pc.Close()
	}
	r.wg.Wait()
	r.finishWebM()
	metrics.MediaRooms.Dec()
	return r.recordings()
}

func (r *Room) recordings() []Recording {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]Recording(nil), r.records...)
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}

// syncLocked makes p's connection carry exactly the room's tracks that are
// not p's own, and offers if anything changed (or force).
func (r *Room) syncLocked(p *peer, force bool) {
	changed := force || p.pc.LocalDescription() == nil
	for key, sender := range p.senders {
		if _, ok := r.tracks[key]; !ok {
			_ = p.pc.RemoveTrack(sender)
			delete(p.senders, key)
			changed = true
		}
	}
	for key, t := range r.tracks {
		if t.owner == p.id || p.senders[key] != nil {
			continue
		}
		sender, err := p.pc.AddTrack(t.local)
		if err != nil {
			r.sfu.cfg.Logger.Warn().Err(err).Str("room", r.opts.ID).Str("participant", logName(p.id)).Msg("forward a track")
			continue
		}
		p.senders[key] = sender
		changed = true
		go r.readSenderRTCP(sender, t)
		t.keyframe() // the new subscriber needs a picture to start from
	}
	if changed {
		r.offerLocked(p, false)
	}
}

// logName is a participant as log lines show it: the role alone, because
// the id after it is a person's IIN (the room's id names the act already).
func logName(id string) string {
	role, _, _ := strings.Cut(id, ":")
	return role
}

func (r *Room) offerLocked(p *peer, restart bool) {
	if p.pc.SignalingState() != webrtc.SignalingStateStable {
		p.again = true // offered already; offer again after the answer
		return
	}
	offer, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	if err != nil {
		r.sfu.cfg.Logger.Warn().Err(err).Str("room", r.opts.ID).Str("participant", logName(p.id)).Msg("offer")
		return
	}
	r.opts.Sink(p.id, Signal{Kind: "offer", SDP: offer.SDP})
}

// publish forwards a participant's new track to the others and records it.
func (r *Room) publish(p *peer, remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	kind := remote.Kind()
	r.mu.Lock()
	if r.closed || r.peers[p.id] != p {
		r.mu.Unlock()
		return
	}
	r.seq++
	n := r.seq
	r.wg.Add(1)
	r.mu.Unlock()
	defer r.wg.Done()

	stream := StreamID(p.id)
	key := fmt.Sprintf("%s-%s-%d", stream, kind, n)
	local, err := webrtc.NewTrackLocalStaticRTP(remote.Codec().RTPCodecCapability, key, stream)
	if err != nil {
		r.sfu.cfg.Logger.Warn().Err(err).Str("room", r.opts.ID).Msg("forward track")
		return
	}
	t := &published{key: key, owner: p.id, kind: kind, ssrc: uint32(remote.SSRC()), ownerPC: p.pc, local: local, every: r.sfu.cfg.PLIInterval}
	var rec *recorder
	if r.opts.RecordDir != "" {
		rec, err = newRecorder(r.opts.RecordDir, n, p.id, remote.Codec(), &r.webm)
		if err != nil {
			r.sfu.cfg.Logger.Error().Err(err).Str("room", r.opts.ID).Msg("recording")
		} else {
			rec.budget = r.opts.Budget
		}
	}
	r.mu.Lock()
	r.tracks[key] = t
	for _, other := range r.peers {
		if other != p {
			r.syncLocked(other, false)
		}
	}
	r.mu.Unlock()

	go drainReceiverRTCP(recv)
	f := newForwarder(remote, local, rec, kind)
	for f.step() == nil {
	}

	r.mu.Lock()
	delete(r.tracks, key)
	if !r.closed {
		for _, other := range r.peers {
			r.syncLocked(other, false)
		}
	}
	r.mu.Unlock()
	if rec != nil {
		done, err := rec.finish()
		if err != nil {
			r.sfu.cfg.Logger.Error().Err(err).Str("room", r.opts.ID).Msg("finish recording")
			return
		}
		r.mu.Lock()
		r.records = append(r.records, done)
		r.mu.Unlock()
	}
}

// readSenderRTCP handles what a subscriber says about one forwarded track:
// keyframe requests go to the publisher (throttled), NACKs are answered by
// the NACK interceptor from its buffer and counted here.
func (r *Room) readSenderRTCP(sender *webrtc.RTPSender, t *published) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication:
				metrics.MediaRTCP.WithLabelValues("pli").Inc()
				t.keyframe()
			case *rtcp.FullIntraRequest:
				metrics.MediaRTCP.WithLabelValues("fir").Inc()
				t.keyframe()
			case *rtcp.TransportLayerNack:
				n := 0
				for _, pair := range p.Nacks {
					n += len(pair.PacketList())
				}
				metrics.MediaRTCP.WithLabelValues("nack").Add(float64(n))
			case *rtcp.ReceiverReport:
				metrics.MediaRTCP.WithLabelValues("rr").Inc()
			}
		}
	}
}

// drainReceiverRTCP reads the publisher's sender reports, so the
// interceptors see them.
func drainReceiverRTCP(recv *webrtc.RTPReceiver) {
	for {
		pkts, _, err := recv.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if _, ok := p.(*rtcp.SenderReport); ok {
				metrics.MediaRTCP.WithLabelValues("sr").Inc()
			}
		}
	}
}

// keyframe asks the publisher of a video track for a keyframe, at most once
// per interval however many subscribers ask.
func (t *published) keyframe() {
	if t.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	now := time.Now().UnixNano()
	last := t.lastPLI.Load()
	if now-last < int64(t.every) || !t.lastPLI.CompareAndSwap(last, now) {
		metrics.MediaKeyframeRequests.WithLabelValues("coalesced").Inc()
		return
	}
	if err := t.ownerPC.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: t.ssrc}}); err != nil {
		return
	}
	metrics.MediaKeyframeRequests.WithLabelValues("sent").Inc()
}

// StreamID is the media stream id (msid) of a participant's tracks, so that
// the others can tell whose they are: "client-871008401427", "notary-aliya".
func StreamID(participant string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, participant)
}

// rtpSource is where a forwarder reads: a *webrtc.TrackRemote (after the
// interceptors and SRTP), or a fake in tests.
type rtpSource interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

// forwarder moves one published track's packets to its subscribers (the
// local track every subscriber's sender is bound to) and its recorder.
// It reads into one buffer and one rtp.Packet it reuses, so that
// forwarding costs no allocation per packet: TrackRemote.ReadRTP would make
// a buffer and a packet for each one.
type forwarder struct {
	src            rtpSource
	dst            *webrtc.TrackLocalStaticRTP
	rec            *recorder // nil: not recorded
	packets, bytes prometheus.Counter
	buf            []byte
	pkt            rtp.Packet
}

func newForwarder(src rtpSource, dst *webrtc.TrackLocalStaticRTP, rec *recorder, kind webrtc.RTPCodecType) *forwarder {
	return &forwarder{src: src, dst: dst, rec: rec, buf: make([]byte, slotBytes),
		packets: metrics.MediaPackets.WithLabelValues(kind.String()), bytes: metrics.MediaBytes.WithLabelValues(kind.String())}
}

// step forwards one packet; an error is the end of the track.
func (f *forwarder) step() error {
	n, _, err := f.src.Read(f.buf)
	if err != nil {
		return err
	}
	if err := f.pkt.Unmarshal(f.buf[:n]); err != nil {
		return nil // not RTP after all: skipped, the track goes on
	}
	f.packets.Inc()
	f.bytes.Add(float64(len(f.pkt.Payload)))
	if f.rec != nil {
		f.rec.add(f.buf[:n], time.Now())
	}
	_ = f.dst.WriteRTP(&f.pkt) // fails only when nobody is bound yet
	return nil
}
