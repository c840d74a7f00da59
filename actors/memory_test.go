package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/testtool"
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func live(t *testing.T, sys *System) map[string]*actor.PID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := sys.Ask(ctx, sys.Acts(), func(to *actor.PID) any { return liveActs{ReplyTo: to} })
	if err != nil {
		t.Fatal(err)
	}
	return m.(map[string]*actor.PID)
}

func askAct(t *testing.T, sys *System, build func(to *actor.PID) any) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := sys.Ask(ctx, sys.Acts(), build)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Messages for acts that are not in the log get the answer an empty act
// gave, and leave no actor behind: random ids cannot fill memory.
func TestRouterSpawnsNoActorForUnknownActs(t *testing.T) {
	sys := startSystem(t, Deps{})
	client := act.Actor{Role: act.RoleClient, ID: principalIIN, IIN: principalIIN}
	for i := 0; i < 50; i++ {
		id := newActID()
		if r := askAct(t, sys, func(to *actor.PID) any { return GetState{ActID: id, Actor: client, ReplyTo: to, Tag: "q"} }).(StateResult); r.Code != string(act.CodeForbidden) {
			t.Fatalf("state of an unknown act: %+v", r)
		}
		if r := askAct(t, sys, func(to *actor.PID) any {
			return ActCommand{ActID: id, CommandID: "c", Actor: client, Name: "request_call", ReplyTo: to}
		}).(CommandResult); r.Code != string(act.CodeNoSuchAct) {
			t.Fatalf("command to an unknown act: %+v", r)
		}
		if r := askAct(t, sys, func(to *actor.PID) any { return Subscribe{ActID: id, Actor: client, Subscriber: to} }).(SubscribeResult); r.Code != string(act.CodeForbidden) {
			t.Fatalf("subscribe to an unknown act: %+v", r)
		}
		if r := askAct(t, sys, func(to *actor.PID) any { return JoinCall{ActID: id, Actor: client, Session: to, Tag: "m"} }).(MediaOut); r.Code != string(act.CodeNoSuchAct) {
			t.Fatalf("join an unknown act: %+v", r)
		}
	}
	if n := len(live(t, sys)); n != 0 {
		t.Fatalf("%d act actors for acts that do not exist", n)
	}
	// An act in the log gets its actor; submit_application may make one.
	seedAct(t, sys, "0123456789abcdef0123456789abcdef", "aliya")
	notary := act.Actor{Role: act.RoleNotary, ID: "aliya"}
	if r := askAct(t, sys, func(to *actor.PID) any {
		return GetState{ActID: "0123456789abcdef0123456789abcdef", Actor: notary, ReplyTo: to}
	}).(StateResult); r.Code != "" {
		t.Fatalf("state of a stored act: %+v", r)
	}
	fresh := newActID()
	askAct(t, sys, func(to *actor.PID) any {
		return ActCommand{ActID: fresh, CommandID: "s", Actor: client, Name: "submit_application", Body: json.RawMessage(`{}`), ReplyTo: to}
	})
	if got := live(t, sys); len(got) != 2 || got[fresh] == nil {
		t.Fatalf("live acts %v, want the stored one and the one being submitted", got)
	}
}

// eventSink is a subscriber that keeps the events it gets.
type eventSink struct {
	mu         sync.Mutex
	seqs       []uint64
	subscribed []SubscribeResult
}

func (k *eventSink) Receive(c *actor.Context) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch m := c.Message().(type) {
	case ActEvents:
		k.keep(&m)
	case SubscribeResult:
		k.subscribed = append(k.subscribed, m)
		k.keep(m.events) // what it missed
	case CommandResult:
		k.keep(m.events) // its own command's
	}
}

func (k *eventSink) keep(m *ActEvents) {
	if m == nil {
		return
	}
	for _, r := range m.Records {
		k.seqs = append(k.seqs, r.Seq)
	}
}

func (k *eventSink) got() []uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]uint64(nil), k.seqs...)
}

