package act

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The notary's look-ups in the individuals registry: recorded for the act's
// own notary while the call is on, refused for anyone else and at any other
// time.
func TestRecordRegistryCheck(t *testing.T) {
	found := func(*State) Command { return RecordRegistryCheck{IIN: attorney.IIN, Found: true} }
	cases := []struct {
		name, at string
		by       Actor
		cmd      func(*State) Command
		want     Code // "" means recorded
	}{
		{"the act's notary, in the call", "in_call", notary, found, ""},
		{"the principal, whom the registry does not know", "in_call", notary, func(*State) Command { return RecordRegistryCheck{IIN: client.IIN} }, ""},
		{"someone outside the act", "in_call", notary, func(*State) Command { return RecordRegistryCheck{IIN: stranger.IIN, Found: true} }, CodeNotAParty},
		{"while drafting, the call still on", "drafted", notary, found, ""},
		{"after payment, before signing", "coded", notary, found, ""},
		{"another notary", "in_call", notary2, found, CodeForbidden},
		{"a notary before any call is accepted", "waiting", notary, found, CodeForbidden},
		{"the client", "in_call", client, found, CodeForbidden},
		{"the attorney", "in_call", attorney, found, CodeForbidden},
		{"the system", "in_call", system, found, CodeForbidden},
		{"a malformed IIN", "in_call", notary, func(*State) Command { return RecordRegistryCheck{IIN: "12345"} }, CodeBadIIN},
		{"no IIN", "in_call", notary, func(*State) Command { return RecordRegistryCheck{Found: true} }, CodeBadIIN},
		{"an IIN with a wrong check digit", "in_call", notary, func(*State) Command { return RecordRegistryCheck{IIN: "871008401428"} }, CodeBadIINChecksum},
		{"after signing", "signed", notary, found, CodeNotAllowedInState},
		{"no act", "", notary, found, CodeNoSuchAct},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s State
			if c.at != "" {
				s = at(t, c.at)
			}
			events, err := Decide(s, c.by, c.cmd(&s), t0, rules)
			if code(err) != c.want {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			if c.want != "" {
				if events != nil {
					t.Fatalf("a refusal returned events %v", events)
				}
				return
			}
			cmd := c.cmd(&s).(RecordRegistryCheck)
			want := []Event{RegistryChecked{IIN: cmd.IIN, Found: cmd.Found, At: t0}}
			if !reflect.DeepEqual(events, want) {
				t.Fatalf("events %#v, want %#v", events, want)
			}
			// The event is on record, and changes nothing else of the act.
			after := Apply(s, events[0])
			s.Version++
			if !reflect.DeepEqual(after, s) {
				t.Fatalf("registry_checked changed the state beyond its version:\n%+v", after)
			}
		})
	}
	t.Run("after the call ended", func(t *testing.T) {
		s := mustApply(t, at(t, "drafted"), notary, EndCall{})
		if _, err := Decide(s, notary, RecordRegistryCheck{IIN: attorney.IIN, Found: true}, t0, rules); code(err) != CodeNotAllowedInState {
			t.Fatal(err)
		}
	})
	t.Run("after a refusal", func(t *testing.T) {
		s := mustApply(t, at(t, "in_call"), notary, RefuseAct{Reason: "сомнения"})
		if _, err := Decide(s, notary, RecordRegistryCheck{IIN: attorney.IIN, Found: true}, t0, rules); code(err) != CodeNotAllowedInState {
			t.Fatal(err)
		}
	})
}

// The attorney's copies leave out the principal's phone and the signed
// application (its attached content holds the phone); the stored payload
// and everyone else's view stay as they are.
func TestTheAttorneySeesNoPhone(t *testing.T) {
	s := at(t, "in_call")
	if s.Principal.Phone == "" || len(s.Application.CMS) == 0 {
		t.Fatal("the test act has no phone or no application CMS")
	}
	v := ForViewer(s, attorney)
	if v.Principal.Phone != "" || v.Application.CMS != nil {
		t.Fatalf("the attorney's view: phone %q, application CMS %x", v.Principal.Phone, v.Application.CMS)
	}
	if s.Principal.Phone == "" || len(s.Application.CMS) == 0 {
		t.Fatal("ForViewer changed the act's state")
	}
	for _, by := range []Actor{client, notary} {
		if !reflect.DeepEqual(ForViewer(s, by), s) {
			t.Errorf("%s does not see the whole act", by)
		}
	}

	events, err := Decide(State{}, client, submitCmd(), t0, rules)
	if err != nil {
		t.Fatal(err)
	}
	stored := mustMarshal(t, events[0])
	keep := append([]byte(nil), stored...)
	got := RedactEvent(events[0].EventType(), stored, RoleAttorney)
	if !reflect.DeepEqual(stored, keep) {
		t.Fatal("RedactEvent changed the stored bytes")
	}
	back, err := DecodeEvent(events[0].EventType(), got)
	if err != nil {
		t.Fatal(err)
	}
	sub := back.(ApplicationSubmitted)
	if sub.Principal.Phone != "" || sub.Signature.CMS != nil {
		t.Fatalf("the attorney's copy: phone %q, cms %x", sub.Principal.Phone, sub.Signature.CMS)
	}
	want := events[0].(ApplicationSubmitted)
	want.Principal.Phone, want.Signature.CMS = "", nil
	if !reflect.DeepEqual(sub, want) {
		t.Fatalf("the attorney's copy lost more than the phone:\n got %+v\nwant %+v", sub, want)
	}
	for _, r := range []Role{RoleClient, RoleNotary} {
		if !reflect.DeepEqual(RedactEvent(events[0].EventType(), stored, r), stored) {
			t.Errorf("%s does not get the stored payload", r)
		}
	}
	// Other events reach the attorney as stored; a payload that does not
	// decode reaches them as nothing.
	consent := mustMarshal(t, events[1])
	if !reflect.DeepEqual(RedactEvent(events[1].EventType(), consent, RoleAttorney), consent) {
		t.Error("consent_requested was changed for the attorney")
	}
	if got := RedactEvent(events[0].EventType(), []byte(`{"principal":"+77012345678"}`), RoleAttorney); string(got) != "{}" {
		t.Errorf("a malformed payload reached the attorney as %s", got)
	}
}

func mustMarshal(t *testing.T, e Event) []byte {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
