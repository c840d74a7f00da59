package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
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
	applyRuntime(cfg.Runtime, log)
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

// applyRuntime sets the garbage collector's target and memory limit from
// the configuration (config.Runtime).
func applyRuntime(r config.Runtime, log zerolog.Logger) {
	debug.SetGCPercent(r.GOGC)
	limit, ok := r.MemoryLimitBytes(availableMemory())
	if !ok {
		limit = math.MaxInt64 // Go's "no limit"
	}
	debug.SetMemoryLimit(limit)
	log.Info().Int("gogc", r.GOGC).Str("memory_limit", r.MemoryLimit).Int64("memory_limit_bytes", limit).Msg("garbage collector")
}

// availableMemory is the memory this process may use: its cgroup's limit
// (v2, else v1) where one is set, else the machine's RAM; 0 if unknown.
func availableMemory() int64 {
	ram := memTotal()
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && (ram == 0 || n < ram) { // "max", or v1's huge "unlimited", are no limit
			return n
		}
	}
	return ram
}

// memTotal is the machine's RAM from /proc/meminfo; 0 if unknown.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
