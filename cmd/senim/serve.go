package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/transport/server"
)

func cmdServe(args []string) error {
	fs := flag.NewFlagSet("senim serve", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	dev := fs.Bool("dev", false, "allow development settings (dev CA, bank stand-in, …) on a non-loopback http.addr")
	pprofAddr := fs.String("pprof", "", "serve Go's profiles (/debug/pprof/) on this loopback HOST:PORT, for profiling under load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if err := productionSafe(cfg, *dev); err != nil {
		return err
	}
	log := newLogger(cfg.Log, os.Stderr)
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr, log); err != nil {
			return err
		}
	}
	if on := cfg.DevSettings(); len(on) > 0 && !config.IsLoopbackAddr(cfg.HTTP.Addr) {
		log.Warn().Strs("dev_settings", on).Msg("--dev: development settings on a public address")
	}
	srv, err := server.New(cfg, log, server.Options{})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-srv.Err():
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Close(sctx)
}

// productionSafe refuses a start that would put a development setting (the
// development CA, the bank stand-in, loopback-only media …) in front of
// other machines: on a non-loopback http.addr, every one must be off unless
// the operator says --dev. On loopback nothing else can reach them.
func productionSafe(cfg config.Config, dev bool) error {
	on := cfg.DevSettings()
	if dev || len(on) == 0 || config.IsLoopbackAddr(cfg.HTTP.Addr) {
		return nil
	}
	return &exitError{code: 2, msg: fmt.Sprintf("refusing to serve on %s (not loopback) with development settings on:\n  - %s\n"+
		"turn each off, listen on 127.0.0.1, or start with --dev to run a development server on purpose",
		cfg.HTTP.Addr, strings.Join(on, "\n  - "))}
}

// servePprof serves net/http/pprof's handlers on their own loopback
// listener, never on http.addr: profiles show the server's code paths and
// may hold request data.
func servePprof(addr string, log zerolog.Logger) error {
	if !config.IsLoopbackAddr(addr) {
		return &exitError{code: 2, msg: fmt.Sprintf("--pprof %s: only a loopback address (127.0.0.1:PORT)", addr)}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info().Str("addr", ln.Addr().String()).Msg("profiles at /debug/pprof/")
	go func() {
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		if err := srv.Serve(ln); err != nil {
			log.Warn().Err(err).Msg("pprof listener stopped")
		}
	}()
	return nil
}
