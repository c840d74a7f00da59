package actors

import (
	"github.com/anthdm/hollywood/actor"
)

// Messages between a notary's sessions and their operator actor.
type (
	// OperatorJoin registers a session of the notary.
	OperatorJoin struct {
		Login   string
		Session *actor.PID
	}
	// OperatorLeave unregisters a session (it closed).
	OperatorLeave struct {
		Login   string
		Session *actor.PID
	}
	// OperatorMode is the notary's "available" or "away" from any session.
	OperatorMode struct {
		Login     string
		Available bool
	}
	// OperatorDecline passes on an offered call.
	OperatorDecline struct{ Login, ActID string }
	// OperatorsSnapshot asks the operators' router which notaries are
	// signed in; it answers OperatorsView to ReplyTo.
	OperatorsSnapshot struct{ ReplyTo *actor.PID }
	// OperatorsView lists the signed-in notaries with their open sessions.
	OperatorsView struct{ Online map[string]int }
)

// operatorActor is one notary in operator mode, whatever number of browser
// tabs they have open: it relays the desk's offers to every session of the
// notary and tells the desk when the last one closes.
type operatorActor struct {
	login    string
	desk     *actor.PID
	sessions map[string]*actor.PID
	offers   map[string]OfferCall
}

func newOperator(login string, desk *actor.PID) actor.Producer {
	return func() actor.Receiver {
		return &operatorActor{login: login, desk: desk, sessions: map[string]*actor.PID{}, offers: map[string]OfferCall{}}
	}
}

func (o *operatorActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case OperatorJoin:
		o.sessions[m.Session.ID] = m.Session
		for _, off := range o.offers { // a new tab sees the pending offer too
			c.Send(m.Session, off)
		}
	case OperatorLeave:
		delete(o.sessions, m.Session.ID)
		if len(o.sessions) == 0 {
			o.offers = map[string]OfferCall{}
			c.Send(o.desk, NotaryGone{Login: o.login})
		}
	case OperatorMode:
		c.Send(o.desk, NotaryAvailable{Login: o.login, Available: m.Available})
	case OperatorDecline:
		if _, ok := o.offers[m.ActID]; ok {
			// The notary's other sessions drop the declined offer too.
			delete(o.offers, m.ActID)
			o.broadcast(c, WithdrawOffer{ActID: m.ActID})
		}
		c.Send(o.desk, NotaryDeclined{Login: o.login, ActID: m.ActID})
	case OfferCall:
		o.offers[m.ActID] = m
		o.broadcast(c, m)
	case WithdrawOffer:
		delete(o.offers, m.ActID)
		o.broadcast(c, m)
	}
}

func (o *operatorActor) broadcast(c *actor.Context, msg any) {
	for _, s := range o.sessions {
		c.Send(s, msg)
	}
}

// operatorRouter spawns one operator actor per notary login.
type operatorRouter struct {
	deps Deps
	desk *actor.PID
	// online counts each signed-in notary's sessions for OperatorsSnapshot.
	online map[string]map[string]bool
}

func (r *operatorRouter) Receive(c *actor.Context) {
	var login string
	switch m := c.Message().(type) {
	case OperatorsSnapshot:
		v := OperatorsView{Online: make(map[string]int, len(r.online))}
		for l, s := range r.online {
			v.Online[l] = len(s)
		}
		c.Send(m.ReplyTo, v)
		return
	case OperatorJoin:
		login = m.Login
		if r.online == nil {
			r.online = map[string]map[string]bool{}
		}
		if r.online[login] == nil {
			r.online[login] = map[string]bool{}
		}
		r.online[login][m.Session.ID] = true
	case OperatorLeave:
		login = m.Login
		if s := r.online[login]; s != nil {
			if delete(s, m.Session.ID); len(s) == 0 {
				delete(r.online, login)
			}
		}
	case OperatorMode:
		login = m.Login
	case OperatorDecline:
		login = m.Login
	default:
		return
	}
	pid := c.Child(c.PID().ID + "/op/" + login)
	if pid == nil {
		pid = c.SpawnChild(newOperator(login, r.desk), "op", spawnOpts(r.deps.Logger, login)...)
	}
	c.Engine().SendWithSender(pid, c.Message(), c.Sender())
}
