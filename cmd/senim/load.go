package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mattn/go-isatty"

	"github.com/senim-kz/senim/loadgen"
)

// cmdLoad runs `senim load acts`, `active`, `sessions` and `calls`: the load
// generator lives in package loadgen, this is its command line.
func cmdLoad(args []string) error {
	if len(args) == 0 || (args[0] != "acts" && args[0] != "sessions" && args[0] != "active" && args[0] != "calls") {
		fmt.Fprintln(os.Stderr, "usage: senim load acts --addr HOST:PORT --duration D (--in-flight N | --rate R) [flags]\n"+
			"       senim load active --addr HOST:PORT --acts N --steps S --duration D [flags]\n"+
			"       senim load sessions --addr HOST:PORT --n N [flags]\n"+
			"       senim load calls --addr HOST:PORT --rooms N [--server-pid PID] [flags]")
		return &exitError{code: 2}
	}
	switch args[0] {
	case "calls":
		return cmdLoadCalls(args[1:])
	case "sessions":
		return cmdLoadSessions(args[1:])
	case "active":
		return cmdLoadActive(args[1:])
	}
	return cmdLoadActs(args[1:])
}

// outputs are the report files a run can write.
type outputs struct{ json, csv, html *string }

func outputFlags(fs *flag.FlagSet) outputs {
	return outputs{fs.String("json", "", "write the report as JSON to this file"),
		fs.String("csv", "", "write the step table as CSV to this file"),
		fs.String("html", "", "write a self-contained HTML report (SVG plots) to this file")}
}

// dataDir is --data, or the configured data_dir.
func dataDir(flagValue, cfgPath string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return "", err
	}
	return cfg.DataDir, nil
}

func cmdLoadActs(args []string) error {
	fs := flag.NewFlagSet("senim load acts", flag.ContinueOnError)
	o := loadgen.DefaultOptions()
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long new acts start")
	fs.IntVar(&o.MaxActs, "max-acts", o.MaxActs, "start at most this many acts")
	fs.IntVar(&o.InFlight, "in-flight", 0, "closed loop: keep this many acts in flight")
	fs.Float64Var(&o.Rate, "rate", 0, "open loop: start this many acts per second, whatever the server's speed")
	fs.IntVar(&o.MaxOpen, "max-open", o.MaxOpen, "open loop: acts in flight at most (more count as tool_saturated)")
	fs.IntVar(&o.Notaries, "notaries", o.Notaries, "simulated notaries (one operator session each)")
	fs.IntVar(&o.Citizens, "citizens", o.Citizens, "simulated principals and attorneys")
	fs.DurationVar(&o.Think, "think", 0, "each person's time between two steps")
	fs.BoolVar(&o.Media, "media", false, "add a synthetic video call (Go WebRTC peers) to every act")
	fs.IntVar(&o.Bitrate, "bitrate", o.Bitrate, "with --media: each peer's video bit rate, bit/s")
	fs.Float64Var(&o.ChangesShare, "changes", o.ChangesShare, "share of acts whose client asks for changes to the first draft")
	fs.Float64Var(&o.RefuseShare, "refuse", o.RefuseShare, "share of acts the notary refuses")
	fs.Float64Var(&o.CancelShare, "cancel", o.CancelShare, "share of acts the client cancels")
	fs.DurationVar(&o.StepTimeout, "step-timeout", o.StepTimeout, "deadline of every step")
	fs.DurationVar(&o.Drain, "drain", o.Drain, "how long acts in flight may finish after --duration")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the acts' outcomes")
	target := loadTarget{&o.Addr, &o.DataDir, &o.Progress, &o.ProgressTTY}
	return runLoad(fs, args, target,
		"the server's HTTP address, HOST:PORT (required; the tool connects to nothing else)",
		"the server's data_dir, holding devca/, the registry stand-in and the accounts file (default: the config's data_dir)",
		func(ctx context.Context) (*loadgen.Report, error) { return loadgen.Run(ctx, o) })
}

func cmdLoadActive(args []string) error {
	fs := flag.NewFlagSet("senim load active", flag.ContinueOnError)
	o := loadgen.DefaultActiveOptions()
	fs.IntVar(&o.Acts, "acts", o.Acts, "acts held open at once, each at the drafting stage")
	fs.Float64Var(&o.StepsPerSecond, "steps", o.StepsPerSecond, "steps a second of all the acts together (each act: steps ÷ acts a second)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long the acts step (measured)")
	fs.IntVar(&o.Opening, "opening", o.Opening, "acts being opened at once before the measured window")
	fs.IntVar(&o.Notaries, "notaries", o.Notaries, "simulated notaries (one operator session each)")
	fs.IntVar(&o.Citizens, "citizens", o.Citizens, "simulated principals and attorneys (one may have many acts)")
	fs.DurationVar(&o.StepTimeout, "step-timeout", o.StepTimeout, "deadline of every step")
	target := loadTarget{&o.Addr, &o.DataDir, &o.Progress, &o.ProgressTTY}
	return runLoad(fs, args, target,
		"the server's HTTP address, HOST:PORT (required)",
		"the server's data_dir, holding devca/, the registry stand-in and the accounts file (default: the config's data_dir)",
		func(ctx context.Context) (*loadgen.Report, error) { return loadgen.RunActive(ctx, o) })
}

