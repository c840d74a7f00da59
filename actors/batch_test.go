package actors

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/senim-kz/senim/internal/testtool"
)

// What one message to a session makes goes to its connection in one batch
// (one write to the socket): the answer to a subscription with the events
// the subscriber missed, and a command's own events with its ack, events
// first, as the act made them. Each was a write of its own: the ack and the
// events came as separate messages.
func TestSessionSendsWhatAMessageMadeTogether(t *testing.T) {
	sys := startSystem(t, Deps{})
	seedAct(t, sys, "act-1", "aliya") // seq 1..5: submitted … call accepted
	s := notarySession(t, sys, DefaultSessionLimits())

	// batchWith waits for the batch holding the frame of type typ and
	// returns it.
	batchWith := func(typ string) []string {
		t.Helper()
		var found []string
		testtool.Eventually(t, 20*time.Second, 5*time.Millisecond, func() error {
			s.conn.mu.Lock()
			defer s.conn.mu.Unlock()
			for _, b := range s.conn.batches {
				if slices.Contains(b, typ+" ") {
					found = b
					return nil
				}
			}
			return fmt.Errorf("no %s yet: %q", typ, s.conn.batches)
		})
		return found
	}

	s.send(`{"type":"subscribe","id":"s1","act":"act-1","seq":0}`)
	want := []string{"subscribed ", "event application_submitted", "event consent_requested", "event consent_given",
		"event call_requested", "event call_accepted"}
	if got := batchWith("subscribed"); !slices.Equal(got, want) {
		t.Fatalf("the subscription went out as %q, want one batch %q", got, want)
	}

	s.send(`{"type":"command","id":"c1","act":"act-1","name":"record_check","body":{"check":"document_shown","passed":true}}`)
	if e := s.answer("c1"); e.Type != "ack" || e.Seq != 6 {
		t.Fatalf("record_check: %+v", e)
	}
	want = []string{"event check_recorded", "ack "}
	if got := batchWith("ack"); !slices.Equal(got, want) {
		t.Fatalf("the command's events and ack went out as %q, want one batch %q", got, want)
	}
	// Nothing else came: each event once.
	s.conn.mu.Lock()
	defer s.conn.mu.Unlock()
	var n int
	for _, e := range s.conn.got {
		if e.Type == "event" {
			n++
		}
	}
	if n != 6 {
		t.Fatalf("%d events sent, want 6", n)
	}
}
