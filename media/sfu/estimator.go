package sfu

import (
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// estimator is Senim's send-side bandwidth estimator of one connection (a
// cc.BandwidthEstimator, in place of pion's GCC), after
// draft-ietf-rmcat-gcc-02 on transport-wide feedback.
//
// Its record of each packet sent is one atomic store in a fixed ring
// indexed by the packet's transport-wide sequence number (the stamper,
// sendpath.go, records it as it numbers the packet): send time, size, and
// the number, packed in one word. No map, no list, no lock and no
// allocation per packet, and sentRing words per subscriber. pion's GCC
// keeps every packet in a map and a list under a mutex (its
// FeedbackAdapter), two allocations and a lock per packet per subscriber.
//
// Each transport-wide feedback (rtcp.TransportLayerCC) is read here: its
// chunks give each packet's status, its deltas the arrival times of those
// received. A packet the ring does not hold as sent (never sent, long
// overwritten, or already acknowledged) is passed over, and so is whatever
// does not add up (more statuses than deltas, times out of range). What is
// acknowledged feeds
//
//   - the delay-based estimate: packets sent within groupSpan form a group;
//     the growth of each group's one-way delay over the one before is
//     accumulated, smoothed, and its trend over the last trendWindow
//     groups (a least-squares slope) compared against an adaptive
//     threshold: overuse (the trend above it for overuseTime and
//     growing), underuse, or normal. The rate control is AIMD: on overuse
//     the estimate goes to 0.85 times the rate received (no more than once
//     per decreaseGap plus the round trip); on normal it grows 8% a
//     second, or by about a packet per response time once near the rate
//     where it last had to come down; on underuse it holds. It never grows
//     beyond 1.5 times the rate received (plus 10 kbit/s): with nothing
//     lost or delayed it sits at that ceiling (bwe.go probes from there);
//   - the loss-based estimate: loss (a 200 ms average) over 10% cuts it by
//     half the loss, under 2% lets it grow 5%, each at most every 200 ms.
//
// The estimate is the lower of the two, within [min, max].
type estimator struct {
	start time.Time
	// ring: a packet sent, by transport-wide sequence number modulo
	// sentRing (ringWord).
	ring [sentRing]atomic.Uint64
	// target is the estimate, bits/s.
	target atomic.Int64

	mu       sync.Mutex
	onChange func(int)
	closed   bool
	minRate  float64
	maxRate  float64
	fb       feedbackState
	delay    delayState
	loss     lossState
	recv     recvRate
	acks     []ack // reused per feedback
}

const (
	// sentRing: packets a subscriber's feedback can refer back to (about 10
	// s of a 2 Mbit/s video and its audio); a power of two under 1<<16.
	sentRing = 2048
	// sentMaxAge: a ring entry older than this is stale (the sequence
	// number came round).
	sentMaxAge = 10 * time.Second

	groupSpan      = 5 * time.Millisecond
	trendWindow    = 20
	trendSmoothing = 0.9
	trendGain      = 4.0
	trendMaxDeltas = 60
	overuseTime    = 10 * time.Millisecond
	// The adaptive threshold (ms), and its gains up and down.
	thresholdInit = 12.5
	thresholdMin  = 6.0
	thresholdMax  = 600.0
	thresholdUp   = 0.01
	thresholdDown = 0.00018
	// A delay change beyond this (between two groups) is not a queue: the
	// feedback is out of line, and the trend starts over.
	delayJump = 3 * time.Second

	decreaseFactor = 0.85
	decreaseGap    = 200 * time.Millisecond
	increasePerSec = 1.08
	recvWindow     = 500 * time.Millisecond
	recvSlots      = 4096

	lossHigh   = 0.10
	lossLow    = 0.02
	lossGrow   = 1.05
	lossGap    = 200 * time.Millisecond
	lossWindow = 200.0 // ms, the loss average's time constant
)

// The ring's word: sequence number (16 bits), flags (2), size (14), send
// time in µs since start modulo 1<<32.
const (
	flagAcked = 1 << 15 // received, counted
	flagLost  = 1 << 14 // reported lost
	sizeMask  = 1<<14 - 1
)

func packSent(seq uint16, flags, size uint16, us uint32) uint64 {
	return uint64(seq)<<48 | uint64(flags|size)<<32 | uint64(us)
}

// newEstimator starts at initial bits/s, within [minimum, maximum].
func newEstimator(initial, minimum, maximum int) *estimator {
	e := &estimator{start: time.Now(), minRate: float64(minimum), maxRate: float64(maximum)}
	if e.maxRate < e.minRate {
		e.maxRate = e.minRate
	}
	init := min(max(float64(initial), e.minRate), e.maxRate)
	e.target.Store(int64(init))
	e.delay.rate, e.loss.rate = init, init
	e.delay.threshold = thresholdInit
	return e
}

// sinceStart is now in µs since the estimator started.
func (e *estimator) sinceStart() int64 { return int64(time.Since(e.start) / time.Microsecond) }

// sent records a packet sent now: its transport-wide sequence number and
// size (bytes). Safe from any number of writers: each number is its own.
func (e *estimator) sent(seq uint16, size int) { e.sentAt(seq, size, e.sinceStart()) }

func (e *estimator) sentAt(seq uint16, size int, us int64) {
	s := uint16(min(max(size, 1), sizeMask)) //nolint:gosec // clamped
	e.ring[seq%sentRing].Store(packSent(seq, 0, s, uint32(us)))
}

// AddStream records the packets of a stream sent, where nothing records
// them before (the stamper does, and unwraps sentRecorder).
func (e *estimator) AddStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	id := twccExtension(info)
	if id == 0 {
		return writer
	}
	return &sentRecorder{e: e, id: id, next: writer}
}

