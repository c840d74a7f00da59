package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/transport/protocol"
)

// Options configure a run of the acts scenario.
type Options struct {
	// Addr is the server's HTTP address (host:port); the tool connects to
	// nothing else, and refuses payment links that point elsewhere.
	Addr string
	// DataDir is the server's data_dir: its devca/, registry and accounts.
	DataDir string
	// Duration is how long new acts start; MaxActs caps how many do.
	Duration time.Duration
	MaxActs  int
	// InFlight > 0 runs a closed loop: that many acts at all times.
	InFlight int
	// Rate > 0 runs an open loop: acts start at this rate per second
	// whatever the server's speed, and each is measured from when it was
	// due. MaxOpen caps the acts in flight (more are counted as
	// tool_saturated, not started).
	Rate    float64
	MaxOpen int
	// Notaries and Citizens are how many people the tool simulates; an
	// act takes a principal and an attorney among the citizens.
	Notaries, Citizens int
	// Think is how long each person takes between two steps.
	Think time.Duration
	// Media adds a synthetic call (VP8 and Opus at Bitrate bit/s).
	Media   bool
	Bitrate int
	// ChangesShare of acts ask for changes to the first draft; RefuseShare
	// end with the notary's refusal, CancelShare with the client's
	// cancellation (both after the first draft).
	ChangesShare, RefuseShare, CancelShare float64
	// StepTimeout bounds every step; Drain is how long acts in flight may
	// still finish after Duration.
	StepTimeout, Drain time.Duration
	// Seed makes the choice of outcomes repeatable.
	Seed uint64
	// Progress, if set, gets the live line every second.
	Progress io.Writer
	// ProgressTTY refreshes the line in place (a terminal) instead of
	// writing a line per second.
	ProgressTTY bool
}

// DefaultOptions are the command's defaults.
func DefaultOptions() Options {
	return Options{Duration: 30 * time.Second, MaxActs: 100000, Notaries: 8, Citizens: 40, Bitrate: 300_000,
		ChangesShare: 0.3, RefuseShare: 0.05, CancelShare: 0.05, StepTimeout: 30 * time.Second, Drain: 30 * time.Second,
		MaxOpen: 5000, Seed: 1}
}

func (o Options) validate() error {
	switch {
	case o.Addr == "":
		return fatal(CodeBadOptions, "--addr is required")
	case o.DataDir == "":
		return fatal(CodeBadOptions, "--data (the server's data_dir) is required")
	case o.Duration <= 0 || o.Duration > 24*time.Hour:
		return fatal(CodeBadOptions, "--duration must be between 0 and 24h")
	case o.MaxActs <= 0:
		return fatal(CodeBadOptions, "--max-acts must be positive")
	case (o.InFlight > 0) == (o.Rate > 0):
		return fatal(CodeBadOptions, "give exactly one of --in-flight N or --rate R")
	case o.InFlight > 100000 || o.Rate > 100000:
		return fatal(CodeBadOptions, "--in-flight and --rate are at most 100000")
	case o.Notaries < 1 || o.Notaries > 1000:
		return fatal(CodeBadOptions, "--notaries must be 1-1000")
	case o.Citizens < 2 || o.Citizens > 100000:
		return fatal(CodeBadOptions, "--citizens must be 2-100000 (an act takes two)")
	case o.Think < 0 || o.StepTimeout <= 0 || o.Drain < 0:
		return fatal(CodeBadOptions, "--think, --step-timeout and --drain must not be negative")
	case o.ChangesShare < 0 || o.RefuseShare < 0 || o.CancelShare < 0 || o.ChangesShare > 1 || o.RefuseShare+o.CancelShare > 1:
		return fatal(CodeBadOptions, "the shares are fractions between 0 and 1, refusals and cancellations 1 at most together")
	case o.Media && (o.Bitrate < 10_000 || o.Bitrate > 10_000_000):
		return fatal(CodeBadOptions, "--bitrate must be 10000-10000000")
	}
	return nil
}

