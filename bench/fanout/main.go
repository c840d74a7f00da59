// Command fanout measures Senim's SFU at a fan-out an act's call cannot
// have: rooms of one publisher and k subscribers (1→10, 1→40), for
// bench/livekit's side-by-side with LiveKit (issue 14).
//
//	fanout server [--addr 127.0.0.1:18490] [--record=false] [--pprof 127.0.0.1:6061]
//	fanout load --addr 127.0.0.1:18490 --server-pid PID --rooms 1 --subscribers 40 --json out.json
//
// The server is media/sfu as `senim serve` runs it: the SFU's configuration
// from [media] of the same configuration (defaults, a --config file,
// SENIM_* variables), recording on unless --record=false (media.record),
// ports per connection (serve's). Its signaling is its own, on loopback:
// one TCP connection per participant carrying JSON lines (a hello, then the
// room's offers and candidates one way, the peer's answers and candidates
// the other), not the act protocol, which has two participants per call.
//
// The load is Go WebRTC peers (media/peer, as `senim load calls`): each
// publisher sends synthetic VP8 at --bitrate (1.86 Mbit/s: 210 packets/s)
// and Opus, each subscriber counts what it receives. It reports what
// `senim load calls` and bench/livekit's lkload report, under the same
// JSON names (loadgen.CallsReport), the server's CPU from /proc/PID/stat.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/internal/procs"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "server":
		err = serverMain(ctx, os.Args[2:])
	case "load":
		err = loadMain(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: fanout server [flags] | fanout load [flags] (-h for the flags)")
	os.Exit(2)
}

// loopback refuses any address but a loopback one: the harness's
// signaling and profile have no authentication.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s: the harness listens on loopback only (127.0.0.1)", addr)
	}
	return nil
}

func serverMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18490", "the signaling address (loopback)")
	cfgPath := fs.String("config", "", "Senim's configuration file ([media] and [call] are read; SENIM_* apply too)")
	record := fs.Bool("record", true, "record every room (media.record's default); --record=false forwards only")
	data := fs.String("data", "", "where recordings go (media.record_dir under it); default a new temporary directory, removed at exit")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof here (loopback), e.g. 127.0.0.1:6061")
	level := fs.String("log-level", "warn", "the SFU's log level")
	gso := fs.Bool("gso", true, "UDP segmentation offload on the SFU's sockets (sfu.Config.NoSegmentation), as serve; --gso=false for a side-by-side")
	_ = fs.Parse(args)
	if err := loopback(*addr); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath, os.Environ())
	if err != nil {
		return err
	}
	if !cfg.Media.LoopbackOnly {
		return errors.New("media.loopback_only is off: the harness runs on loopback alone")
	}
	lvl, err := zerolog.ParseLevel(*level)
	if err != nil {
		return err
	}
	log := zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Logger()
	adaptive, n, _ := config.ParseProcs(cfg.Runtime.Procs) // validated by Load; as serve: runtime.procs
	procs.Start(ctx, adaptive, n, func(n int, w procs.Window) {
		log.Debug().Int("procs", n).Float64("busy_cores", w.Busy).Bool("long_wait", w.Waited).Msg("processors")
	})
	dir := *data
	if dir == "" {
		if dir, err = os.MkdirTemp("", "senim-fanout-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	s, err := newServer(cfg, *record, !*gso, dir, log)
	if err != nil {
		return err
	}
	defer s.close()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *pprofAddr != "" {
		if err := loopback(*pprofAddr); err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		hs := &http.Server{Addr: *pprofAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hs.ListenAndServe() }()
		defer hs.Close()
	}
	fmt.Fprintf(os.Stderr, "fanout: server on %s (pid %d), recording %v\n", l.Addr(), os.Getpid(), *record)
	go func() {
		<-ctx.Done()
		_ = l.Close()
	}()
	return s.serve(l)
}

func loadMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	var o loadOptions
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:18490", "the harness server's signaling address")
	fs.IntVar(&o.Rooms, "rooms", 1, "rooms at once")
	fs.IntVar(&o.Subscribers, "subscribers", 10, "subscribers per publisher (fan-out)")
	fs.IntVar(&o.Bitrate, "bitrate", 1_860_000, "the synthetic camera's bit rate, bit/s (VP8 at 30 frames/s)")
	fs.BoolVar(&o.Numbered, "twcc", false, "the publisher numbers every packet transport-wide, as a browser does (the SFU records and reports their arrival)")
	fs.DurationVar(&o.Warmup, "warmup", 5*time.Second, "media flows this long before the window opens")
	fs.DurationVar(&o.Window, "window", 20*time.Second, "the measured window")
	fs.IntVar(&o.ServerPID, "server-pid", 0, "the server's process id (required): its CPU time from /proc/PID/stat")
	fs.IntVar(&o.Setup, "setup", 4, "rooms connected at once")
	fs.DurationVar(&o.StepTimeout, "step-timeout", 60*time.Second, "deadline of the wait for media")
	jsonPath := fs.String("json", "", "write the report as JSON to this file")
	quiet := fs.Bool("quiet", false, "no progress lines")
	_ = fs.Parse(args)
	if err := loopback(o.Addr); err != nil {
		return err
	}
	if !*quiet {
		o.Progress = os.Stderr
	}
	rep, err := runLoad(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("senim: %d rooms 1→%d: %d video streams, %.1f pkt/s each (min %.1f), lost %d (%.4f%%), server %.3f cores, %.2f core-ms/s per stream, %.2f µs per packet (%.2f per video packet)\n",
		rep.Rooms, rep.Subscribers, rep.VideoStreams, rep.VideoPPSMean, rep.VideoPPSMin, rep.Lost, 100*rep.LossRatio,
		rep.ServerCores, rep.CPUPerStream, rep.CPUPerPacket, rep.CPUPerVideoPacket)
	if *jsonPath != "" {
		b, _ := json.MarshalIndent(rep, "", " ")
		return os.WriteFile(*jsonPath, append(b, '\n'), 0o644)
	}
	return nil
}