// twccExtension is the id of the stream's transport-wide sequence number
// extension; 0: not negotiated.
func twccExtension(info *interceptor.StreamInfo) uint8 {
	for _, x := range info.RTPHeaderExtensions {
		if x.URI == sdp.TransportCCURI {
			return uint8(x.ID) //nolint:gosec // RTP extension ids are 1-255
		}
	}
	return 0
}

// sentRecorder records each packet written through it, by the sequence
// number in its transport-wide extension.
type sentRecorder struct {
	e    *estimator
	id   uint8
	next interceptor.RTPWriter
}

func (r *sentRecorder) Write(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	if ext := h.GetExtension(r.id); len(ext) == 2 {
		r.e.sent(binary.BigEndian.Uint16(ext), h.MarshalSize()+len(payload))
	}
	return r.next.Write(h, payload, a)
}

// WriteRTCP reads transport-wide feedback; the rest is not its business.
func (e *estimator) WriteRTCP(pkts []rtcp.Packet, _ interceptor.Attributes) error {
	for _, p := range pkts {
		if fb, ok := p.(*rtcp.TransportLayerCC); ok {
			e.feedback(fb, e.sinceStart())
		}
	}
	return nil
}

func (e *estimator) GetTargetBitrate() int { return int(e.target.Load()) }

// OnTargetBitrateChange: f is called on the connection's RTCP reader when
// the estimate changes; it must not block.
func (e *estimator) OnTargetBitrateChange(f func(int)) {
	e.mu.Lock()
	e.onChange = f
	e.mu.Unlock()
}

func (e *estimator) GetStats() map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return map[string]any{
		"targetBitrate":      e.target.Load(),
		"delayTargetBitrate": int64(e.delay.rate),
		"lossTargetBitrate":  int64(e.loss.rate),
		"averageLoss":        e.loss.average,
		"receivedBitrate":    int64(e.recv.rate()),
		"delayTrend":         e.delay.modified,
		"delayThreshold":     e.delay.threshold,
		"usage":              e.delay.usage.String(),
	}
}

func (e *estimator) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	return nil
}

// ack is a packet the feedback reports: µs since start (send), in the
// receiver's clock (arrival).
type ack struct {
	send, arrival int64
	size          int
	received      bool
}

// feedbackState unwraps the feedback's 24-bit reference time.
type feedbackState struct {
	started bool
	ref     int64 // extended reference time, 64 ms units
}

