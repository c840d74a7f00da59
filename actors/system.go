package actors

import (
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/act"
)

// System is the running actor engine with its long-lived actors.
type System struct {
	Engine    *actor.Engine
	deps      Deps
	router    *actor.PID
	desk      *actor.PID
	operators *actor.PID
	media     *actor.PID
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
type router struct {
	deps Deps
}

func newRouter(deps Deps) actor.Producer {
	return func() actor.Receiver { return &router{deps: deps} }
}

func (r *router) Receive(c *actor.Context) {
	m, ok := c.Message().(actMessage)
	if !ok {
		return
	}
	id := m.actID()
	pid := c.Child("acts/router/act/" + id)
	if pid == nil {
		if !act.ValidActID(id) && !r.legacyAct(id) {
			// No actor, no stream, no directory for an id the server did
			// not make: it could name anything ("../../x").
			if to, bad := badActID(c.Message()); to != nil {
				c.Engine().Send(to, bad)
			}
			return
		}
		pid = c.SpawnChild(newActActor(id, r.deps), "act", spawnOpts(r.deps.Logger, id)...)
	}
	c.Engine().Send(pid, c.Message())
}

// legacyAct reports whether id names an act already in the log, opened
// before act ids were checked: it stays reachable by its parties. (Its
// call cannot record: recording paths go through safepath, which refuses
// such an id if it is not a plain name.)
func (r *router) legacyAct(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	seq, _, err := r.deps.Log.Head(StreamOf(id))
	return err == nil && seq > 0
}

// badActID is the bad_act_id answer to an act message, and where it goes.
func badActID(msg any) (*actor.PID, any) {
	const why = "not an act id the server made (32 lower-case hex digits)"
	code := string(act.CodeBadActID)
	switch m := msg.(type) {
	case ActCommand:
		return m.ReplyTo, CommandResult{ActID: m.ActID, CommandID: m.CommandID, Code: code, Message: why}
	case Subscribe:
		return m.Subscriber, SubscribeResult{ActID: m.ActID, Code: code, Message: why}
	case GetState:
		return m.ReplyTo, StateResult{ActID: m.ActID, Tag: m.Tag, Code: code, Message: why}
	case JoinCall:
		return m.Session, MediaOut{ActID: m.ActID, Tag: m.Tag, Code: code, Message: why}
	}
	return nil, nil // Unsubscribe: nothing to answer
}
