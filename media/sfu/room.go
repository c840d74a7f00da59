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
	// Kind is "offer", "answer" (to a participant's own offer, see
	// JoinOptions.Offers), "candidate" or "network".
	Kind      string                   `json:"kind"`
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	// State, of a "network" signal: NetworkWeakSelf, NetworkWeakPeer or
	// NetworkOK.
	State string `json:"state,omitempty"`
}

// The states of a "network" signal: the participant's own connection is
// too weak for video (theirs is paused, audio goes on), another
// participant's is (they no longer see this one's video), or all is well
// again.
const (
	NetworkWeakSelf = "weak_self"
	NetworkWeakPeer = "weak_peer"
	NetworkOK       = "ok"
)

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
	// Budget, if set, caps what the room's recording writes, the call's
	// WebM included (see RecordBudget).
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
	// byRecv groups the layers of one published track (a simulcast
	// camera's are one receiver's tracks).
	byRecv map[*webrtc.RTPReceiver]*published
	ticker sync.Once
	stop   chan struct{}
}

type peer struct {
	id      string
	pc      *webrtc.PeerConnection
	pending []webrtc.ICECandidateInit // candidates that came before the answer
	// again: the participant is to get a new offer once it answers the
	// current one.
	again   bool
	senders map[string]*webrtc.RTPSender // published key -> the sender of its copy
	downs   map[string]*downTrack        // published key -> what this participant gets of it
	// recvVideo is the transceiver the participant's camera comes in on:
	// its offers ask for simulcast there (nil: no simulcast asked).
	recvVideo *webrtc.RTPTransceiver
	// awaitOffer: the participant offers first (JoinOptions.Offers); the
	// room makes no offer and adds no track until it answered that one.
	awaitOffer bool
	bw         bandwidth
	// pause: whether the participant's video is paused (weak), under the
	// room's lock.
	pause videoPause
}

// published is one track a participant sends (one or more simulcast
// layers), forwarded to the others.
type published struct {
	key     string
	owner   string
	kind    webrtc.RTPCodecType
	codec   webrtc.RTPCodecParameters
	red     bool // RED audio: Opus with redundancy
	ownerPC *webrtc.PeerConnection
	every   time.Duration

	mu     sync.Mutex
	layers [maxLayers]*layer // by layer index; nil: not sent

	// subs are the subscribers' down tracks, replaced whole (under the
	// room's lock) so the forwarding path reads them without a lock.
	subs atomic.Pointer[[]*downTrack]

	rec *recorder // nil: not recorded
	// The recording takes the best layer: recWant, switched to on its
	// keyframe (recCur until then).
	recMu           sync.Mutex
	recWant, recCur int32
}

// layer is one simulcast layer of a published track (the only one without
// simulcast).
type layer struct {
	ssrc    uint32
	bytes   atomic.Int64 // received, for the rate
	lastPLI atomic.Int64
	// rate is the layer's bitrate (bits/s) as last measured by the room's
	// tick; prev the byte count then.
	rate atomic.Int64
	prev int64
	// idle: nothing came in the last tick (a browser stops its top layer
	// when its own uplink is short): the layer is not chosen.
	idle atomic.Bool
}