// feedback reads one transport-wide feedback at now (µs since start).
func (e *estimator) feedback(fb *rtcp.TransportLayerCC, now int64) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	acks := e.collect(fb, now)
	changed, f := e.update(acks, now), e.onChange
	e.mu.Unlock()
	if changed && f != nil {
		f(int(e.target.Load()))
	}
}

// collect finds in the ring the packets fb reports, marking them
// reported.
func (e *estimator) collect(fb *rtcp.TransportLayerCC, now int64) []ack {
	ref := int64(fb.ReferenceTime & 0xFFFFFF)
	if !e.fb.started {
		e.fb.started, e.fb.ref = true, ref
	} else {
		d := (ref - e.fb.ref) & 0xFFFFFF
		if d >= 1<<23 {
			d -= 1 << 24
		}
		e.fb.ref += d
	}
	arrival := e.fb.ref * 64000
	acks := e.acks[:0]
	seq := fb.BaseSequenceNumber
	left := int(fb.PacketStatusCount)
	deltas := fb.RecvDeltas
	bad := false
	status := func(sym uint16) {
		if left <= 0 || bad {
			return
		}
		left--
		s := seq
		seq++
		received := sym == rtcp.TypeTCCPacketReceivedSmallDelta || sym == rtcp.TypeTCCPacketReceivedLargeDelta
		if received {
			if len(deltas) == 0 || deltas[0] == nil {
				bad = true // fewer deltas than packets received
				return
			}
			arrival += deltas[0].Delta
			deltas = deltas[1:]
		} else if sym != rtcp.TypeTCCPacketNotReceived {
			return // received without a time: nothing to learn
		}
		if a, ok := e.take(s, received, now); ok {
			a.arrival = arrival
			acks = append(acks, a)
		}
	}
	for _, c := range fb.PacketChunks {
		if left <= 0 || bad {
			break
		}
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			for n := min(int(c.RunLength), left); n > 0 && !bad; n-- {
				status(c.PacketStatusSymbol)
			}
		case *rtcp.StatusVectorChunk:
			for _, sym := range c.SymbolList {
				status(sym)
			}
		}
	}
	e.acks = acks
	return acks
}

// take is the packet seq as sent, if the ring holds it unreported, and
// marks it reported.
func (e *estimator) take(seq uint16, received bool, now int64) (ack, bool) {
	slot := &e.ring[seq%sentRing]
	w := slot.Load()
	flags, size := uint16(w>>32)&^sizeMask, int(w>>32&sizeMask)
	if uint16(w>>48) != seq || size == 0 || flags&flagAcked != 0 || (!received && flags&flagLost != 0) {
		return ack{}, false
	}
	send := now - int64(uint32(now)-uint32(w))
	if now-send > int64(sentMaxAge/time.Microsecond) {
		return ack{}, false // the number came round: not this packet
	}
	mark := uint16(flagLost)
	if received {
		mark = flagAcked
	}
	if !slot.CompareAndSwap(w, w|uint64(mark)<<32) {
		return ack{}, false // sent again meanwhile
	}
	return ack{send: send, size: size, received: received}, true
}

// update takes a feedback's packets, and tells whether the estimate
// changed.
func (e *estimator) update(acks []ack, now int64) bool {
	if len(acks) == 0 {
		return false
	}
	lost, rtt := 0, int64(math.MaxInt64)
	var last int64 = math.MinInt64
	for _, a := range acks {
		if a.received {
			last = max(last, a.arrival)
		}
	}
	for _, a := range acks {
		if !a.received {
			lost++
			continue
		}
		// Round trip: from sending to this feedback, less what the
		// packet waited for it at the receiver.
		if r := now - a.send - (last - a.arrival); r >= 0 {
			rtt = min(rtt, r)
		}
		e.recv.add(a.arrival, a.size)
		e.delay.packet(a)
	}
	if rtt != math.MaxInt64 {
		e.delay.rtt = min(rtt, int64(time.Second/time.Microsecond))
	}
	received := e.recv.rate()
	e.delay.control(received, now, e.minRate, e.maxRate)
	e.loss.update(len(acks), lost, now, e.delay.rate, e.minRate, e.maxRate)
	next := int64(min(max(min(e.delay.rate, e.loss.rate), e.minRate), e.maxRate))
	return e.target.Swap(next) != next
}

