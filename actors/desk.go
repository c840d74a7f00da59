package actors

import (
	"sort"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/desk"
	"github.com/senim-kz/senim/metrics"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/transport/protocol"
)

// Messages to the desk. Acts report their calls; operators report their
// notaries' availability.
type (
	// CallQueued: a client is waiting for a notary.
	CallQueued struct {
		ActID, PrincipalIIN, PrincipalName, AttorneyIIN, ActionType string
		RequestedAt                                                 time.Time
		Notary                                                      string // the act's notary, if it has one
	}
	// CallTaken: a notary accepted the call.
	CallTaken struct{ ActID, Notary string }
	// CallFinished: the call ended, or the act left the call for good.
	CallFinished struct{ ActID string }
	// NotaryAvailable is a notary entering (true) or leaving operator mode.
	// Absent: they enter it without a session (in operator mode before a
	// restart, back for the grace), as NotaryAbsent would say next.
	NotaryAvailable struct {
		Login     string
		Available bool
		Absent    bool
	}
	// NotaryDeclined: the notary passes on the offered call.
	NotaryDeclined struct{ Login, ActID string }
	// NotaryGone: the notary's last session closed, and the grace in which
	// they could come back as they were is over.
	NotaryGone struct{ Login string }
	// NotaryAbsent: the notary's last session closed; they keep their
	// place for the grace time but are offered nothing.
	NotaryAbsent struct{ Login string }
	// NotaryPresent: an absent notary signed in again.
	NotaryPresent struct{ Login string }
	// DeskSnapshot asks the desk for what the operators' dashboard shows;
	// the desk answers a DeskView to ReplyTo, never waiting on anyone.
	DeskSnapshot struct{ ReplyTo *actor.PID }
	// QueuePositionAsk asks where the act's call waits, for its principal;
	// the desk answers ReplyTo with a QueuePositionAnswer under Tag.
	// Default is the wait per call ahead before any call was taken.
	QueuePositionAsk struct {
		ActID, PrincipalIIN, Tag string
		Default                  time.Duration
		ReplyTo                  *actor.PID
	}
	// DeskQueueAsk asks how many calls wait and since when the oldest, for
	// a notary's console; the desk answers ReplyTo with a DeskQueue under
	// Tag.
	DeskQueueAsk struct {
		Tag     string
		ReplyTo *actor.PID
	}
)

// DeskQueue is the queue's size and its oldest call's request time (zero
// when nobody waits).
type DeskQueue struct {
	Tag     string
	Waiting int
	Oldest  time.Time
}

// DeskView is the desk at one moment: the calls waiting, oldest first, and
// the notaries in operator mode or in a call. It carries full IINs: whoever
// shows it masks them.
type DeskView struct {
	Waiting  []WaitingCall
	Notaries []DeskNotary
}

// WaitingCall is one call in the queue.
type WaitingCall struct {
	ActID, PrincipalIIN, ActionType string
	RequestedAt                     time.Time
	// OfferedTo is the notary the call is offered to now, "" none.
	OfferedTo string
}

// DeskNotary is one notary as the desk sees them.
type DeskNotary struct {
	Login     string
	Available bool
	// Offer is the act offered to the notary, InCall the act whose call
	// they are in ("" none).
	Offer, InCall string
}

// QueuePositionAnswer is the desk's answer: the call's place (1 is next),
// how many wait, and a rough estimate; or a refusal code.
type QueuePositionAnswer struct {
	Tag, Code, Message string
	Position, Waiting  int
	EstimateSeconds    int64
}

// recentWaits is how many of the last waits (request to acceptance) the
// estimate averages.
const recentWaits = 20

// Messages from the desk to an operator.
type (
	// OfferCall shows a waiting call to the notary.
	OfferCall struct {
		ActID    string
		Call     CallQueued
		Position int
	}
	// WithdrawOffer takes an offer back.
	WithdrawOffer struct{ ActID string }
)

// deskActor is the shell around domain/desk: it keeps the queue, feeds it
// the acts' and operators' news, and carries out its effects by messaging
// the operators.
type deskActor struct {
	deps      Deps
	d         *desk.Desk
	calls     map[string]CallQueued
	operators map[string]*actor.PID
	// givingUp are the overdue calls whose give_up_call is with their act.
	givingUp map[string]bool
	ticker   *actor.SendRepeater
	// seen is what the dashboard shows of each notary: desk.Desk keeps
	// its own, unexported, for routing.
	seen map[string]*DeskNotary
	// waits are the latest waits of taken calls, newest last.
	waits []time.Duration
}

// deskTick is how often the desk looks for calls past the maximum wait.
const deskTick = time.Second

// deskTicked is the desk's periodic look at the queue.
type deskTicked struct{}

func newDesk(deps Deps) actor.Producer {
	return func() actor.Receiver {
		return &deskActor{deps: deps}
	}
}

