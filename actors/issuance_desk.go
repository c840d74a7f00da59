package actors

import (
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/desk"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/persistence/eventlog"
)

// The staff queues of remote EDS issuance, like the notaries' desk
// (actors/desk.go) over the same pure core domain/desk: the registration
// desk (applications waiting for a video call) and the moderation queue
// (Digital IDs that failed a check). The oldest case is offered to one free
// staff member in operator mode at a time; a decline, a disconnection or
// going away puts it back in its place. Each queue is rebuilt from the log's
// issuance_phase index at start, and kept up to date by the application
// actors after each append.

// StaffQueue names a staff queue.
type StaffQueue string

// The staff queues.
const (
	QueueRegistration StaffQueue = "registration"
	QueueModeration   StaffQueue = "moderation"
)

// StaffJoin registers a staff session with a queue (not yet available).
type StaffJoin struct {
	Queue   StaffQueue
	Login   string
	Session *actor.PID
}

// StaffLeave is a staff session closing.
type StaffLeave struct {
	Queue   StaffQueue
	Login   string
	Session *actor.PID
}

// StaffMode puts a staff member in operator mode, or takes them out.
type StaffMode struct {
	Queue     StaffQueue
	Login     string
	Available bool
}

// StaffDecline passes on the case offered.
type StaffDecline struct {
	Queue StaffQueue
	Login string
	AppID string
}

// IssuanceOffer goes to each session of the staff member the case is
// offered to; IssuanceOfferGone withdraws it.
type IssuanceOffer struct {
	Queue        StaffQueue
	AppID        string
	IIN          string
	WaitingSince time.Time
	Position     int
}

// IssuanceOfferGone withdraws an offer.
type IssuanceOfferGone struct {
	Queue StaffQueue
	AppID string
}

// staffCase is an application actor telling a queue about a case.
type staffCase struct {
	AppID string
	IIN   string
	At    time.Time
	// Queued: the case waits; else Login took it (Login != "") or it left
	// the queue's phase (Done).
	Queued bool
	Login  string
	Done   bool
}

// queueOf is where an application stands with regard to the queues: the
// queue it waits in, or the queue whose staff member holds it.
func queueOf(s *issuance.State) (q StaffQueue, waiting bool, holder string) {
	switch s.Phase {
	case issuance.PhaseRegistrationWaiting:
		return QueueRegistration, true, ""
	case issuance.PhaseRegistrationCall:
		return QueueRegistration, false, s.Operator.ID
	case issuance.PhaseModeration:
		if s.Moderator.ID == "" {
			return QueueModeration, true, ""
		}
		return QueueModeration, false, s.Moderator.ID
	}
	return "", false, ""
}

// tellQueues tells the queues what the application's change means to them.
func (a *appActor) tellQueues(c *actor.Context, before, after *issuance.State) {
	qb, wb, hb := queueOf(before)
	qa, wa, ha := queueOf(after)
	if qb == qa && wb == wa && hb == ha {
		return
	}
	if qb != "" && qb != qa {
		c.Send(a.idep.desk(qb), staffCase{AppID: a.id, Done: true})
	}
	if qa == "" {
		return
	}
	if wa {
		c.Send(a.idep.desk(qa), staffCase{AppID: a.id, IIN: after.IIN, At: after.LastEventAt, Queued: true})
	} else {
		c.Send(a.idep.desk(qa), staffCase{AppID: a.id, Login: ha})
	}
}

// staffDesk is one queue.
type staffDesk struct {
	deps     Deps
	queue    StaffQueue
	d        *desk.Desk
	sessions map[string]map[string]*actor.PID // login -> session id -> session
	cases    map[string]staffCase             // waiting cases
}

func newStaffDesk(deps Deps, q StaffQueue) actor.Producer {
	return func() actor.Receiver {
		return &staffDesk{deps: deps, queue: q, d: desk.New(), sessions: map[string]map[string]*actor.PID{}, cases: map[string]staffCase{}}
	}
}

