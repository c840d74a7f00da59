package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/senim-kz/senim/transport/protocol"
)

// ActiveOptions configure the active scenario: many acts open at once, each
// stepping slowly, as a busy day looks to the server (1,000 acts open, about
// 900 steps a second in all). Every act is first taken to the drafting
// stage (sign-in, application, consent, call accepted and ended, so that the
// notary is free again); then, for Duration, each act alternates the
// notary's present_draft (measured until the client sees draft_presented)
// and the client's request_changes (until the notary sees
// changes_requested), at StepsPerSecond ÷ Acts steps a second each, due
// times fixed in advance (an open loop: a late step is measured from when it
// was due). At the end every act is cancelled.
type ActiveOptions struct {
	// Addr, DataDir, Duration, Notaries, Citizens, StepTimeout, Seed,
	// Progress and ProgressTTY as for the acts scenario.
	Options
	// Acts is how many acts are held open at once.
	Acts int
	// StepsPerSecond is the pace of all acts together.
	StepsPerSecond float64
	// Opening is how many acts are being opened at once before the
	// measured window.
	Opening int
}

// DefaultActiveOptions are the command's defaults.
func DefaultActiveOptions() ActiveOptions {
	o := DefaultOptions()
	o.Notaries, o.Citizens = 64, 128
	return ActiveOptions{Options: o, Acts: 1000, StepsPerSecond: 900, Opening: 32}
}

func (o ActiveOptions) validate() error {
	switch {
	case o.Addr == "":
		return fatal(CodeBadOptions, "--addr is required")
	case o.DataDir == "":
		return fatal(CodeBadOptions, "--data (the server's data_dir) is required")
	case o.Duration <= 0 || o.Duration > 24*time.Hour:
		return fatal(CodeBadOptions, "--duration must be between 0 and 24h")
	case o.Acts < 1 || o.Acts > 20000:
		return fatal(CodeBadOptions, "--acts must be 1-20000")
	case o.StepsPerSecond <= 0 || o.StepsPerSecond > 100000:
		return fatal(CodeBadOptions, "--steps must be more than 0 and at most 100000")
	case o.Opening < 1 || o.Opening > 1000:
		return fatal(CodeBadOptions, "--opening must be 1-1000")
	case o.Notaries < 1 || o.Notaries > 1000:
		return fatal(CodeBadOptions, "--notaries must be 1-1000")
	case o.Citizens < 2 || o.Citizens > 100000:
		return fatal(CodeBadOptions, "--citizens must be 2-100000 (an act takes two)")
	case o.StepTimeout <= 0:
		return fatal(CodeBadOptions, "--step-timeout must be positive")
	}
	if lim := noFileLimit(); lim < uint64(o.Acts+o.Notaries)+64 {
		return fatal(CodeBadOptions, "%d acts need more open files than the limit %d (raise ulimit -n)", o.Acts, lim)
	}
	return nil
}

// heldAct is an act of the active scenario, open at the drafting stage.
type heldAct struct {
	actRun
	cev <-chan protocol.Envelope
	rev int // the last revision presented
}