func (k *deskActor) Receive(c *actor.Context) {
	now := k.deps.Now()
	switch m := c.Message().(type) {
	case actor.Started:
		k.rebuild(c)
		if k.deps.Rules.CallMaxWait > 0 && k.ticker == nil {
			t := c.Engine().SendRepeat(c.PID(), deskTicked{}, deskTick)
			k.ticker = &t
		}
	case actor.Stopped:
		if k.ticker != nil {
			k.ticker.Stop()
		}
	case deskTicked:
		k.giveUp(c, now)
	case CommandResult:
		// The answer to a give_up_call. Refused (the call was taken in
		// the meantime, say): the act knows best; try again next tick if
		// the call is still queued.
		delete(k.givingUp, m.ActID)
		if m.Code != "" {
			k.deps.Logger.Info().Str("act", m.ActID).Str("code", m.Code).Msg("desk: give_up_call refused")
		}
	case CallQueued:
		k.calls[m.ActID] = m
		k.carry(c, k.d.Enqueue(desk.Call{ActID: m.ActID, RequestedAt: m.RequestedAt, Notary: m.Notary}))
	case CallTaken:
		if q, ok := k.calls[m.ActID]; ok && !q.RequestedAt.IsZero() && now.After(q.RequestedAt) {
			k.waits = append(k.waits[max(0, len(k.waits)-recentWaits+1):], now.Sub(q.RequestedAt))
		}
		k.carry(c, k.d.Accepted(m.ActID, m.Notary, now))
		delete(k.calls, m.ActID)
		k.notary(m.Notary).InCall = m.ActID
	case CallFinished:
		delete(k.givingUp, m.ActID)
		k.carry(c, k.d.Remove(m.ActID))
		k.carry(c, k.d.CallEnded(m.ActID, now))
		delete(k.calls, m.ActID)
		for _, n := range k.seen {
			if n.InCall == m.ActID {
				n.InCall = ""
			}
		}
	case NotaryAvailable:
		k.operators[m.Login] = c.Sender()
		k.carry(c, k.d.SetAvailable(m.Login, m.Available, now))
		k.notary(m.Login).Available = m.Available
		if m.Absent {
			k.carry(c, k.d.Absent(m.Login))
		}
	case NotaryDeclined:
		k.carry(c, k.d.Decline(m.Login, m.ActID))
	case NotaryAbsent:
		k.carry(c, k.d.Absent(m.Login))
	case NotaryPresent:
		k.carry(c, k.d.Present(m.Login))
	case NotaryGone:
		k.carry(c, k.d.Disconnected(m.Login, now))
		delete(k.seen, m.Login)
	case DeskSnapshot:
		c.Send(m.ReplyTo, k.view())
	case QueuePositionAsk:
		c.Send(m.ReplyTo, k.position(m))
	case DeskQueueAsk:
		q := DeskQueue{Tag: m.Tag}
		if w := k.d.Waiting(); len(w) > 0 {
			q.Waiting, q.Oldest = len(w), w[0].RequestedAt
		}
		c.Send(m.ReplyTo, q)
	}
	if k.d != nil {
		metrics.Queue.Set(float64(k.d.Len()))
	}
}

// position answers a QueuePositionAsk. The estimate is the place in the
// queue times the mean of the recent waits (or the default): a guide for
// the person waiting, not a promise.
func (k *deskActor) position(m QueuePositionAsk) QueuePositionAnswer {
	a := QueuePositionAnswer{Tag: m.Tag}
	waiting := k.d.Waiting()
	for i, w := range waiting {
		if w.ActID != m.ActID {
			continue
		}
		if k.calls[m.ActID].PrincipalIIN != m.PrincipalIIN {
			a.Code, a.Message = string(act.CodeForbidden), "only the act's principal sees its place in the queue"
			return a
		}
		per := m.Default
		if len(k.waits) > 0 {
			var sum time.Duration
			for _, d := range k.waits {
				sum += d
			}
			per = sum / time.Duration(len(k.waits))
		}
		a.Position, a.Waiting = i+1, len(waiting)
		a.EstimateSeconds = int64((per * time.Duration(a.Position)).Seconds())
		return a
	}
	a.Code, a.Message = protocol.CodeNotWaiting, "no call of this act is waiting for a notary"
	return a
}

// rebuild refills the queue after a restart from the acts whose call is
// waiting, as the log's "queue" index lists them.
func (k *deskActor) rebuild(c *actor.Context) {
	k.d, k.calls, k.operators, k.givingUp, k.seen = desk.New(), map[string]CallQueued{}, map[string]*actor.PID{}, map[string]bool{}, map[string]*DeskNotary{}
	streams, err := k.deps.Log.Lookup("queue", "waiting")
	if err != nil {
		k.deps.Logger.Error().Err(err).Msg("desk: cannot read the queue index")
		return
	}
	for _, stream := range streams {
		s, err := ReplayStream(k.deps.Log, stream)
		if err != nil || s.Call != act.CallWaiting {
			continue
		}
		q := queuedOf(&s)
		k.calls[s.ID] = q
		k.d.Enqueue(desk.Call{ActID: s.ID, RequestedAt: q.RequestedAt, Notary: q.Notary})
	}
	if n := len(k.calls); n > 0 {
		k.deps.Logger.Info().Int("waiting", n).Msg("desk: queue rebuilt from the log")
	}
}

