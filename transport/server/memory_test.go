package server_test

import (
	"bufio"
	"context"
	"os"
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

// TestIdleSessionMemory opens idle signed-in sessions and reports what one
// costs. In process (the default, 300 sessions; SENIM_MEM_SESSIONS for
// more) the figure includes the test's own client side, so it is an upper
// bound on the server's, held to a coarse limit. Against a running server
// (SENIM_MEM_URL=ws://…/ws, SENIM_MEM_DATA=its data_dir, SENIM_MEM_PID=its
// process) it reports the server's RSS per session alone; see README.
func TestIdleSessionMemory(t *testing.T) {
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
	clients := openIdle(t, w.url, w.client, n)
	after := heapAndStacks()
	if path := os.Getenv("SENIM_MEM_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		_ = pprof.WriteHeapProfile(f)
		f.Close()
	}
	per := float64(after-before) / float64(n)
	t.Logf("%d idle signed-in sessions: %.1f KB each (heap+stacks, server and client side), %.2f goroutines each",
		n, per/1024, float64(runtime.NumGoroutine()-goroutines)/float64(n))
	if per > 60<<10 {
		t.Errorf("an idle session costs %.0f KB with its client, want under 60 KB", per/1024)
	}
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
