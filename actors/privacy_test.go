package actors

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/protocol"
)

const (
	principalIIN   = "871008401427"
	attorneyIIN    = "760212350620"
	principalPhone = "+77012345678"
	strangerIIN    = "950512400017" // valid, in no registry
)

// seedAct writes an act to the log as the facts its commands would have
// left (the application, the consent, a call the notary took), then more.
// The act actor rebuilds it from there on first use.
func seedAct(t *testing.T, sys *System, id, notary string, more ...act.Event) {
	t.Helper()
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	events := append(waitingSince(id, at), act.CallAccepted{Notary: act.Actor{Role: act.RoleNotary, ID: notary}})
	appendAct(t, sys.Deps().Log, id, at, append(events, more...))
}

// waitingSince are the facts of an act whose client has waited for a
// notary since at: the application, the consent, the call requested.
func waitingSince(id string, at time.Time) []act.Event {
	return []act.Event{
		act.ApplicationSubmitted{ActID: id, ActionType: act.ActionPowerOfAttorney,
			Principal: act.Party{IIN: principalIIN, Name: "СЕЙТҚАЛИ ӘЙГЕРІМ", Phone: principalPhone},
			Attorney:  act.Party{IIN: attorneyIIN, Name: "ОМАРОВ ЕРЛАН"},
			Signature: act.Signature{CMS: []byte{0x30}, SignerIIN: principalIIN}, At: at},
		act.ConsentRequested{AttorneyIIN: attorneyIIN},
		act.ConsentGiven{Signature: act.Signature{CMS: []byte{0x30}, SignerIIN: attorneyIIN}},
		act.CallRequested{At: at},
	}
}

// appendAct writes events to l as act id's stream, stamped at, with the
// index entries of the state they make: what the act's commands would have
// left.
func appendAct(tb testing.TB, l *eventlog.Log, id string, at time.Time, events []act.Event) {
	tb.Helper()
	var s act.State
	drafts := make([]eventlog.Draft, len(events))
	for i, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			tb.Fatal(err)
		}
		drafts[i] = eventlog.Draft{Type: e.EventType(), Actor: "system", At: at, Payload: b}
		s = act.Apply(s, e)
	}
	_, err := l.Append(context.Background(), eventlog.AppendRequest{
		Stream: StreamOf(id), Events: drafts, Index: indexOps(&act.State{}, &s)})
	if err != nil {
		tb.Fatal(err)
	}
}

// fakeRegistry knows the people in it, or is down; it counts look-ups.
type fakeRegistry struct {
	people map[string]registry.Person
	down   atomic.Bool
	calls  atomic.Int32
}

func (f *fakeRegistry) Lookup(_ context.Context, id string) (registry.Person, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return registry.Person{}, registry.ErrUnavailable
	}
	p, ok := f.people[id]
	if !ok {
		return registry.Person{}, registry.ErrNotFound
	}
	return p, nil
}

// registryChecks returns the act's registry_checked events, with their actors.
func registryChecks(t *testing.T, sys *System, actID string) ([]act.RegistryChecked, []string) {
	t.Helper()
	recs, err := sys.Deps().Log.ReadAll(StreamOf(actID))
	if err != nil {
		t.Fatal(err)
	}
	var out []act.RegistryChecked
	var actors []string
	for _, r := range recs {
		if r.Type != (act.RegistryChecked{}).EventType() {
			continue
		}
		var e act.RegistryChecked
		if err := json.Unmarshal(r.Payload, &e); err != nil {
			t.Fatal(err)
		}
		out, actors = append(out, e), append(actors, r.Actor)
	}
	return out, actors
}

