package actors

import (
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
type Admission struct {
	max        int64
	retryAfter time.Duration
	n          atomic.Int64
}

// NewAdmission bounds work in flight at max; refusals suggest retryAfter.
func NewAdmission(max int, retryAfter time.Duration) *Admission {
	return &Admission{max: int64(max), retryAfter: retryAfter}
}

// Full reports whether the server is at its bound (never for a nil
// Admission: no bound).
func (a *Admission) Full() bool { return a != nil && a.n.Load() >= a.max }

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
	if a != nil && d != 0 {
		a.n.Add(int64(d))
	}
}
