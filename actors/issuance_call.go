package actors

import (
	"github.com/anthdm/hollywood/actor"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/media/sfu"
)

// The registration video call of remote EDS issuance: the applicant and
// the registrar who took the call meet in an SFU room of their own (room
// "issuance/<id>"), through the same SFU and TURN as the acts' calls but
// apart from the acts' media actors. The application decides who joins (its
// applicant, and its registrar while the call is on) and closes the room
// when the call's phase ends. The call is not recorded: the core has no
// event for a recording yet (docs/issuance.md).

// IssuanceJoin asks to join an application's registration call; the
// application checks Actor and forwards it to the calls actor.
type IssuanceJoin struct {
	AppID   string
	Actor   issuance.Actor
	Session *actor.PID
	Tag     string
}

func (m IssuanceJoin) appID() string { return m.AppID }

// issuanceCallJoin is a join the application admitted.
type issuanceCallJoin struct {
	AppID       string
	Participant string
	Session     *actor.PID
	Tag         string
}

// issuanceCallOver closes an application's room.
type issuanceCallOver struct{ AppID string }

// issuanceSignal is a room's signal to one participant.
type issuanceSignal struct {
	AppID       string
	Participant string
	Signal      sfu.Signal
}

// IssuanceMediaIn is a participant's signal after joining.
type IssuanceMediaIn struct {
	AppID       string
	Participant string
	Session     *actor.PID
	Tag         string
	Kind        string
	SDP         string
	Candidate   *webrtc.ICECandidateInit
}

// callParticipant is the room's name for an actor of the call.
func callParticipant(a issuance.Actor) string {
	if a.Role == issuance.RoleApplicant {
		return "applicant"
	}
	return a.String()
}

// joinCall admits the applicant and the call's registrar while the call is on.
func (a *appActor) joinCall(c *actor.Context, m IssuanceJoin) {
	fail := func(code, msg string) {
		c.Send(m.Session, MediaOut{ActID: a.id, Tag: m.Tag, Code: code, Message: msg})
	}
	s := &a.state
	applicant := m.Actor.Role == issuance.RoleApplicant && m.Actor.ID != "" && m.Actor.ID == s.Applicant.ID
	registrar := m.Actor.Role == issuance.RoleOperator && m.Actor.ID != "" && m.Actor.ID == s.Operator.ID
	switch {
	case !a.loaded:
		fail(a.failure())
	case !applicant && !registrar:
		fail(string(issuance.CodeForbidden), "only the applicant and the registrar who took the call take part in it")
	case s.Phase != issuance.PhaseRegistrationCall:
		fail(CodeNotInCall, "the application has no registration call in progress")
	case a.idep.calls == nil:
		fail(CodeMediaUnavailable, "this server runs no video calls")
	default:
		c.Send(a.idep.calls, issuanceCallJoin{AppID: a.id, Participant: callParticipant(m.Actor), Session: m.Session, Tag: m.Tag})
	}
}

// callRoom is one application's room.
type callRoom struct {
	room     *sfu.Room
	sessions map[string]*actor.PID // participant -> the session that joined last
}

// issuanceCalls owns the registration calls' rooms.
type issuanceCalls struct {
	deps  Deps
	rooms map[string]*callRoom
}

// RoomOf is the SFU room (and TURN credential) key of an application's call.
func RoomOf(appID string) string { return IssuanceStreamOf(appID) }

func (k *issuanceCalls) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case issuanceCallJoin:
		r := k.rooms[m.AppID]
		if r == nil {
			eng, self, app := c.Engine(), c.PID(), m.AppID
			r = &callRoom{sessions: map[string]*actor.PID{}}
			r.room = k.deps.Media.SFU.NewRoom(sfu.RoomOptions{ID: RoomOf(app),
				Sink: func(p string, s sfu.Signal) { eng.Send(self, issuanceSignal{AppID: app, Participant: p, Signal: s}) }})
			k.rooms[m.AppID] = r
		}
		r.sessions[m.Participant] = m.Session
		out := MediaOut{ActID: m.AppID, Tag: m.Tag, Kind: "joined"}
		if f := k.deps.Media.ICEServers; f != nil {
			out.ICEServers = f(RoomOf(m.AppID), m.Participant)
		}
		// The session hears joined before the room's first offer.
		c.Send(m.Session, out)
		if err := r.room.Join(m.Participant); err != nil {
			c.Send(m.Session, MediaOut{ActID: m.AppID, Code: CodeInternal, Message: err.Error()})
		}
	case issuanceSignal:
		if r := k.rooms[m.AppID]; r != nil {
			if pid := r.sessions[m.Participant]; pid != nil {
				c.Send(pid, MediaOut{ActID: m.AppID, Kind: m.Signal.Kind, SDP: m.Signal.SDP, Candidate: m.Signal.Candidate})
			}
		}
	case IssuanceMediaIn:
		k.signal(c, m)
	case issuanceCallOver:
		if r := k.rooms[m.AppID]; r != nil {
			delete(k.rooms, m.AppID)
			r.room.Close()
			for _, pid := range r.sessions {
				c.Send(pid, MediaOut{ActID: m.AppID, Kind: "closed", Message: "the registration call is over"})
			}
		}
	case actor.Stopped:
		for _, r := range k.rooms {
			r.room.Close()
		}
	}
}

func (k *issuanceCalls) signal(c *actor.Context, m IssuanceMediaIn) {
	r := k.rooms[m.AppID]
	if r == nil || r.sessions[m.Participant] == nil || !r.sessions[m.Participant].Equals(m.Session) || !r.room.Has(m.Participant) {
		c.Send(m.Session, MediaOut{ActID: m.AppID, Tag: m.Tag, Code: CodeNotJoined, Message: "join the call first"})
		return
	}
	var err error
	switch m.Kind {
	case "answer":
		err = r.room.Answer(m.Participant, m.SDP)
	case "candidate":
		err = r.room.Candidate(m.Participant, *m.Candidate)
	case "restart":
		err = r.room.Restart(m.Participant)
	case "leave":
		err = r.room.Leave(m.Participant)
		delete(r.sessions, m.Participant)
	}
	switch {
	case err != nil && m.Kind == "answer":
		c.Send(m.Session, MediaOut{ActID: m.AppID, Tag: m.Tag, Code: CodeBadSDP, Message: err.Error()})
	case err != nil && m.Kind == "candidate":
		c.Send(m.Session, MediaOut{ActID: m.AppID, Tag: m.Tag, Code: CodeBadCandidate, Message: err.Error()})
	case m.Kind == "restart" || m.Kind == "leave":
		c.Send(m.Session, MediaOut{ActID: m.AppID, Tag: m.Tag, Ack: true})
	}
}
