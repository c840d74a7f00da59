package actors

import (
	"context"
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
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/transport/protocol"
)

// closing is a Conn that keeps frames and the close reason.
type closing struct {
	frames
	mu     sync.Mutex
	reason *string
}

func (c *closing) Close(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == nil {
		c.reason = &reason
	}
}

func (c *closing) closedWith(t *testing.T) string {
	t.Helper()
	var r string
	testtool.Eventually(t, 20*time.Second, 5*time.Millisecond, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.reason == nil {
			return fmt.Errorf("not closed")
		}
		r = *c.reason
		return nil
	})
	return r
}

// A connection that does not sign in within SigninTimeout is closed with
// signin_timeout; a session older than MaxAge with reauthenticate.
func TestSessionTimers(t *testing.T) {
	sys := startSystem(t, Deps{})
	t.Run("signin deadline", func(t *testing.T) {
		conn := &closing{}
		SpawnSession(SessionDeps{Sys: sys, Limits: SessionLimits{MaxInFlight: 8, RatePerSecond: 50, Burst: 100, SigninTimeout: 20 * time.Millisecond}}, conn)
		if r := conn.closedWith(t); !strings.HasPrefix(r, protocol.CodeSigninTimeout+": ") {
			t.Fatalf("closed with %q", r)
		}
	})
	t.Run("max age", func(t *testing.T) {
		conn := &closing{}
		pid := SpawnSession(SessionDeps{Sys: sys, Accounts: aliyaStore(t), Limits: SessionLimits{MaxInFlight: 8, RatePerSecond: 50, Burst: 100, MaxAge: 200 * time.Millisecond}}, conn)
		sys.Engine.Send(pid, Inbound{Frame: []byte(`{"type":"signin","id":"s","body":{"method":"password","login":"aliya","password":"aliya-password"}}`)})
		if r := conn.closedWith(t); !strings.HasPrefix(r, protocol.CodeReauthenticate+": ") {
			t.Fatalf("closed with %q", r)
		}
	})
}

func aliyaStore(t *testing.T) *accounts.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notaries.json")
	if err := accounts.Add(path, accounts.Notary{Login: "aliya", Name: "Алия", IIN: "871008401427"}, "aliya-password", time.Now()); err != nil {
		t.Fatal(err)
	}
	store, err := accounts.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// An error never echoes an id or act longer than the schema allows.
func TestErrorDoesNotEchoALongID(t *testing.T) {
	sys := startSystem(t, Deps{})
	s := notarySession(t, sys, DefaultSessionLimits())
	long := strings.Repeat("x", 100<<10)
	s.send(`{"type":"query","id":"` + long + `","act":"` + long + `","name":"act"}`)
	s.send(`{"type":"query","id":"after","name":"nope"}`)
	s.answer("after")
	s.conn.mu.Lock()
	defer s.conn.mu.Unlock()
	for _, e := range s.conn.got {
		if len(e.ID) > 64 || len(e.Act) > 64 {
			t.Fatalf("a %s frame echoes %d and %d characters", e.Type, len(e.ID), len(e.Act))
		}
	}
}

// A second subscribe to an act while the first is in flight is refused,
// and the first's answer frees its in-flight slot: none leaks.
func TestSecondSubscribeDoesNotLeak(t *testing.T) {
	sys := startSystem(t, Deps{})
	h := &hold{got: make(chan any, 16)}
	sys.router = sys.Engine.Spawn(func() actor.Receiver { return h }, "hold")
	s := notarySession(t, sys, SessionLimits{MaxInFlight: 2, RatePerSecond: 1000, Burst: 1000})
	held := func() any {
		t.Helper()
		select {
		case m := <-h.got:
			return m
		case <-time.After(20 * time.Second):
			t.Fatal("the router got nothing")
			return nil
		}
	}
	s.send(`{"type":"subscribe","id":"s1","act":"a","seq":0}`)
	sub := held().(Subscribe)
	s.send(`{"type":"subscribe","id":"s2","act":"a","seq":0}`)
	if e := s.answer("s2"); e.Code != protocol.CodeBadMessage {
		t.Fatalf("second subscribe: %+v", e)
	}
	sys.Engine.Send(sub.Subscriber, SubscribeResult{ActID: "a"})
	if e := s.answer("s1"); e.Type != protocol.TypeSubscribed {
		t.Fatalf("first subscribe: %+v", e)
	}
	// Both slots are free again: two queries reach the router.
	s.send(`{"type":"query","id":"q1","act":"x","name":"act"}`)
	s.send(`{"type":"query","id":"q2","act":"x","name":"act"}`)
	for _, want := range []string{"q1", "q2"} {
		if g, ok := held().(GetState); !ok || g.Tag != want {
			t.Fatalf("router got %+v, want the query %s", g, want)
		}
	}
}

// A notary may decline only a call offered to them.
func TestDeclineOfAnUnofferedCall(t *testing.T) {
	sys := startSystem(t, Deps{})
	s := notarySession(t, sys, DefaultSessionLimits())
	s.send(`{"type":"operator","id":"d","name":"decline","act":"0123456789abcdef0123456789abcdef"}`)
	if e := s.answer("d"); e.Code != protocol.CodeNotOffered {
		t.Fatalf("decline: %+v", e)
	}
}

