package sfu

import (
	"sort"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/metrics"
)

// Bandwidth per subscriber, and what each subscriber gets.
//
// Every packet the SFU sends carries a transport-wide sequence number; the
// subscriber's browser reports when each arrived (transport-cc feedback),
// and the connection's estimator (estimator.go: Senim's own, after Google
// Congestion Control) turns that into an estimate of the subscriber's
// downlink. A browser that sends REMB alone (no transport-cc) is taken at
// its word. Every allocInterval the room chooses, for each subscriber and
// each video track it gets, the best simulcast layer that fits the
// estimate next to the audio; below Config.VideoPauseBelow the subscriber
// gets audio alone until the estimate is back above
// Config.VideoResumeAbove, and both sides are told ("network" signals).
//
// The estimator lets its estimate grow to 1.5 times what is being received,
// so a layer far above the current one is never shown to fit: while the
// estimate sits at that ceiling (nothing is lost or delayed) the room tries
// the next layer up, no sooner than probeBackoff after the last step down,
// and doubles that wait each time a try fails within probeFail. A try holds
// while the estimate climbs towards the layer tried (as a paused video's
// try does, below), and steps back down once it backs off.
//
// A paused subscriber's video comes back the same way: on a try, while the
// estimate is still under Config.VideoPauseBelow (it cannot climb faster
// than the estimator's 8% a second). The try holds while the estimate does
// not back off (it is lowered only on delay growth or loss): the video
// pauses again once it falls under probeBackOff of where it sat before the
// try (the lower of the last two estimates: one may be a passing jump), or
// when it has not reached the floor within probeMax.
const (
	allocInterval   = 500 * time.Millisecond
	probeBackoff    = 4 * time.Second
	probeBackoffMax = time.Minute
	probeFail       = 8 * time.Second
	probeMax        = 25 * time.Second
	probeBackOff    = 0.9
	// headroom: a layer fits when its rate is at most this share of what
	// the estimate leaves for video.
	headroom = 0.9
	// feedbackFresh: REMB or transport-cc older than this is not counted.
	feedbackFresh = 5 * time.Second
)

// bandwidth is what the SFU knows of one subscriber's downlink.
type bandwidth struct {
	gcc    cc.BandwidthEstimator // the estimator (estimator.go); nil on a connection without (never on the SFU's API)
	rembBw atomic.Int64          // the last REMB, bits/s
	rembAt atomic.Int64          // unix ns of the last REMB
	twccAt atomic.Int64          // unix ns of the last transport-cc feedback
}

func (b *bandwidth) remb(bps float32) {
	b.rembBw.Store(int64(bps))
	b.rembAt.Store(time.Now().UnixNano())
}

func (b *bandwidth) twcc() { b.twccAt.Store(time.Now().UnixNano()) }

// estimate is the subscriber's downlink (bits/s): the estimator's, or the REMB where
// that is all the subscriber sends, the lower of the two where both come;
// 0 when nothing is known (no estimator).
func (b *bandwidth) estimate(now time.Time) int64 {
	fresh := func(at int64) bool { return at != 0 && now.Sub(time.Unix(0, at)) < feedbackFresh }
	var est int64
	if b.gcc != nil {
		est = int64(b.gcc.GetTargetBitrate())
	}
	if fresh(b.rembAt.Load()) {
		if r := b.rembBw.Load(); est == 0 || !fresh(b.twccAt.Load()) || r < est {
			est = r
		}
	}
	return est
}

// tick chooses what every subscriber gets, every allocInterval, until the
// room closes.
func (r *Room) tick() {
	t := time.NewTicker(allocInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			r.allocate(now)
		}
	}
}

// measure updates each layer's rate from the bytes it brought since the
// last tick.
func (t *published) measure(dt time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.layers {
		if l == nil {
			continue
		}
		n := l.bytes.Load()
		inst := int64(float64(n-l.prev) * 8 / dt.Seconds())
		l.idle.Store(n == l.prev)
		l.prev = n
		old := l.rate.Load()
		if old == 0 {
			l.rate.Store(inst)
		} else {
			l.rate.Store((old + inst) / 2)
		}
	}
}

// rates is each layer's bitrate, -1 for a layer not sent (or idle).
func (t *published) rates() (out [maxLayers]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, l := range t.layers {
		out[i] = -1
		if l != nil && !l.idle.Load() {
			out[i] = l.rate.Load()
		}
	}
	return out
}

func (r *Room) allocate(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for _, t := range r.tracks {
		t.measure(allocInterval)
		t.awaitKeyframes()
	}
	for _, p := range r.peers {
		r.allocatePeer(p, now)
		for _, d := range p.downs {
			d.awaitKeyframe()
		}
	}
}

