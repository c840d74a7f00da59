// Package pwlimit bounds password checks. An argon2id check costs 64 MiB
// and about 170 ms of CPU, and it runs before sign-in, so anyone can ask for
// as many as they like: unbounded, two dozen connections guessing passwords
// took the server to 3 GB and both cores. The Limiter runs at most Workers
// checks at once, lets at most Queue more wait (the rest are refused with
// ErrBusy, at once and for nothing), and locks out a login or an address
// after repeated wrong passwords (ErrLockedOut), the lockout doubling with
// each further failure.
package pwlimit

import (
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/senim-kz/senim/internal/procs"
)

// Config sets a Limiter's bounds.
type Config struct {
	// Workers is the number of checks run at once; 0 is one per two CPUs
	// (at least one), so that sign-ins never take every core.
	Workers int
	// Queue is the number of checks that may wait for a worker.
	Queue int
	// Failures is the number of wrong passwords for one login before it is
	// locked out; an address gets four times as many (it may be an office
	// behind one NAT).
	Failures int
	// Lockout is the first lockout; each further failure doubles it, up to
	// MaxLockout.
	Lockout    time.Duration
	MaxLockout time.Duration
	// RetryAfter is what a busy answer suggests.
	RetryAfter time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Refusal is why a check was not run, and when to try again.
type Refusal struct {
	Err        error // ErrBusy or ErrLockedOut
	RetryAfter time.Duration
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// ErrBusy: every worker is taken and the queue is full.
var ErrBusy = errors.New("pwlimit: every password check is taken; try again shortly")

// ErrLockedOut: too many wrong passwords for the login or from the address.
var ErrLockedOut = errors.New("pwlimit: too many wrong passwords; locked out for a while")

// Limiter is safe for concurrent use.
type Limiter struct {
	cfg     Config
	workers chan struct{}
	mu      sync.Mutex
	waiting int // checks admitted and not finished (running or queued)
	logins  map[string]*failures
	addrs   map[string]*failures
	inserts int
}

// failures is the recent history of one login or address.
type failures struct {
	n     int
	last  time.Time
	until time.Time // locked out until
}

// New returns a Limiter; zero fields of cfg get sensible values.
func New(cfg Config) *Limiter {
	if cfg.Workers <= 0 {
		cfg.Workers = max(1, runtime.NumCPU()/2)
	}
	if cfg.Failures <= 0 {
		cfg.Failures = 5
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = time.Minute
	}
	if cfg.MaxLockout < cfg.Lockout {
		cfg.MaxLockout = 64 * cfg.Lockout
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, workers: make(chan struct{}, cfg.Workers), logins: map[string]*failures{}, addrs: map[string]*failures{}}
}

// Ticket is an admitted check; Run it exactly once.
type Ticket struct {
	l           *Limiter
	login, addr string
}

// Begin admits a check of login's password from addr, without blocking:
// a *Refusal error says why not. Calling it on an actor's goroutine is
// fine; Run is not.
func (l *Limiter) Begin(login, addr string) (*Ticket, error) {
	if until := l.lockedUntil(login, addr); !until.IsZero() {
		return nil, &Refusal{Err: ErrLockedOut, RetryAfter: until.Sub(l.cfg.Now())}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiting >= cap(l.workers)+l.cfg.Queue {
		return nil, &Refusal{Err: ErrBusy, RetryAfter: l.cfg.RetryAfter}
	}
	l.waiting++
	return &Ticket{l: l, login: login, addr: addr}, nil
}

func lockedUntil(f *failures, now time.Time) time.Time {
	if f == nil {
		return time.Time{}
	}
	return f.until
}

// Run waits for a worker, runs check, and records its outcome: check
// reports whether the password was right (an error that is no verdict, such
// as an unreadable accounts file, should report true: it is not a guess).
// A login or address locked out while the check waited is refused then
// (a *Refusal), without running it: a flood queued before its lockout
// costs no more CPU.
func (t *Ticket) Run(check func() (right bool)) (bool, error) {
	l := t.l
	l.workers <- struct{}{}
	if until := l.lockedUntil(t.login, t.addr); !until.IsZero() {
		<-l.workers
		l.mu.Lock()
		l.waiting--
		l.mu.Unlock()
		return false, &Refusal{Err: ErrLockedOut, RetryAfter: until.Sub(l.cfg.Now())}
	}
	right := false
	func() {
		defer func() { <-l.workers }()
		// 170 ms of CPU: processors for the short work meanwhile
		// (a server at a light load may be running on one).
		defer procs.Hold()()
		right = check()
	}()
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waiting--
	if right {
		delete(l.logins, t.login)
		return true, nil
	}
	l.fail(l.logins, t.login, l.cfg.Failures, now)
	l.fail(l.addrs, t.addr, 4*l.cfg.Failures, now)
	return false, nil
}

// lockedUntil is when the lockout of login or addr ends, zero if neither
// is locked out now.
func (l *Limiter) lockedUntil(login, addr string) time.Time {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	until := lockedUntil(l.logins[login], now)
	if u := lockedUntil(l.addrs[addr], now); u.After(until) {
		until = u
	}
	if !until.After(now) {
		return time.Time{}
	}
	return until
}

// fail counts a wrong password against key; l.mu is held.
func (l *Limiter) fail(m map[string]*failures, key string, allowed int, now time.Time) {
	f := m[key]
	if f == nil || now.Sub(f.last) > l.cfg.MaxLockout {
		// Failures long ago are forgotten.
		f = &failures{}
		m[key] = f
		l.inserts++
		if l.inserts%1024 == 0 {
			l.forget(now)
		}
	}
	f.n++
	f.last = now
	if over := f.n - allowed; over >= 0 {
		d := l.cfg.Lockout
		for i := 0; i < over && d < l.cfg.MaxLockout; i++ {
			d *= 2
		}
		if d > l.cfg.MaxLockout {
			d = l.cfg.MaxLockout
		}
		f.until = now.Add(d)
	}
}

// forget drops histories whose last failure is older than the longest
// lockout, so that guesses at random logins cannot grow the maps without
// end; l.mu is held.
func (l *Limiter) forget(now time.Time) {
	for _, m := range []map[string]*failures{l.logins, l.addrs} {
		for k, f := range m {
			if now.Sub(f.last) > l.cfg.MaxLockout && now.After(f.until) {
				delete(m, k)
			}
		}
	}
}

// Waiting is the number of checks admitted and not yet finished.
func (l *Limiter) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiting
}
