package actors

import (
	"fmt"
	"strconv"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/metrics"
)

// System is the running actor engine with its long-lived actors.
type System struct {
	Engine    *actor.Engine
	deps      Deps
	router    *actor.PID
	desk      *actor.PID
	operators *actor.PID
	media     *actor.PID
	// issuance is the applications' router (StartIssuance); nil: off.
	issuance     *actor.PID
	issuanceDeps *IssuanceDeps
	ipStarts     *ipWindow
}

// Start builds the engine and spawns the router.
func Start(deps Deps) (*System, error) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Pseudonyms == nil {
		deps.Pseudonyms = processKey
	}
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		return nil, err
	}
	s := &System{Engine: e}
	s.desk = e.Spawn(newDesk(deps), "desk", spawnOpts(deps.Logger, "desk")...)
	deps.Desk = s.desk
	s.deps = deps
	desk := s.desk
	s.operators = e.Spawn(func() actor.Receiver { return &operatorRouter{deps: deps, desk: desk} }, "operators", spawnOpts(deps.Logger, "router")...)
	if deps.Media.SFU != nil {
		// The media actors send the acts commands; the acts tell them about
		// calls. Both PIDs are fixed names, known before either is spawned.
		deps.MediaActors = actor.NewPID(e.Address(), "media/router")
	}
	s.deps = deps
	s.router = e.Spawn(newRouter(deps), "acts", spawnOpts(deps.Logger, "router")...)
	if deps.Media.SFU != nil {
		// After the acts' router: the media router's first messages (the
		// recordings it salvages) go to it.
		acts := s.router
		s.media = e.Spawn(func() actor.Receiver { return &mediaRouter{deps: deps, acts: acts, rooms: map[string]*actor.PID{}} }, "media", spawnOpts(deps.Logger, "router")...)
		if !s.media.Equals(deps.MediaActors) {
			return nil, fmt.Errorf("actors: the media router is %s, the acts expect %s", s.media, deps.MediaActors)
		}
	}
	return s, nil
}

// Operators is where a notary's sessions send OperatorJoin, OperatorLeave,
// OperatorMode and OperatorDecline.
func (s *System) Operators() *actor.PID { return s.operators }

// Media is where signals for calls in progress go; nil without an SFU.
func (s *System) Media() *actor.PID { return s.media }

// Deps returns the dependencies the actors run with.
func (s *System) Deps() Deps { return s.deps }

// Acts is the PID every act message goes to: the router delivers it to the
// act's actor, spawning it (and so replaying its log) on first use.
func (s *System) Acts() *actor.PID { return s.router }

// Stop stops every actor and waits for them.
func (s *System) Stop() {
	if s.media != nil {
		// First, so that rooms still in a call finish their recordings and
		// tell the acts before the acts stop.
		<-s.Engine.Poison(s.media).Done()
	}
	s.stopIssuance()
	<-s.Engine.Poison(s.router).Done()
	<-s.Engine.Poison(s.operators).Done()
	<-s.Engine.Poison(s.desk).Done()
}

// actMessage is any message addressed to one act.
type actMessage interface{ actID() string }

func (m ActCommand) actID() string  { return m.ActID }
func (m Subscribe) actID() string   { return m.ActID }
func (m Unsubscribe) actID() string { return m.ActID }
func (m GetState) actID() string    { return m.ActID }

// router owns the act actors: being the only one that spawns them, it
// guarantees one actor per act. It forwards with engine.Send so that the
// act sees the ReplyTo in the message, not the router, as the sender.
//
// Passivation: an act idle for Deps.ActIdleAfter (no message through the
// router) is stopped, and rebuilt from the log by the next message. The
// router owns the mapping, so no message is lost on the way: it asks the
// act (passivateAsk, carrying how many messages it has forwarded), the act
// answers with its subscribers, and the router stops it only if it
// forwarded nothing meanwhile; anything later goes to a fresh actor. The
// subscribers are parked with the router and handed to the next actor of
// the act, so a subscribed session keeps getting every event without
// keeping an idle act in memory.
type router struct {
	deps Deps
	live map[string]*liveAct
	// parked are the subscribers of passivated acts, by act and PID id.
	parked map[string]map[string]*actor.PID
	gen    uint64 // makes each incarnation's PID unique (hollywood refuses a live duplicate id)
	sweep  *actor.SendRepeater
}

// liveAct is the router's record of one running act actor.
type liveAct struct {
	pid    *actor.PID
	lastAt time.Time
	sent   uint64 // messages forwarded to this incarnation
}

// sweepIdle makes the router ask its idle acts to passivate.
type sweepIdle struct{}

// liveActs asks the router for its live acts' PIDs, by act id (a
// map[string]*actor.PID answers): for tests and diagnostics.
type liveActs struct{ ReplyTo *actor.PID }

// passivateAsk asks an act for its subscribers before the router stops it;
// Sent is the number of messages the router had forwarded to it.
type passivateAsk struct{ Sent uint64 }

// passivateReady answers passivateAsk.
type passivateReady struct {
	ActID       string
	PID         *actor.PID
	Sent        uint64
	Subscribers map[string]*actor.PID
}

func newRouter(deps Deps) actor.Producer {
	return func() actor.Receiver {
		return &router{deps: deps, live: map[string]*liveAct{}, parked: map[string]map[string]*actor.PID{}}
	}
}