// NewRoom opens a room. It costs nothing until someone joins.
func (s *SFU) NewRoom(opts RoomOptions) *Room {
	metrics.MediaRooms.Inc()
	return &Room{sfu: s, opts: opts, peers: map[string]*peer{}, tracks: map[string]*published{},
		byRecv: map[*webrtc.RTPReceiver]*published{}, stop: make(chan struct{}), webm: callWebM{budget: opts.Budget}}
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

// JoinOptions are what a participant's app can do.
type JoinOptions struct {
	// Simulcast: the app sends its camera in the layers the server's
	// offers ask for (a=simulcast:recv). Chromium, answering such an
	// offer, stops sending video on that m-line: browsers use Offers
	// instead (call.js does); Go peers use this.
	Simulcast bool
	// Offers: the app makes the first offer itself, for what it sends
	// (Room.Offer), and the room answers; after that the room leads again
	// (it offers the others' tracks and ICE restarts). This is how a
	// browser sends simulcast: Chromium sends the layers of its own
	// offer's sendEncodings (a=simulcast:send), which the room's answer
	// takes (a=simulcast:recv). One side offers at a time: the room makes
	// no offer before it answered, and takes no offer after.
	Offers bool
}

// Join adds a participant with a new PeerConnection and sends them the
// first offer: what the others publish, and room to publish their own
// audio and video. Joining again replaces the participant's previous
// connection (a reloaded page).
func (r *Room) Join(id string) error { return r.JoinWith(id, JoinOptions{}) }

// JoinWith is Join with what the participant's app can do.
func (r *Room) JoinWith(id string, o JoinOptions) error {
	pc, err := r.sfu.api.NewPeerConnection(webrtc.Configuration{ICEServers: r.sfu.cfg.ICEServers})
	if err != nil {
		return fmt.Errorf("sfu: %w", err)
	}
	p := &peer{id: id, pc: pc, senders: map[string]*webrtc.RTPSender{}, downs: map[string]*downTrack{}, awaitOffer: o.Offers}
	p.bw.gcc = r.sfu.takeBWE(pc)
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if o.Offers {
			break // the app's offer brings its own m-lines
		}
		tr, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
		if err != nil {
			_ = pc.Close()
			return fmt.Errorf("sfu: %w", err)
		}
		if kind == webrtc.RTPCodecTypeVideo && o.Simulcast {
			p.recvVideo = tr
		}
	}
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
	if old != nil {
		r.unsubscribeLocked(old)
	}
	r.syncLocked(p, false)
	r.mu.Unlock()
	if old != nil {
		_ = old.pc.Close()
	}
	r.ticker.Do(func() { go r.tick() })
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
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answerWithoutRecvRIDs(sdp)}); err != nil {
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

// Offer answers a participant's own offer, for what it sends: the one
// offer of a participant that joined with Offers, before the room offered
// anything. The answer goes out through the sink (before the candidates it
// gathers); then the room offers the others' tracks, if there are any.
func (r *Room) Offer(id, sdp string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[id]
	if !ok {
		return ErrNoParticipant
	}
	if !p.awaitOffer || p.pc.SignalingState() != webrtc.SignalingStateStable {
		return fmt.Errorf("%w: the server leads this connection: no offer is taken (join with offers, and offer once, first)", ErrBadDescription)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadDescription, err)
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err == nil {
		err = p.pc.SetLocalDescription(answer)
	}
	if err != nil {
		// The offer parsed but cannot be answered (nothing Senim takes in
		// it): back to stable, and the app may offer again.
		_ = p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
		return fmt.Errorf("%w: %v", ErrBadDescription, err)
	}
	// pion's later offers ask for the same layers on that m-line
	// themselves (a=rid … recv, a=simulcast:recv), from the offer.
	r.opts.Sink(p.id, Signal{Kind: "answer", SDP: answer.SDP})
	for _, c := range p.pending {
		_ = p.pc.AddICECandidate(c)
	}
	p.pending = nil
	p.awaitOffer, p.again = false, false
	r.syncLocked(p, false)
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
		r.unsubscribeLocked(p)
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
	close(r.stop)
	peers := make([]*peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
		r.unsubscribeLocked(p)
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
	if p.awaitOffer {
		return // after the answer to the participant's offer (Offer)
	}
	changed := force || p.pc.LocalDescription() == nil
	for key, sender := range p.senders {
		if _, ok := r.tracks[key]; !ok {
			_ = p.pc.RemoveTrack(sender)
			delete(p.senders, key)
			delete(p.downs, key)
			changed = true
		}
	}
	for key, t := range r.tracks {
		if t.owner == p.id || p.senders[key] != nil {
			continue
		}
		// A local track per subscriber: each gets its own layer.
		var d *downTrack
		var bound webrtc.TrackLocal
		if t.red {
			rl, err := newRedLocal(t.key, StreamID(t.owner))
			if err != nil {
				r.sfu.cfg.Logger.Warn().Err(err).Str("room", r.opts.ID).Msg("forward a track")
				continue
			}
			d = newDownTrack(t, p, rl.opus)
			rl.d, bound = d, rl
		} else {
			local, err := webrtc.NewTrackLocalStaticRTP(t.codec.RTPCodecCapability, t.key, StreamID(t.owner))
			if err != nil {
				r.sfu.cfg.Logger.Warn().Err(err).Str("room", r.opts.ID).Msg("forward a track")
				continue
			}
			d, bound = newDownTrack(t, p, local), local
		}
		sender, err := p.pc.AddTrack(bound)
		if err != nil {
			r.sfu.cfg.Logger.Warn().Err(err).Str("room", r.opts.ID).Str("participant", logName(p.id)).Msg("forward a track")
			continue
		}
		if p.pause.weak && t.kind == webrtc.RTPCodecTypeVideo {
			d.target.Store(noLayer)
		}
		p.senders[key], p.downs[key] = sender, d
		t.addSub(d)
		changed = true
		go r.readSenderRTCP(sender, d)
		t.keyframe(int(d.target.Load())) // the new subscriber needs a picture to start from
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
	if p.awaitOffer {
		return // no connection yet: the participant's offer starts it
	}
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
	sdp := offer.SDP
	if p.recvVideo != nil {
		sdp = simulcastOffer(sdp, p.recvVideo.Mid())
	}
	r.opts.Sink(p.id, Signal{Kind: "offer", SDP: sdp})
}

// unsubscribeLocked takes p's down tracks off what they subscribe to; p
// is leaving.
func (r *Room) unsubscribeLocked(p *peer) {
	if p.pause.weak {
		p.pause.weak = false
		metrics.MediaVideoPaused.Dec()
	}
	for key, d := range p.downs {
		if t := r.tracks[key]; t != nil {
			t.removeSub(d)
		}
	}
}

// addSub and removeSub change the subscribers (under the room's lock).
func (t *published) addSub(d *downTrack) {
	var next []*downTrack
	if cur := t.subs.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, d)
	t.subs.Store(&next)
}

func (t *published) removeSub(d *downTrack) {
	cur := t.subs.Load()
	if cur == nil {
		return
	}
	next := make([]*downTrack, 0, len(*cur))
	for _, x := range *cur {
		if x != d {
			next = append(next, x)
		}
	}
	t.subs.Store(&next)
}

// best is the highest layer the publisher sends (0 before any).
func (t *published) best() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := maxLayers - 1; i > 0; i-- {
		if t.layers[i] != nil {
			return i
		}
	}
	return 0
}

func (t *published) recWantLayer() int32 {
	t.recMu.Lock()
	defer t.recMu.Unlock()
	return t.recWant
}

// record hands a packet of layer to the recording if that is the layer it
// keeps: the best one, switched to on a keyframe.
func (t *published) record(layer int32, raw []byte, key bool, now time.Time) {
	t.recMu.Lock()
	if layer == t.recCur || (layer == t.recWant && key) {
		t.recCur = layer
		t.rec.add(raw, now)
	}
	t.recMu.Unlock()
}

// publish forwards a participant's new track (or a simulcast layer of
// one) to the others and records it.
func (r *Room) publish(p *peer, remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	kind := remote.Kind()
	idx, ok := layerOf(remote.RID())
	if !ok {
		r.sfu.cfg.Logger.Warn().Str("room", r.opts.ID).Str("participant", logName(p.id)).Msg("a simulcast layer Senim did not ask for: not forwarded")
		go drainReceiverRTCP(recv, remote.RID())
		return
	}
	r.mu.Lock()
	if r.closed || r.peers[p.id] != p {
		r.mu.Unlock()
		return
	}
	t := r.byRecv[recv]
	fresh := t == nil
	if fresh {
		r.seq++
		stream := StreamID(p.id)
		key := fmt.Sprintf("%s-%s-%d", stream, kind, r.seq)
		t = &published{key: key, owner: p.id, kind: kind, codec: remote.Codec(), ownerPC: p.pc, every: r.sfu.cfg.PLIInterval, recCur: noLayer}
		t.red = strings.EqualFold(t.codec.MimeType, MimeTypeRED)
		if r.opts.RecordDir != "" {
			codec := remote.Codec()
			if t.red {
				codec = Opus // the primary blocks are recorded
			}
			rec, err := newBudgetedRecorder(r.opts.RecordDir, r.seq, p.id, codec, &r.webm, r.opts.Budget)
			if err != nil {
				r.sfu.cfg.Logger.Error().Err(err).Str("room", r.opts.ID).Msg("recording")
			} else {
				t.rec = rec
			}
		}
		r.byRecv[recv] = t
	}
	t.mu.Lock()
	if t.layers[idx] != nil {
		t.mu.Unlock()
		r.mu.Unlock()
		return // the same layer twice: the first one is forwarded
	}
	l := &layer{ssrc: uint32(remote.SSRC())}
	t.layers[idx] = l
	t.mu.Unlock()
	t.recMu.Lock()
	t.recWant = int32(t.best())
	t.recMu.Unlock()
	r.wg.Add(1)
	if fresh {
		r.tracks[t.key] = t
		for _, other := range r.peers {
			if other != p {
				r.syncLocked(other, false)
			}
		}
	}
	r.mu.Unlock()
	defer r.wg.Done()
	go drainReceiverRTCP(recv, remote.RID())
	if t.rec != nil {
		t.keyframe(int(t.recWantLayer())) // the recording starts, or moves up, on a keyframe
	}

	f := newForwarder(remote, t, idx, kind)
	for f.step() == nil {
	}

	r.mu.Lock()
	t.mu.Lock()
	t.layers[idx] = nil
	last := t.layers == [maxLayers]*layer{}
	t.mu.Unlock()
	if !last {
		t.recMu.Lock()
		t.recWant = int32(t.best())
		t.recMu.Unlock()
		r.mu.Unlock()
		return
	}
	delete(r.byRecv, recv)
	delete(r.tracks, t.key)
	if !r.closed {
		for _, other := range r.peers {
			r.syncLocked(other, false)
		}
	}
	r.mu.Unlock()
	if t.rec != nil {
		done, err := t.rec.finish()
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
// keyframe requests go to the publisher (throttled), for the layer the
// subscriber gets; NACKs are answered by the NACK interceptor from its
// buffer and counted here; REMB and transport-wide feedback tell the
// subscriber's bandwidth (the latter read by the estimator, noted here).
func (r *Room) readSenderRTCP(sender *webrtc.RTPSender, d *downTrack) {
	t := d.t
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication:
				metrics.MediaRTCP.WithLabelValues("pli").Inc()
				t.keyframe(d.wanted())
			case *rtcp.FullIntraRequest:
				metrics.MediaRTCP.WithLabelValues("fir").Inc()
				t.keyframe(d.wanted())
			case *rtcp.TransportLayerNack:
				n := 0
				for _, pair := range p.Nacks {
					n += len(pair.PacketList())
				}
				metrics.MediaRTCP.WithLabelValues("nack").Add(float64(n))
			case *rtcp.ReceiverReport:
				metrics.MediaRTCP.WithLabelValues("rr").Inc()
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				metrics.MediaRTCP.WithLabelValues("remb").Inc()
				d.sub.bw.remb(p.Bitrate)
			case *rtcp.TransportLayerCC:
				d.sub.bw.twcc()
			}
		}
	}
}