// recvRate is the rate acknowledged packets arrived at over recvWindow
// (by the receiver's clock).
type recvRate struct {
	at        [recvSlots]int64
	size      [recvSlots]int32
	head, n   int
	sum       int64
	newest    int64
	hasNewest bool
}

func (r *recvRate) add(arrival int64, size int) {
	if r.hasNewest && arrival < r.newest-int64(recvWindow/time.Microsecond) {
		return // long out of order
	}
	if r.hasNewest && (arrival-r.newest > int64(delayJump/time.Microsecond)) {
		r.n, r.sum = 0, 0 // a jump: start over
	}
	if !r.hasNewest || arrival > r.newest {
		r.newest, r.hasNewest = arrival, true
	}
	if r.n == recvSlots {
		r.drop()
	}
	i := (r.head + r.n) % recvSlots
	r.at[i], r.size[i] = arrival, int32(size) //nolint:gosec // at most sizeMask
	r.n++
	r.sum += int64(size)
	for r.n > 0 && r.at[r.head] < r.newest-int64(recvWindow/time.Microsecond) {
		r.drop()
	}
}

func (r *recvRate) drop() {
	r.sum -= int64(r.size[r.head])
	r.head = (r.head + 1) % recvSlots
	r.n--
}

// rate is bits/s over what of the window the packets span: the bytes that
// arrived after the oldest packet over the time from it to the newest (n
// packets span n-1 gaps; counting the oldest's bytes too read 15 packets
// of a 300 kbit/s stream 7% high). Packets spanning under 100 ms are
// taken as arriving over 100 ms, all of them counted.
func (r *recvRate) rate() float64 {
	if r.n == 0 {
		return 0
	}
	const least = float64(100 * time.Millisecond / time.Microsecond)
	span := float64(r.newest - r.at[r.head])
	if span < least {
		return float64(r.sum*8) / (least / 1e6)
	}
	return float64((r.sum-int64(r.size[r.head]))*8) / (span / 1e6)
}

// usage is what the delay trend shows.
type usage int

const (
	usageNormal usage = iota
	usageOver
	usageUnder
)

func (u usage) String() string {
	switch u {
	case usageOver:
		return "overuse"
	case usageUnder:
		return "underuse"
	}
	return "normal"
}

// rateState is the AIMD controller's.
type rateState int

const (
	stateIncrease rateState = iota
	stateHold
	stateDecrease
)

// group is packets sent within groupSpan of its first.
type group struct {
	firstSend, lastSend, lastArrival int64
	on                               bool
}

// delayState is the delay-based estimate.
type delayState struct {
	cur, prev group
	// The trend: accumulated and smoothed delay (ms), and the last
	// trendWindow samples (arrival ms since the first, smoothed delay).
	first        int64
	hasFirst     bool
	accumulated  float64
	smoothed     float64
	samplesX     [trendWindow]float64
	samplesY     [trendWindow]float64
	samples      int // total taken
	deltas       int
	modified     float64 // the trend, scaled (ms)
	prevModified float64
	// The detector.
	threshold     float64
	lastThreshold int64 // arrival µs of its last update
	overuseFor    float64
	overuseCount  int
	lastSample    int64
	usage         usage
	// The controller.
	state        rateState
	rate         float64
	rtt          int64 // µs
	lastChange   int64 // µs since start
	hasChange    bool
	lastDecrease int64
	hasDecrease  bool
	avgMax       float64 // the rate received when it last came down (average)
	varMax       float64 // its variance, relative
}