func (r *router) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		if d := r.deps.ActIdleAfter; d > 0 {
			every := d / 2
			if every < time.Second {
				every = time.Second
			}
			rep := c.Engine().SendRepeat(c.PID(), sweepIdle{}, every)
			r.sweep = &rep
		}
		return
	case actor.Stopped:
		if r.sweep != nil {
			r.sweep.Stop()
		}
		return
	case sweepIdle:
		r.sweepIdle(c)
		return
	case passivateReady:
		r.passivated(c, m)
		return
	case liveActs:
		pids := make(map[string]*actor.PID, len(r.live))
		for id, la := range r.live {
			pids[id] = la.pid
		}
		c.Engine().Send(m.ReplyTo, pids)
		return
	}
	m, ok := c.Message().(actMessage)
	if !ok {
		return
	}
	id := m.actID()
	la := r.live[id]
	if la == nil {
		if u, ok := m.(Unsubscribe); ok {
			// A passivated act's subscription ends with the router.
			if subs := r.parked[id]; subs != nil {
				delete(subs, u.Subscriber.ID)
				if len(subs) == 0 {
					delete(r.parked, id)
				}
			}
			return
		}
		head, _, herr := r.deps.Log.Head(StreamOf(id))
		exists := herr == nil && head > 0
		if !act.ValidActID(id) && !(exists && len(id) <= 64) {
			// No actor, no stream, no directory for an id the server did
			// not make: it could name anything ("../../x").
			if to, bad := badActID(c.Message()); to != nil {
				c.Engine().Send(to, bad)
			}
			return
		}
		if herr == nil && !exists && !createsAct(c.Message()) {
			// No actor for an act that is not in the log: queries for
			// random ids must not fill memory with empty acts. (A storage
			// error spawns it, so that it answers its own failure code.)
			if to, msg := noSuchAct(c.Message()); to != nil {
				c.Engine().Send(to, msg)
			}
			return
		}
		subs := r.parked[id]
		delete(r.parked, id)
		r.gen++
		opts := spawnOpts(r.deps.Logger, id+"."+strconv.FormatUint(r.gen, 36))
		opts = append(opts, actor.WithInboxSize(actInbox))
		la = &liveAct{pid: c.SpawnChild(newActActor(id, r.deps, subs), "act", opts...)}
		r.live[id] = la
		metrics.ActsLive.Set(float64(len(r.live)))
	}
	la.sent++
	la.lastAt = r.deps.Now()
	c.Engine().Send(la.pid, c.Message())
}

// actInbox is an act actor's first inbox (hollywood grows it on demand);
// the default, 1024 envelopes, is 24 KiB per actor.
const actInbox = 16

func (r *router) sweepIdle(c *actor.Context) {
	now := r.deps.Now()
	for _, la := range r.live {
		if now.Sub(la.lastAt) >= r.deps.ActIdleAfter {
			c.Send(la.pid, passivateAsk{Sent: la.sent})
		}
	}
}

func (r *router) passivated(c *actor.Context, m passivateReady) {
	la := r.live[m.ActID]
	if la == nil || !la.pid.Equals(m.PID) || la.sent != m.Sent {
		return // a message went to it meanwhile: it stays
	}
	delete(r.live, m.ActID)
	if len(m.Subscribers) > 0 {
		r.parked[m.ActID] = m.Subscribers
	}
	c.Engine().Poison(la.pid)
	metrics.ActsLive.Set(float64(len(r.live)))
	metrics.ActPassivations.Inc()
}

// createsAct reports whether msg may bring an act into being.
func createsAct(msg any) bool {
	m, ok := msg.(ActCommand)
	return ok && m.Name == (act.SubmitApplication{}).CommandName()
}

// noSuchAct is the answer to a message for an act not in the log: the one
// an empty act actor gave (no_such_act to commands and joins, forbidden to
// reads, which tell no outsider whether an act exists).
func noSuchAct(msg any) (*actor.PID, any) {
	return refuseActMsg(msg, string(act.CodeNoSuchAct), "no such act", string(act.CodeForbidden), "not a party to this act")
}

// badActID is the bad_act_id answer to an act message, and where it goes.
func badActID(msg any) (*actor.PID, any) {
	const why = "not an act id the server made (32 lower-case hex digits)"
	code := string(act.CodeBadActID)
	return refuseActMsg(msg, code, why, code, why)
}

// refuseActMsg addresses a refusal of an act message to whoever waits for
// its answer: commands and joins get code and why, reads (Subscribe,
// GetState) get readCode and readWhy. Unsubscribe gets nothing (nil).
func refuseActMsg(msg any, code, why, readCode, readWhy string) (*actor.PID, any) {
	switch m := msg.(type) {
	case ActCommand:
		return m.ReplyTo, CommandResult{ActID: m.ActID, CommandID: m.CommandID, Code: code, Message: why}
	case Subscribe:
		return m.Subscriber, SubscribeResult{ActID: m.ActID, Code: readCode, Message: readWhy}
	case GetState:
		return m.ReplyTo, StateResult{ActID: m.ActID, Tag: m.Tag, Code: readCode, Message: readWhy}
	case JoinCall:
		return m.Session, MediaOut{ActID: m.ActID, Tag: m.Tag, Code: code, Message: why}
	}
	return nil, nil // Unsubscribe: nothing to answer
}
