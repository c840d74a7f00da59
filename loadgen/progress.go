package loadgen

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress writes the acts run's live line every second until the returned
// function is called.
func (g *generator) progress(start time.Time) func() {
	return liveLine(g.opts.Progress, g.opts.ProgressTTY, func(now time.Time) string {
		l := g.rec.live(now)
		return fmt.Sprintf("%5.0fs  in flight %4d  done %6d  %6.1f/s  p99 %8.1f ms  errors %d",
			now.Sub(start).Seconds(), l.inFlight, l.completed, float64(l.doneLastSecond), float64(l.p99LastSecond.Microseconds())/1000, l.errors)
	})
}

// liveLine writes line(now) to w every second until the returned function is
// called, which waits for the last write. On a terminal (tty) the line is
// rewritten in place and ends with a newline when it stops; elsewhere (a log
// file) every line stands on its own. A nil w writes nothing.
func liveLine(w io.Writer, tty bool, line func(now time.Time) string) func() {
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
				if tty {
					fmt.Fprintln(w)
				}
				return
			case now := <-t.C:
				if tty {
					fmt.Fprintf(w, "\r%s\033[K", line(now))
				} else {
					fmt.Fprintln(w, line(now))
				}
			}
		}
	}()
	return func() { close(stop); wg.Wait() }
}
