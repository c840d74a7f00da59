package turn

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/internal/testtool"
)

// The TURN server's cost against coturn's, side by side in one run:
// coturn's turnutils_uclient relays 170-byte messages between pairs of
// clients through each server in turn, and the server's process CPU is
// divided by the messages relayed. Three rounds, each server once per
// round, the order alternating. A measurement, not a check: it runs with
// SENIM_TURN_COST=1 (and coturn installed) and prints the figures.
//
//	SENIM_TURN_COST=1 go test -count=1 -run TestTURNCostAgainstCoturn -v ./media/turn/
//
// SENIM_TURN_COST_BEFORE=1 measures, in each round, our server without
// its relay engine too (pion reading every socket), for a before/after.
// SENIM_TURN_COST_ARGS changes uclient's load (default "-m 40 -n 1500 -z 5":
// 40 clients, 20 pairs, 1500 messages each, one per 5 ms each).
func TestTURNCostAgainstCoturn(t *testing.T) {
	if os.Getenv("SENIM_TURN_COST") == "" {
		t.Skip("a measurement: set SENIM_TURN_COST=1")
	}
	before := os.Getenv("SENIM_TURN_COST_BEFORE") != ""
	var ratios, beforeRatios []float64
	for round := 1; round <= 3; round++ {
		var c, s, p cost
		if round%2 == 1 {
			c, s = costCoturn(t), costOurs(t, false)
			if before {
				p = costOurs(t, true)
			}
		} else {
			if before {
				p = costOurs(t, true)
			}
			s, c = costOurs(t, false), costCoturn(t)
		}
		t.Logf("round %d coturn %s", round, c)
		t.Logf("round %d senim  %s", round, s)
		ratios = append(ratios, s.perMessage()/c.perMessage())
		if before {
			t.Logf("round %d pion   %s", round, p)
			beforeRatios = append(beforeRatios, p.perMessage()/c.perMessage())
		}
	}
	sort.Float64s(ratios)
	t.Logf("senim / coturn CPU per relayed message: min %.2f median %.2f max %.2f", ratios[0], ratios[1], ratios[2])
	if before {
		sort.Float64s(beforeRatios)
		t.Logf("before (pion reads every socket) / coturn: min %.2f median %.2f max %.2f", beforeRatios[0], beforeRatios[1], beforeRatios[2])
	}
}

// TestTURNCostProfile runs our server alone under the same load and
// writes a CPU profile to SENIM_TURN_PROFILE.
func TestTURNCostProfile(t *testing.T) {
	if os.Getenv("SENIM_TURN_PROFILE") == "" {
		t.Skip("set SENIM_TURN_PROFILE=FILE")
	}
	t.Logf("senim %s", costOurs(t, os.Getenv("SENIM_TURN_COST_BEFORE") != ""))
}

const costSecret = "bench-secret"

type cost struct {
	cpu, user  time.Duration
	switches   int64 // context switches of the server's threads
	sent, recv int
}

func (c cost) perMessage() float64 { return float64(c.cpu.Nanoseconds()) / 1e3 / float64(c.recv) }

func (c cost) String() string {
	return fmt.Sprintf("cpu %v (user %v), sent %d, received %d (loss %.2f%%), %.2f µs and %.2f context switches per relayed message",
		c.cpu.Round(time.Millisecond), c.user.Round(time.Millisecond), c.sent, c.recv, 100*float64(c.sent-c.recv)/float64(c.sent),
		c.perMessage(), float64(c.switches)/float64(c.recv))
}

// uclientLoad runs turnutils_uclient against a server on port.
func uclientLoad(t *testing.T, port int) (sent, recv int) {
	t.Helper()
	uc := testtool.RequireTool(t, "turnutils_uclient", "coturn")
	load := strings.Fields("-m 40 -n 1500 -z 5")
	if a := os.Getenv("SENIM_TURN_COST_ARGS"); a != "" {
		load = strings.Fields(a)
	}
	args := append([]string{"-y", "-c", "-l", "170", "-W", costSecret, "-u", "bench", "-p", strconv.Itoa(port)}, load...)
	b, err := exec.Command(uc, append(args, "127.0.0.1")...).CombinedOutput()
	for _, line := range strings.Split(string(b), "\n") {
		if m := received.FindStringSubmatch(line); m != nil {
			sent, _ = strconv.Atoi(m[1])
			recv, _ = strconv.Atoi(m[2])
		}
	}
	if err != nil || sent == 0 {
		t.Fatalf("uclient: sent %d received %d: %v\n%s", sent, recv, err, b)
	}
	return sent, recv
}

