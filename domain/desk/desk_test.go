package desk

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func offer(n, act string, pos int) Effect {
	return Effect{Kind: Offer, Notary: n, ActID: act, Position: pos}
}
func withdraw(n, act string) Effect { return Effect{Kind: Withdraw, Notary: n, ActID: act} }

func expect(t *testing.T, step string, got []Effect, want ...Effect) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: effects %+v, want %+v", step, got, want)
	}
}

func TestOldestCallerFirst(t *testing.T) {
	d := New()
	expect(t, "c enqueued", d.Enqueue(Call{ActID: "c", RequestedAt: at(3)}))
	expect(t, "a enqueued", d.Enqueue(Call{ActID: "a", RequestedAt: at(1)}))
	expect(t, "b enqueued", d.Enqueue(Call{ActID: "b", RequestedAt: at(2)}))
	expect(t, "aliya available", d.SetAvailable("aliya", true, at(4)), offer("aliya", "a", 1))
	expect(t, "bolat available", d.SetAvailable("bolat", true, at(5)), offer("bolat", "b", 2))
	expect(t, "aliya takes a", d.Accepted("a", "aliya", at(6)), withdraw("aliya", "a"))
	if w := d.Waiting(); len(w) != 2 || w[0].ActID != "b" || w[1].ActID != "c" {
		t.Fatalf("queue %v", w)
	}
	// aliya is busy: c waits even though aliya is "available".
	expect(t, "aliya's call ends", d.CallEnded("a", at(7)), offer("aliya", "c", 2))
}

func TestOneOfferPerCallAndPerNotary(t *testing.T) {
	d := New()
	d.SetAvailable("aliya", true, at(0))
	expect(t, "a", d.Enqueue(Call{ActID: "a", RequestedAt: at(1)}), offer("aliya", "a", 1))
	expect(t, "b waits: aliya holds an offer", d.Enqueue(Call{ActID: "b", RequestedAt: at(2)}))
	expect(t, "bolat gets b, not a", d.SetAvailable("bolat", true, at(3)), offer("bolat", "b", 2))
	expect(t, "a re-enqueued keeps its offer", d.Enqueue(Call{ActID: "a", RequestedAt: at(1)}))
}

func TestNotaryDropsBeforeAccepting(t *testing.T) {
	d := New()
	d.SetAvailable("aliya", true, at(0))
	d.Enqueue(Call{ActID: "a", RequestedAt: at(1)})
	d.SetAvailable("bolat", true, at(2))
	d.Enqueue(Call{ActID: "b", RequestedAt: at(3)}) // to bolat
	d.SetAvailable("daulet", true, at(4))
	// aliya disconnects holding a: a goes to the only free notary, daulet.
	expect(t, "aliya drops", d.Disconnected("aliya", at(5)), offer("daulet", "a", 1))
	// bolat goes away: b returns to the queue; nobody is free.
	expect(t, "bolat away", d.SetAvailable("bolat", false, at(6)), withdraw("bolat", "b"))
	expect(t, "aliya back", d.SetAvailable("aliya", true, at(7)), offer("aliya", "b", 2))
}

func TestDecline(t *testing.T) {
	d := New()
	d.SetAvailable("aliya", true, at(0))
	d.SetAvailable("bolat", true, at(1))
	expect(t, "a to the longest free", d.Enqueue(Call{ActID: "a", RequestedAt: at(2)}), offer("aliya", "a", 1))
	expect(t, "aliya declines", d.Decline("aliya", "a"), offer("bolat", "a", 1))
	expect(t, "bolat declines: nobody else", d.Decline("bolat", "a"))
	expect(t, "a decline of nothing", d.Decline("bolat", "a"))
	// A new call is offered to aliya, who declined only a.
	expect(t, "b", d.Enqueue(Call{ActID: "b", RequestedAt: at(3)}), offer("aliya", "b", 2))
	expect(t, "daulet arrives and gets a", d.SetAvailable("daulet", true, at(4)), offer("daulet", "a", 1))
}

func TestAssignedNotaryOnly(t *testing.T) {
	d := New()
	d.SetAvailable("bolat", true, at(0))
	expect(t, "a belongs to aliya", d.Enqueue(Call{ActID: "a", RequestedAt: at(1), Notary: "aliya"}))
	expect(t, "b is anyone's", d.Enqueue(Call{ActID: "b", RequestedAt: at(2)}), offer("bolat", "b", 2))
	expect(t, "aliya comes", d.SetAvailable("aliya", true, at(3)), offer("aliya", "a", 1))
}

func TestRemoveWithdrawsTheOffer(t *testing.T) {
	d := New()
	d.SetAvailable("aliya", true, at(0))
	d.Enqueue(Call{ActID: "a", RequestedAt: at(1)})
	d.Enqueue(Call{ActID: "b", RequestedAt: at(2)})
	expect(t, "client cancels a", d.Remove("a"), withdraw("aliya", "a"), offer("aliya", "b", 1))
	if d.OfferOf("aliya") != "b" {
		t.Fatalf("aliya holds %q", d.OfferOf("aliya"))
	}
	expect(t, "remove unknown", d.Remove("zzz"))
}