// RunActive runs the active scenario and returns its report.
func RunActive(ctx context.Context, opts ActiveOptions) (*Report, error) {
	raiseNoFile()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	g := newGenerator(opts.Options)
	stop, err := g.prepare(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()

	acts, err := g.openHeld(ctx, opts)
	defer func() {
		for _, a := range acts {
			if a.cl != nil {
				a.cl.CloseNow()
			}
			g.desk.forget(a.act)
		}
	}()
	if err != nil {
		g.cancelHeld(acts)
		return nil, err
	}

	before, err := scrape(ctx, g.hc, opts.Addr)
	if err != nil {
		return nil, fatal(CodeUnreachable, "%s: %v", opts.Addr, err)
	}
	cpu0 := ProcessCPU()
	start := time.Now()
	g.rec = newRecorder(start)
	end := start.Add(opts.Duration)
	var steps atomic.Int64
	stopProgress := liveLine(opts.Progress, opts.ProgressTTY, func(now time.Time) string {
		l := g.rec.live(now)
		return fmt.Sprintf("%5.0fs  acts %d  steps %7d  p99 %8.1f ms  errors %d",
			now.Sub(start).Seconds(), len(acts), steps.Load(), float64(l.p99LastSecond.Microseconds())/1000, l.errors)
	})
	// Act i's steps are due every interval, the acts' first steps spread
	// evenly over the first interval.
	interval := time.Duration(float64(len(acts)) / opts.StepsPerSecond * float64(time.Second))
	runCtx, cancel := context.WithDeadline(ctx, end.Add(opts.StepTimeout))
	defer cancel()
	var wg sync.WaitGroup
	for i, a := range acts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.due = start.Add(interval * time.Duration(i) / time.Duration(len(acts)))
			for k := 0; a.due.Before(end) && runCtx.Err() == nil; k++ {
				if err := a.step(runCtx, k); err != nil {
					if runCtx.Err() == nil {
						g.rec.err(errCode(err), time.Now())
					}
					return
				}
				steps.Add(1)
				a.due = a.due.Add(interval)
			}
		}()
	}
	wg.Wait()
	finished := time.Now()
	stopProgress()
	after, err := scrape(context.Background(), g.hc, opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: /metrics after the run: %w", err)
	}
	rep := &Report{Scenario: "active", Addr: opts.Addr, Notaries: opts.Notaries, Citizens: opts.Citizens,
		Seconds: finished.Sub(start).Seconds(), ActiveActs: len(acts), StepsPerSecondTarget: opts.StepsPerSecond}
	g.rec.snapshot(rep)
	rep.server(before, after)
	rep.ToolCPUSeconds = ProcessCPU() - cpu0
	rep.ToolMaxRSSBytes = toolMaxRSS()
	rep.StepsMeasured = steps.Load()
	if rep.Seconds > 0 {
		rep.StepsPerSecond = float64(rep.StepsMeasured) / rep.Seconds
	}
	if rep.StepsMeasured > 0 {
		rep.ServerCPUPerStepMs = rep.ServerCPUSeconds * 1000 / float64(rep.StepsMeasured)
		rep.ToolCPUPerStepMs = rep.ToolCPUSeconds * 1000 / float64(rep.StepsMeasured)
	}
	g.cancelHeld(acts)
	return rep, nil
}