// generator is one run of the acts scenario.
type generator struct {
	opts      Options
	wsURL     string
	hc        *http.Client
	citizens  []person
	notaries  []*notarySession
	desk      *desk
	rec       *recorder
	actNumber atomic.Int64
	paced     atomic.Int64 // nanoseconds the notaries waited for their rate
	// cms counts the CMS signatures the acts sent (sign-ins, applications,
	// consents, approvals, the notaries' signatures): each is a verification
	// on the server, part of the floor.
	cms atomic.Int64
	ca  *devca.CA
}

// Run runs the acts scenario against the server at opts.Addr and returns
// its report. A *FatalError means no load was applied.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	g := newGenerator(opts)
	stop, err := g.prepare(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()

	// The server's figures are taken from here: the notaries' sign-ins
	// (an argon2id check each, 64 MiB and a sizeable share of a core) are
	// not part of any act.
	before, err := scrape(ctx, g.hc, opts.Addr)
	if err != nil {
		return nil, fatal(CodeUnreachable, "%s: %v", opts.Addr, err)
	}
	cpu0 := ProcessCPU()
	machine0, machineOK := machineCPU()
	g.cms.Store(0)
	start := time.Now()
	g.rec = newRecorder(start)
	end := start.Add(opts.Duration)
	runCtx, cancel := context.WithDeadline(ctx, end.Add(opts.Drain))
	defer cancel()
	stopProgress := g.progress(start)
	if opts.InFlight > 0 {
		g.closedLoop(runCtx, end)
	} else {
		g.openLoop(runCtx, end)
	}
	finished := time.Now()
	stopProgress()
	after, err := scrape(context.Background(), g.hc, opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: /metrics after the run: %w", err)
	}
	rep := &Report{Scenario: "acts", Addr: opts.Addr, InFlight: opts.InFlight, Rate: opts.Rate, Notaries: opts.Notaries,
		Citizens: opts.Citizens, Think: opts.Think.String(), Media: opts.Media, Seconds: finished.Sub(start).Seconds()}
	if opts.InFlight > 0 {
		rep.Mode = "closed"
	} else {
		rep.Mode = "open"
	}
	g.rec.snapshot(rep)
	rep.server(before, after)
	rep.NotaryPacingSeconds = time.Duration(g.paced.Load()).Seconds()
	rep.ToolCPUSeconds = ProcessCPU() - cpu0
	if machine1, ok := machineCPU(); ok && machineOK && config.IsLoopbackAddr(opts.Addr) {
		rep.MachineCPUSeconds = machine1 - machine0
	}
	rep.ToolMaxRSSBytes = toolMaxRSS()
	rep.perAct()
	ft, err := measureFloor(g.ca, g.citizens[0].Keys[1], opts.DataDir)
	if err != nil {
		return nil, err
	}
	rep.floor(g.cms.Load(), after.appends()-before.appends(), ft)
	return rep, nil
}

// newGenerator is a run's generator, before anything is set up.
func newGenerator(opts Options) *generator {
	return &generator{opts: opts, wsURL: "ws://" + opts.Addr + "/ws", desk: newDesk(),
		hc: &http.Client{Timeout: opts.StepTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
}

// prepare does everything before the first act: it issues the people's
// keys, adds the notaries to the accounts file, checks that the server
// takes a citizen's sign-in, and signs the notaries in, each with the pump
// of its events. stop signs them out.
func (g *generator) prepare(ctx context.Context) (stop func(), err error) {
	raiseNoFile()
	opts := g.opts
	if _, err := scrape(ctx, g.hc, opts.Addr); err != nil {
		return nil, fatal(CodeUnreachable, "%s: %v", opts.Addr, err)
	}
	now := time.Now()
	ca, err := openCA(opts.DataDir, now)
	if err != nil {
		return nil, err
	}
	g.ca = ca
	if g.citizens, err = issue(ca, opts.DataDir, iins(0, opts.Citizens), true, now); err != nil {
		return nil, err
	}
	notaryPeople, err := issue(ca, opts.DataDir, iins(5_000_000, opts.Notaries), false, now)
	if err != nil {
		return nil, err
	}
	accts, err := addNotaries(opts.DataDir, notaryPeople, now)
	if err != nil {
		return nil, err
	}
	// A citizen's sign-in first: keys of a CA the server does not trust
	// stop the run here, with the server's code.
	probe, err := g.signIn(ctx, "client", g.citizens[0])
	if err != nil {
		return nil, fatal(CodeSignIn, "a simulated client's sign-in: %v", err)
	}
	probe.CloseNow()
	pumps, cancelPumps := context.WithCancel(context.Background())
	for _, a := range accts {
		n, err := g.notaryIn(ctx, a)
		if err != nil {
			g.closeNotaries()
			cancelPumps()
			return nil, err
		}
		g.notaries = append(g.notaries, n)
		go g.desk.pump(pumps, n)
	}
	return func() { g.closeNotaries(); cancelPumps() }, nil
}

func (g *generator) closeNotaries() {
	for _, n := range g.notaries {
		n.c.CloseNow()
	}
}

// take hands out the next act number while the cap allows.
func (g *generator) take() (int, bool) {
	n := int(g.actNumber.Add(1))
	return n, n <= g.opts.MaxActs
}

// closedLoop keeps InFlight acts going until the end; each worker starts
// its next act as soon as the last one ends.
func (g *generator) closedLoop(ctx context.Context, end time.Time) {
	var wg sync.WaitGroup
	for range g.opts.InFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(end) {
				n, ok := g.take()
				if !ok {
					return
				}
				g.runAct(ctx, n, time.Now())
			}
		}()
	}
	wg.Wait()
}

