// Package desk is the pure core of the desk: the queue of clients waiting
// for a notary, and the rules that route each call to exactly one notary.
//
// Oldest caller first: the call that has waited longest is offered first.
// An offer goes to one free notary in operator mode at a time, the one who
// has been free the longest. A call that belongs to a notary already (the
// act is theirs from an earlier call) is offered to that notary only. If the
// notary declines, goes away or disconnects before accepting, the call goes
// back to its place in the queue and is offered to the next free notary; a
// notary who declined a call is not offered it again while it waits.
//
// A notary whose last session closed is absent for a grace time: they keep
// their place (operator mode, free since, the call they are in) but are
// offered nothing, and an offer they held goes back to the queue at once;
// back within the grace, they are offered calls again without asking.
//
// Desk does no I/O and reads no clock; every method returns the effects
// (offers to make, offers to withdraw) for the shell to carry out.
package desk

import (
	"sort"
	"time"
)

// Call is a client waiting for a notary.
type Call struct {
	ActID       string
	RequestedAt time.Time
	// Notary, if set, is the only notary this call may go to.
	Notary string
}

// Effect is something the shell must tell a notary.
type Effect struct {
	Kind   EffectKind
	Notary string
	ActID  string
	// Position is the call's place in the queue (1 = oldest) for an offer.
	Position int
}

// EffectKind says what to tell the notary.
type EffectKind int

const (
	// Offer: show the call to the notary ("the window lights green").
	Offer EffectKind = iota + 1
	// Withdraw: the offer is gone (taken, cancelled, or the notary left).
	Withdraw
)

type notary struct {
	login     string
	available bool
	freeSince time.Time
	offer     string // act id offered, "" none
	busy      string // act id in a call, "" none
	absent    bool   // no session: keeps its place, offered nothing
}

// Desk is the queue and the notaries' availability.
type Desk struct {
	waiting  []Call            // by RequestedAt, then ActID
	offered  map[string]string // act id -> notary login
	declined map[string]map[string]bool
	notaries map[string]*notary
}

// New returns an empty desk.
func New() *Desk {
	return &Desk{offered: map[string]string{}, declined: map[string]map[string]bool{}, notaries: map[string]*notary{}}
}

// Waiting lists the waiting calls, oldest first.
func (d *Desk) Waiting() []Call { return append([]Call(nil), d.waiting...) }

// OfferOf returns the act offered to a notary, or "".
func (d *Desk) OfferOf(login string) string {
	if n := d.notaries[login]; n != nil {
		return n.offer
	}
	return ""
}

// Enqueue puts a call in the queue (or updates it if already there) and
// returns the offers that follow.
func (d *Desk) Enqueue(c Call) []Effect {
	d.unqueue(c.ActID)
	// Binary search for its place (by RequestedAt, then ActID): the queue
	// is sorted already, and a queue of thousands under load must not be
	// sorted again on every call.
	i := sort.Search(len(d.waiting), func(i int) bool { return callBefore(c, d.waiting[i]) })
	d.waiting = append(d.waiting, Call{})
	copy(d.waiting[i+1:], d.waiting[i:])
	d.waiting[i] = c
	return d.match()
}

// Len is how many calls wait.
func (d *Desk) Len() int { return len(d.waiting) }

// callBefore orders the queue: oldest request first, then act id.
func callBefore(a, b Call) bool {
	if !a.RequestedAt.Equal(b.RequestedAt) {
		return a.RequestedAt.Before(b.RequestedAt)
	}
	return a.ActID < b.ActID
}

// unqueue takes actID's call out of the queue, if it is there.
func (d *Desk) unqueue(actID string) {
	for i, w := range d.waiting {
		if w.ActID == actID {
			d.waiting = append(d.waiting[:i], d.waiting[i+1:]...)
			return
		}
	}
}

// Remove takes a call out of the queue: it was accepted, cancelled or the
// act ended. A pending offer of it is withdrawn.
func (d *Desk) Remove(actID string) []Effect {
	var out []Effect
	d.unqueue(actID)
	if login, ok := d.offered[actID]; ok {
		delete(d.offered, actID)
		if n := d.notaries[login]; n != nil && n.offer == actID {
			n.offer = ""
		}
		out = append(out, Effect{Kind: Withdraw, Notary: login, ActID: actID})
	}
	delete(d.declined, actID)
	return append(out, d.match()...)
}

// Accepted records that login took the call of actID: the call leaves the
// queue and the notary is busy until CallEnded. The offer is withdrawn from
// whoever held it, the accepting notary included: they may have several
// sessions, and only the one that accepted knows the offer is spent.
func (d *Desk) Accepted(actID, login string, now time.Time) []Effect {
	n := d.notary(login, now)
	n.busy = actID
	return d.Remove(actID)
}