// openHeld takes opts.Acts acts to the drafting stage, opts.Opening at a
// time. On an error it returns the acts opened so far with it.
func (g *generator) openHeld(ctx context.Context, opts ActiveOptions) ([]*heldAct, error) {
	acts := make([]*heldAct, opts.Acts)
	errs := make([]error, opts.Acts)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range opts.Opening {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= opts.Acts {
					return
				}
				m := len(g.citizens)
				a := &heldAct{actRun: actRun{g: g, n: i, principal: g.citizens[i%m], attorney: g.citizens[(i+1)%m]}}
				acts[i] = a
				sctx, cancel := context.WithTimeout(ctx, 4*opts.StepTimeout)
				errs[i] = a.open(sctx)
				cancel()
				if errs[i] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	var out []*heldAct
	var first error
	for i, a := range acts {
		if a != nil {
			out = append(out, a)
		}
		if errs[i] != nil && first == nil {
			first = errs[i]
		}
	}
	if first == nil && len(out) < opts.Acts {
		first = ctx.Err()
	}
	if first != nil {
		return out, fatal(CodeSetup, "opening the acts: %v", first)
	}
	return out, nil
}

// open takes the act from sign-in to an ended call with its notary.
func (a *heldAct) open(ctx context.Context) error {
	g := a.g
	var err error
	if a.cl, err = g.signInRetrying(ctx, "client", a.principal); err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	a.cev = a.cl.Events()
	if a.act, err = a.cl.Apply(ctx, a.principal.Keys, "+7 701 234 56 78", a.attorney.IIN); err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	if err := a.cl.Subscribe(ctx, a.act, 0); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	at, err := g.signInRetrying(ctx, "attorney", a.attorney)
	if err != nil {
		return fmt.Errorf("attorney's sign-in: %w", err)
	}
	defer at.CloseNow()
	cms, err := at.SignStep(ctx, a.attorney.Keys, a.act, "consent", 0)
	if err != nil {
		return fmt.Errorf("consent: %w", err)
	}
	if _, err := at.Command(ctx, a.act, "give_consent", map[string]any{"cms": cms}); err != nil {
		return fmt.Errorf("consent: %w", err)
	}
	if err := await(ctx, a.cev, "consent_given", 1); err != nil {
		return fmt.Errorf("consent: %w", err)
	}
	offers, nev := g.desk.expect(a.act)
	a.nev = nev
	if _, err := a.cl.Command(ctx, a.act, "request_call", nil); err != nil {
		return fmt.Errorf("request_call: %w", err)
	}
	select {
	case a.notary = <-offers:
	case <-ctx.Done():
		return fmt.Errorf("call offer: %w", ctx.Err())
	}
	nt := a.notary
	ack, err := nt.command(ctx, a.act, "accept_call", nil)
	if err != nil {
		return fmt.Errorf("accept_call: %w", err)
	}
	if err := nt.subscribe(ctx, a.act, ack.Seq); err != nil {
		return fmt.Errorf("notary's subscribe: %w", err)
	}
	if err := await(ctx, a.cev, "call_accepted", 1); err != nil {
		return fmt.Errorf("call_accepted: %w", err)
	}
	// The act stays with its notary, who is free for the next call.
	if _, err := nt.command(ctx, a.act, "end_call", nil); err != nil {
		return fmt.Errorf("end_call: %w", err)
	}
	return await(ctx, a.cev, "call_ended", 1)
}

// step makes the act's k-th measured step once it is due: the notary's
// next draft on even steps, the client's request for changes on odd ones.
func (a *heldAct) step(ctx context.Context, k int) error {
	if err := a.wait(ctx); err != nil {
		return err
	}
	sctx, cancel := a.stepDeadline(ctx)
	defer cancel()
	if k%2 == 0 {
		body := map[string]any{"registry_number": fmt.Sprintf("1-2026-%04d", a.n%10000), "powers": "Управлять автомобилем", "term_months": 12}
		if err := a.retrying(sctx, func() error { _, err := a.notary.command(sctx, a.act, "present_draft", body); return err }); err != nil {
			return fmt.Errorf("present_draft: %w", err)
		}
		if err := await(sctx, a.cev, "draft_presented", 1); err != nil {
			return fmt.Errorf("draft_presented: %w", err)
		}
		a.rev++
		a.record("draft")
		return nil
	}
	body := map[string]any{"revision": a.rev, "comments": "load test: one more power"}
	if err := a.retrying(sctx, func() error { _, err := a.cl.Command(sctx, a.act, "request_changes", body); return err }); err != nil {
		return fmt.Errorf("request_changes: %w", err)
	}
	if err := await(sctx, a.nev, "changes_requested", 1); err != nil {
		return fmt.Errorf("changes_requested: %w", err)
	}
	a.record("changes")
	return nil
}

// retrying sends a command until the server takes it: refused overloaded,
// it waits the server's retry-after and sends it again, as the app does, so
// that a moment of shedding delays the act (measured, from when the step
// was due) instead of ending it. Each shed is counted as overloaded_retried.
func (a *heldAct) retrying(ctx context.Context, send func() error) error {
	for {
		err := send()
		if !waitRetryAfter(ctx, err) {
			return err
		}
		a.g.rec.err("overloaded_retried", time.Now())
	}
}

// record counts a step from when it was due until now, when the other
// party saw its event.
func (a *heldAct) record(step string) {
	now := time.Now()
	a.g.rec.step(step, true, now.Sub(a.due), now)
}

// cancelHeld cancels the acts, so that none lingers on the server.
func (g *generator) cancelHeld(acts []*heldAct) {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, a := range acts {
		if a.cl == nil || a.act == "" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), g.opts.StepTimeout)
			defer cancel()
			_, _ = a.cl.Command(ctx, a.act, "cancel_act", map[string]any{"reason": "load tool: the run ended"})
		}()
	}
	wg.Wait()
}