func (k *staffDesk) Receive(c *actor.Context) {
	now := k.deps.Now()
	switch m := c.Message().(type) {
	case actor.Started:
		k.rebuild(c, now)
	case StaffJoin:
		if k.sessions[m.Login] == nil {
			k.sessions[m.Login] = map[string]*actor.PID{}
		}
		k.sessions[m.Login][m.Session.ID] = m.Session
		// A new session sees the offer its other sessions hold.
		if app := k.d.OfferOf(m.Login); app != "" {
			k.offer(c, m.Session, app)
		}
	case StaffLeave:
		if subs := k.sessions[m.Login]; subs != nil {
			delete(subs, m.Session.ID)
			if len(subs) == 0 {
				delete(k.sessions, m.Login)
				k.carry(c, k.d.Disconnected(m.Login, now))
			}
		}
	case StaffMode:
		k.carry(c, k.d.SetAvailable(m.Login, m.Available, now))
	case StaffDecline:
		k.carry(c, k.d.Decline(m.Login, m.AppID))
	case staffCase:
		switch {
		case m.Queued:
			k.cases[m.AppID] = m
			k.carry(c, k.d.Enqueue(desk.Call{ActID: m.AppID, RequestedAt: m.At}))
		case m.Login != "":
			delete(k.cases, m.AppID)
			k.carry(c, k.d.Accepted(m.AppID, m.Login, now))
		default:
			delete(k.cases, m.AppID)
			eff := k.d.Remove(m.AppID)
			k.carry(c, append(eff, k.d.CallEnded(m.AppID, now)...))
		}
	}
}

// rebuild reads the queue's cases from the log: the waiting ones enter
// the queue, the taken ones keep their staff member busy.
func (k *staffDesk) rebuild(c *actor.Context, now time.Time) {
	phase := issuance.PhaseRegistrationWaiting
	if k.queue == QueueRegistration {
		k.rebuildPhase(c, now, issuance.PhaseRegistrationCall)
	} else {
		phase = issuance.PhaseModeration
	}
	k.rebuildPhase(c, now, phase)
}

func (k *staffDesk) rebuildPhase(c *actor.Context, now time.Time, phase issuance.Phase) {
	streams, err := k.deps.Log.Lookup(IndexIssuancePhase, string(phase))
	if err != nil {
		k.deps.Logger.Error().Err(err).Str("queue", string(k.queue)).Msg("staff queue not rebuilt")
		return
	}
	for _, st := range streams {
		var s issuance.State
		_ = k.deps.Log.Read(st, 1, func(r eventlog.Record) error {
			if e, err := issuance.DecodeEvent(r.Type, r.Payload); err == nil {
				s = issuance.Apply(s, e)
			}
			return nil
		})
		q, waiting, holder := queueOf(&s)
		switch {
		case q != k.queue:
		case waiting:
			k.cases[s.ID] = staffCase{AppID: s.ID, IIN: s.IIN, At: s.LastEventAt, Queued: true}
			k.d.Enqueue(desk.Call{ActID: s.ID, RequestedAt: s.LastEventAt})
		case holder != "":
			k.d.Accepted(s.ID, holder, now)
		}
	}
}

func (k *staffDesk) carry(c *actor.Context, effects []desk.Effect) {
	for _, e := range effects {
		for _, pid := range k.sessions[e.Notary] {
			switch e.Kind {
			case desk.Offer:
				k.offer(c, pid, e.ActID)
			case desk.Withdraw:
				c.Send(pid, IssuanceOfferGone{Queue: k.queue, AppID: e.ActID})
			}
		}
	}
}

func (k *staffDesk) offer(c *actor.Context, to *actor.PID, app string) {
	cs := k.cases[app]
	pos := 1
	for i, w := range k.d.Waiting() {
		if w.ActID == app {
			pos = i + 1
		}
	}
	c.Send(to, IssuanceOffer{Queue: k.queue, AppID: app, IIN: cs.IIN, WaitingSince: cs.At, Position: pos})
}