// An idle act is passivated and rebuilt by its next message; its
// subscriber, parked with the router meanwhile, gets every event after,
// with no gap and no repeat, and a retried command is still recognised.
// A passivation the router asked for is called off when a message went
// to the act in between.
func TestActPassivation(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	sys := startSystem(t, Deps{Now: clock.Now, ActIdleAfter: time.Minute})
	const id = "00112233445566778899aabbccddeeff"
	seedAct(t, sys, id, "aliya") // seq 1..5
	notary := act.Actor{Role: act.RoleNotary, ID: "aliya"}
	k := &eventSink{}
	sub := sys.Engine.Spawn(func() actor.Receiver { return k }, "sink")
	sys.Engine.Send(sys.Acts(), Subscribe{ActID: id, FromSeq: 5, Actor: notary, Subscriber: sub})
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		k.mu.Lock()
		defer k.mu.Unlock()
		if len(k.subscribed) != 1 || k.subscribed[0].Code != "" {
			return fmt.Errorf("subscribed: %+v", k.subscribed)
		}
		return nil
	})
	check := func(cid, what string) CommandResult {
		t.Helper()
		return askAct(t, sys, func(to *actor.PID) any {
			return ActCommand{ActID: id, CommandID: cid, Actor: notary, Name: "record_check",
				Body: json.RawMessage(`{"check":"` + what + `","passed":true}`), ReplyTo: to}
		}).(CommandResult)
	}
	if r := check("c1", "document_shown"); r.Code != "" || r.Seq != 6 {
		t.Fatalf("first check: %+v", r)
	}
	first := live(t, sys)[id]

	// A passivation answer that is stale (a message was forwarded since the
	// router asked) leaves the act alone.
	sys.Engine.Send(sys.Acts(), passivateReady{ActID: id, PID: first, Sent: 0})
	if got := live(t, sys)[id]; got == nil || !got.Equals(first) {
		t.Fatal("a stale passivation stopped the act")
	}
	// Not idle yet: the sweep keeps it.
	sys.Engine.Send(sys.Acts(), sweepIdle{})
	if live(t, sys)[id] == nil {
		t.Fatal("an act in use was passivated")
	}
	clock.add(2 * time.Minute)
	sys.Engine.Send(sys.Acts(), sweepIdle{})
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		if live(t, sys)[id] != nil {
			return fmt.Errorf("the idle act is still live")
		}
		if sys.Engine.Registry.GetPID("acts/router/act", first.ID[len("acts/router/act/"):]) != nil {
			return fmt.Errorf("its actor is still registered")
		}
		return nil
	})

	// The retry of c1 is known to the rebuilt act; c2 is new, and the
	// parked subscriber gets its event.
	if r := check("c1", "document_shown"); !r.Duplicate || r.Seq != 6 {
		t.Fatalf("retry after passivation: %+v", r)
	}
	if got := live(t, sys)[id]; got == nil || got.Equals(first) {
		t.Fatalf("not rebuilt as a new actor: %v", got)
	}
	if r := check("c2", "legal_capacity"); r.Code != "" || r.Seq != 7 {
		t.Fatalf("check after passivation: %+v", r)
	}
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		if got := k.got(); fmt.Sprint(got) != "[6 7]" {
			return fmt.Errorf("subscriber got %v, want [6 7]", got)
		}
		return nil
	})

	// Unsubscribed while passivated: the next incarnation does not publish
	// to it.
	clock.add(2 * time.Minute)
	sys.Engine.Send(sys.Acts(), sweepIdle{})
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		if live(t, sys)[id] != nil {
			return fmt.Errorf("the idle act is still live")
		}
		return nil
	})
	sys.Engine.Send(sys.Acts(), Unsubscribe{ActID: id, Subscriber: sub})
	if r := check("c3", "rights_explained"); r.Code != "" || r.Seq != 8 {
		t.Fatalf("third check: %+v", r)
	}
	// The answer to a later request proves the act handled c3's publish.
	askAct(t, sys, func(to *actor.PID) any { return GetState{ActID: id, Actor: notary, ReplyTo: to} })
	if got := k.got(); fmt.Sprint(got) != "[6 7]" {
		t.Fatalf("an unsubscribed subscriber got %v", got)
	}
}
