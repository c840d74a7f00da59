package actors

import (
	"time"

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
	// OperatorStatus tells a session its notary's operator mode: on
	// joining (the mode they left, if they come back within the grace
	// time; the offers they hold follow as OfferCall), and to every
	// session when one of them changes it.
	OperatorStatus struct{ Available bool }
)

// operatorGraceOver is the grace time after a notary's last session closed
// running out; Gen tells a stale timer from the current one.
type operatorGraceOver struct{ Gen int }

// operatorActor is one notary in operator mode, whatever number of browser
// tabs they have open: it relays the desk's offers to every session of the
// notary, and remembers their mode when the last one closes.
//
// A notary who reloads the console, or whose network drops, comes back
// within the grace time (desk.operator_grace) as they left: in operator
// mode if they were, and offered calls again without asking. While they
// have no session the desk keeps their place but offers them nothing
// (NotaryAbsent): a call must not wait on a console nobody sees. When the
// grace runs out they leave the desk (NotaryGone) and are away.
type operatorActor struct {
	login    string
	desk     *actor.PID
	grace    time.Duration
	sessions map[string]*actor.PID
	offers   map[string]OfferCall
	// available is the mode the notary last chose; absent is set between
	// the last session closing and a return or the grace's end.
	available, absent bool
	graceGen          int
	graceTimer        *time.Timer
}

func newOperator(login string, desk *actor.PID, grace time.Duration) actor.Producer {
	return func() actor.Receiver {
		return &operatorActor{login: login, desk: desk, grace: grace, sessions: map[string]*actor.PID{}, offers: map[string]OfferCall{}}
	}
}

func (o *operatorActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Stopped:
		o.stopGrace()
	case OperatorJoin:
		o.sessions[m.Session.ID] = m.Session
		c.Send(m.Session, OperatorStatus{Available: o.available})
		if o.absent {
			// Back within the grace: the desk offers them calls again
			// (the offers come through OfferCall, to this session too).
			o.absent = false
			o.stopGrace()
			c.Send(o.desk, NotaryPresent{Login: o.login})
		}
		for _, off := range o.offers { // a new tab sees the pending offer too
			c.Send(m.Session, off)
		}
	case OperatorLeave:
		if _, ok := o.sessions[m.Session.ID]; !ok {
			return // not one of ours, or told twice: nothing changes
		}
		delete(o.sessions, m.Session.ID)
		if len(o.sessions) == 0 {
			o.offers = map[string]OfferCall{}
			if o.grace <= 0 {
				o.gone(c)
				return
			}
			o.absent = true
			c.Send(o.desk, NotaryAbsent{Login: o.login})
			o.graceGen++
			eng, self, gen := c.Engine(), c.PID(), o.graceGen
			o.stopGrace()
			o.graceTimer = time.AfterFunc(o.grace, func() { eng.Send(self, operatorGraceOver{Gen: gen}) })
		}
	case operatorGraceOver:
		if m.Gen == o.graceGen && o.absent && len(o.sessions) == 0 {
			o.gone(c)
		}
	case OperatorMode:
		o.available = m.Available
		c.Send(o.desk, NotaryAvailable{Login: o.login, Available: m.Available})
		// The notary's other tabs show the same mode.
		o.broadcast(c, OperatorStatus{Available: m.Available})
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

// gone ends the notary's stay at the desk: their last session closed and
// the grace (if any) ran out. They are away when they sign in again.
func (o *operatorActor) gone(c *actor.Context) {
	o.absent, o.available = false, false
	o.stopGrace()
	c.Send(o.desk, NotaryGone{Login: o.login})
}

func (o *operatorActor) stopGrace() {
	if o.graceTimer != nil {
		o.graceTimer.Stop()
		o.graceTimer = nil
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
		pid = c.SpawnChild(newOperator(login, r.desk, r.deps.OperatorGrace), "op", spawnOpts(r.deps.Logger, login)...)
	}
	c.Engine().SendWithSender(pid, c.Message(), c.Sender())
}