func (k *deskActor) carry(c *actor.Context, effects []desk.Effect) {
	for _, e := range effects {
		op := k.operators[e.Notary]
		if op == nil {
			continue
		}
		switch e.Kind {
		case desk.Offer:
			c.Send(op, OfferCall{ActID: e.ActID, Call: k.calls[e.ActID], Position: e.Position})
		case desk.Withdraw:
			c.Send(op, WithdrawOffer{ActID: e.ActID})
		}
	}
}

// giveUp sends every call waiting past desk.max_wait back to its client:
// the act records call_unanswered (no_notary_available), which ends the
// call there and, through deskNews, here. The act decides; the desk only
// asks, once per call at a time.
func (k *deskActor) giveUp(c *actor.Context, now time.Time) {
	for _, id := range k.d.Overdue(now, k.deps.Rules.CallMaxWait) {
		if k.givingUp[id] {
			continue
		}
		k.givingUp[id] = true
		metrics.Refused.WithLabelValues(string(act.CodeNoNotaryAvailable)).Inc()
		q := k.calls[id]
		c.Send(actsPID(c.Engine()), ActCommand{ActID: id, CommandID: SystemIDPrefix + "give-up-" + q.RequestedAt.UTC().Format("20060102T150405.000000000"),
			Actor: act.Actor{Role: act.RoleSystem}, Name: (act.GiveUpCall{}).CommandName(), ReplyTo: c.PID()})
	}
}

// actsPID is the acts' router, by the fixed name Start gives it (the desk
// is spawned first, so it cannot be handed the PID).
func actsPID(e *actor.Engine) *actor.PID { return actor.NewPID(e.Address(), "acts/router") }

// notary is the dashboard's record of a notary, made on first news.
func (k *deskActor) notary(login string) *DeskNotary {
	n := k.seen[login]
	if n == nil {
		n = &DeskNotary{Login: login}
		k.seen[login] = n
	}
	return n
}

// view copies the desk's state for DeskSnapshot: the reply must not share
// maps the actor goes on changing.
func (k *deskActor) view() DeskView {
	var v DeskView
	if k.d == nil {
		return v
	}
	for _, w := range k.d.Waiting() {
		q := k.calls[w.ActID]
		off := ""
		for login := range k.seen {
			if k.d.OfferOf(login) == w.ActID {
				off = login
			}
		}
		v.Waiting = append(v.Waiting, WaitingCall{ActID: w.ActID, PrincipalIIN: q.PrincipalIIN, ActionType: q.ActionType,
			RequestedAt: w.RequestedAt, OfferedTo: off})
	}
	for _, n := range k.seen {
		if !n.Available && n.InCall == "" {
			continue
		}
		d := *n
		d.Offer = k.d.OfferOf(n.Login)
		v.Notaries = append(v.Notaries, d)
	}
	sort.Slice(v.Notaries, func(i, j int) bool { return v.Notaries[i].Login < v.Notaries[j].Login })
	return v
}

func queuedOf(s *act.State) CallQueued {
	return CallQueued{
		ActID: s.ID, PrincipalIIN: s.Principal.IIN, PrincipalName: s.Principal.Name, AttorneyIIN: s.Attorney.IIN,
		ActionType: s.ActionType, RequestedAt: s.CallRequestedAt, Notary: s.Notary.ID,
	}
}

// deskNews is what the desk must hear about events just committed to an act.
func deskNews(s *act.State, events []act.Event) []any {
	var out []any
	for _, e := range events {
		switch ev := e.(type) {
		case act.CallRequested:
			out = append(out, queuedOf(s))
		case act.CallAccepted:
			out = append(out, CallTaken{ActID: s.ID, Notary: ev.Notary.ID})
		case act.CallEnded, act.ActSigned, act.ActRefused, act.ActCancelled, act.ConsentRefused, act.CallUnanswered, act.ActExpired:
			out = append(out, CallFinished{ActID: s.ID})
		}
	}
	return out
}

// ReplayStream rebuilds an act's state from its stream.
// Its hash chain is checked as it goes (ReplayVerified): a history
// altered on disk gives ErrBrokenChain, never a state. Each payload is
// borrowed: json.Unmarshal in DecodeEvent copies what it keeps.
func ReplayStream(log *eventlog.Log, stream string) (act.State, error) {
	var s act.State
	err := log.ReplayVerified(stream, func(r eventlog.Record) error {
		e, err := act.DecodeEvent(r.Type, r.Payload)
		if err != nil {
			return err
		}
		s = act.Apply(s, e)
		return nil
	})
	if err != nil {
		return act.State{}, err
	}
	return s, nil
}
