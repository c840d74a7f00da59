// Package procs sizes the Go runtime's processors (GOMAXPROCS) to the
// server's load.
//
// A server carrying calls and acts spends most of its day at a few percent
// of a core. There, each goroutine made ready while a processor is idle
// makes the runtime wake a parked thread to look for work (wakep): the
// thread spins, nearly always finds the work already taken by the
// processor that made it ready, and parks again: two context switches for
// nothing, and on a virtual machine a context switch is among the dearest
// things the kernel does. A video packet crosses three such hand-offs in
// pion's receive chain, an act's command about ten across the actors.
// With one processor there is no idle one to wake. Side by side on a
// 2-core box, one processor cut the SFU's CPU per forwarded packet by
// about a fifth at 10 calls (docs/runtime-procs.md).
//
// One processor is wrong as soon as the work needs more than one core, or
// when one long computation (a password hash, a compaction of the store)
// would make short ones (a packet, a command) wait behind it. So the
// Controller watches the process's CPU time and the runtime's scheduling
// latencies and moves GOMAXPROCS between 1 and Max: up at once when the
// processors it has are more than Policy.UpShare busy, or when a goroutine
// waited Policy.Wait or longer to run, or when a long computation says it
// starts (Hold); down by one only after Policy.DownAfter windows in a row
// without either, over which the load would have fitted in one processor
// fewer at Policy.DownShare. The most processors it uses (Policy.Max) are the
// runtime's at the start: a change of the CPUs the process may use is
// followed after a restart.
package procs

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Policy is when the Controller adds or takes away a processor.
type Policy struct {
	// Max is the most processors used: runtime.GOMAXPROCS(0) at the
	// start (the CPUs the process may use, or the GOMAXPROCS environment
	// variable) when 0.
	Max int
	// Interval is how often the load is sampled.
	Interval time.Duration
	// UpShare: more busy than this share of the processors it has (CPU
	// time of the process over the window, in cores, divided by them), a
	// processor is added at once.
	UpShare float64
	// Wait: a goroutine that waited this long or longer to run (the
	// runtime's /sched/latencies) adds a processor at once.
	Wait time.Duration
	// DownShare and DownAfter: after DownAfter windows in a row without a
	// long wait or a Hold, over which the process used on average less
	// than DownShare of one processor fewer than it has, a processor is
	// taken away.
	DownShare float64
	DownAfter int
}

// DefaultPolicy is the policy `senim serve` uses with runtime.procs =
// "adaptive".
func DefaultPolicy() Policy {
	return Policy{Interval: 100 * time.Millisecond, UpShare: 0.6, Wait: time.Millisecond, DownShare: 0.15, DownAfter: 20}
}

// withDefaults is p with its zero (or negative) fields, Max aside, taken
// from DefaultPolicy.
func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.Interval <= 0 {
		p.Interval = d.Interval
	}
	if p.UpShare <= 0 {
		p.UpShare = d.UpShare
	}
	if p.Wait <= 0 {
		p.Wait = d.Wait
	}
	if p.DownShare <= 0 {
		p.DownShare = d.DownShare
	}
	if p.DownAfter <= 0 {
		p.DownAfter = d.DownAfter
	}
	return p
}

// Window is what a Controller is told of one sampling window.
type Window struct {
	// Busy is the process's CPU time over the window divided by the
	// window's length: the cores it kept busy on average.
	Busy float64
	// Waited is whether a goroutine waited Policy.Wait or longer to run
	// (of the goroutines the runtime samples, about one in eight; a wait
	// is counted from the first histogram bucket whose lower bound is at
	// least Wait, so a wait up to a quarter longer may go unseen).
	Waited bool
	// Held is whether a long computation is under way (Hold).
	Held bool
}

// Controller decides the number of processors window by window. It does
// no I/O and reads no clock (Run does): Step is the whole decision.
type Controller struct {
	p     Policy
	n     int     // processors now
	quiet int     // windows in a row without a long wait or a Hold
	busy  float64 // their Busy, summed
}

// NewController starts at n processors (clamped to 1..p.Max). p.Max must
// be set; zero fields of p are DefaultPolicy's.
func NewController(p Policy, n int) *Controller {
	p = p.withDefaults()
	if p.Max < 1 {
		p.Max = 1
	}
	return &Controller{p: p, n: min(max(n, 1), p.Max)}
}

// Procs is the number of processors the controller has decided on.
func (c *Controller) Procs() int { return c.n }

// Step takes one window and returns the number of processors for the next.
func (c *Controller) Step(w Window) int {
	if c.n < c.p.Max && (w.Waited || w.Held || w.Busy > c.p.UpShare*float64(c.n)) {
		// As many as the load needs at UpShare, at least one more.
		want := int(w.Busy/c.p.UpShare) + 1
		c.n = min(max(want, c.n+1), c.p.Max)
		c.quiet, c.busy = 0, 0
		return c.n
	}
	if w.Waited || w.Held {
		c.quiet, c.busy = 0, 0
		return c.n
	}
	c.quiet++
	c.busy += w.Busy
	if c.quiet >= c.p.DownAfter {
		if c.n > 1 && c.busy/float64(c.quiet) < c.p.DownShare*float64(c.n-1) {
			c.n--
		}
		c.quiet, c.busy = 0, 0
	}
	return c.n
}

