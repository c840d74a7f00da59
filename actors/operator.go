package actors

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
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
//
// The mode is kept in the log too (OperatorStreamOf, one operator_mode
// event per change, and the IndexOperatorMode index of the notaries in
// operator mode), so that a restart is, to a notary, every session closing
// at once: at start (operatorRouter) each notary who was available is back
// at the desk, absent, for the grace, and signing in again within it finds
// them available as they left.
type operatorActor struct {
	login    string
	desk     *actor.PID
	grace    time.Duration
	deps     Deps
	restored bool // spawned at start for a notary available before it
	sessions map[string]*actor.PID
	offers   map[string]OfferCall
	// available is the mode the notary last chose; absent is set between
	// the last session closing and a return or the grace's end.
	available, absent bool
	graceGen          int
	graceTimer        *time.Timer
	// seq is the last seq of the notary's operator stream.
	seq uint64
}

// IndexOperatorMode lists the streams (OperatorStreamOf) of the notaries in
// operator mode, under the value "available".
const IndexOperatorMode = "operator_mode"

// OperatorStreamOf is the log stream of a notary's operator mode.
func OperatorStreamOf(login string) string { return "operator/" + login }

// operatorModeEvent is the type of the operator stream's events.
const operatorModeEvent = "operator_mode"

// operatorModeSet is an operator_mode event's payload.
type operatorModeSet struct {
	Available bool `json:"available"`
}

func newOperator(login string, desk *actor.PID, deps Deps, restored bool) actor.Producer {
	return func() actor.Receiver {
		return &operatorActor{login: login, desk: desk, grace: deps.OperatorGrace, deps: deps, restored: restored,
			sessions: map[string]*actor.PID{}, offers: map[string]OfferCall{}}
	}
}

func (o *operatorActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		if o.deps.Log != nil {
			seq, _, err := o.deps.Log.Head(OperatorStreamOf(o.login))
			if err != nil {
				o.deps.Logger.Error().Err(err).Str("notary", o.login).Msg("operator: the mode's stream cannot be read")
			}
			o.seq = seq
		}
		if o.restored {
			// Available before the restart: back at the desk as after a
			// dropped connection, for the grace (absent in the same
			// message: never offered a call meanwhile).
			o.available = true
			if o.grace <= 0 {
				o.gone(c)
				return
			}
			o.absent = true
			c.Send(o.desk, NotaryAvailable{Login: o.login, Available: true, Absent: true})
			o.startGrace(c)
		}
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
			o.leftAll(c)
		}
	case operatorGraceOver:
		if m.Gen == o.graceGen && o.absent && len(o.sessions) == 0 {
			o.gone(c)
		}
	case OperatorMode:
		if m.Available != o.available {
			o.remember(m.Available)
		}
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
	if o.available {
		o.remember(false)
	}
	o.absent, o.available = false, false
	o.stopGrace()
	c.Send(o.desk, NotaryGone{Login: o.login})
}

// leftAll is the notary's last session closing: the desk keeps their
// place for the grace, offering them nothing; with no grace they are gone
// at once.
func (o *operatorActor) leftAll(c *actor.Context) {
	o.offers = map[string]OfferCall{}
	if o.grace <= 0 {
		o.gone(c)
		return
	}
	o.absent = true
	c.Send(o.desk, NotaryAbsent{Login: o.login})
	o.startGrace(c)
}

// startGrace starts the grace after which an absent notary is gone.
func (o *operatorActor) startGrace(c *actor.Context) {
	o.graceGen++
	eng, self, gen := c.Engine(), c.PID(), o.graceGen
	o.stopGrace()
	o.graceTimer = time.AfterFunc(o.grace, func() { eng.Send(self, operatorGraceOver{Gen: gen}) })
}

// remember appends the notary's new mode to their operator stream and
// keeps the index of the available notaries. A log that cannot take it
// changes nothing now (the mode holds in memory): only a restart would
// find the older mode.
func (o *operatorActor) remember(available bool) {
	if o.deps.Log == nil {
		return
	}
	payload, err := json.Marshal(operatorModeSet{Available: available})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	who := act.Actor{Role: act.RoleNotary, ID: o.login}.String()
	out, err := o.deps.Log.Append(ctx, eventlog.AppendRequest{
		Stream: OperatorStreamOf(o.login), ExpectedSeq: o.seq,
		Events:          []eventlog.Draft{{Type: operatorModeEvent, Actor: who, At: o.deps.Now(), Payload: payload}},
		Index:           []eventlog.IndexOp{{Index: IndexOperatorMode, Value: "available", Delete: !available}},
		TrustedPayloads: true,
	})
	if err != nil {
		o.deps.Logger.Error().Err(err).Str("notary", o.login).Bool("available", available).Msg("operator: the mode was not saved")
		if seq, _, herr := o.deps.Log.Head(OperatorStreamOf(o.login)); herr == nil {
			o.seq = seq // a conflict: the next change appends after the log's head
		}
		return
	}
	o.seq = out.Records[len(out.Records)-1].Seq
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
	case actor.Started:
		r.restore(c)
		return
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
		pid = c.SpawnChild(newOperator(login, r.desk, r.deps, false), "op", spawnOpts(r.deps.Logger, login)...)
	}
	c.Engine().SendWithSender(pid, c.Message(), c.Sender())
}

// restore brings back at start the notaries who were in operator mode when
// the server stopped, as the log's IndexOperatorMode lists them.
func (r *operatorRouter) restore(c *actor.Context) {
	if r.deps.Log == nil {
		return
	}
	streams, err := r.deps.Log.Lookup(IndexOperatorMode, "available")
	if err != nil {
		r.deps.Logger.Error().Err(err).Msg("operators: the modes cannot be read; every notary starts away")
		return
	}
	for _, st := range streams {
		login, ok := strings.CutPrefix(st, OperatorStreamOf(""))
		if !ok || login == "" || c.Child(c.PID().ID+"/op/"+login) != nil {
			continue
		}
		c.SpawnChild(newOperator(login, r.desk, r.deps, true), "op", spawnOpts(r.deps.Logger, login)...)
	}
	if len(streams) > 0 {
		r.deps.Logger.Info().Int("available", len(streams)).Msg("operators: the notaries in operator mode are back for the grace")
	}
}
