package actors

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Admission is the server-wide bound on work in flight: the commands,
// queries, subscriptions and joins that every session has sent on and not
// yet had answered (waiting in an act's inbox, for the log's fsync, for the
// registry). hollywood's inboxes are unbounded, so without it a server past
// its capacity queues without end and every answer gets slower; with it,
// work past the bound is refused at once with overloaded and a retry-after,
// and the work accepted keeps its latency.
//
// Two bounds apply. A fixed count (max_in_flight) is the backstop against
// memory. The other is the wait a request admitted now can expect, by
// Little's law the work in flight over the rate at which work is answered,
// both measured here: past admission.max_delay the server is queueing, not
// working, whatever the number that fits on this machine. New sessions are
// refused from max_delay on (Accepting), so that new acts wait while the
// acts under way go on; requests on sessions already open only from twice
// that (Full), so that an act under way is seldom cut short.
type Admission struct {
	max        int64
	retryAfter time.Duration
	maxDelay   time.Duration
	now        func() time.Time
	n          atomic.Int64
	// answered counts the work answered, ever.
	answered atomic.Int64
	// rate is the smoothed rate of answers per second (float64 bits; -1
	// not measured yet), updated once per window by whoever notices the
	// window is over.
	rate atomic.Uint64
	mu   sync.Mutex // guards the window
	// winStart and winAnswered are where the current window began.
	winStart    time.Time
	winAnswered int64
	// winEnd is winStart + admissionWindow in Unix nanoseconds, read
	// without the lock on every check.
	winEnd atomic.Int64
}

const (
	// admissionWindow is how often the answer rate is measured.
	admissionWindow = 100 * time.Millisecond
	// admissionSmoothing is the weight of the newest window in the rate.
	admissionSmoothing = 0.3
	// minQueue is the work in flight under which the delay bound never
	// refuses: a handful of requests is no queue, and an idle server has
	// no answer rate to speak of.
	minQueue = 32
)

// NewAdmission bounds work in flight at max; refusals suggest retryAfter.
func NewAdmission(max int, retryAfter time.Duration) *Admission {
	return (&Admission{max: int64(max), retryAfter: retryAfter}).BoundDelay(0, nil)
}

// BoundDelay also bounds the expected wait at maxDelay (0: no such bound),
// measured with the clock now (nil: time.Now). Call it before any use.
func (a *Admission) BoundDelay(maxDelay time.Duration, now func() time.Time) *Admission {
	if now == nil {
		now = time.Now
	}
	a.maxDelay, a.now = maxDelay, now
	a.rate.Store(math.Float64bits(-1))
	a.winStart = now()
	a.winEnd.Store(a.winStart.Add(admissionWindow).UnixNano())
	return a
}

// Full reports whether a request on an open session is refused: the bound
// on work in flight is reached, or the expected wait is past twice
// max_delay. Never for a nil Admission: no bound.
func (a *Admission) Full() bool {
	return a != nil && (a.n.Load() >= a.max || a.delayed(2*a.maxDelay))
}

// Accepting reports whether new sessions are let in: not while Full, nor
// while the expected wait is past max_delay. Always for a nil Admission.
func (a *Admission) Accepting() bool {
	return a == nil || (a.n.Load() < a.max && !a.delayed(a.maxDelay))
}

// delayed reports whether the expected wait of work admitted now is past
// bound (never for bound 0).
func (a *Admission) delayed(bound time.Duration) bool {
	if a.maxDelay <= 0 {
		return false
	}
	n := a.n.Load()
	if n < minQueue {
		return false
	}
	a.measure()
	return a.expected(n) > bound
}

// expected is the wait of work admitted with n in flight: 0 while the
// answer rate is not known yet, unbounded while nothing is answered.
func (a *Admission) expected(n int64) time.Duration {
	r := math.Float64frombits(a.rate.Load())
	if r < 0 {
		return 0
	}
	if r == 0 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(float64(n) / r * float64(time.Second))
}

// ExpectedDelay is the wait that work admitted now can expect, from the
// latest measure (0 with little or nothing in flight).
func (a *Admission) ExpectedDelay() time.Duration {
	if a == nil {
		return 0
	}
	n := a.n.Load()
	if n == 0 {
		return 0
	}
	a.measure()
	return a.expected(n)
}

// measure closes the current window if it is over, folding its answer rate
// into the smoothed one. One caller does it; the others go on with the
// rate they see.
func (a *Admission) measure() {
	now := a.now()
	if now.UnixNano() < a.winEnd.Load() || !a.mu.TryLock() {
		return
	}
	defer a.mu.Unlock()
	elapsed := now.Sub(a.winStart)
	if elapsed < admissionWindow {
		return
	}
	done := a.answered.Load()
	r := float64(done-a.winAnswered) / elapsed.Seconds()
	if old := math.Float64frombits(a.rate.Load()); elapsed > 10*admissionWindow {
		// Nobody looked for a while (an idle server): that window's rate
		// says nothing about the work that comes now. Measure afresh.
		r = -1
	} else if old > 0 {
		r = admissionSmoothing*r + (1-admissionSmoothing)*old
	}
	a.rate.Store(math.Float64bits(r))
	a.winStart, a.winAnswered = now, done
	a.winEnd.Store(now.Add(admissionWindow).UnixNano())
}

// InFlight is the work in flight now.
func (a *Admission) InFlight() int64 {
	if a == nil {
		return 0
	}
	return a.n.Load()
}

// RetryAfter is what a refusal suggests.
func (a *Admission) RetryAfter() time.Duration {
	if a == nil || a.retryAfter <= 0 {
		return time.Second
	}
	return a.retryAfter
}

func (a *Admission) add(d int) {
	if a == nil || d == 0 {
		return
	}
	a.n.Add(int64(d))
	if d < 0 {
		a.answered.Add(int64(-d))
		if a.maxDelay > 0 {
			a.measure()
		}
	}
}
