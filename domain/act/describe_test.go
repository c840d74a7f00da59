package act

import (
	"strings"
	"testing"
)

func TestDescribeEveryEvent(t *testing.T) {
	var events []Event
	var st State
	for _, h := range happy {
		evs, err := Decide(st, h.by, h.cmd(&st), t0, rules)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			st = Apply(st, e)
			events = append(events, e)
		}
	}
	events = append(events, ConsentRefused{}, CallEnded{By: "client:1"}, ChangesRequested{Revision: 1, Comments: "x"},
		InvoiceVoided{InvoiceID: "i"}, ActRefused{Reason: "r"}, ActCancelled{}, POARevoked{Reason: "r"},
		ActExpired{IdleSince: t0}, CallUnanswered{Reason: CodeNoNotaryAvailable, RequestedAt: t0},
		RecordingStopped{Recording: "r", Reason: ReasonSizeCap}, DocumentSaved{Service: "digidocs", DocumentID: "senim-x", SHA256: strings.Repeat("a", 64)})
	seen := map[string]bool{}
	for _, e := range events {
		d := Describe(e)
		if d == "" || strings.HasPrefix(d, "act.") {
			t.Errorf("%s has no description: %q", e.EventType(), d)
		}
		seen[e.EventType()] = true
	}
	if len(seen) != len(EventTypes()) {
		t.Errorf("described %d of %d event types", len(seen), len(EventTypes()))
	}
	if got := Money(1513750).String(); got != "15137.50 ₸" {
		t.Errorf("money %q", got)
	}
}
