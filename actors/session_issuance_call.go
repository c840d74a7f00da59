package actors

import (
	"encoding/json"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/transport/protocol"
)

// The registration call on the session: media signaling for an issuance
// call, and leaving it when the session closes.

// closeIssuance ends the session's subscriptions to applications.
func (s *sessionActor) closeIssuance(c *actor.Context) {
	if s.issuance == nil || s.sd.Sys.Issuance() == nil {
		return
	}
	for q := range s.issuance.joined {
		c.Send(s.sd.Sys.IssuanceDeps().desk(q), StaffLeave{Queue: q, Login: s.me.ID, Session: c.PID()})
	}
	for app := range s.issuance.subs {
		c.Send(s.sd.Sys.Issuance(), IssuanceUnsubscribe{AppID: app, Subscriber: c.PID()})
	}
}

// inIssuanceCall reports whether a media message for app is about a
// registration call of this session: its own application, or a call it took.
//
// A registrar's other session (a reload, a second tab, a sign-in after a
// server restart) did not take the call itself: an application's id (an
// act's has the same form, so the log says which it is) goes to the
// application, which admits only the registrar who holds its call.
func (s *sessionActor) inIssuanceCall(app string) bool {
	if app == "" {
		return false
	}
	if s.issuance != nil {
		if _, mine := s.issuance.apps[app]; mine || s.issuance.calls[app] {
			return true
		}
	}
	if !issuance.ValidApplicationID(app) || !s.hasStaffRole(accounts.RoleRegistrar) || s.deps.Log == nil {
		return false
	}
	if seq, _, err := s.deps.Log.Head(IssuanceStreamOf(app)); err != nil || seq == 0 {
		return false
	}
	s.iss().calls[app] = true
	return true
}

// issuanceMedia is the signaling of a registration call.
func (s *sessionActor) issuanceMedia(c *actor.Context, env protocol.Envelope) {
	st, deps := s.iss(), s.sd.Sys.IssuanceDeps()
	var m protocol.Media
	if err := json.Unmarshal(env.Body, &m); err != nil {
		s.fail(env, protocol.CodeBadMessage, "media needs a body with kind")
		return
	}
	by := issuance.Actor{Role: issuance.RoleOperator, ID: s.me.ID}
	if who, ok := st.apps[env.Act]; ok {
		by = issuance.Actor{Role: issuance.RoleApplicant, ID: who}
	}
	if m.Kind == "join" {
		if !s.admit(env) {
			return
		}
		s.inFlight[env.ID] = "join"
		c.Send(s.sd.Sys.Issuance(), IssuanceJoin{AppID: env.Act, Actor: by, Session: c.PID(), Tag: env.ID, Offers: m.Offers})
		return
	}
	in := IssuanceMediaIn{AppID: env.Act, Participant: callParticipant(by), Session: c.PID(), Tag: env.ID, Kind: m.Kind, SDP: m.SDP}
	var ok bool
	if in.Candidate, ok = s.checkSignal(env, m); !ok {
		return
	}
	if deps.calls == nil {
		s.fail(env, CodeMediaUnavailable, "this server runs no video calls")
		return
	}
	c.Send(deps.calls, in)
}