// wanted is the layer the subscriber is to get, or gets (while paused, the
// lowest).
func (d *downTrack) wanted() int {
	if l := d.target.Load(); l != noLayer {
		return int(l)
	}
	return 0
}

// drainReceiverRTCP reads the publisher's sender reports of one layer, so
// the interceptors see them.
func drainReceiverRTCP(recv *webrtc.RTPReceiver, rid string) {
	for {
		var pkts []rtcp.Packet
		var err error
		if rid == "" {
			pkts, _, err = recv.ReadRTCP()
		} else {
			pkts, _, err = recv.ReadSimulcastRTCP(rid)
		}
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

// keyframe asks the publisher of a video track for a keyframe of one
// layer, at most once per interval however many subscribers ask.
func (t *published) keyframe(idx int) {
	if t.kind != webrtc.RTPCodecTypeVideo || idx < 0 || idx >= maxLayers {
		return
	}
	t.mu.Lock()
	l := t.layers[idx]
	t.mu.Unlock()
	if l == nil {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if now-last < int64(t.every) || !l.lastPLI.CompareAndSwap(last, now) {
		metrics.MediaKeyframeRequests.WithLabelValues("coalesced").Inc()
		return
	}
	if err := t.ownerPC.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}}); err != nil {
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

// forwarder moves one layer's packets to the subscribers that get that
// layer (each its own local track, rewritten to one stream) and to the
// recording. It reads into one buffer and one rtp.Packet it reuses, so that
// forwarding costs no allocation per packet: TrackRemote.ReadRTP would make
// a buffer and a packet for each one.
type forwarder struct {
	src            rtpSource
	t              *published
	layer          *layer
	idx            int32
	packets, bytes prometheus.Counter
	buf            []byte
	pkt            rtp.Packet
	recBuf         []byte // RED audio: the packet with its primary block alone, for the recording
}

func newForwarder(src rtpSource, t *published, idx int, kind webrtc.RTPCodecType) *forwarder {
	t.mu.Lock()
	l := t.layers[idx]
	t.mu.Unlock()
	if l == nil {
		l = &layer{}
	}
	return &forwarder{src: src, t: t, layer: l, idx: int32(idx), buf: make([]byte, slotBytes), recBuf: make([]byte, slotBytes),
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
	f.layer.bytes.Add(int64(n))
	now := time.Now()
	key := isKeyframe(f.t.kind, f.pkt.Payload)
	raw := f.buf[:n]
	var primary []byte
	if f.t.red {
		var ok bool
		if primary, ok = redPrimary(f.pkt.Payload); !ok {
			return nil // not RED after all: skipped
		}
		h, err := f.pkt.Header.MarshalTo(f.recBuf)
		if err != nil || h+len(primary) > len(f.recBuf) {
			return nil
		}
		raw = f.recBuf[:h+copy(f.recBuf[h:], primary)]
	}
	if f.t.rec != nil {
		f.t.record(f.idx, raw, key, now)
	}
	if subs := f.t.subs.Load(); subs != nil {
		ns := now.UnixNano()
		for _, d := range *subs {
			d.write(f.idx, &f.pkt, primary, key, ns)
		}
	}
	return nil
}
