package pwlimit

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/senim-kz/senim/internal/procs"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func refusal(t *testing.T, err error, want error) *Refusal {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) || !errors.Is(err, want) || r.RetryAfter <= 0 {
		t.Fatalf("got %v, want %v with a retry-after", err, want)
	}
	return r
}

// Past Workers running and Queue waiting, a check is refused at once with
// busy; when one finishes there is room again.
func TestBusyPastWorkersAndQueue(t *testing.T) {
	l := New(Config{Workers: 1, Queue: 1, RetryAfter: 2 * time.Second})
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		tk, err := l.Begin("aliya", "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = tk.Run(func() bool { started <- struct{}{}; <-release; return true })
		}()
	}
	<-started // one runs, one waits
	_, err := l.Begin("bolat", "10.0.0.2")
	if r := refusal(t, err, ErrBusy); r.RetryAfter != 2*time.Second {
		t.Fatalf("retry after %v", r.RetryAfter)
	}
	close(release)
	wg.Wait()
	if _, err := l.Begin("bolat", "10.0.0.2"); err != nil {
		t.Fatalf("after the checks finished: %v", err)
	}
}

// Failures wrong passwords lock the login out, for Lockout, then twice as
// long after one more; a right password clears the login's history. The
// address is locked out after four times as many, whatever the logins.
func TestLockout(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	l := New(Config{Workers: 1, Failures: 3, Lockout: time.Minute, Now: c.Now})
	try := func(login, addr string, right bool) error {
		tk, err := l.Begin(login, addr)
		if err != nil {
			return err
		}
		_, err = tk.Run(func() bool { return right })
		return err
	}
	for i := 0; i < 3; i++ {
		if err := try("aliya", "10.0.0.1", false); err != nil {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if r := refusal(t, try("aliya", "10.0.0.9", true), ErrLockedOut); r.RetryAfter != time.Minute {
		t.Fatalf("first lockout %v", r.RetryAfter)
	}
	if err := try("bolat", "10.0.0.1", true); err != nil {
		t.Fatalf("another login from the same address: %v", err)
	}
	c.add(time.Minute)
	if err := try("aliya", "10.0.0.1", false); err != nil {
		t.Fatal(err)
	}
	if r := refusal(t, try("aliya", "10.0.0.1", true), ErrLockedOut); r.RetryAfter != 2*time.Minute {
		t.Fatalf("second lockout %v", r.RetryAfter)
	}
	c.add(2 * time.Minute)
	if err := try("aliya", "10.0.0.1", true); err != nil {
		t.Fatal(err)
	}
	if err := try("aliya", "10.0.0.1", false); err != nil {
		t.Fatalf("a right password did not clear the login: %v", err)
	}
	// 12 failures from one address over many logins lock the address.
	for i := 0; i < 12; i++ {
		_ = try(string(rune('a'+i))+"-login", "10.0.0.7", false)
	}
	refusal(t, try("zed", "10.0.0.7", true), ErrLockedOut)
}

// Checks admitted before their login was locked out are refused when
// their turn comes, without running: a queued flood costs no more CPU.
func TestLockedOutWhileWaiting(t *testing.T) {
	l := New(Config{Workers: 1, Queue: 8, Failures: 2})
	var tickets []*Ticket
	for i := 0; i < 3; i++ {
		tk, err := l.Begin("aliya", "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
	}
	ran := 0
	for i, tk := range tickets {
		_, err := tk.Run(func() bool { ran++; return false })
		if i < 2 && err != nil {
			t.Fatalf("check %d: %v", i, err)
		}
		if i == 2 {
			refusal(t, err, ErrLockedOut)
		}
	}
	if ran != 2 || l.Waiting() != 0 {
		t.Fatalf("%d checks ran, %d still counted", ran, l.Waiting())
	}
}

// A password check runs with processors for the short work beside it: a
// server come down to one processor at a light load (runtime.procs =
// "adaptive") gets a second before the check starts.
func TestCheckHoldsProcessors(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		procs.Run(ctx, procs.Policy{Max: 2, Interval: 5 * time.Millisecond, DownAfter: 3}, nil)
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for runtime.GOMAXPROCS(0) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("an idle process kept %d processors", runtime.GOMAXPROCS(0))
		}
		time.Sleep(5 * time.Millisecond)
	}
	l := New(Config{})
	tk, err := l.Begin("aliya", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	during := 0
	if _, err := tk.Run(func() bool { during = runtime.GOMAXPROCS(0); return true }); err != nil {
		t.Fatal(err)
	}
	if during != 2 {
		t.Fatalf("the check ran on %d processors, want 2", during)
	}
}