// packet adds a received packet (in send order) to the groups.
func (d *delayState) packet(a ack) {
	if !d.cur.on {
		d.cur = group{firstSend: a.send, lastSend: a.send, lastArrival: a.arrival, on: true}
		return
	}
	if a.send < d.cur.firstSend {
		return // sent before the group: out of order
	}
	if a.send-d.cur.firstSend <= int64(groupSpan/time.Microsecond) {
		d.cur.lastSend = max(d.cur.lastSend, a.send)
		d.cur.lastArrival = max(d.cur.lastArrival, a.arrival)
		return
	}
	if d.prev.on {
		d.sample(d.cur.lastSend-d.prev.lastSend, d.cur.lastArrival-d.prev.lastArrival, d.cur.lastArrival)
	}
	d.prev = d.cur
	d.cur = group{firstSend: a.send, lastSend: a.send, lastArrival: a.arrival, on: true}
}

// sample takes the delay change between two groups (µs), the later's
// arrival at.
func (d *delayState) sample(sendDelta, arrivalDelta, at int64) {
	change := arrivalDelta - sendDelta
	jump := int64(delayJump / time.Microsecond)
	if change > jump || change < -jump || arrivalDelta < -jump || arrivalDelta > jump {
		d.resetTrend() // out of line: start over
		return
	}
	if !d.hasFirst {
		d.first, d.hasFirst = at, true
	}
	d.deltas = min(d.deltas+1, trendMaxDeltas)
	d.accumulated += float64(change) / 1000
	d.smoothed = trendSmoothing*d.smoothed + (1-trendSmoothing)*d.accumulated
	i := d.samples % trendWindow
	d.samplesX[i], d.samplesY[i] = float64(at-d.first)/1000, d.smoothed
	d.samples++
	if d.samples < trendWindow {
		d.detect(at)
		return
	}
	// Least-squares slope of the smoothed delay over arrival time.
	var mx, my float64
	for j := range trendWindow {
		mx += d.samplesX[j]
		my += d.samplesY[j]
	}
	mx /= trendWindow
	my /= trendWindow
	var num, den float64
	for j := range trendWindow {
		num += (d.samplesX[j] - mx) * (d.samplesY[j] - my)
		den += (d.samplesX[j] - mx) * (d.samplesX[j] - mx)
	}
	slope := 0.0
	if den != 0 {
		slope = num / den
	}
	d.prevModified = d.modified
	d.modified = slope * float64(d.deltas) * trendGain
	d.detect(at)
}

func (d *delayState) resetTrend() {
	d.hasFirst, d.accumulated, d.smoothed, d.samples, d.deltas = false, 0, 0, 0, 0
	d.modified, d.prevModified, d.overuseFor, d.overuseCount = 0, 0, 0, 0
	d.usage = usageNormal
}

// detect compares the trend with the threshold, and adapts it.
func (d *delayState) detect(at int64) {
	if d.lastSample == 0 {
		d.lastSample = at
	}
	dt := float64(at-d.lastSample) / 1000 // ms
	d.lastSample = at
	m := d.modified
	switch {
	case d.samples < trendWindow:
		d.usage = usageNormal
	case m > d.threshold:
		if d.overuseFor == 0 {
			d.overuseFor = dt / 2
		} else {
			d.overuseFor += dt
		}
		d.overuseCount++
		if d.overuseFor > float64(overuseTime/time.Millisecond) && d.overuseCount > 1 && m >= d.prevModified {
			d.overuseFor, d.overuseCount = 0, 0
			d.usage = usageOver
		}
	case m < -d.threshold:
		d.overuseFor, d.overuseCount = 0, 0
		d.usage = usageUnder
	default:
		d.overuseFor, d.overuseCount = 0, 0
		d.usage = usageNormal
	}
	// The threshold follows the trend, slowly down, faster up; a trend far
	// beyond it (a spike) does not move it.
	if d.lastThreshold == 0 {
		d.lastThreshold = at
	}
	if abs := math.Abs(m); abs <= d.threshold+15 {
		k := thresholdUp
		if abs < d.threshold {
			k = thresholdDown
		}
		step := min(max(float64(at-d.lastThreshold)/1000, 0), 100)
		d.threshold = min(max(d.threshold+k*(abs-d.threshold)*step, thresholdMin), thresholdMax)
	}
	d.lastThreshold = at
}

