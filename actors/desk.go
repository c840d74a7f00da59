package actors

import (
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
	NotaryAvailable struct {
		Login     string
		Available bool
	}
	// NotaryDeclined: the notary passes on the offered call.
	NotaryDeclined struct{ Login, ActID string }
	// NotaryGone: the notary's last session closed.
	NotaryGone struct{ Login string }
	// QueuePositionAsk asks where the act's call waits, for its principal;
	// the desk answers ReplyTo with a QueuePositionAnswer under Tag.
	// Default is the wait per call ahead before any call was taken.
	QueuePositionAsk struct {
		ActID, PrincipalIIN, Tag string
		Default                  time.Duration
		ReplyTo                  *actor.PID
	}
)

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
	// waits are the latest waits of taken calls, newest last.
	waits []time.Duration
}

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
	case CallQueued:
		k.calls[m.ActID] = m
		k.carry(c, k.d.Enqueue(desk.Call{ActID: m.ActID, RequestedAt: m.RequestedAt, Notary: m.Notary}))
	case CallTaken:
		if q, ok := k.calls[m.ActID]; ok && !q.RequestedAt.IsZero() && now.After(q.RequestedAt) {
			k.waits = append(k.waits[max(0, len(k.waits)-recentWaits+1):], now.Sub(q.RequestedAt))
		}
		k.carry(c, k.d.Accepted(m.ActID, m.Notary, now))
		delete(k.calls, m.ActID)
	case CallFinished:
		k.carry(c, k.d.Remove(m.ActID))
		k.carry(c, k.d.CallEnded(m.ActID, now))
		delete(k.calls, m.ActID)
	case NotaryAvailable:
		k.operators[m.Login] = c.Sender()
		k.carry(c, k.d.SetAvailable(m.Login, m.Available, now))
	case NotaryDeclined:
		k.carry(c, k.d.Decline(m.Login, m.ActID))
	case NotaryGone:
		k.carry(c, k.d.Disconnected(m.Login, now))
	case QueuePositionAsk:
		c.Send(m.ReplyTo, k.position(m))
	}
	if k.d != nil {
		metrics.Queue.Set(float64(len(k.d.Waiting())))
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
	k.d, k.calls, k.operators = desk.New(), map[string]CallQueued{}, map[string]*actor.PID{}
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
		case act.CallEnded, act.ActSigned, act.ActRefused, act.ActCancelled, act.ConsentRefused:
			out = append(out, CallFinished{ActID: s.ID})
		}
	}
	return out
}

// ReplayStream rebuilds an act's state from its stream.
// Its hash chain is checked first (ReadVerified): a history altered on
// disk gives ErrBrokenChain, never a state.
func ReplayStream(log *eventlog.Log, stream string) (act.State, error) {
	recs, err := log.ReadVerified(stream)
	if err != nil {
		return act.State{}, err
	}
	var s act.State
	for _, r := range recs {
		e, err := act.DecodeEvent(r.Type, r.Payload)
		if err != nil {
			return act.State{}, err
		}
		s = act.Apply(s, e)
	}
	return s, nil
}