// openLoop starts act i at start + i/Rate, whatever happened to the acts
// before it. A late start (the tool was busy) keeps its due time, so the
// delay is measured, not hidden.
func (g *generator) openLoop(ctx context.Context, end time.Time) {
	var wg sync.WaitGroup
	start := g.rec.start
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(float64(i) / g.opts.Rate * float64(time.Second)))
		if !due.Before(end) {
			break
		}
		n, ok := g.take()
		if !ok {
			break
		}
		timer.Reset(time.Until(due))
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if g.rec.live(time.Now()).inFlight >= int64(g.opts.MaxOpen) {
			g.rec.err("tool_saturated", time.Now())
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.runAct(ctx, n, due)
		}()
	}
	wg.Wait()
}

// signIn opens a session and signs a citizen in with their EDS.
func (g *generator) signIn(ctx context.Context, role string, p person) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, g.opts.StepTimeout)
	defer cancel()
	c, err := client.Dial(ctx, g.wsURL, client.Options{Buffer: 64})
	if err != nil {
		return nil, err
	}
	g.cms.Add(1)
	if _, err := c.SignInEDS(ctx, role, p.Keys); err != nil {
		c.CloseNow()
		return nil, err
	}
	return c, nil
}

// signInRetrying is signIn for a session an act under way needs: refused
// overloaded (the server sheds new sessions first), it waits the server's
// retry-after and tries again until the step's deadline, as the app does.
// An act's first sign-in is not retried: that act is shed, and counted so.
func (g *generator) signInRetrying(ctx context.Context, role string, p person) (*client.Client, error) {
	for {
		c, err := g.signIn(ctx, role, p)
		if !waitRetryAfter(ctx, err) {
			return c, err
		}
	}
}

