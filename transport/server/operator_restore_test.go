package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/actors"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/transport/protocol"
)

// operatorState reads the operator_state that follows a notary's welcome.
func operatorState(t *testing.T, c *client.Client) protocol.OperatorState {
	t.Helper()
	select {
	case env, ok := <-c.OperatorState():
		if !ok {
			t.Fatal("connection closed before operator_state")
		}
		var st protocol.OperatorState
		if err := json.Unmarshal(env.Body, &st); err != nil {
			t.Fatal(err)
		}
		return st
	case <-time.After(30 * time.Second):
		t.Fatal("no operator_state within 30s of the welcome")
	}
	return protocol.OperatorState{}
}

// readyAct brings a new act of the world's client to consent given.
func (w *world) readyAct(t *testing.T) (string, *client.Client) {
	t.Helper()
	ctx := w.ctx()
	c := w.eds("client", w.client)
	id := mustOf[string](t)(c.Apply(ctx, w.client, "+7 701 234 56 78", attorneyIIN))
	a := w.eds("attorney", w.attorney)
	cms := mustOf[string](t)(a.SignStep(ctx, w.attorney, id, "consent", 0))
	mustOf[client.Ack](t)(a.Command(ctx, id, "give_consent", map[string]any{"cms": cms}))
	return id, c
}

// deskView asks the desk what it shows now.
func (w *world) deskView(t *testing.T) actors.DeskView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := w.srv.Actors.Ask(ctx, w.srv.Actors.Deps().Desk, func(r *actor.PID) any { return actors.DeskSnapshot{ReplyTo: r} })
	if err != nil {
		t.Fatal(err)
	}
	return a.(actors.DeskView)
}

// waitOffline waits until login has no session at the operators' router.
func (w *world) waitOffline(t *testing.T, login string) {
	t.Helper()
	testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a, err := w.srv.Actors.Ask(ctx, w.srv.Actors.Operators(), func(r *actor.PID) any { return actors.OperatorsSnapshot{ReplyTo: r} })
		if err != nil {
			return err
		}
		if n := a.(actors.OperatorsView).Online[login]; n != 0 {
			return fmt.Errorf("%s has %d sessions", login, n)
		}
		return nil
	})
}

// A notary available for calls whose connection drops signs in again
// within desk.operator_grace: the console says available, and the call that
// came meanwhile (offered to nobody while they were away) and the next one
// are offered without pressing anything.
func TestOperatorModeRestoredWithinTheGrace(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	nt := w.notaryIn("aliya", "aliya-password")
	if st := operatorState(t, nt); st.Available || len(st.InProgress) != 0 {
		t.Fatalf("first sign-in: %+v", st)
	}
	must(t, 0, nt.Operator(ctx, "available", ""))
	nt.CloseNow() // the network drops
	w.waitOffline(t, "aliya")

	// A call while aliya has no session: the desk keeps her but offers
	// her nothing.
	first, c1 := w.readyAct(t)
	mustOf[client.Ack](t)(c1.Command(ctx, first, "request_call", nil))
	testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		v := w.deskView(t)
		if len(v.Waiting) != 1 || v.Waiting[0].ActID != first {
			return fmt.Errorf("waiting %+v", v.Waiting)
		}
		if v.Waiting[0].OfferedTo != "" {
			t.Fatalf("the call was offered to %q, who has no session", v.Waiting[0].OfferedTo)
		}
		return nil
	})

	again := w.notaryIn("aliya", "aliya-password")
	if st := operatorState(t, again); !st.Available {
		t.Fatalf("signed in again within the grace: %+v, want available", st)
	}
	if o := next(t, again.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer }); o.Act != first {
		t.Fatalf("offered %s, want %s", o.Act, first)
	}
	mustOf[client.Ack](t)(again.Command(ctx, first, "accept_call", nil))
	mustOf[client.Ack](t)(again.Command(ctx, first, "end_call", nil))

	// The next call comes to her as well, nothing pressed.
	second, c2 := w.readyAct(t)
	mustOf[client.Ack](t)(c2.Command(ctx, second, "request_call", nil))
	if o := next(t, again.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer }); o.Act != second {
		t.Fatalf("next offer %s, want %s", o.Act, second)
	}
	// A second tab opened now sees the same mode and the offer.
	tab := w.notaryIn("aliya", "aliya-password")
	if st := operatorState(t, tab); !st.Available {
		t.Fatalf("second tab: %+v", st)
	}
	next(t, tab.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == second })
	// Away in one tab: the other shows it too.
	must(t, 0, again.Operator(ctx, "away", ""))
	if st := operatorState(t, tab); st.Available {
		t.Fatalf("the other tab after away: %+v", st)
	}
}