// CallEnded frees the notary who was in the call of actID.
func (d *Desk) CallEnded(actID string, now time.Time) []Effect {
	for _, n := range d.notaries {
		if n.busy == actID {
			n.busy = ""
			n.freeSince = now
		}
	}
	return d.match()
}

// Overdue lists the calls that have waited maxWait or longer at now, oldest
// first: the shell sends them back to their clients. They stay in the queue
// until the act says the call is over (Remove).
func (d *Desk) Overdue(now time.Time, maxWait time.Duration) []string {
	var out []string
	for _, c := range d.waiting {
		if maxWait > 0 && !now.Before(c.RequestedAt.Add(maxWait)) {
			out = append(out, c.ActID)
		}
	}
	return out
}

// SetAvailable puts a notary in operator mode (true) or takes them out. A
// notary who goes away loses their pending offer back to the queue.
func (d *Desk) SetAvailable(login string, available bool, now time.Time) []Effect {
	n := d.notary(login, now)
	if n.available == available {
		return nil
	}
	n.available = available
	var out []Effect
	if available {
		n.freeSince = now
	} else if n.offer != "" {
		out = append(out, Effect{Kind: Withdraw, Notary: login, ActID: n.offer})
		delete(d.offered, n.offer)
		n.offer = ""
	}
	return append(out, d.match()...)
}

// Absent is a notary's last session closing, for the grace time in which
// they may come back: their offer, if any, is withdrawn and goes to the
// next free notary; they keep their place and are offered nothing until
// Present (or Disconnected, when the grace is over).
func (d *Desk) Absent(login string) []Effect {
	n := d.notaries[login]
	if n == nil || n.absent {
		return nil
	}
	n.absent = true
	var out []Effect
	if n.offer != "" {
		out = append(out, Effect{Kind: Withdraw, Notary: login, ActID: n.offer})
		delete(d.offered, n.offer)
		n.offer = ""
	}
	return append(out, d.match()...)
}

// Present is an absent notary signing in again: they are offered calls
// again as before they left.
func (d *Desk) Present(login string) []Effect {
	n := d.notaries[login]
	if n == nil || !n.absent {
		return nil
	}
	n.absent = false
	return d.match()
}

// Disconnected is a notary's last session closing for good (or the grace
// of Absent running out): like going away, and a call they were in no
// longer keeps them busy.
func (d *Desk) Disconnected(login string, now time.Time) []Effect {
	n := d.notaries[login]
	if n == nil {
		return nil
	}
	n.busy, n.absent = "", false
	out := d.SetAvailable(login, false, now)
	// The notary cannot receive a withdrawal any more.
	kept := out[:0]
	for _, e := range out {
		if e.Notary != login {
			kept = append(kept, e)
		}
	}
	return kept
}

// Decline is a notary passing on the call offered to them.
func (d *Desk) Decline(login, actID string) []Effect {
	n := d.notaries[login]
	if n == nil || n.offer != actID {
		return nil
	}
	n.offer = ""
	delete(d.offered, actID)
	if d.declined[actID] == nil {
		d.declined[actID] = map[string]bool{}
	}
	d.declined[actID][login] = true
	return d.match()
}

func (d *Desk) notary(login string, now time.Time) *notary {
	n := d.notaries[login]
	if n == nil {
		n = &notary{login: login, freeSince: now}
		d.notaries[login] = n
	}
	return n
}

// match offers waiting calls, oldest first, to free notaries, longest free
// first, until no pair fits. It costs one pass over the notaries, then one
// over the queue that stops as soon as no notary is free: under load, with
// every notary busy and thousands waiting, almost nothing.
func (d *Desk) match() []Effect {
	var free []*notary
	for _, n := range d.notaries {
		if n.available && !n.absent && n.offer == "" && n.busy == "" {
			free = append(free, n)
		}
	}
	if len(free) == 0 {
		return nil
	}
	sort.Slice(free, func(i, j int) bool {
		a, b := free[i], free[j]
		if !a.freeSince.Equal(b.freeSince) {
			return a.freeSince.Before(b.freeSince)
		}
		return a.login < b.login
	})
	var out []Effect
	for pos, c := range d.waiting {
		if len(free) == 0 {
			break
		}
		if _, ok := d.offered[c.ActID]; ok {
			continue
		}
		for i, n := range free {
			if d.declined[c.ActID][n.login] || (c.Notary != "" && c.Notary != n.login) {
				continue
			}
			n.offer = c.ActID
			d.offered[c.ActID] = n.login
			out = append(out, Effect{Kind: Offer, Notary: n.login, ActID: c.ActID, Position: pos + 1})
			free = append(free[:i], free[i+1:]...)
			break
		}
	}
	return out
}