// Start applies a setting: n > 0 processors, fixed; adaptive, a
// Controller with DefaultPolicy from the runtime's own number down (Run,
// on a goroutine of its own until ctx is done); else the runtime's own.
// changed, if not nil, is told each number set (and, from Run, the
// window that decided it).
func Start(ctx context.Context, adaptive bool, n int, changed func(n int, w Window)) {
	if n > 0 {
		runtime.GOMAXPROCS(n)
	}
	if changed != nil {
		changed(runtime.GOMAXPROCS(0), Window{})
	}
	if adaptive {
		go Run(ctx, DefaultPolicy(), changed)
	}
}

// The running controller (one per process), and the long computations
// under way (Hold).
var (
	held atomic.Int32
	mu   sync.Mutex
	live *runner
)

type runner struct {
	c       *Controller
	changed func(n int, w Window)
}

// set gives the runtime n processors and says so.
func (r *runner) set(n int, w Window) {
	runtime.GOMAXPROCS(n)
	if r.changed != nil {
		r.changed(n, w)
	}
}

// Hold says a long computation starts (a password hash: 170 ms of CPU in
// goroutines of its own): a running controller adds a processor at once,
// without waiting for the next window, so that short work does not queue
// behind it, and takes none away until every Hold is released. Without a
// controller running it costs an atomic add. release may be called more
// than once.
func Hold() (release func()) {
	if held.Add(1) == 1 {
		mu.Lock()
		if live != nil {
			before := live.c.Procs()
			if n := live.c.Step(Window{Held: true}); n != before {
				live.set(n, Window{Held: true})
			}
		}
		mu.Unlock()
	}
	var once sync.Once
	return func() { once.Do(func() { held.Add(-1) }) }
}

// Run samples the process every p.Interval and sets GOMAXPROCS as a
// Controller decides, calling changed (if not nil) after each change with
// the window that decided it, until ctx is done; then it gives the
// runtime its processors back (its own default, updated as the CPUs
// available change, where p.Max was 0 and no GOMAXPROCS variable set it;
// else p.Max). Run starts from the processors the runtime has; a number
// set by anyone else meanwhile is where it goes on from. Zero fields of p
// are DefaultPolicy's. Where the process's CPU time cannot be read, or
// there is a single processor to use, Run leaves GOMAXPROCS alone and waits
// for ctx. One Run at a time in a process.
func Run(ctx context.Context, p Policy, changed func(n int, w Window)) {
	p = p.withDefaults()
	runtimeDefault := p.Max <= 0 && os.Getenv("GOMAXPROCS") == ""
	if p.Max <= 0 {
		p.Max = runtime.GOMAXPROCS(0)
	}
	s := newSampler(p.Wait)
	if !s.ok() || p.Max == 1 {
		<-ctx.Done()
		return
	}
	r := &runner{c: NewController(p, runtime.GOMAXPROCS(0)), changed: changed}
	mu.Lock()
	if g := runtime.GOMAXPROCS(0); g != r.c.Procs() {
		r.set(r.c.Procs(), Window{}) // above p.Max
	}
	live = r
	mu.Unlock()
	defer func() {
		mu.Lock()
		live = nil
		if runtimeDefault {
			runtime.SetDefaultGOMAXPROCS()
		} else {
			runtime.GOMAXPROCS(p.Max)
		}
		if changed != nil {
			changed(runtime.GOMAXPROCS(0), Window{})
		}
		mu.Unlock()
	}()
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w := s.window()
		w.Held = held.Load() > 0
		mu.Lock()
		if g := runtime.GOMAXPROCS(0); g != r.c.Procs() {
			// Set by someone else: go on from there (within 1..p.Max).
			r.c = NewController(p, g)
			if r.c.Procs() != g {
				r.set(r.c.Procs(), w)
			}
		}
		before := r.c.Procs()
		if n := r.c.Step(w); n != before {
			r.set(n, w)
		}
		mu.Unlock()
	}
}

// sampler reads a Window's figures from the process: its CPU time
// (getrusage) and the runtime's scheduling latencies.
type sampler struct {
	wait    float64 // seconds
	at      time.Time
	cpu     time.Duration
	lat     []metrics.Sample
	waitedN uint64 // waits of at least wait seen so far
}

func newSampler(wait time.Duration) *sampler {
	s := &sampler{wait: wait.Seconds(), lat: []metrics.Sample{{Name: "/sched/latencies:seconds"}}}
	s.at, s.cpu = time.Now(), processCPU()
	s.waitedN = s.longWaits()
	return s
}

// ok is whether the process's CPU time can be read here.
func (s *sampler) ok() bool { return s.cpu >= 0 }

// window is the Window since the last call.
func (s *sampler) window() Window {
	now, cpu, waited := time.Now(), processCPU(), s.longWaits()
	w := Window{Waited: waited > s.waitedN}
	if d := now.Sub(s.at); d > 0 && cpu >= s.cpu {
		w.Busy = float64(cpu-s.cpu) / float64(d)
	}
	s.at, s.cpu, s.waitedN = now, cpu, waited
	return w
}

// longWaits counts the goroutines the runtime has seen wait at least
// s.wait to run since the process started (its histogram's buckets from
// the first whose lower bound is at least s.wait: a wait is never counted
// short of the bound).
func (s *sampler) longWaits() uint64 {
	metrics.Read(s.lat)
	if s.lat[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	return countAtLeast(s.lat[0].Value.Float64Histogram(), s.wait)
}

// countAtLeast is the count of h's buckets whose lower bound is at least
// bound (h.Buckets[i] is bucket i's lower bound, h.Buckets[i+1] its upper;
// the first may be -Inf, the last +Inf).
func countAtLeast(h *metrics.Float64Histogram, bound float64) uint64 {
	var n uint64
	for i, c := range h.Counts {
		if h.Buckets[i] >= bound {
			n += c
		}
	}
	return n
}
