package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/protocol"
)

// frames is a Conn that keeps what the session sends, and how: each call
// of Send or SendAll is a batch (its frames' types).
type frames struct {
	mu      sync.Mutex
	got     []protocol.Envelope
	batches [][]string
}

func (f *frames) Send(b []byte) bool {
	one := [1][]byte{b}
	return f.SendAll(one[:])
}

func (f *frames) SendAll(bs [][]byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	var batch []string
	for _, b := range bs {
		var e protocol.Envelope
		_ = json.Unmarshal(b, &e)
		f.got = append(f.got, e)
		batch = append(batch, e.Type+" "+e.Name)
	}
	f.batches = append(f.batches, batch)
	return true
}

func (f *frames) Close(string) {}

func (f *frames) byID() map[string]protocol.Envelope {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]protocol.Envelope{}
	for _, e := range f.got {
		if e.ID != "" {
			out[e.ID] = e
		}
	}
	return out
}

// startSystem runs the actors on a fresh event log; deps.Log, Rules and
// Logger are filled in.
func startSystem(t *testing.T, deps Deps) *System {
	t.Helper()
	l, err := eventlog.Open(filepath.Join(t.TempDir(), "log"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	deps.Log, deps.Rules, deps.Logger = l, act.DefaultRules(), zerolog.Nop()
	sys, err := Start(deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	return sys
}

// testSession is a session actor fed frames directly, signed in as notary aliya.
type testSession struct {
	t    *testing.T
	sys  *System
	pid  *actor.PID
	conn *frames
}

func notarySession(t *testing.T, sys *System, limits SessionLimits) *testSession {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notaries.json")
	if err := accounts.Add(path, accounts.Notary{Login: "aliya", Name: "Алия", IIN: "871008401427"}, "aliya-password", time.Now()); err != nil {
		t.Fatal(err)
	}
	store, err := accounts.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	conn := &frames{}
	s := &testSession{t: t, sys: sys, conn: conn, pid: SpawnSession(SessionDeps{Sys: sys, Accounts: store, Limits: limits}, conn)}
	s.send(`{"type":"signin","id":"s","body":{"method":"password","login":"aliya","password":"aliya-password"}}`)
	if e := s.answer("s"); e.Type != protocol.TypeWelcome {
		t.Fatalf("sign-in: %+v", e)
	}
	return s
}

func (s *testSession) send(frame string) { s.sys.Engine.Send(s.pid, Inbound{Frame: []byte(frame)}) }

// answer waits for the answer to a request id.
func (s *testSession) answer(id string) protocol.Envelope {
	s.t.Helper()
	var e protocol.Envelope
	testtool.Eventually(s.t, 20*time.Second, 10*time.Millisecond, func() error {
		var ok bool
		if e, ok = s.conn.byID()[id]; !ok {
			return fmt.Errorf("no answer to %s yet", id)
		}
		return nil
	})
	return e
}

// answered reports whether id has an answer now.
func (s *testSession) answered(id string) bool {
	_, ok := s.conn.byID()[id]
	return ok
}

// hold is an acts router that keeps every message and answers none until
// released, so a request stays in flight for as long as a test needs.
type hold struct{ got chan any }

func (h *hold) Receive(c *actor.Context) {
	switch c.Message().(type) {
	case actor.Started, actor.Stopped, actor.Initialized:
	default:
		h.got <- c.Message()
	}
}

// A connection may have at most MaxInFlight requests awaiting an answer;
// one more is refused with overloaded, and once an answer comes back the
// connection may ask again.
func TestSessionInFlightLimit(t *testing.T) {
	sys := startSystem(t, Deps{})
	h := &hold{got: make(chan any, 16)}
	sys.router = sys.Engine.Spawn(func() actor.Receiver { return h }, "hold")
	s := notarySession(t, sys, SessionLimits{MaxInFlight: 2, RatePerSecond: 1000, Burst: 1000})
	send, answer := s.send, s.answer
	for _, id := range []string{"a", "b", "c"} {
		send(`{"type":"query","id":"` + id + `","act":"x","name":"act"}`)
	}
	if e := answer("c"); e.Code != protocol.CodeOverloaded {
		t.Fatalf("third request: %+v", e)
	}
	if s.answered("a") {
		t.Fatal("a held request was answered")
	}
	held := func() GetState {
		t.Helper()
		select {
		case m := <-h.got:
			return m.(GetState)
		case <-time.After(20 * time.Second):
			t.Fatal("the router got nothing")
			return GetState{}
		}
	}
	// The router answers a; a new request fits again.
	first := held()
	sys.Engine.Send(first.ReplyTo, StateResult{Tag: first.Tag, Code: string(act.CodeNoSuchAct), Message: "no such act"})
	if e := answer(first.Tag); e.Code != string(act.CodeNoSuchAct) {
		t.Fatalf("answer to %s: %+v", first.Tag, e)
	}
	send(`{"type":"query","id":"d","act":"x","name":"act"}`)
	if g := held(); g.Tag != "b" {
		t.Fatalf("second held request is %q", g.Tag)
	}
	if g := held(); g.Tag != "d" {
		t.Fatalf("request after the answer is %q, want d", g.Tag)
	}
}

// heldRegistry answers a look-up only when released.
type heldRegistry struct{ release chan struct{} }

func (h heldRegistry) Lookup(ctx context.Context, id string) (registry.Person, error) {
	select {
	case <-h.release:
		return registry.Person{IIN: id, Surname: "Омаров", Name: "Ерлан"}, nil
	case <-ctx.Done():
		return registry.Person{}, registry.ErrUnavailable
	}
}

// A slow individuals registry does not stall the notary's session: other
// requests are answered while a look-up waits, and the look-up is answered,
// and recorded in the act, once the registry is.
func TestRegistryLookupDoesNotBlockTheSession(t *testing.T) {
	reg := heldRegistry{release: make(chan struct{})}
	sys := startSystem(t, Deps{Registry: reg})
	seedAct(t, sys, "act-1", "aliya")
	s := notarySession(t, sys, DefaultSessionLimits())
	send, answer := s.send, s.answer
	send(`{"type":"query","id":"lookup","act":"act-1","name":"registry_lookup","body":{"iin":"760212350620"}}`)
	send(`{"type":"query","id":"other","name":"register"}`)
	if e := answer("other"); e.Type != protocol.TypeResult {
		t.Fatalf("the other query: %+v", e)
	}
	if s.answered("lookup") {
		t.Fatal("the held look-up was answered")
	}
	if got, _ := registryChecks(t, sys, "act-1"); len(got) != 0 {
		t.Fatalf("recorded before the registry answered: %+v", got)
	}
	close(reg.release)
	if e := answer("lookup"); e.Type != protocol.TypeResult || !strings.Contains(string(e.Body), "Омаров") {
		t.Fatalf("look-up: %+v", e)
	}
	if got, _ := registryChecks(t, sys, "act-1"); len(got) != 1 || got[0].IIN != "760212350620" || !got[0].Found {
		t.Fatalf("recorded %+v", got)
	}
}