// control moves the rate on the detector's signal, given the rate
// received (bits/s) at now.
func (d *delayState) control(received float64, now int64, lo, hi float64) {
	switch d.usage {
	case usageOver:
		d.state = stateDecrease
	case usageUnder:
		d.state = stateHold
	default:
		switch d.state { // the draft's: hold, then increase
		case stateHold:
			d.state = stateIncrease
		case stateDecrease:
			d.state = stateHold
		}
	}
	if !d.hasChange {
		d.lastChange, d.hasChange = now, true
	}
	dt := float64(now-d.lastChange) / 1e6 // s
	switch d.state {
	case stateDecrease:
		gap := int64(decreaseGap/time.Microsecond) + d.rtt
		if received <= 0 || (d.hasDecrease && now-d.lastDecrease < gap) {
			break
		}
		d.noteMax(received)
		d.rate = min(d.rate, decreaseFactor*received)
		d.lastDecrease, d.hasDecrease = now, true
		d.lastChange = now
	case stateIncrease:
		limit := 1.5*received + 10_000
		if received <= 0 || d.rate >= limit {
			d.lastChange = now
			break // nothing acknowledged shows more room
		}
		var next float64
		if d.nearMax(received) {
			// Additive: about half a packet per response time.
			response := 0.1 + float64(d.rtt)/1e6
			bitsPerFrame := d.rate / 30
			packets := math.Ceil(bitsPerFrame / (1200 * 8))
			alpha := 0.5 * min(dt/response, 1)
			next = d.rate + max(1000, alpha*bitsPerFrame/packets)
		} else {
			next = d.rate * math.Pow(increasePerSec, min(dt, 1))
		}
		d.rate = min(next, limit)
		d.lastChange = now
	default:
		d.lastChange = now
	}
	d.rate = min(max(d.rate, lo), hi)
}

// noteMax keeps the average rate received at a decrease, where the link's
// capacity probably is.
func (d *delayState) noteMax(received float64) {
	const alpha = 0.05
	if d.avgMax == 0 || (d.varMax > 0 && !d.nearMax(received)) {
		d.avgMax, d.varMax = received, 0.05*0.05
		return
	}
	x := received - d.avgMax
	d.avgMax += alpha * x
	rel := x / max(d.avgMax, 1)
	d.varMax = min(max((1-alpha)*d.varMax+alpha*rel*rel, 0.02*0.02), 0.25)
}

// nearMax: received is within three deviations of avgMax.
func (d *delayState) nearMax(received float64) bool {
	if d.avgMax == 0 {
		return false
	}
	dev := 3 * math.Sqrt(d.varMax) * d.avgMax
	return received > d.avgMax-dev && received < d.avgMax+dev
}

// lossState is the loss-based estimate.
type lossState struct {
	rate         float64
	average      float64
	lastUpdate   int64
	hasUpdate    bool
	lastIncrease int64
	lastDecrease int64
}

// update takes a feedback's count of packets reported and lost at now,
// with the delay-based rate (the loss-based one is never above it).
func (l *lossState) update(total, lost int, now int64, delay, lo, hi float64) {
	if total == 0 {
		return
	}
	ratio := float64(lost) / float64(total)
	if !l.hasUpdate {
		l.average, l.hasUpdate = ratio, true
	} else {
		dt := float64(now-l.lastUpdate) / 1000
		l.average = ratio + math.Exp(-dt/lossWindow)*(l.average-ratio)
	}
	l.lastUpdate = now
	l.rate = min(l.rate, delay)
	gap := int64(lossGap / time.Microsecond)
	switch {
	case max(l.average, ratio) < lossLow && now-l.lastIncrease > gap:
		l.lastIncrease = now
		l.rate *= lossGrow
	case min(l.average, ratio) > lossHigh && now-l.lastDecrease > gap:
		l.lastDecrease = now
		l.rate *= 1 - 0.5*min(l.average, ratio)
	}
	l.rate = min(max(l.rate, lo), hi)
}