// awaitKeyframe asks again for the keyframe that starts the layer the
// subscriber is to get, while it waits for one. A browser sends keyframes
// only when asked, and a request is dropped when another for the same layer
// went out within the PLI interval (the keyframe it brought came before
// this subscriber was ready for it): without asking again the subscriber
// would wait for good, its video black. A layer the publisher does not send
// now is not asked for (a browser that stopped its top layer would answer
// with keyframes of the others).
func (d *downTrack) awaitKeyframe() {
	if target := d.target.Load(); target != noLayer && target != d.cur.Load() && d.t.sending(target) {
		d.t.keyframe(int(target))
	}
}

// awaitKeyframes asks again for the keyframe that starts (or moves up) the
// recording of a video, while the recording waits for one.
func (t *published) awaitKeyframes() {
	if t.rec == nil || t.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	t.recMu.Lock()
	want, cur := t.recWant, t.recCur
	t.recMu.Unlock()
	if want != cur && t.sending(want) {
		t.keyframe(int(want))
	}
}

// sending reports whether the publisher sends layer idx now.
func (t *published) sending(idx int32) bool {
	if idx < 0 || idx >= maxLayers {
		return false
	}
	t.mu.Lock()
	l := t.layers[idx]
	t.mu.Unlock()
	return l != nil && !l.idle.Load()
}

// videoPause is whether one subscriber's video is paused, and its tries to
// bring it back.
type videoPause struct {
	weak      bool // video paused
	resumedAt time.Time
	nextProbe time.Time
	backoff   time.Duration
	// try: the video came back on a try (the estimate under the floor).
	try trial
}

// trial is a try beyond what the estimate shows (a paused video brought
// back, or one layer up). It holds while the estimate stays at or above
// probeBackOff of where it sat before the try (the lower of the last two
// estimates: one may be a passing jump), for probeMax at most.
type trial struct {
	on         bool
	start      time.Time
	ref        float64
	prev, last float64 // the last two estimates seen
}

// see takes the estimate of this allocation, before anything else.
func (t *trial) see(x float64) { t.prev, t.last = t.last, x }

// begin starts a try at now, from the estimate seen last.
func (t *trial) begin(now time.Time) {
	t.on, t.start, t.ref = true, now, t.last
	if t.prev > 0 {
		t.ref = min(t.prev, t.last)
	}
}

// holds tells whether the try goes on at estimate x.
func (t *trial) holds(x float64, now time.Time) bool {
	return x >= probeBackOff*t.ref && now.Sub(t.start) <= probeMax
}

// What a step changed.
const (
	pauseSame = iota
	pauseVideo
	resumeVideo
)

// step takes the subscriber's estimate est and the audio it gets (bits/s)
// at now, with the floor pauseBelow and resumeAbove, and tells whether the
// video pauses or comes back.
func (v *videoPause) step(est, audio int64, now time.Time, pauseBelow, resumeAbove int64) int {
	v.try.see(float64(est))
	if v.try.on && est >= pauseBelow {
		v.try.on = false // the try held: the estimate reached the floor
	}
	switch {
	case !v.weak && est < pauseBelow && (!v.try.on || !v.try.holds(float64(est), now)):
		failed := v.try.on || now.Sub(v.resumedAt) < probeFail
		v.weak, v.try.on = true, false
		if failed {
			v.backoff = min(2*v.backoff, probeBackoffMax) // the video came back too soon
		} else {
			v.backoff = probeBackoff
		}
		v.nextProbe = now.Add(v.backoff)
		return pauseVideo
	case v.weak && est >= resumeAbove:
		v.weak, v.resumedAt = false, now
		return resumeVideo
	case v.weak && !now.Before(v.nextProbe) && float64(est) >= 1.4*float64(audio):
		// Audio alone cannot show more than 1.5 times itself: while the
		// estimate sits at that ceiling, try the video again.
		v.weak, v.resumedAt = false, now
		v.try.begin(now)
		return resumeVideo
	}
	return pauseSame
}

