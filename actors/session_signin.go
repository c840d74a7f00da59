package actors

import (
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/metrics"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/transport/protocol"
)

// Sign-in (EDS or password), the rate limit and admission of requests that
// wait, and operator mode.

// allow is a token bucket over the app's messages.
func (s *sessionActor) allow() bool {
	now := s.deps.Now()
	lim := s.sd.Limits
	if s.last.IsZero() {
		s.tokens = float64(lim.Burst)
	} else {
		s.tokens += now.Sub(s.last).Seconds() * lim.RatePerSecond
		if s.tokens > float64(lim.Burst) {
			s.tokens = float64(lim.Burst)
		}
	}
	s.last = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

func (s *sessionActor) signIn(c *actor.Context, env protocol.Envelope) {
	if s.signedIn {
		s.fail(env, protocol.CodeBadMessage, "already signed in")
		return
	}
	var in protocol.SignIn
	if err := json.Unmarshal(env.Body, &in); err != nil {
		s.fail(env, protocol.CodeBadMessage, "signin body: %v", err)
		return
	}
	switch in.Method {
	case "eds":
		if in.Role != string(act.RoleClient) && in.Role != string(act.RoleAttorney) {
			s.fail(env, protocol.CodeBadMessage, "role must be client or attorney")
			return
		}
		der, err := base64.StdEncoding.DecodeString(in.CMS)
		if err != nil {
			s.fail(env, string(pki.CodeMalformed), "cms is not base64")
			return
		}
		v, err := s.deps.Trust.Verify(der, pki.VerifyOptions{
			Purpose: pki.PurposeAuth, Content: s.toSign, Live: true, Now: s.deps.Now(), MaxSkew: s.deps.MaxSkew,
		})
		if err != nil {
			s.log.Info().Str("code", string(pki.CodeOf(err))).Msg("EDS sign-in refused")
			s.fail(env, string(pki.CodeOf(err)), "%v", err)
			return
		}
		s.me = act.Actor{Role: act.Role(in.Role), ID: v.IIN.String(), IIN: v.IIN.String(), Name: v.FullName()}
		s.cert, s.certChain = v.Certificate, v.Chain
	case "password":
		n, err := s.sd.Accounts.Authenticate(in.Login, in.Password)
		if errors.Is(err, accounts.ErrBadLogin) {
			s.fail(env, protocol.CodeSignInFail, "wrong login or password")
			return
		}
		if err != nil {
			s.fail(env, protocol.CodeInternal, "accounts: %v", err)
			return
		}
		s.me = act.Actor{Role: act.RoleNotary, ID: n.Login, IIN: n.IIN, Name: n.Name}
		c.Send(s.sd.Sys.Operators(), OperatorJoin{Login: n.Login, Session: c.PID()})
	case "resume":
		if !s.resume(c, env, in) {
			return
		}
	default:
		s.fail(env, protocol.CodeBadMessage, "method must be eds, password or resume")
		return
	}
	s.signedIn = true
	metrics.Sessions.WithLabelValues(string(s.me.Role)).Inc()
	s.log = s.log.With().Str("who", s.deps.who(s.me)).Logger()
	s.log.Info().Msg("signed in")
	w := protocol.Welcome{Role: string(s.me.Role), Name: s.me.Name}
	if s.me.Role == act.RoleNotary {
		w.Login, w.IIN = s.me.ID, s.me.IIN
	} else {
		w.IIN = s.me.IIN
	}
	if s.sd.Resume != nil {
		if tok, err := s.sd.Resume.Issue(s.me, s.cert, s.certChain, s.deps.Now()); err == nil {
			w.ResumeToken = tok
		}
	}
	body, _ := json.Marshal(w)
	s.send(protocol.Envelope{Type: protocol.TypeWelcome, ID: env.ID, Body: body})
}

// resume signs in with a resume token: the identity of the sign-in that
// got it, judged again as Recheck would (a certificate revoked since, a
// notary account removed since, is refused). The token is spent whatever
// the outcome.
func (s *sessionActor) resume(c *actor.Context, env protocol.Envelope, in protocol.SignIn) bool {
	if s.sd.Resume == nil {
		s.fail(env, protocol.CodeResumeExpired, "this server issues no resume tokens; sign in again")
		return false
	}
	e, ok := s.sd.Resume.Redeem(in.Token, s.deps.Now())
	if !ok || (in.Role != "" && in.Role != string(e.who.Role)) {
		s.fail(env, protocol.CodeResumeExpired, "the resume token is unknown, used, expired or for another role; sign in again")
		return false
	}
	switch {
	case e.cert != nil:
		if err := s.deps.Trust.CheckCertificate(e.cert, e.chain, s.deps.Now()); err != nil {
			s.log.Info().Str("code", string(pki.CodeOf(err))).Msg("resume refused: certificate no longer accepted")
			s.fail(env, string(pki.CodeOf(err)), "%v", err)
			return false
		}
		s.cert, s.certChain = e.cert, e.chain
	case e.who.Role == act.RoleNotary:
		n, ok := s.sd.Accounts.Get(e.who.ID)
		if !ok {
			s.fail(env, protocol.CodeAccountRemoved, "the notary's account was removed")
			return false
		}
		e.who.IIN, e.who.Name = n.IIN, n.Name
		c.Send(s.sd.Sys.Operators(), OperatorJoin{Login: n.Login, Session: c.PID()})
	default:
		s.fail(env, protocol.CodeResumeExpired, "the resume token is unknown, used, expired or for another role; sign in again")
		return false
	}
	s.me = e.who
	return true
}

func (s *sessionActor) operator(c *actor.Context, env protocol.Envelope) {
	if s.me.Role != act.RoleNotary {
		s.fail(env, string(act.CodeForbidden), "operator mode is for notaries")
		return
	}
	switch env.Name {
	case "available", "away":
		c.Send(s.sd.Sys.Operators(), OperatorMode{Login: s.me.ID, Available: env.Name == "available"})
	case "decline":
		if !s.offers[env.Act] {
			s.fail(env, protocol.CodeNotOffered, "no call of this act is offered to you")
			return
		}
		c.Send(s.sd.Sys.Operators(), OperatorDecline{Login: s.me.ID, ActID: env.Act})
	default:
		s.fail(env, protocol.CodeUnknownName, "operator actions are available, away and decline")
		return
	}
	s.send(protocol.Envelope{Type: protocol.TypeAck, ID: env.ID, Act: env.Act})
}

// admit applies the rules of a request that waits for an answer: it has a
// fresh id, and the connection is under its in-flight limit.
func (s *sessionActor) admit(env protocol.Envelope) bool {
	if env.ID == "" {
		s.fail(env, protocol.CodeBadMessage, "%s needs an id", env.Type)
		return false
	}
	if _, dup := s.inFlight[env.ID]; dup {
		s.fail(env, protocol.CodeBadMessage, "id %q is already in flight", env.ID)
		return false
	}
	if len(s.inFlight) >= s.sd.Limits.MaxInFlight {
		metrics.Refused.WithLabelValues("overloaded").Inc()
		s.fail(env, protocol.CodeOverloaded, "at most %d requests in flight per connection", s.sd.Limits.MaxInFlight)
		return false
	}
	return true
}