// waitRetryAfter waits the retry-after of an overloaded error and reports
// true: try again. Any other outcome, or the deadline first, is false.
func waitRetryAfter(ctx context.Context, err error) bool {
	var ce *client.Error
	if err == nil || !errors.As(err, &ce) || ce.Code != protocol.CodeOverloaded {
		return false
	}
	t := time.NewTimer(time.Duration(max(ce.RetryAfterMS, 100)) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// notaryIn signs a notary in with their password and makes them available.
func (g *generator) notaryIn(ctx context.Context, a notaryAccount) (*notarySession, error) {
	ctx, cancel := context.WithTimeout(ctx, g.opts.StepTimeout)
	defer cancel()
	c, err := client.Dial(ctx, g.wsURL, client.Options{Buffer: 256})
	if err != nil {
		return nil, fatal(CodeUnreachable, "a notary's session: %v", err)
	}
	if _, err := c.SignInPassword(ctx, a.Login, a.Password); err != nil {
		c.CloseNow()
		return nil, fatal(CodeSignIn, "notary %s: %v", a.Login, err)
	}
	if err := c.Operator(ctx, "available", ""); err != nil {
		c.CloseNow()
		return nil, fatal(CodeSignIn, "notary %s: available: %v", a.Login, err)
	}
	// 45 of the server's 50 messages a second (limits.rate_per_second),
	// bursts of 50 of its 100: a notary's act never waits here until the
	// notary is busy all the time.
	return &notarySession{acct: a, c: c, limit: rate.NewLimiter(45, 50), paced: &g.paced}, nil
}

// errCode names a failure for the report.
func errCode(err error) string {
	if c := client.CodeOf(err); c != "" {
		return c
	}
	var se *stepError
	if errors.As(err, &se) {
		return se.code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codeTimeout
	case errors.Is(err, client.ErrClosed):
		return codeClosed
	}
	return codeTool
}

// stepError is a failure the tool names itself.
type stepError struct {
	code, msg string
}

func (e *stepError) Error() string { return e.code + ": " + e.msg }

// actRun is one simulated act: its principal's session, and the notary
// the desk gave it.
type actRun struct {
	g                   *generator
	n                   int
	due                 time.Time
	principal, attorney person
	cl                  *client.Client
	act                 string
	notary              *notarySession
	nev                 <-chan protocol.Envelope
}

// stepFunc does one step within its deadline.
type stepFunc func(ctx context.Context) error

// plan is how an act ends.
type plan struct {
	changes bool
	end     string // sign, refuse, cancel
}

func (g *generator) planOf(n int) plan {
	r := rand.New(rand.NewPCG(g.opts.Seed, uint64(n)))
	p := plan{changes: r.Float64() < g.opts.ChangesShare, end: "sign"}
	switch x := r.Float64(); {
	case x < g.opts.RefuseShare:
		p.end = "refuse"
	case x < g.opts.RefuseShare+g.opts.CancelShare:
		p.end = "cancel"
	}
	return p
}

// runAct runs act number n, due at due, and records how it ended.
func (g *generator) runAct(ctx context.Context, n int, due time.Time) {
	m := len(g.citizens)
	a := &actRun{g: g, n: n, due: due, principal: g.citizens[n%m], attorney: g.citizens[(n+1)%m]}
	g.rec.actStarted()
	outcome, err := a.run(ctx, g.planOf(n))
	now := time.Now()
	if err != nil {
		if ctx.Err() != nil {
			outcome = "aborted"
		} else {
			outcome = "failed"
			g.rec.err(errCode(err), now)
		}
		a.giveUp()
	}
	if a.cl != nil {
		a.cl.CloseNow()
	}
	if a.act != "" {
		g.desk.forget(a.act)
	}
	g.rec.actEnded(outcome, now)
}

// giveUp ends a failed act so that it does not linger on the server: the
// client cancels it, or failing that the notary refuses it.
func (a *actRun) giveUp() {
	if a.act == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if a.cl != nil {
		if _, err := a.cl.Command(ctx, a.act, "cancel_act", map[string]any{"reason": "load tool: a step failed"}); err == nil {
			return
		}
	}
	if a.notary != nil {
		_, _ = a.notary.command(ctx, a.act, "refuse_act", map[string]any{"reason": "load tool: a step failed"})
	}
}

// wait waits until the next step is due (the person's think time).
func (a *actRun) wait(ctx context.Context) error {
	d := time.Until(a.due)
	if d <= 0 {
		return ctx.Err()
	}
	return SleepCtx(ctx, d)
}

// done records a step: from when it was due until now, when its outcome
// reached the party measured; the next step is due after the think time.
func (a *actRun) done(step string, other bool) {
	now := time.Now()
	a.g.rec.step(step, other, now.Sub(a.due), now)
	a.due = now.Add(a.g.opts.Think)
}

var finalEvents = map[string]bool{"act_signed": true, "act_refused": true, "act_cancelled": true, "consent_refused": true}

// await reads events until count of name have come.
func await(ctx context.Context, ch <-chan protocol.Envelope, name string, count int) error {
	for count > 0 {
		select {
		case env, ok := <-ch:
			if !ok {
				return client.ErrClosed
			}
			if env.Name == name {
				count--
			} else if finalEvents[env.Name] {
				return &stepError{code: "unexpected_" + env.Name, msg: "waiting for " + name}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// stepDeadline bounds one step.
func (a *actRun) stepDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.g.opts.StepTimeout)
}

// run takes the act from sign-in to its end, step by step, as PROTOCOL.md
// describes it. Each step ends when the other party sees its event.
func (a *actRun) run(ctx context.Context, p plan) (string, error) {
	g := a.g
	do := func(name string, other bool, f stepFunc) error {
		if err := a.wait(ctx); err != nil {
			return err
		}
		sctx, cancel := a.stepDeadline(ctx)
		defer cancel()
		if err := f(sctx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		a.done(name, other)
		return nil
	}
	var err error
	if err = do("signin", false, func(ctx context.Context) error {
		a.cl, err = g.signIn(ctx, "client", a.principal)
		return err
	}); err != nil {
		return "", err
	}
	cev := a.cl.Events()
	if err := do("submit", false, func(ctx context.Context) error {
		g.cms.Add(1)
		a.act, err = a.cl.Apply(ctx, a.principal.Keys, "+7 701 234 56 78", a.attorney.IIN)
		if err != nil {
			return err
		}
		return a.cl.Subscribe(ctx, a.act, 0)
	}); err != nil {
		return "", err
	}
	var at *client.Client
	if err := do("signin", false, func(ctx context.Context) error {
		at, err = g.signInRetrying(ctx, "attorney", a.attorney)
		return err
	}); err != nil {
		return "", err
	}
	err = do("consent", true, func(ctx context.Context) error {
		g.cms.Add(1)
		cms, err := at.SignStep(ctx, a.attorney.Keys, a.act, "consent", 0)
		if err != nil {
			return err
		}
		if _, err := at.Command(ctx, a.act, "give_consent", map[string]any{"cms": cms}); err != nil {
			return err
		}
		return await(ctx, cev, "consent_given", 1)
	})
	at.CloseNow()
	if err != nil {
		return "", err
	}
	offers, nev := g.desk.expect(a.act)
	a.nev = nev
	if err := do("call_offer", true, func(ctx context.Context) error {
		if _, err := a.cl.Command(ctx, a.act, "request_call", nil); err != nil {
			return err
		}
		select {
		case a.notary = <-offers:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}); err != nil {
		return "", err
	}
	nt := a.notary
	if err := do("accept", true, func(ctx context.Context) error {
		ack, err := nt.command(ctx, a.act, "accept_call", nil)
		if err != nil {
			return err
		}
		if err := nt.subscribe(ctx, a.act, ack.Seq); err != nil {
			return err
		}
		return await(ctx, cev, "call_accepted", 1)
	}); err != nil {
		return "", err
	}
	if g.opts.Media {
		stop, err := a.startMedia(ctx, do)
		if err != nil {
			return "", err
		}
		defer stop()
	}
	if err := do("checks", true, func(ctx context.Context) error {
		for _, c := range []string{"document_shown", "legal_capacity", "rights_explained"} {
			if _, err := nt.command(ctx, a.act, "record_check", map[string]any{"check": c, "passed": true}); err != nil {
				return err
			}
		}
		return await(ctx, cev, "check_recorded", 3)
	}); err != nil {
		return "", err
	}
	if err := do("registry_lookup", true, func(ctx context.Context) error {
		if err := nt.query(ctx, "registry_lookup", a.act, map[string]any{"iin": a.principal.IIN}, nil); err != nil {
			return err
		}
		return await(ctx, cev, "registry_checked", 1)
	}); err != nil {
		return "", err
	}
	draft := func(rev int) error {
		return do("draft", true, func(ctx context.Context) error {
			body := map[string]any{"registry_number": fmt.Sprintf("1-2026-%04d", a.n%10000), "powers": "Управлять автомобилем", "term_months": 12 * rev}
			if _, err := nt.command(ctx, a.act, "present_draft", body); err != nil {
				return err
			}
			return await(ctx, cev, "draft_presented", 1)
		})
	}
	if err := draft(1); err != nil {
		return "", err
	}
	switch p.end {
	case "refuse":
		return "refused", do("refuse", true, func(ctx context.Context) error {
			if _, err := nt.command(ctx, a.act, "refuse_act", map[string]any{"reason": "load test: refused"}); err != nil {
				return err
			}
			return await(ctx, cev, "act_refused", 1)
		})
	case "cancel":
		return "cancelled", do("cancel", true, func(ctx context.Context) error {
			if _, err := a.cl.Command(ctx, a.act, "cancel_act", map[string]any{"reason": "load test: cancelled"}); err != nil {
				return err
			}
			return await(ctx, nev, "act_cancelled", 1)
		})
	}
	rev := 1
	if p.changes {
		if err := do("changes", true, func(ctx context.Context) error {
			if _, err := a.cl.Command(ctx, a.act, "request_changes", map[string]any{"revision": 1, "comments": "load test: one more power"}); err != nil {
				return err
			}
			return await(ctx, nev, "changes_requested", 1)
		}); err != nil {
			return "", err
		}
		rev = 2
		if err := draft(2); err != nil {
			return "", err
		}
	}
	if err := do("approve", true, func(ctx context.Context) error {
		g.cms.Add(1)
		cms, err := a.cl.SignStep(ctx, a.principal.Keys, a.act, "draft", rev)
		if err != nil {
			return err
		}
		if _, err := a.cl.Command(ctx, a.act, "approve_draft", map[string]any{"revision": rev, "cms": cms}); err != nil {
			return err
		}
		return await(ctx, nev, "draft_approved", 1)
	}); err != nil {
		return "", err
	}
	if err := do("invoice", true, func(ctx context.Context) error {
		if _, err := nt.command(ctx, a.act, "issue_invoice", nil); err != nil {
			return err
		}
		return await(ctx, cev, "invoice_issued", 1)
	}); err != nil {
		return "", err
	}
	if err := do("payment", true, func(ctx context.Context) error {
		return a.pay(ctx)
	}); err != nil {
		return "", err
	}
	if err := do("document_code", true, func(ctx context.Context) error {
		if _, err := nt.command(ctx, a.act, "issue_document_code", nil); err != nil {
			return err
		}
		return await(ctx, cev, "document_code_issued", 1)
	}); err != nil {
		return "", err
	}
	return "signed", do("sign", true, func(ctx context.Context) error {
		if err := nt.pace(ctx, 1); err != nil {
			return err
		}
		g.cms.Add(1)
		cms, err := nt.c.SignStep(ctx, nt.acct.Keys, a.act, "document", 0)
		if err != nil {
			return err
		}
		if _, err := nt.command(ctx, a.act, "sign_act", map[string]any{"cms": cms}); err != nil {
			return err
		}
		return await(ctx, cev, "act_signed", 1)
	})
}

// pay pays the invoice as the principal would: the payment link, then the
// bank stand-in, which calls Senim back; the notary sees payment_received.
func (a *actRun) pay(ctx context.Context) error {
	link, err := a.cl.PaymentLink(ctx, a.act)
	if err != nil {
		return err
	}
	u, err := url.Parse(link.URL)
	if err != nil || u.Host != a.g.opts.Addr || (u.Scheme != "http" && u.Scheme != "https") {
		return &stepError{code: codeForeign, msg: fmt.Sprintf("the payment link %q is not on %s", link.URL, a.g.opts.Addr)}
	}
	p, err := client.PayAtStandIn(ctx, link.URL)
	if err != nil {
		return err
	}
	if p.Status == "refused" {
		return &stepError{code: "payment_" + p.Code, msg: p.Message}
	}
	// accepted, or pending (the bank retries its callback): the event says.
	return await(ctx, a.nev, "payment_received", 1)
}

// startMedia joins both parties to the act's call with synthetic media and
// returns what hangs up.
func (a *actRun) startMedia(ctx context.Context, do func(string, bool, stepFunc) error) (func(), error) {
	callCtx, cancel := context.WithCancel(ctx)
	var calls []*client.Call
	stop := func() {
		for _, c := range calls {
			_ = c.Close()
		}
		cancel()
	}
	err := do("media_join", false, func(sctx context.Context) error {
		cc, err := a.cl.StartCall(callCtx, a.act, webrtc.Configuration{}, "client", a.g.opts.Bitrate)
		if err != nil {
			return err
		}
		calls = append(calls, cc)
		if err := a.notary.pace(sctx, 4); err != nil {
			return err
		}
		nc, err := a.notary.c.StartCall(callCtx, a.act, webrtc.Configuration{}, "notary", a.g.opts.Bitrate)
		if err != nil {
			return err
		}
		calls = append(calls, nc)
		return nil
	})
	if err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}