// allocatePeer chooses the layers of one subscriber (under the room's lock).
func (r *Room) allocatePeer(p *peer, now time.Time) {
	est := p.bw.estimate(now)
	if est == 0 {
		return // nothing known: everything as it is (the best layer)
	}
	metrics.MediaBandwidthEstimate.Observe(float64(est) / 8)
	cfg := r.sfu.cfg
	var audio int64
	videos := 0
	for _, d := range p.downs {
		if d.t.kind == webrtc.RTPCodecTypeAudio {
			if rt := d.t.rates()[0]; rt > 0 {
				audio += rt
			}
		} else {
			videos++
		}
	}
	switch p.pause.step(est, audio, now, int64(cfg.VideoPauseBelow), int64(cfg.VideoResumeAbove)) {
	case pauseVideo:
		metrics.MediaVideoPaused.Inc()
		r.tellNetwork(p, NetworkWeakSelf, NetworkWeakPeer)
	case resumeVideo:
		metrics.MediaVideoPaused.Dec()
		r.tellNetwork(p, NetworkOK, NetworkOK)
	}
	if videos == 0 {
		return
	}
	// Each video gets at least its lowest layer; in turn, each gets the best
	// that fits in what is left once the others' lowest are set aside.
	keys := make([]string, 0, videos)
	lowest := map[string]int64{}
	var reserved int64
	for key, d := range p.downs {
		if d.t.kind != webrtc.RTPCodecTypeVideo {
			continue
		}
		keys = append(keys, key)
		for _, rt := range d.t.rates() {
			if rt >= 0 {
				lowest[key] = rt
				reserved += rt
				break
			}
		}
	}
	sort.Strings(keys)
	left := est - audio
	for _, key := range keys {
		d := p.downs[key]
		reserved -= lowest[key]
		next := int32(noLayer)
		if !p.pause.weak {
			rates := d.t.rates()
			next = d.choose(rates, float64(left-reserved), now)
			if next != noLayer && rates[next] > 0 {
				left -= rates[next]
			}
		}
		d.retarget(next, now)
	}
}

// choose is the layer that fits share (bits/s), given the layers' rates.
func (d *downTrack) choose(rates [maxLayers]int64, share float64, now time.Time) int32 {
	best := int32(noLayer)
	for i := maxLayers - 1; i >= 0; i-- {
		if rates[i] >= 0 && float64(rates[i]) <= headroom*share {
			best = int32(i)
			break
		}
	}
	if best == noLayer { // nothing fits: the lowest layer sent, until the floor pauses it
		for i := 0; i < maxLayers; i++ {
			if rates[i] >= 0 {
				return int32(i)
			}
		}
		return noLayer
	}
	cur := d.target.Load()
	d.try.see(share)
	if d.try.on {
		switch {
		case cur == noLayer || rates[cur] < 0 || best >= cur:
			d.try.on = false // the try held (the layer fits now), or is moot
		case d.try.holds(share, now):
			return cur // the estimate climbs towards the layer tried: hold it
		default:
			d.try.on, d.tryFailed = false, true // it backed off, or never got there
		}
	}
	if cur == noLayer || best > cur || rates[cur] < 0 {
		return best
	}
	// The estimate sits at its ceiling above what is sent: try one up.
	if best == cur && float64(rates[cur]) <= share/1.4 && !now.Before(d.nextProbe) {
		for i := cur + 1; i < maxLayers; i++ {
			if rates[i] >= 0 {
				d.try.begin(now)
				return i
			}
		}
	}
	return best
}

// retarget makes next the layer the subscriber is to get, and asks the
// publisher for the keyframe the switch waits for.
func (d *downTrack) retarget(next int32, now time.Time) {
	cur := d.target.Load()
	if next == cur {
		return
	}
	switch {
	case next == noLayer:
		d.try.on = false
		metrics.MediaLayerSwitches.WithLabelValues("pause").Inc()
	case cur == noLayer:
		metrics.MediaLayerSwitches.WithLabelValues("resume").Inc()
	case next > cur:
		metrics.MediaLayerSwitches.WithLabelValues("up").Inc()
		d.upAt = now
	default:
		metrics.MediaLayerSwitches.WithLabelValues("down").Inc()
		if now.Sub(d.upAt) < probeFail || d.tryFailed {
			d.backoff = min(2*d.backoff, probeBackoffMax) // the last step up did not hold
		} else {
			d.backoff = probeBackoff
		}
		d.nextProbe = now.Add(d.backoff)
		d.tryFailed = false
	}
	d.target.Store(next)
	if next != noLayer {
		d.t.keyframe(int(next))
	}
}

// tellNetwork tells p (self) and everyone else (peer) that p's video is
// paused, or back.
func (r *Room) tellNetwork(p *peer, self, others string) {
	r.opts.Sink(p.id, Signal{Kind: "network", State: self})
	for _, o := range r.peers {
		if o != p {
			r.opts.Sink(o.id, Signal{Kind: "network", State: others})
		}
	}
}

// Subscription is what one subscriber gets of one published track.
type Subscription struct {
	// Track is the published track's id; Kind "audio" or "video".
	Track, Kind string
	// Layer is the simulcast layer it gets (0 lowest), -1 none (video
	// paused); Target the one it is to get.
	Layer, Target int
}

// Quality tells what a participant gets, and their downlink estimate
// (bits/s, 0 unknown): for tests and the operators' view.
func (r *Room) Quality(id string) (estimate int64, subs []Subscription, weak bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[id]
	if !ok {
		return 0, nil, false
	}
	for key, d := range p.downs {
		subs = append(subs, Subscription{Track: key, Kind: d.t.kind.String(), Layer: int(d.cur.Load()), Target: int(d.target.Load())})
	}
	return p.bw.estimate(time.Now()), subs, p.pause.weak
}