// The accepting notary's offer is withdrawn too: their other sessions (a
// second tab, a phone) still show it otherwise, even after the act ends.
func TestAcceptWithdrawsTheOfferFromItsHolder(t *testing.T) {
	d := New()
	d.SetAvailable("aliya", true, at(0))
	d.Enqueue(Call{ActID: "a", RequestedAt: at(1)})
	d.Enqueue(Call{ActID: "b", RequestedAt: at(2)})
	d.SetAvailable("bolat", true, at(3)) // b to bolat
	expect(t, "aliya accepts a", d.Accepted("a", "aliya", at(4)), withdraw("aliya", "a"))
	expect(t, "bolat accepts b", d.Accepted("b", "bolat", at(5)), withdraw("bolat", "b"))
	if len(d.Waiting()) != 0 {
		t.Fatalf("queue %v", d.Waiting())
	}
}

// A call that waited maxWait is overdue; a younger one is not.
func TestOverdue(t *testing.T) {
	d := New()
	d.Enqueue(Call{ActID: "b", RequestedAt: at(5)})
	d.Enqueue(Call{ActID: "a", RequestedAt: at(1)})
	if got := d.Overdue(at(10), 10*time.Minute); len(got) != 0 {
		t.Fatalf("overdue at 10: %v", got)
	}
	if got := d.Overdue(at(11), 10*time.Minute); !reflect.DeepEqual(got, []string{"a"}) {
		t.Fatalf("overdue at 11: %v", got)
	}
	if got := d.Overdue(at(20), 10*time.Minute); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("overdue at 20: %v", got)
	}
	if got := d.Overdue(at(99), 0); len(got) != 0 {
		t.Fatalf("no limit: %v", got)
	}
}

// An absent notary (their last session closed, within the grace) keeps
// their place and the call they are in, but is offered nothing; back, they
// are offered calls again without asking. Their offer goes to the next
// free notary at once, or back to them when they return.
func TestAbsentKeepsThePlaceNotTheOffer(t *testing.T) {
	d := New()
	d.SetAvailable("aliya", true, at(0))
	expect(t, "a to aliya", d.Enqueue(Call{ActID: "a", RequestedAt: at(1)}), offer("aliya", "a", 1))
	expect(t, "aliya's tab closes", d.Absent("aliya"), withdraw("aliya", "a"))
	expect(t, "absent twice", d.Absent("aliya"))
	expect(t, "b waits: aliya is absent", d.Enqueue(Call{ActID: "b", RequestedAt: at(2)}))
	expect(t, "aliya back: a again", d.Present("aliya"), offer("aliya", "a", 1))
	expect(t, "present twice", d.Present("aliya"))

	// Absent while holding an offer, with another notary free: it moves on.
	d.SetAvailable("bolat", true, at(3)) // gets b
	expect(t, "bolat takes b", d.Accepted("b", "bolat", at(4)), withdraw("bolat", "b"))
	d.SetAvailable("daulet", true, at(5))
	expect(t, "aliya drops again: a to daulet", d.Absent("aliya"), withdraw("aliya", "a"), offer("daulet", "a", 1))

	// bolat, in b's call, reloads: still busy when back, so c is not his.
	expect(t, "bolat absent", d.Absent("bolat"))
	expect(t, "bolat back", d.Present("bolat"))
	expect(t, "c waits for a free notary", d.Enqueue(Call{ActID: "c", RequestedAt: at(6)}))
	expect(t, "aliya back gets c", d.Present("aliya"), offer("aliya", "c", 2))

	// After the grace: gone, and not offered on a later Present.
	expect(t, "daulet absent", d.Absent("daulet"), withdraw("daulet", "a"))
	expect(t, "daulet gone", d.Disconnected("daulet", at(7)))
	expect(t, "present after gone", d.Present("daulet"))
}

// BenchmarkBusyDesk is the desk past its capacity: every notary in a call
// and a long queue; calls keep coming and calls keep ending.
func BenchmarkBusyDesk(b *testing.B) {
	for _, waiting := range []int{100, 3000} {
		b.Run(fmt.Sprintf("waiting=%d", waiting), func(b *testing.B) {
			d := New()
			const notaries = 64
			for i := range notaries {
				d.SetAvailable(fmt.Sprintf("n%02d", i), true, t0)
			}
			n := 0
			next := func() string { n++; return fmt.Sprintf("act-%07d", n) }
			for range waiting + notaries {
				d.Enqueue(Call{ActID: next(), RequestedAt: t0.Add(time.Duration(n) * time.Millisecond)})
			}
			for i := range notaries {
				d.Accepted(fmt.Sprintf("act-%07d", i+1), fmt.Sprintf("n%02d", i), t0)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// One call comes, one call ends, its notary takes the next.
				d.Enqueue(Call{ActID: next(), RequestedAt: t0.Add(time.Duration(n) * time.Millisecond)})
				login := fmt.Sprintf("n%02d", i%notaries)
				busy := d.notaries[login].busy
				for _, e := range d.CallEnded(busy, t0.Add(time.Hour)) {
					d.Accepted(e.ActID, e.Notary, t0.Add(time.Hour))
				}
			}
		})
	}
}
