package act

import (
	"errors"
	"testing"
	"time"
)

// The bounds in time, decided with the time passed in: expire_act,
// give_up_call, limit_call and the invoice's expiry.
func TestBounds(t *testing.T) {
	r := rules
	r.InvoiceTTL, r.ExpireAfter, r.CallMaxWait, r.CallMaxLength = time.Hour, 30*24*time.Hour, 15*time.Minute, 2*time.Hour
	invoiced := func(t *testing.T) State {
		t.Helper()
		s := at(t, "approved")
		ev, err := Decide(s, notary, IssueInvoice{InvoiceID: "inv-9"}, t0, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ev {
			s = Apply(s, e)
		}
		return s
	}
	pay := func(s *State) Command {
		return RecordPayment{InvoiceID: s.Invoice.ID, PaymentID: "pay-9", Amount: s.Invoice.Amount}
	}
	cases := []struct {
		name  string
		state func(*testing.T) State
		by    Actor
		cmd   func(*State) Command
		now   time.Time
		code  Code     // refused with
		want  []string // else these events
		phase Phase    // and then this phase ("" : unchecked)
		call  CallStatus
	}{
		{"payment before the invoice expires", invoiced, bank, pay, t0.Add(time.Hour - time.Second), "", []string{"payment_received"}, "", ""},
		{"payment at expiry", invoiced, bank, pay, t0.Add(time.Hour), CodeInvoiceExpired, nil, "", ""},
		{"payment after expiry", invoiced, bank, pay, t0.Add(48 * time.Hour), CodeInvoiceExpired, nil, "", ""},
		{"an old invoice without expiry stays payable", func(t *testing.T) State { return at(t, "invoiced") }, bank, pay, t0.Add(9999 * time.Hour), "", []string{"payment_received"}, "", ""},

		{"an idle act expires", func(t *testing.T) State { return at(t, "drafted") }, system,
			func(*State) Command { return ExpireAct{IdleSince: t0} }, t0.Add(30 * 24 * time.Hour), "", []string{"act_expired"}, PhaseExpired, CallOver},
		{"an act awaiting consent expires", func(t *testing.T) State { return at(t, "submitted") }, system,
			func(*State) Command { return ExpireAct{IdleSince: t0} }, t0.Add(31 * 24 * time.Hour), "", []string{"act_expired"}, PhaseExpired, CallNone},
		{"an act idle for less does not", func(t *testing.T) State { return at(t, "drafted") }, system,
			func(*State) Command { return ExpireAct{IdleSince: t0} }, t0.Add(29 * 24 * time.Hour), CodeNotIdle, nil, "", ""},
		{"expiry without idle_since", func(t *testing.T) State { return at(t, "drafted") }, system,
			func(*State) Command { return ExpireAct{} }, t0.Add(99 * 24 * time.Hour), CodeBadRequest, nil, "", ""},
		{"a signed act never expires", func(t *testing.T) State { return at(t, "signed") }, system,
			func(*State) Command { return ExpireAct{IdleSince: t0} }, t0.Add(999 * 24 * time.Hour), CodeNotAllowedInState, nil, "", ""},
		{"a client may not expire an act", func(t *testing.T) State { return at(t, "drafted") }, client,
			func(*State) Command { return ExpireAct{IdleSince: t0} }, t0.Add(99 * 24 * time.Hour), CodeForbidden, nil, "", ""},

		{"an unanswered call goes back", func(t *testing.T) State { return at(t, "waiting") }, system,
			func(*State) Command { return GiveUpCall{} }, t0.Add(15 * time.Minute), "", []string{"call_unanswered"}, PhaseReady, CallOver},
		{"a call waiting less stays", func(t *testing.T) State { return at(t, "waiting") }, system,
			func(*State) Command { return GiveUpCall{} }, t0.Add(14 * time.Minute), CodeNotAllowedInState, nil, "", ""},
		{"an accepted call is not given up", func(t *testing.T) State { return at(t, "in_call") }, system,
			func(*State) Command { return GiveUpCall{} }, t0.Add(time.Hour), CodeNotAllowedInState, nil, "", ""},

		{"a call at its maximum length ends", func(t *testing.T) State { return at(t, "in_call") }, system,
			func(*State) Command { return LimitCall{Since: t0} }, t0.Add(2 * time.Hour), "", []string{"call_ended"}, PhaseWithNotary, CallOver},
		{"a shorter call goes on", func(t *testing.T) State { return at(t, "in_call") }, system,
			func(*State) Command { return LimitCall{Since: t0} }, t0.Add(time.Hour), CodeNotAllowedInState, nil, "", ""},
		{"the size cap stops the recording", func(t *testing.T) State { return at(t, "recorded") }, system,
			func(*State) Command { return StopRecording{Recording: "rec-1", Reason: ReasonSizeCap} }, t0, "", []string{"recording_stopped"}, PhaseWithNotary, CallActive},
		{"stopping an unknown recording", func(t *testing.T) State { return at(t, "recorded") }, system,
			func(*State) Command { return StopRecording{Recording: "rec-2", Reason: ReasonSizeCap} }, t0, CodeBadRecording, nil, "", ""},
		{"stopping a finished recording adds nothing", func(t *testing.T) State { return at(t, "recording_done") }, system,
			func(*State) Command { return StopRecording{Recording: "rec-1", Reason: ReasonSizeCap} }, t0, CodeNotAllowedInState, nil, "", ""},
		{"the notary may not limit a call", func(t *testing.T) State { return at(t, "in_call") }, notary,
			func(*State) Command { return LimitCall{Since: t0} }, t0.Add(3 * time.Hour), CodeForbidden, nil, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.state(t)
			events, err := Decide(s, c.by, c.cmd(&s), c.now, r)
			if c.code != "" {
				if !errors.Is(err, &Error{Code: c.code}) {
					t.Fatalf("got %v (events %v), want %s", err, events, c.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range events {
				names = append(names, e.EventType())
				s = Apply(s, e)
			}
			if len(names) != len(c.want) || (len(names) > 0 && names[0] != c.want[0]) {
				t.Fatalf("events %v, want %v", names, c.want)
			}
			if c.phase != "" && (s.Phase != c.phase || s.Call != c.call) {
				t.Fatalf("phase %s call %q, want %s %q", s.Phase, s.Call, c.phase, c.call)
			}
		})
	}
}

// An expired act takes no more commands, and an unanswered call may be
// requested again.
func TestAfterBounds(t *testing.T) {
	r := rules
	r.ExpireAfter, r.CallMaxWait = time.Hour, time.Minute
	s := mustApplyWith(t, at(t, "drafted"), system, ExpireAct{IdleSince: t0}, t0.Add(2*time.Hour), r)
	if _, err := Decide(s, client, CancelAct{Reason: "x"}, t0.Add(3*time.Hour), r); !errors.Is(err, &Error{Code: CodeNotAllowedInState}) {
		t.Fatalf("a command after expiry: %v", err)
	}
	w := mustApplyWith(t, at(t, "waiting"), system, GiveUpCall{}, t0.Add(time.Hour), r)
	mustApplyWith(t, w, client, RequestCall{}, t0.Add(2*time.Hour), r)
}

func mustApplyWith(t *testing.T, s State, by Actor, cmd Command, now time.Time, r Rules) State {
	t.Helper()
	events, err := Decide(s, by, cmd, now, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		s = Apply(s, e)
	}
	return s
}
