package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/senim-kz/senim/client"
)

// SessionsOptions configure the sessions scenario: N idle signed-in
// sessions, held for a while, to weigh a session on the server.
type SessionsOptions struct {
	Addr, DataDir string
	// N sessions signed in as Identities people (one person may have many
	// sessions, as on several devices; a person's keys cost two RSA key
	// generations, a session none).
	N, Identities int
	// Concurrency is how many sessions connect at once.
	Concurrency int
	// Hold is how long the sessions stay open once all are in.
	Hold        time.Duration
	StepTimeout time.Duration
	Progress    io.Writer
	ProgressTTY bool
}

// DefaultSessionsOptions are the command's defaults.
func DefaultSessionsOptions() SessionsOptions {
	return SessionsOptions{N: 1000, Identities: 8, Concurrency: 32, Hold: 10 * time.Second, StepTimeout: 30 * time.Second}
}

// RunSessions opens N idle sessions, holds them, and reports the server's
// resident memory per session.
func RunSessions(ctx context.Context, opts SessionsOptions) (*Report, error) {
	switch {
	case opts.Addr == "" || opts.DataDir == "":
		return nil, fatal(CodeBadOptions, "--addr and --data are required")
	case opts.N < 1 || opts.N > 200000:
		return nil, fatal(CodeBadOptions, "--n must be 1-200000")
	case opts.Identities < 1 || opts.Identities > 1000 || opts.Concurrency < 1 || opts.Concurrency > 1000:
		return nil, fatal(CodeBadOptions, "--identities and --concurrency must be 1-1000")
	case opts.Hold < 0 || opts.Hold > 24*time.Hour || opts.StepTimeout <= 0:
		return nil, fatal(CodeBadOptions, "--hold must be 0-24h and --step-timeout positive")
	}
	raiseNoFile()
	if lim := noFileLimit(); lim < uint64(opts.N)+64 {
		return nil, fatal(CodeBadOptions, "%d sessions need more open files than the limit %d (raise ulimit -n)", opts.N, lim)
	}
	hc := &http.Client{Timeout: opts.StepTimeout}
	before, err := scrape(ctx, hc, opts.Addr)
	if err != nil {
		return nil, fatal(CodeUnreachable, "%s: %v", opts.Addr, err)
	}
	now := time.Now()
	ca, err := openCA(opts.DataDir, now)
	if err != nil {
		return nil, err
	}
	people, err := issue(ca, opts.DataDir, iins(2_000_000, opts.Identities), false, now)
	if err != nil {
		return nil, err
	}
	g := &generator{opts: Options{StepTimeout: opts.StepTimeout}, wsURL: "ws://" + opts.Addr + "/ws"}
	probe, err := g.signIn(ctx, "client", people[0])
	if err != nil {
		return nil, fatal(CodeSignIn, "a simulated client's sign-in: %v", err)
	}
	probe.CloseNow()

	rssTool0 := toolMaxRSS()
	cpu0 := ProcessCPU()
	start := time.Now()
	rec := newRecorder(start)
	g.rec = rec
	sessions := make([]*client.Client, opts.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	var open atomic.Int64
	stopProgress := sessionsProgress(opts, start, &open, rec)
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= opts.N {
					return
				}
				t0 := time.Now()
				sctx, cancel := context.WithTimeout(ctx, opts.StepTimeout)
				var c *client.Client
				var err error
				for {
					c, err = client.Dial(sctx, g.wsURL, client.Options{Buffer: 1})
					if err == nil {
						if _, err = c.SignInEDS(sctx, "client", people[i%len(people)].Keys); err != nil {
							c.CloseNow()
						}
					}
					// Shed (overloaded): come back when the server says, as
					// the app does, within the step's deadline.
					if !waitRetryAfter(sctx, err) {
						break
					}
				}
				cancel()
				now := time.Now()
				if err != nil {
					code := errCode(err)
					if code == codeTool {
						code = codeDial
					}
					rec.err(code, now)
					continue
				}
				rec.step("signin", false, now.Sub(t0), now)
				sessions[i] = c
				open.Add(1)
			}
		}()
	}
	wg.Wait()
	opened := time.Now()
	hold := time.NewTimer(opts.Hold)
	select {
	case <-hold.C:
	case <-ctx.Done():
		hold.Stop()
	}
	after, err := scrape(context.Background(), hc, opts.Addr)
	stopProgress()
	held := 0
	for _, c := range sessions {
		if c == nil {
			continue
		}
		select {
		case <-c.Done():
			rec.err(codeClosed, time.Now())
		default:
			held++
		}
	}
	rep := &Report{Scenario: "sessions", Addr: opts.Addr, Seconds: opened.Sub(start).Seconds(), Sessions: held}
	rep.ToolCPUSeconds = ProcessCPU() - cpu0
	rep.ToolMaxRSSBytes = toolMaxRSS()
	for _, c := range sessions {
		if c != nil {
			c.CloseNow()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("loadgen: /metrics with the sessions open: %w", err)
	}
	rec.snapshot(rep)
	rep.server(before, after)
	if held > 0 {
		rep.ServerRSSPerSessionBytes = (after.RSSBytes - before.RSSBytes) / float64(held)
		rep.ToolRSSPerSessionBytes = float64(rep.ToolMaxRSSBytes-rssTool0) / float64(held)
	}
	return rep, nil
}

// sessionsProgress writes the sessions run's live line every second until
// the returned function is called.
func sessionsProgress(opts SessionsOptions, start time.Time, open *atomic.Int64, rec *recorder) func() {
	return liveLine(opts.Progress, opts.ProgressTTY, func(now time.Time) string {
		l := rec.live(now)
		return fmt.Sprintf("%5.0fs  sessions %6d/%d  errors %d", now.Sub(start).Seconds(), open.Load(), opts.N, l.errors)
	})
}