// A registry look-up is for the notary who holds the act, in its call, of
// the act's own parties; each one the registry answered is on the act's
// record before the notary sees it, and an outage records nothing.
func TestRegistryLookupIsForTheActsNotaryAndOnRecord(t *testing.T) {
	// The registry knows the attorney, not the principal.
	reg := &fakeRegistry{people: map[string]registry.Person{attorneyIIN: {IIN: attorneyIIN, Surname: "Омаров", Name: "Ерлан"}}}
	sys := startSystem(t, Deps{Registry: reg})
	seedAct(t, sys, "mine", "aliya")
	seedAct(t, sys, "theirs", "bolat")
	seedAct(t, sys, "over", "aliya", act.CallEnded{By: "notary:aliya"})
	s := notarySession(t, sys, DefaultSessionLimits())
	ask := func(id, actID, iin string) protocol.Envelope {
		t.Helper()
		frame, _ := json.Marshal(protocol.Envelope{Type: protocol.TypeQuery, ID: id, Act: actID, Name: "registry_lookup",
			Body: json.RawMessage(`{"iin":"` + iin + `"}`)})
		s.send(string(frame))
		return s.answer(id)
	}
	for _, c := range []struct{ id, act, iin, code string }{
		{"no-act", "", attorneyIIN, string(act.CodeForbidden)},
		{"theirs", "theirs", attorneyIIN, string(act.CodeForbidden)},
		{"nowhere", "0123456789abcdef0123456789abcdef", attorneyIIN, string(act.CodeForbidden)},
		{"over", "over", attorneyIIN, string(act.CodeNotAllowedInState)},
		{"bad-iin", "mine", "12345", string(act.CodeBadIIN)},
		{"outsider", "mine", strangerIIN, string(act.CodeNotAParty)},
	} {
		if e := ask(c.id, c.act, c.iin); e.Type != protocol.TypeError || e.Code != c.code {
			t.Errorf("%s: %+v, want %s", c.id, e, c.code)
		}
	}
	if n := reg.calls.Load(); n != 0 {
		t.Fatalf("the registry was asked %d times for refused look-ups", n)
	}
	// An app cannot put a look-up on record itself.
	s.send(`{"type":"command","id":"forge","act":"mine","name":"record_registry_check","body":{"iin":"760212350620","found":true}}`)
	if e := s.answer("forge"); e.Code != string(act.CodeForbidden) {
		t.Fatalf("a forged record: %+v", e)
	}
	// An outage is answered, and recorded as nothing.
	reg.down.Store(true)
	if e := ask("down", "mine", attorneyIIN); e.Code != CodeRegistryUnavailable {
		t.Fatalf("registry down: %+v", e)
	}
	reg.down.Store(false)
	if got, _ := registryChecks(t, sys, "mine"); len(got) != 0 {
		t.Fatalf("recorded without an answer from the registry: %+v", got)
	}
	if e := ask("found", "mine", attorneyIIN); e.Type != protocol.TypeResult || !strings.Contains(string(e.Body), "Омаров") {
		t.Fatalf("look-up: %+v", e)
	}
	if e := ask("unknown", "mine", principalIIN); e.Code != CodeUnknownPerson {
		t.Fatalf("unknown person: %+v", e)
	}
	got, by := registryChecks(t, sys, "mine")
	if len(got) != 2 || got[0].IIN != attorneyIIN || !got[0].Found || got[1].IIN != principalIIN || got[1].Found ||
		by[0] != "notary:aliya" || by[1] != "notary:aliya" {
		t.Fatalf("recorded %+v by %v", got, by)
	}
	for _, id := range []string{"theirs", "over"} {
		if got, _ := registryChecks(t, sys, id); len(got) != 0 {
			t.Fatalf("act %s has look-ups on record: %+v", id, got)
		}
	}
}

// The electronic register of completed acts lists the asking notary's own
// signed acts, with the parties' IINs masked; the notary's register keeps
// the full data of the notary's acts.
func TestCompletedIsTheNotarysOwnWithMaskedIINs(t *testing.T) {
	sys := startSystem(t, Deps{})
	at := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	signed := act.ActSigned{Signature: act.Signature{CMS: []byte{0x30}}, At: at}
	seedAct(t, sys, "mine-signed", "aliya", act.DocumentCodeIssued{Code: "AAAA-BBBB", At: at}, signed)
	seedAct(t, sys, "mine-open", "aliya")
	seedAct(t, sys, "theirs-signed", "bolat", act.DocumentCodeIssued{Code: "CCCC-DDDD", At: at}, signed)
	s := notarySession(t, sys, DefaultSessionLimits())
	list := func(name string) (string, []protocol.ActSummary) {
		t.Helper()
		s.send(`{"type":"query","id":"` + name + `","name":"` + name + `"}`)
		e := s.answer(name)
		var out struct{ Acts []protocol.ActSummary }
		if err := json.Unmarshal(e.Body, &out); err != nil || e.Type != protocol.TypeResult {
			t.Fatalf("%s: %+v %v", name, e, err)
		}
		return string(e.Body), out.Acts
	}
	raw, done := list("completed")
	if len(done) != 1 || done[0].Act != "mine-signed" || done[0].PrincipalIIN != "8710******27" || done[0].AttorneyIIN != "7602******20" {
		t.Fatalf("completed: %+v", done)
	}
	for _, secret := range []string{principalIIN, attorneyIIN, principalPhone} {
		if strings.Contains(raw, secret) {
			t.Fatalf("completed shows %s: %s", secret, raw)
		}
	}
	_, own := list("register")
	if len(own) != 2 {
		t.Fatalf("register: %+v", own)
	}
	for _, a := range own {
		if a.PrincipalIIN != principalIIN || a.AttorneyIIN != attorneyIIN || a.Phone != principalPhone {
			t.Fatalf("register entry %+v", a)
		}
	}
}
