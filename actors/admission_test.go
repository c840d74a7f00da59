package actors

import (
	"testing"
	"time"
)

// The delay bound: new sessions are refused once the work in flight over
// the rate of answers is past max_delay, requests on open sessions from
// twice that; nothing is refused before the rate is known, below minQueue,
// or after the answers catch up.
func TestAdmissionBoundsTheExpectedWait(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a := NewAdmission(1000, time.Second).BoundDelay(100*time.Millisecond, clock)
	check := func(step string, accepting, full bool) {
		t.Helper()
		if a.Accepting() != accepting || a.Full() != full {
			t.Fatalf("%s: %d in flight, expected wait %v: accepting %v full %v, want %v %v",
				step, a.InFlight(), a.ExpectedDelay(), a.Accepting(), a.Full(), accepting, full)
		}
	}
	a.add(40)
	check("no rate measured yet", true, false)
	// 400 answers a second, 40 in flight: 100 ms, at the bound.
	now = now.Add(admissionWindow)
	a.add(-40)
	a.add(40)
	now = now.Add(admissionWindow)
	a.add(-40)
	a.add(40)
	if d := a.ExpectedDelay(); d < 90*time.Millisecond || d > 110*time.Millisecond {
		t.Fatalf("expected wait %v with 40 in flight at 400/s, want 100 ms", d)
	}
	check("at the bound", true, false)
	a.add(20)
	check("150 ms: no new sessions", false, false)
	a.add(30)
	check("225 ms: nothing new", false, true)
	// The answers stop: the rate falls, the expected wait grows.
	now = now.Add(admissionWindow)
	check("stalled", false, true)
	// They catch up: 90 answered in a window, and 20 in flight.
	a.add(-90)
	a.add(20)
	now = now.Add(admissionWindow)
	a.add(-1)
	a.add(1)
	check("caught up", true, false)
	// Under minQueue in flight nothing is refused, whatever the rate.
	a.add(int(-a.n.Load()) + minQueue - 1)
	now = now.Add(admissionWindow)
	check("a few requests", true, false)
	// The count bound holds without a delay bound.
	b := NewAdmission(2, time.Second)
	b.add(2)
	if b.Accepting() || !b.Full() {
		t.Fatal("past max_in_flight: still accepting")
	}
}