// After the grace the notary is away: signing in again shows it, and no
// call is offered until they choose to be available.
func TestOperatorModeForgottenAfterTheGrace(t *testing.T) {
	w := newWorld(t, func(c *config.Config) { c.Desk.OperatorGrace = config.Duration(300 * time.Millisecond) })
	ctx := w.ctx()
	nt := w.notaryIn("aliya", "aliya-password")
	operatorState(t, nt)
	must(t, 0, nt.Operator(ctx, "available", ""))
	testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if v := w.deskView(t); len(v.Notaries) != 1 || !v.Notaries[0].Available {
			return fmt.Errorf("notaries %+v", v.Notaries)
		}
		return nil
	})
	nt.CloseNow()
	// The desk forgets her when the grace is over.
	testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if v := w.deskView(t); len(v.Notaries) != 0 {
			return fmt.Errorf("notaries %+v", v.Notaries)
		}
		return nil
	})
	id, c := w.readyAct(t)
	mustOf[client.Ack](t)(c.Command(ctx, id, "request_call", nil))
	again := w.notaryIn("aliya", "aliya-password")
	if st := operatorState(t, again); st.Available {
		t.Fatalf("signed in after the grace: %+v, want away", st)
	}
	testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		v := w.deskView(t)
		if len(v.Waiting) != 1 || v.Waiting[0].OfferedTo != "" {
			return fmt.Errorf("waiting %+v", v.Waiting)
		}
		return nil
	})
	must(t, 0, again.Operator(ctx, "available", ""))
	next(t, again.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == id })
}

// The acts in progress come from the log: a restart keeps them in the
// operator_state of the next sign-in, with the operator mode. A signed act
// is not in progress.
func TestActsInProgressAfterARestart(t *testing.T) {
	w := newWorld(t)
	actID, _, nt := w.toCall(t)
	mustOf[client.Ack](t)(nt.Command(w.ctx(), actID, "end_call", nil)) // aliya is free for the next
	done, _, _ := w.toSigned(t)
	w.restart(t, func(*config.Config) {})
	st := operatorState(t, w.notaryIn("aliya", "aliya-password"))
	if !st.Available {
		t.Fatalf("after a restart: %+v, want available (as she left it, within the grace)", st)
	}
	if len(st.InProgress) != 1 || st.InProgress[0].Act != actID || st.InProgress[0].Phase != "with_notary" || st.InProgress[0].Principal == "" {
		t.Fatalf("in progress %+v, want %s only (%s is signed)", st.InProgress, actID, done)
	}
}

// desk_queue tells any notary how many calls wait and since when, also
// when the call is offered to someone else; nobody else may ask.
func TestDeskQueueForNotaries(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	aliya := w.notaryIn("aliya", "aliya-password")
	var q protocol.DeskQueue
	if err := aliya.Query(ctx, "desk_queue", "", nil, &q); err != nil || q.Waiting != 0 || q.OldestSince != nil {
		t.Fatalf("empty desk: %+v %v", q, err)
	}
	bolat := w.notaryIn("bolat", "bolat-password")
	must(t, 0, bolat.Operator(ctx, "available", ""))
	id, c := w.readyAct(t)
	mustOf[client.Ack](t)(c.Command(ctx, id, "request_call", nil))
	next(t, bolat.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == id })
	if err := aliya.Query(ctx, "desk_queue", "", nil, &q); err != nil || q.Waiting != 1 || q.OldestSince == nil {
		t.Fatalf("one call offered to bolat: %+v %v", q, err)
	}
	if want := w.state(t, c, id).CallRequestedAt; !q.OldestSince.Equal(want) {
		t.Fatalf("oldest since %v, want %v", q.OldestSince, want)
	}
	err := c.Query(ctx, "desk_queue", "", nil, &q)
	refused(t, err, "forbidden")
}

