package actors

import (
	"encoding/json"

	"github.com/anthdm/hollywood/actor"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/transport/protocol"
)

// The call's signaling between the app and the act's room.

// maxSDP bounds a session description from an app (schema.json's
// maxLength): a call's has a few kilobytes.
const maxSDP = 65536

// mediaIn takes the app's side of the call's signaling. A join goes to the
// act, which checks who asks; the rest goes to the call's room, which
// checks that this connection joined.
func (s *sessionActor) mediaIn(c *actor.Context, env protocol.Envelope) {
	var m protocol.Media
	if err := json.Unmarshal(env.Body, &m); err != nil || env.Act == "" {
		s.fail(env, protocol.CodeBadMessage, "media needs act and a body with kind")
		return
	}
	if m.Kind == "join" {
		if !s.admit(env) {
			return
		}
		s.inFlight[env.ID] = "join"
		c.Send(s.sd.Sys.Acts(), JoinCall{ActID: env.Act, Actor: s.me, Session: c.PID(), Tag: env.ID, Resume: m.Resume, Simulcast: m.Simulcast, Offers: m.Offers})
		return
	}
	in := MediaIn{ActID: env.Act, Participant: s.me.String(), Session: c.PID(), Tag: env.ID, Kind: m.Kind, SDP: m.SDP}
	var ok bool
	if in.Candidate, ok = s.checkSignal(env, m); !ok {
		return
	}
	media := s.sd.Sys.Media()
	if media == nil {
		s.fail(env, CodeMediaUnavailable, "this server runs no video calls")
		return
	}
	c.Send(media, in)
}

// checkSignal checks a signal other than join (an act's call's or a
// registration call's), answering what is wrong; it returns the ICE
// candidate of a candidate message.
func (s *sessionActor) checkSignal(env protocol.Envelope, m protocol.Media) (*webrtc.ICECandidateInit, bool) {
	switch m.Kind {
	case "answer", "offer":
		if m.SDP == "" || len(m.SDP) > maxSDP {
			s.fail(env, CodeBadSDP, "an %s needs sdp, of at most %d bytes", m.Kind, maxSDP)
			return nil, false
		}
	case "candidate":
		if m.Candidate == nil {
			s.fail(env, CodeBadCandidate, "a candidate message needs candidate")
			return nil, false
		}
		return &webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid,
			SDPMLineIndex: m.Candidate.SDPMLineIndex, UsernameFragment: m.Candidate.UsernameFragment}, true
	case "restart", "leave":
	default:
		s.fail(env, CodeUnknownMediaKind, "unknown media kind %q", m.Kind)
		return nil, false
	}
	return nil, true
}

func (s *sessionActor) mediaOut(m MediaOut) {
	if m.Tag != "" {
		delete(s.inFlight, m.Tag)
	}
	if m.Code != "" {
		s.send(protocol.Envelope{Type: protocol.TypeError, ID: m.Tag, Act: m.ActID, Code: m.Code, Message: m.Message})
		return
	}
	if m.Ack {
		s.send(protocol.Envelope{Type: protocol.TypeAck, ID: m.Tag, Act: m.ActID})
		return
	}
	out := protocol.Media{Kind: m.Kind, SDP: m.SDP, Notice: m.Notice, Message: m.Message, ICEServers: m.ICEServers, State: m.State}
	if c := m.Candidate; c != nil {
		out.Candidate = &protocol.ICECandidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	}
	body, _ := json.Marshal(out)
	s.send(protocol.Envelope{Type: protocol.TypeMedia, ID: m.Tag, Act: m.ActID, Body: body})
}
