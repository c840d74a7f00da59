package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/pki/devca"
)

// idleSessionBound is what one idle signed-in session may hold in the
// server, live heap and goroutine stacks together, measured in process
// after a collection (TestIdleSessionMemory). Measured about 11 KiB
// (2026-11, go1.26): one reader goroutine (4 KiB stack), the websocket
// (1.7 KiB, its 512-byte write buffer included), the session actor and its
// hollywood process (1.7 KiB), the sign-in certificate's DER (1 KiB), the
// socket. The process's RSS per session is about half as much again: the
// collector's headroom (config: runtime.gogc, runtime.memory_limit).
const idleSessionBound = 16 << 10

// TestIdleSessionMemory opens idle signed-in sessions and holds what one
// costs the server to idleSessionBound. The sessions are opened by a child
// process (this test binary again), so the figure is the server's alone:
// its live heap and stacks, after a collection, before and after (300
// sessions; SENIM_MEM_SESSIONS for more, SENIM_MEM_PROFILE=file for a heap
// profile with every allocation). Against a running server
// (SENIM_MEM_URL=ws://…/ws, SENIM_MEM_DATA=its data_dir, SENIM_MEM_PID=its
// process) it reports the server's RSS per session instead; see README.
func TestIdleSessionMemory(t *testing.T) {
	if os.Getenv("SENIM_MEM_CHILD_URL") != "" {
		t.Skip("the child's test is TestIdleSessionMemoryChild")
	}
	n := 300
	if v, err := strconv.Atoi(os.Getenv("SENIM_MEM_SESSIONS")); err == nil && v > 0 {
		n = v
	}
	if url := os.Getenv("SENIM_MEM_URL"); url != "" {
		externalSessionMemory(t, url, n)
		return
	}
	if os.Getenv("SENIM_MEM_PROFILE") != "" {
		runtime.MemProfileRate = 1
	}
	w := newWorld(t, func(c *config.Config) { c.Limits.MaxConns, c.Limits.MaxConnsPerIP = n+10, n+10 }) // every session comes from 127.0.0.1
	before := heapAndStacks()
	goroutines := runtime.NumGoroutine()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleSessionMemoryChild$", "-test.timeout=30m")
	cmd.Env = append(os.Environ(), "SENIM_MEM_CHILD_URL="+w.url, "SENIM_MEM_CHILD_DATA="+w.dir, "SENIM_MEM_SESSIONS="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	hold, err := cmd.StdinPipe() // the child holds its sessions until this closes
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hold.Close(); _ = cmd.Wait() })
	lines := bufio.NewScanner(out)
	ready := false
	for !ready && lines.Scan() {
		ready = lines.Text() == "sessions open"
	}
	if !ready {
		t.Fatal("the child did not open its sessions")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if got := w.srv.Gateway.Conns(); got != int64(n) {
		t.Fatalf("%d connections, want %d", got, n)
	}
	// Every session has welcomed its client: the child saw each welcome.
	after := heapAndStacks()
	if path := os.Getenv("SENIM_MEM_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		_ = pprof.WriteHeapProfile(f)
		f.Close()
	}
	per := (float64(after) - float64(before)) / float64(n)
	perG := float64(runtime.NumGoroutine()-goroutines) / float64(n)
	t.Logf("%d idle signed-in sessions: %.1f KiB each in the server (live heap and stacks), %.2f goroutines each", n, per/1024, perG)
	if per > idleSessionBound {
		t.Errorf("an idle session holds %.1f KiB of the server's memory, want at most %d KiB (idleSessionBound)", per/1024, idleSessionBound>>10)
	}
	// One goroutine, the reader (a few more may be finishing their work
	// for the last sign-ins).
	if perG > 1.05 {
		t.Errorf("an idle session holds %.2f goroutines, want 1 (its reader)", perG)
	}
}

// TestIdleSessionMemoryChild is TestIdleSessionMemory's other process: it
// signs SENIM_MEM_SESSIONS sessions in at SENIM_MEM_CHILD_URL, says so, and
// holds them until its stdin closes.
func TestIdleSessionMemoryChild(t *testing.T) {
	url := os.Getenv("SENIM_MEM_CHILD_URL")
	if url == "" {
		t.Skip("run by TestIdleSessionMemory")
	}
	n, _ := strconv.Atoi(os.Getenv("SENIM_MEM_SESSIONS"))
	ca, err := devca.Open(filepath.Join(os.Getenv("SENIM_MEM_CHILD_DATA"), "devca"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := ca.IssuePair(devca.Request{IIN: iin.IIN(clientIIN), Surname: "Сейтқали", Name: "Әйгерім"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	clients := openIdle(t, url, client.KeySigner{p.Auth, p.Sign}, n)
	fmt.Println("sessions open")
	_, _ = io.Copy(io.Discard, os.Stdin)
	runtime.KeepAlive(clients)
}

// openIdle signs n sessions in as the client and leaves them idle.
func openIdle(t *testing.T, url string, s client.KeySigner, n int) []*client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	t.Cleanup(cancel)
	out := make([]*client.Client, 0, n)
	for i := 0; i < n; i++ {
		c, err := client.Dial(ctx, url, client.Options{Buffer: 1})
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		t.Cleanup(func() { c.CloseNow() })
		if _, err := c.SignInEDS(ctx, "client", s); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		out = append(out, c)
	}
	return out
}

func heapAndStacks() uint64 {
	var m runtime.MemStats
	for i := 0; i < 2; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

func externalSessionMemory(t *testing.T, url string, n int) {
	ca, err := devca.Open(filepath.Join(os.Getenv("SENIM_MEM_DATA"), "devca"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := ca.IssuePair(devca.Request{IIN: iin.IIN(clientIIN), Surname: "Сейтқали", Name: "Әйгерім"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getenv("SENIM_MEM_PID")
	before := rssKB(t, pid)
	clients := openIdle(t, url, client.KeySigner{p.Auth, p.Sign}, n)
	// Let the server's GC catch up without sleeping on a guess: sample RSS
	// a few times and keep the lowest.
	after := rssKB(t, pid)
	for i := 0; i < 10; i++ {
		time.Sleep(time.Second) // a measuring pause, not a wait for an event
		if v := rssKB(t, pid); v < after {
			after = v
		}
	}
	t.Logf("server RSS %d KB → %d KB with %d idle signed-in sessions: %.1f KB per session",
		before, after, n, float64(after-before)/float64(n))
	runtime.KeepAlive(clients)
}

func rssKB(t *testing.T, pid string) int64 {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
