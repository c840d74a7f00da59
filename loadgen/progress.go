package loadgen

import (
	"fmt"
	"sync"
	"time"
)

// progress writes the live line every second until the returned function
// is called.
func (g *generator) progress(start time.Time) func() {
	w := g.opts.Progress
	if w == nil {
		return func() {}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				if g.opts.ProgressTTY {
					fmt.Fprintln(w)
				}
				return
			case now := <-t.C:
				l := g.rec.live(now)
				line := fmt.Sprintf("%5.0fs  in flight %4d  done %6d  %6.1f/s  p99 %8.1f ms  errors %d",
					now.Sub(start).Seconds(), l.inFlight, l.completed, float64(l.doneLastSecond), float64(l.p99LastSecond.Microseconds())/1000, l.errors)
				if g.opts.ProgressTTY {
					fmt.Fprintf(w, "\r%s\033[K", line)
				} else {
					fmt.Fprintln(w, line)
				}
			}
		}
	}()
	return func() { close(stop); wg.Wait() }
}