// The operator mode survives a restart: to the notaries it is every
// session closing at once. One who was available is back at the desk for
// the grace, offered nothing until she signs in again and then offered the
// call waiting, nothing pressed; one who chose away stays away.
func TestOperatorModeSurvivesARestart(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	aliya := w.notaryIn("aliya", "aliya-password")
	operatorState(t, aliya)
	must(t, 0, aliya.Operator(ctx, "available", ""))
	bolat := w.notaryIn("bolat", "bolat-password")
	operatorState(t, bolat)
	must(t, 0, bolat.Operator(ctx, "available", ""))
	must(t, 0, bolat.Operator(ctx, "away", ""))
	testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if v := w.deskView(t); len(v.Notaries) != 1 || v.Notaries[0].Login != "aliya" {
			return fmt.Errorf("notaries %+v", v.Notaries)
		}
		return nil
	})

	w.restart(t, func(*config.Config) {})
	// A call while nobody is signed in: aliya is at the desk (available)
	// but offered nothing; bolat is not.
	id, c := w.readyAct(t)
	mustOf[client.Ack](t)(c.Command(ctx, id, "request_call", nil))
	testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		v := w.deskView(t)
		if len(v.Notaries) != 1 || v.Notaries[0].Login != "aliya" || !v.Notaries[0].Available {
			return fmt.Errorf("notaries %+v", v.Notaries)
		}
		if len(v.Waiting) != 1 || v.Waiting[0].ActID != id {
			return fmt.Errorf("waiting %+v", v.Waiting)
		}
		if v.Waiting[0].OfferedTo != "" {
			t.Fatalf("the call was offered to %q, who has no session", v.Waiting[0].OfferedTo)
		}
		return nil
	})
	bolat = w.notaryIn("bolat", "bolat-password")
	if st := operatorState(t, bolat); st.Available {
		t.Fatalf("bolat after the restart: %+v, want away", st)
	}
	aliya = w.notaryIn("aliya", "aliya-password")
	if st := operatorState(t, aliya); !st.Available {
		t.Fatalf("aliya after the restart: %+v, want available", st)
	}
	if o := next(t, aliya.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer }); o.Act != id {
		t.Fatalf("offered %s, want %s", o.Act, id)
	}
}

// A notary available before a restart who does not come back within the
// grace is away, at the desk and in the log: the next restart does not
// bring her back either.
func TestOperatorModeAfterARestartEndsWithTheGrace(t *testing.T) {
	short := func(c *config.Config) { c.Desk.OperatorGrace = config.Duration(300 * time.Millisecond) }
	w := newWorld(t, short)
	aliya := w.notaryIn("aliya", "aliya-password")
	operatorState(t, aliya)
	must(t, 0, aliya.Operator(w.ctx(), "available", ""))
	avail := func() []string {
		s, err := w.srv.Actors.Deps().Log.Lookup(actors.IndexOperatorMode, "available")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error { // the ack comes before the append
		if s := avail(); len(s) != 1 || s[0] != actors.OperatorStreamOf("aliya") {
			return fmt.Errorf("the log's available notaries: %q", s)
		}
		return nil
	})
	w.restart(t, short)
	// Back at the desk for the grace, then gone: the log says so too.
	testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if s := avail(); len(s) != 0 {
			return fmt.Errorf("available in the log: %q", s)
		}
		if v := w.deskView(t); len(v.Notaries) != 0 {
			return fmt.Errorf("notaries %+v", v.Notaries)
		}
		return nil
	})
	w.restart(t, func(*config.Config) {}) // the default grace: minutes
	if st := operatorState(t, w.notaryIn("aliya", "aliya-password")); st.Available {
		t.Fatalf("after the grace and a restart: %+v, want away", st)
	}
	if v := w.deskView(t); len(v.Notaries) != 0 {
		t.Fatalf("notaries %+v", v.Notaries)
	}
}
