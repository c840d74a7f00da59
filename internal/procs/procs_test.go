package procs

import (
	"context"
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func policy(maxProcs int) Policy {
	p := DefaultPolicy()
	p.Max = maxProcs
	p.DownAfter = 3
	return p
}

// The decision, window by window (UpShare 0.6, DownShare 0.15, DownAfter
// 3 here): up at once on a busy window, a long wait or a Hold; down one
// only after DownAfter windows without a long wait or a Hold whose average
// would fit one processor fewer; never past 1..Max.
func TestControllerStep(t *testing.T) {
	type step struct {
		w    Window
		want int
	}
	for _, tc := range []struct {
		name  string
		max   int
		start int
		steps []step
	}{
		{"light load stays on one", 2, 1, []step{{Window{Busy: 0.05}, 1}, {Window{Busy: 0.59}, 1}, {Window{}, 1}}},
		{"busy adds one", 2, 1, []step{{Window{Busy: 0.61}, 2}, {Window{Busy: 1.9}, 2}}},
		{"a long wait adds one however light", 2, 1, []step{{Window{Busy: 0.01, Waited: true}, 2}}},
		{"a Hold adds one however light", 2, 1, []step{{Window{Held: true}, 2}}},
		{"down after three quiet windows", 2, 2, []step{{Window{Busy: 0.1}, 2}, {Window{Busy: 0.1}, 2}, {Window{Busy: 0.1}, 1}, {Window{Busy: 0.1}, 1}}},
		{"down on the average: a busier window among quieter ones", 2, 2, []step{
			{Window{Busy: 0.05}, 2}, {Window{Busy: 0.3}, 2}, {Window{Busy: 0.05}, 1},
		}},
		{"no way down while the average is too high; counted again", 2, 2, []step{
			{Window{Busy: 0.2}, 2}, {Window{Busy: 0.2}, 2}, {Window{Busy: 0.2}, 2},
			{Window{Busy: 0.1}, 2}, {Window{Busy: 0.1}, 2}, {Window{Busy: 0.1}, 1},
		}},
		{"a long wait starts the count again", 2, 2, []step{
			{Window{Busy: 0.1}, 2}, {Window{Busy: 0.1}, 2}, {Window{Busy: 0.1, Waited: true}, 2},
			{Window{Busy: 0.1}, 2}, {Window{Busy: 0.1}, 2}, {Window{Busy: 0.1}, 1},
		}},
		{"a Hold keeps the processors", 2, 2, []step{
			{Window{Held: true}, 2}, {Window{Held: true}, 2}, {Window{Held: true}, 2}, {Window{Held: true}, 2},
			{Window{}, 2}, {Window{}, 2}, {Window{}, 1},
		}},
		{"as many as the load needs at once", 8, 1, []step{{Window{Busy: 3.0}, 6}, {Window{Busy: 20}, 8}}},
		{"down one at a time", 8, 4, []step{
			{Window{}, 4}, {Window{}, 4}, {Window{}, 3}, {Window{}, 3}, {Window{}, 3}, {Window{}, 2},
		}},
		{"down needs the load to fit one fewer", 4, 3, []step{{Window{Busy: 0.4}, 3}, {Window{Busy: 0.4}, 3}, {Window{Busy: 0.4}, 3}, {Window{Busy: 0.4}, 3}}},
		{"never past one processor", 1, 1, []step{{Window{Busy: 5, Waited: true}, 1}, {Window{}, 1}, {Window{}, 1}, {Window{}, 1}}},
		{"the start is clamped", 2, 9, []step{{Window{Busy: 1}, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewController(policy(tc.max), tc.start)
			for i, s := range tc.steps {
				if got := c.Step(s.w); got != s.want || c.Procs() != s.want {
					t.Fatalf("window %d %+v: %d processors, want %d", i, s.w, got, s.want)
				}
			}
		})
	}
}

// burn keeps n goroutines computing until stop is closed.
func burn(n int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(1)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for range 10000 {
					x = x*6364136223846793005 + 1442695040888963407
				}
				if x == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	return &wg
}

// The sampler sees the process's CPU and a goroutine that waited to run:
// two goroutines computing on one processor take turns, each waiting for
// the other's time slice.
func TestSamplerSeesBusyAndWaits(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s := newSampler(time.Millisecond)
	if !s.ok() {
		t.Skip("no process CPU time here")
	}
	stop := make(chan struct{})
	wg := burn(2, stop)
	deadline := time.Now().Add(20 * time.Second)
	var busy, waited bool
	for time.Now().Before(deadline) && !(busy && waited) {
		time.Sleep(50 * time.Millisecond)
		w := s.window()
		busy = busy || w.Busy > 0.05
		waited = waited || w.Waited
	}
	close(stop)
	wg.Wait()
	if !busy || !waited {
		t.Fatalf("two goroutines computing on one processor: busy seen %v, a long wait seen %v", busy, waited)
	}
}

// runFor starts Run with p and changed, and stops it when the test ends.
func runFor(t *testing.T, p Policy, changed func(n int, w Window)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, p, changed)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// waitProcs polls until the runtime has n processors and told says so.
func waitProcs(t *testing.T, what string, told *atomic.Int64, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for told.Load() != n || int64(runtime.GOMAXPROCS(0)) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: told %d, GOMAXPROCS %d; want %d", what, told.Load(), runtime.GOMAXPROCS(0), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Run follows the load: idle, it comes down to one processor; made busy,
// it goes up again; stopped, it gives the runtime its processors back.
func TestRunFollowsTheLoad(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	p := policy(2)
	p.Interval = 5 * time.Millisecond
	var told atomic.Int64
	stopRun := runFor(t, p, func(n int, _ Window) { told.Store(int64(n)) })
	waitProcs(t, "idle", &told, 1)
	stop := make(chan struct{})
	wg := burn(2, stop)
	var once sync.Once
	stopBurn := func() { once.Do(func() { close(stop); wg.Wait() }) }
	t.Cleanup(stopBurn)
	waitProcs(t, "busy", &told, 2)
	stopBurn()
	waitProcs(t, "idle again", &told, 1)
	stopRun()
	if n := runtime.GOMAXPROCS(0); n != 2 || told.Load() != 2 {
		t.Fatalf("after Run: GOMAXPROCS %d, told %d; want Max, 2", n, told.Load())
	}
}

// A long computation's Hold adds a processor before it starts, not a
// window later; and a number set by someone else is where Run goes on
// from (here, down again to one at idle).
func TestRunHoldAndOutsideChanges(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	p := policy(2)
	p.Interval = 5 * time.Millisecond
	var told atomic.Int64
	runFor(t, p, func(n int, _ Window) { told.Store(int64(n)) })
	waitProcs(t, "idle", &told, 1)
	release := Hold()
	if n := runtime.GOMAXPROCS(0); n != 2 || told.Load() != 2 {
		release()
		t.Fatalf("on Hold: GOMAXPROCS %d, told %d; want 2 at once", n, told.Load())
	}
	release()
	release() // a second release is nothing
	if h := held.Load(); h != 0 {
		t.Fatalf("held %d after release", h)
	}
	waitProcs(t, "released", &told, 1)
	told.Store(2)
	runtime.GOMAXPROCS(2) // by someone else
	waitProcs(t, "idle after an outside change", &told, 1)
}

// A wait is counted from the first bucket whose lower bound is at least
// the bound: never a shorter one.
func TestCountAtLeast(t *testing.T) {
	inf := math.Inf(1)
	h := &metrics.Float64Histogram{
		Buckets: []float64{math.Inf(-1), 0.0005, 0.001, 0.002, inf},
		Counts:  []uint64{7, 5, 3, 2},
	}
	for _, tc := range []struct {
		bound float64
		want  uint64
	}{
		{0.001, 5},  // [0.001, 0.002) and [0.002, +Inf)
		{0.0009, 5}, // [0.0005, 0.001) may hold waits under the bound: not counted
		{0.0005, 10},
		{0.002, 2},
		{0.003, 0},
		{-1, 10}, // the -Inf bucket's lower bound is never at least a bound
	} {
		if got := countAtLeast(h, tc.bound); got != tc.want {
			t.Errorf("bound %v: %d, want %d", tc.bound, got, tc.want)
		}
	}
}

// Start with a number fixes the processors; "all" (0) leaves the
// runtime's own and starts nothing.
func TestStartFixed(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	var told []int
	Start(context.Background(), false, 1, func(n int, _ Window) { told = append(told, n) })
	if n := runtime.GOMAXPROCS(0); n != 1 || len(told) != 1 || told[0] != 1 {
		t.Fatalf("fixed at 1: GOMAXPROCS %d, told %v", n, told)
	}
	runtime.GOMAXPROCS(3)
	told = nil
	Start(context.Background(), false, 0, func(n int, _ Window) { told = append(told, n) })
	if n := runtime.GOMAXPROCS(0); n != 3 || len(told) != 1 || told[0] != 3 {
		t.Fatalf("all: GOMAXPROCS %d, told %v", n, told)
	}
}