// costOurs measures our server, in this process (nothing else runs in it
// meanwhile), with the configuration's defaults but no per-user quota:
// uclient's clients are all one user.
// SENIM_TURN_COST_SOCKETS sets turn.udp_sockets (default 0: one per relay
// engine, one per CPU without them).
// plain leaves the UDP sockets to pion, without the relay engine (the
// "before" of SENIM_TURN_COST_BEFORE=1).
func costOurs(t *testing.T, plain bool) cost {
	sockets, _ := strconv.Atoi(os.Getenv("SENIM_TURN_COST_SOCKETS"))
	s, err := Start(Config{Addr: "127.0.0.1:0", RelayIP: "127.0.0.1", Realm: "senim", Secret: costSecret, AllowLoopback: true,
		ReadBuffer: 4 << 20, UDPSockets: sockets, PionUDP: plain}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p := os.Getenv("SENIM_TURN_PROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		_ = pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	cpu0, user0 := selfCPU()
	sw0 := switches(os.Getpid())
	sent, recv := uclientLoad(t, s.Port())
	cpu1, user1 := selfCPU()
	if fast, slow := s.engines.relayed(); fast+slow > 0 {
		t.Logf("relay engine: %d datagrams relayed, %d handed to pion", fast, slow)
	}
	return cost{cpu: cpu1 - cpu0, user: user1 - user0, switches: switches(os.Getpid()) - sw0, sent: sent, recv: recv}
}

// costCoturn measures coturn's turnserver with its defaults (a relay
// thread per CPU), loopback peers allowed, the same REST secret.
func costCoturn(t *testing.T) cost {
	bin := testtool.RequireTool(t, "turnserver", "coturn")
	port := freePort(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "-n", "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1", "--listening-port", strconv.Itoa(port),
		"--use-auth-secret", "--static-auth-secret", costSecret, "--realm", "senim", "--no-tls", "--no-dtls", "--no-cli",
		"--allow-loopback-peers", "--log-file", filepath.Join(dir, "turn.log"), "--pidfile", filepath.Join(dir, "turn.pid"),
		"--userdb", filepath.Join(dir, "turndb"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	testtool.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
		}
		return err
	})
	cpu0, user0 := procCPU(t, cmd.Process.Pid)
	sw0 := switches(cmd.Process.Pid)
	sent, recv := uclientLoad(t, port)
	cpu1, user1 := procCPU(t, cmd.Process.Pid)
	return cost{cpu: cpu1 - cpu0, user: user1 - user0, switches: switches(cmd.Process.Pid) - sw0, sent: sent, recv: recv}
}

// selfCPU is this process's CPU so far, and the user part of it.
func selfCPU() (all, user time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Utime.Nano())
}

var statFields = regexp.MustCompile(`\) \S+ (.*)$`)

// procCPU is another process's user and system CPU so far (all its
// threads), and the user part, from /proc/<pid>/stat in clock ticks (100
// a second).
func procCPU(t *testing.T, pid int) (all, user time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := statFields.FindStringSubmatch(strings.TrimSpace(string(b)))
	if m == nil {
		t.Fatalf("stat %q", b)
	}
	f := strings.Fields(m[1])
	// After the state: ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime.
	ut, _ := strconv.ParseInt(f[10], 10, 64)
	st, _ := strconv.ParseInt(f[11], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, time.Duration(ut) * 10 * time.Millisecond
}

// switches counts the context switches, voluntary or not, of a process's
// threads so far (those that still run: the servers' are long-lived).
func switches(pid int) int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	var n int64
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				x, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += x
			}
		}
	}
	return n
}

// freePort is a port free for UDP and TCP on loopback, for coturn.
func freePort(t *testing.T) int {
	for i := 0; i < 32; i++ {
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", u.LocalAddr().String())
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}