// Every session of a notary loses an offer once it is accepted: a second
// tab must not keep showing a call that is taken (or later cancelled).
func TestOfferGoneInEverySessionOfTheNotary(t *testing.T) {
	sys := startSystem(t, Deps{})
	one := notarySession(t, sys, DefaultSessionLimits())
	two := notarySession(t, sys, DefaultSessionLimits())
	one.send(`{"type":"operator","id":"av","name":"available"}`)
	one.answer("av")
	const id = "0123456789abcdef0123456789abcdef"
	sys.Engine.Send(sys.desk, CallQueued{ActID: id, RequestedAt: time.Now()})
	for _, s := range []*testSession{one, two} {
		s.waitFor(protocol.TypeOffer, id)
	}
	sys.Engine.Send(sys.desk, CallTaken{ActID: id, Notary: "aliya"})
	for _, s := range []*testSession{one, two} {
		s.waitFor(protocol.TypeOfferGone, id)
	}
}

// waitFor waits for a frame of a type about an act.
func (s *testSession) waitFor(typ, actID string) {
	s.t.Helper()
	testtool.Eventually(s.t, 20*time.Second, 5*time.Millisecond, func() error {
		s.conn.mu.Lock()
		defer s.conn.mu.Unlock()
		for _, e := range s.conn.got {
			if e.Type == typ && e.Act == actID {
				return nil
			}
		}
		return fmt.Errorf("no %s of %s", typ, actID)
	})
}

// clock is a settable clock for Deps.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// An unfinished act idle for act.expire_after is expired by the sweep; a
// younger one and a signed one are not; a second sweep changes nothing.
func TestSweepExpiresIdleActs(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) // seedAct's records
	clk := &clock{t: at.Add(29 * 24 * time.Hour)}
	rules := act.DefaultRules()
	rules.ExpireAfter = 30 * 24 * time.Hour
	sys := startSystemWith(t, Deps{Now: clk.now, Rules: rules})
	const idle, signed = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	seedAct(t, sys, idle, "aliya")
	seedAct(t, sys, signed, "aliya", act.ActSigned{At: at})
	ctx := context.Background()
	if n, err := sys.SweepIdle(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before the limit: %d %v", n, err)
	}
	clk.set(at.Add(30 * 24 * time.Hour))
	if n, err := sys.SweepIdle(ctx); err != nil || n != 1 {
		t.Fatalf("sweep at the limit: %d %v", n, err)
	}
	st, err := ReplayStream(sys.Deps().Log, StreamOf(idle))
	if err != nil || st.Phase != act.PhaseExpired {
		t.Fatalf("idle act: %s %v", st.Phase, err)
	}
	if st, _ := ReplayStream(sys.Deps().Log, StreamOf(signed)); st.Phase != act.PhaseSigned {
		t.Fatalf("signed act: %s", st.Phase)
	}
	if n, err := sys.SweepIdle(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep: %d %v", n, err)
	}
}

// A call waiting past desk.max_wait goes back to the client: the act
// records call_unanswered (no_notary_available), the call leaves the queue,
// and the client may call again.
func TestDeskGivesUpAnUnansweredCall(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: at}
	rules := act.DefaultRules()
	rules.CallMaxWait = 15 * time.Minute
	sys := startSystemWith(t, Deps{Now: clk.now, Rules: rules})
	const id = "0123456789abcdef0123456789abcdef"
	seedWaiting(t, sys, id, at)
	sys.Engine.Send(sys.desk, CallQueued{ActID: id, RequestedAt: at})
	clk.set(at.Add(15 * time.Minute))
	testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		st, err := ReplayStream(sys.Deps().Log, StreamOf(id))
		if err != nil {
			return err
		}
		if st.Call != act.CallOver {
			return fmt.Errorf("call %q", st.Call)
		}
		return nil
	})
	if streams, _ := sys.Deps().Log.Lookup("queue", "waiting"); len(streams) != 0 {
		t.Fatalf("still queued: %v", streams)
	}
}

// startSystemWith is startSystem keeping deps.Rules.
func startSystemWith(t *testing.T, deps Deps) *System {
	t.Helper()
	l, err := eventlog.Open(filepath.Join(t.TempDir(), "log"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	deps.Log, deps.Logger = l, zerolog.Nop()
	sys, err := Start(deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	return sys
}

// seedWaiting stores an act whose client is waiting for a notary since at.
func seedWaiting(t *testing.T, sys *System, id string, at time.Time) {
	t.Helper()
	appendAct(t, sys.Deps().Log, id, at, waitingSince(id, at))
}

// A room whose recording reached its size cap has the act record
// recording_stopped (size_cap); the call stays on.
func TestRecordingCapStopsTheRecordingInTheAct(t *testing.T) {
	s, err := sfu.New(sfu.Config{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	sys := startSystem(t, Deps{Media: Media{SFU: s, RecordDir: t.TempDir(), MaxRecordingBytes: 1 << 20}})
	const id = "0123456789abcdef0123456789abcdef"
	seedAct(t, sys, id, "aliya") // its call is on
	deps := sys.Deps()
	room := sys.Engine.Spawn(newRoomActor(id, "call-test", filepath.Join(deps.Media.RecordDir, id, "call-test"), deps, sys.Acts(), sys.Media()), "room-test")
	stateOf := func() (act.State, error) { return ReplayStream(deps.Log, StreamOf(id)) }
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		if st, err := stateOf(); err != nil || st.Recording("call-test") == nil {
			return fmt.Errorf("recording not started: %v", err)
		}
		return nil
	})
	sys.Engine.Send(room, recordingCapped{})
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		st, err := stateOf()
		if err != nil {
			return err
		}
		if r := st.Recording("call-test"); r == nil || r.Stopped != act.ReasonSizeCap {
			return fmt.Errorf("recording %+v", r)
		}
		if st.Call != act.CallActive {
			return fmt.Errorf("call %q", st.Call)
		}
		return nil
	})
}
