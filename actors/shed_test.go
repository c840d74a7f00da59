package actors

import (
	"fmt"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/internal/pwlimit"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/transport/protocol"
)

// session starts a session actor with sd on a fresh frames Conn.
func session(t *testing.T, sd SessionDeps) *testSession {
	conn := &frames{}
	return &testSession{t: t, sys: sd.Sys, conn: conn, pid: SpawnSession(sd, conn)}
}

func signinFrame(id, password string) string {
	return `{"type":"signin","id":"` + id + `","body":{"method":"password","login":"aliya","password":"` + password + `"}}`
}

// Password checks run under the limiter and off the session's actor: while
// a session's check waits for the only worker, the session still answers;
// past the queue a sign-in is refused at once with busy and a retry-after;
// wrong passwords lock the login out (locked_out), the right one too.
func TestPasswordChecksAreBoundedAndOffTheSession(t *testing.T) {
	sys := startSystem(t, Deps{})
	lim := pwlimit.New(pwlimit.Config{Workers: 1, Queue: 2, Failures: 3, Lockout: time.Minute, RetryAfter: 3 * time.Second})
	// The test holds the only worker.
	hold, err := lim.Begin("someone", "test")
	if err != nil {
		t.Fatal(err)
	}
	release, running := make(chan struct{}), make(chan struct{})
	go func() { _, _ = hold.Run(func() bool { close(running); <-release; return true }) }()
	<-running
	sd := SessionDeps{Sys: sys, Accounts: aliyaStore(t), Limits: DefaultSessionLimits(), Passwords: lim}
	a, b, c := session(t, sd), session(t, sd), session(t, sd)
	a.send(signinFrame("p", "guess-a"))
	b.send(signinFrame("p", "guess-b"))
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		if n := lim.Waiting(); n != 3 {
			return errorf("%d checks admitted, want 3", n)
		}
		return nil
	})
	c.send(signinFrame("p", "guess-c"))
	if e := c.answer("p"); e.Code != protocol.CodeBusy || e.RetryAfterMS != 3000 {
		t.Fatalf("past the queue: %+v", e)
	}
	// a's check waits; a answers.
	a.send(`{"type":"query","id":"q","name":"register"}`)
	if e := a.answer("q"); e.Code != protocol.CodeNotSignedIn {
		t.Fatalf("a session waiting for its check: %+v", e)
	}
	a.send(signinFrame("again", "guess-a"))
	if e := a.answer("again"); e.Code != protocol.CodeBadMessage {
		t.Fatalf("a second sign-in while one is checked: %+v", e)
	}
	if a.answered("p") || b.answered("p") {
		t.Fatal("a check ran without a worker")
	}
	close(release)
	for _, s := range []*testSession{a, b} {
		if e := s.answer("p"); e.Code != protocol.CodeSignInFail {
			t.Fatalf("wrong password: %+v", e)
		}
	}
	c.send(signinFrame("p3", "guess-c"))
	if e := c.answer("p3"); e.Code != protocol.CodeSignInFail {
		t.Fatalf("third wrong password: %+v", e)
	}
	d := session(t, sd)
	d.send(signinFrame("p", "aliya-password"))
	if e := d.answer("p"); e.Code != protocol.CodeLockedOut || e.RetryAfterMS <= 0 || e.RetryAfterMS > 60000 {
		t.Fatalf("after three wrong passwords: %+v", e)
	}
	// The right password signs in where the login is not locked out.
	other := pwlimit.New(pwlimit.Config{Workers: 1})
	sd.Passwords = other
	e := session(t, sd)
	e.send(signinFrame("p", "aliya-password"))
	if got := e.answer("p"); got.Type != protocol.TypeWelcome {
		t.Fatalf("right password: %+v", got)
	}
}

// Past the server-wide bound of work in flight, a request from any session
// is answered overloaded with a retry-after; answers and closed sessions
// give the room back.
func TestAdmissionShedsPastCapacity(t *testing.T) {
	sys := startSystem(t, Deps{})
	h := &hold{got: make(chan any, 16)}
	sys.router = sys.Engine.Spawn(func() actor.Receiver { return h }, "hold")
	adm := NewAdmission(3, 2*time.Second)
	limits := SessionLimits{MaxInFlight: 8, RatePerSecond: 1000, Burst: 1000}
	store := aliyaStore(t)
	signedIn := func() *testSession {
		s := session(t, SessionDeps{Sys: sys, Accounts: store, Limits: limits, Admission: adm})
		s.send(signinFrame("s", "aliya-password"))
		if e := s.answer("s"); e.Type != protocol.TypeWelcome {
			t.Fatalf("sign-in: %+v", e)
		}
		return s
	}
	a, b := signedIn(), signedIn()
	a.send(`{"type":"query","id":"a1","act":"x","name":"act"}`)
	a.send(`{"type":"query","id":"a2","act":"x","name":"act"}`)
	b.send(`{"type":"query","id":"b1","act":"x","name":"act"}`)
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		if n := adm.InFlight(); n != 3 {
			return errorf("%d in flight, want 3", n)
		}
		return nil
	})
	b.send(`{"type":"query","id":"b2","act":"x","name":"act"}`)
	if e := b.answer("b2"); e.Code != protocol.CodeOverloaded || e.RetryAfterMS != 2000 {
		t.Fatalf("past capacity: %+v", e)
	}
	// One answer makes room for one more.
	m := (<-h.got).(GetState)
	sys.Engine.Send(m.ReplyTo, StateResult{Tag: m.Tag, Code: "forbidden", Message: "no"})
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		if n := adm.InFlight(); n != 2 {
			return errorf("%d in flight after an answer, want 2", n)
		}
		return nil
	})
	b.send(`{"type":"query","id":"b3","act":"x","name":"act"}`)
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		if n := adm.InFlight(); n != 3 {
			return errorf("%d in flight, want 3", n)
		}
		return nil
	})
	if b.answered("b3") {
		t.Fatalf("b3 was refused: %+v", b.conn.byID()["b3"])
	}
	// Closed sessions give back what they had in flight.
	sys.Engine.Send(a.pid, ConnClosed{})
	sys.Engine.Send(b.pid, ConnClosed{})
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		if n := adm.InFlight(); n != 0 {
			return errorf("%d in flight after the sessions closed, want 0", n)
		}
		return nil
	})
}

var errorf = fmt.Errorf
