package actors

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/rs/zerolog"
)

// poison makes the victim panic; it expects an answer.
type poison struct{ to *actor.PID }

func (p poison) replyTo() *actor.PID      { return p.to }
func (p poison) failed(reason string) any { return Panicked{Reason: reason} }

type ping struct{ to *actor.PID }
type pong struct{ n int }

// victim counts the pings it answered; a poison dereferences nil.
type victim struct{ pings int }

func (v *victim) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case poison:
		var p *victim
		_ = p.pings // nil dereference: a real runtime panic
	case ping:
		v.pings++
		c.Engine().Send(m.to, pong{n: v.pings})
	}
}

// collector turns messages into a channel for the test goroutine.
func collector(t *testing.T, e *actor.Engine) (*actor.PID, chan any) {
	ch := make(chan any, 64)
	pid := e.SpawnFunc(func(c *actor.Context) {
		switch c.Message().(type) {
		case actor.Initialized, actor.Started, actor.Stopped:
			return
		}
		ch <- c.Message()
	}, "collector")
	return pid, ch
}

func recv(t *testing.T, ch chan any) any {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no reply within 10s")
		return nil
	}
}

func TestPoisonedMessagesCannotCrashTheProcess(t *testing.T) {
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	me, ch := collector(t, e)
	v := e.Spawn(func() actor.Receiver { return &victim{} }, "victim", spawnOpts(zerolog.Nop(), "v1")...)
	before := PanicCount.Load()
	const n = 10 // v1.0.5 crashes the process after MaxRestarts (3) panics
	for i := 0; i < n; i++ {
		e.Send(v, poison{to: me})
		if p, ok := recv(t, ch).(Panicked); !ok || !strings.Contains(p.Reason, "nil pointer") {
			t.Fatalf("poison %d: reply %#v", i, p)
		}
		e.Send(v, ping{to: me})
		// The actor kept its state across the panic: no restart happened.
		if got := recv(t, ch).(pong).n; got != i+1 {
			t.Fatalf("after poison %d the actor answered ping #%d, want #%d (was it restarted?)", i, got, i+1)
		}
	}
	if got := PanicCount.Load() - before; got != n {
		t.Fatalf("PanicCount moved by %d, want %d", got, n)
	}
}

// Without Recover, hollywood v1.0.5 itself takes the process down once an
// actor exceeds MaxRestarts: this is the bug Recover exists for. The child
// process below runs that scenario; if this test ever fails, hollywood fixed
// the bug and the guard can be revisited.
func TestWithoutRecoverHollywoodKillsTheProcess(t *testing.T) {
	if os.Getenv("SENIM_CRASH_CHILD") == "1" {
		e, _ := actor.NewEngine(actor.NewEngineConfig())
		v := e.Spawn(func() actor.Receiver { return &victim{} }, "victim", actor.WithRestartDelay(time.Millisecond))
		for i := 0; i < 10; i++ {
			e.Send(v, poison{})
		}
		time.Sleep(5 * time.Second) // the child waits to be killed by the bug; the parent bounds it
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWithoutRecoverHollywoodKillsTheProcess$")
	cmd.Env = append(os.Environ(), "SENIM_CRASH_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the process survived MaxRestarts without Recover:\n%s", out)
	}
	if !strings.Contains(string(out), "nil pointer dereference") {
		t.Fatalf("the child died for another reason: %v\n%s", err, out)
	}
}