func cmdLoadSessions(args []string) error {
	fs := flag.NewFlagSet("senim load sessions", flag.ContinueOnError)
	o := loadgen.DefaultSessionsOptions()
	fs.IntVar(&o.N, "n", o.N, "idle signed-in sessions to open and hold")
	fs.IntVar(&o.Identities, "identities", o.Identities, "people the sessions sign in as")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "sessions connecting at once")
	fs.DurationVar(&o.Hold, "hold", o.Hold, "how long to hold the sessions once all are open")
	fs.DurationVar(&o.StepTimeout, "step-timeout", o.StepTimeout, "deadline of each connection and sign-in")
	target := loadTarget{&o.Addr, &o.DataDir, &o.Progress, &o.ProgressTTY}
	return runLoad(fs, args, target,
		"the server's HTTP address, HOST:PORT (required)",
		"the server's data_dir, holding devca/ (default: the config's data_dir)",
		func(ctx context.Context) (*loadgen.Report, error) { return loadgen.RunSessions(ctx, o) })
}

// loadTarget points at the option fields every load mode has: where the
// server is and where the live progress line goes.
type loadTarget struct {
	addr, dataDir *string
	progress      *io.Writer
	progressTTY   *bool
}

// runLoad adds the flags every load mode shares to fs (which already holds
// the mode's own), parses args, fills t, and runs the mode until it ends or
// the user interrupts it.
func runLoad(fs *flag.FlagSet, args []string, t loadTarget, addrHelp, dataHelp string, run func(context.Context) (*loadgen.Report, error)) error {
	cfgPath := configFlag(fs)
	fs.StringVar(t.addr, "addr", "", addrHelp)
	data := fs.String("data", "", dataHelp)
	quiet := fs.Bool("quiet", false, "no live progress line")
	out := outputFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if *t.dataDir, err = dataDir(*data, *cfgPath); err != nil {
		return err
	}
	if !*quiet {
		*t.progress, *t.progressTTY = os.Stderr, isatty.IsTerminal(os.Stderr.Fd())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx)
	return finish(rep, err, out)
}

// finish prints the table and writes the report files; a run that could
// not start exits with status 2.
func finish(rep *loadgen.Report, err error, out outputs) error {
	if loadgen.IsFatal(err) {
		return &exitError{code: 2, msg: "load: " + err.Error()}
	}
	if err != nil {
		return err
	}
	if err := rep.WriteTable(os.Stdout); err != nil {
		return err
	}
	for _, w := range []struct {
		path  string
		write func(string) error
	}{{*out.json, rep.WriteJSON}, {*out.csv, rep.WriteCSV}, {*out.html, rep.WriteHTML}} {
		if w.path != "" {
			if err := w.write(w.path); err != nil {
				return err
			}
		}
	}
	return nil
}

// cmdLoadCalls runs `senim load calls`: rooms of synthetic video calls,
// and the server's CPU per forwarded stream.
func cmdLoadCalls(args []string) error {
	fs := flag.NewFlagSet("senim load calls", flag.ContinueOnError)
	o := loadgen.DefaultCallsOptions()
	fs.IntVar(&o.Rooms, "rooms", o.Rooms, "calls at once, each an act of its own (a principal, an attorney, a notary)")
	fs.IntVar(&o.Subscribers, "subscribers", o.Subscribers, "subscribers per publisher (an act's call allows 1)")
	fs.BoolVar(&o.Duplex, "duplex", false, "both participants publish (a real call); without it the notary only receives")
	fs.IntVar(&o.Bitrate, "bitrate", o.Bitrate, "the synthetic camera's bit rate, bit/s (VP8 at 30 frames/s; 1860000 is 210 packets/s)")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "media flows this long before the window opens")
	fs.DurationVar(&o.Window, "window", o.Window, "the measured window")
	fs.IntVar(&o.ServerPID, "server-pid", 0, "the server's process id: its CPU time from /proc/PID/stat (default: the server's /metrics)")
	fs.IntVar(&o.Setup, "setup", o.Setup, "rooms brought to their call at once")
	fs.DurationVar(&o.StepTimeout, "step-timeout", o.StepTimeout, "deadline of each setup step, and of the wait for media")
	cfgPath := configFlag(fs)
	fs.StringVar(&o.Addr, "addr", "", "the server's HTTP address, HOST:PORT (required; its calls must be reachable on loopback)")
	data := fs.String("data", "", "the server's data_dir, holding devca/, the registry stand-in and the accounts file (default: the config's data_dir)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	jsonPath := fs.String("json", "", "write the report as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.DataDir, err = dataDir(*data, *cfgPath); err != nil {
		return err
	}
	if !*quiet {
		o.Progress = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := loadgen.RunCalls(ctx, o)
	if loadgen.IsFatal(err) {
		return &exitError{code: 2, msg: "load: " + err.Error()}
	}
	if err != nil {
		return err
	}
	if err := rep.WriteTable(os.Stdout); err != nil {
		return err
	}
	if *jsonPath != "" {
		return rep.WriteJSON(*jsonPath)
	}
	return nil
}
