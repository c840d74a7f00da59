package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/internal/procs"
	"github.com/senim-kz/senim/metrics"
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
	applyRuntime(cfg.Runtime, log)
	procsCtx, stopProcs := context.WithCancel(context.Background())
	defer stopProcs()
	applyProcs(procsCtx, cfg.Runtime.Procs, log)
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

// applyProcs sets the runtime's processors from runtime.procs: a fixed
// number, the runtime's own ("all"), or, "adaptive", a controller that
// follows the load until ctx is done (internal/procs).
func applyProcs(ctx context.Context, spec string, log zerolog.Logger) {
	adaptive, n, _ := config.ParseProcs(spec) // validated with the configuration
	last := runtime.GOMAXPROCS(0)
	procs.Start(ctx, adaptive, n, func(n int, w procs.Window) {
		if n != last {
			metrics.RuntimeProcsChanges.Inc()
			last = n
		}
		log.Debug().Int("procs", n).Float64("busy_cores", w.Busy).Bool("long_wait", w.Waited).Bool("held", w.Held).Msg("processors")
	})
	log.Info().Str("runtime_procs", spec).Int("procs", runtime.GOMAXPROCS(0)).Msg("processors")
}

// availableMemory is the memory this process may use: its cgroup's limit
// (v2 memory.max, or v1 memory.limit_in_bytes, of the process's own
// cgroup, e.g. a systemd unit's MemoryMax or a container's) where one is
// set and below the machine's RAM, else the RAM; 0 if unknown.
func availableMemory() int64 {
	avail := memTotal()
	self, _ := os.ReadFile("/proc/self/cgroup")
	for _, f := range cgroupLimitFiles(string(self)) {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && (avail == 0 || n < avail) { // "max", or v1's huge "unlimited", are no limit
			avail = n
		}
	}
	return avail
}

// cgroupLimitFiles are the files that may hold the memory limit of the
// process whose /proc/self/cgroup says self: those of the cgroup roots as
// mounted (a container's own), then those of its cgroup.
func cgroupLimitFiles(self string) []string {
	files := []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}
	for _, line := range strings.Split(self, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") || strings.Contains(parts[2], "..") {
			continue
		}
		dir := strings.TrimSuffix(parts[2], "/")
		switch {
		case dir == "":
			// the root: already listed
		case parts[0] == "0" && parts[1] == "":
			files = append(files, "/sys/fs/cgroup"+dir+"/memory.max")
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			files = append(files, "/sys/fs/cgroup/memory"+dir+"/memory.limit_in_bytes")
		}
	}
	return files
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
