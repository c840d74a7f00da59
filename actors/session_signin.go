package actors

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/pwlimit"
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
	if s.checkingPassword {
		s.fail(env, protocol.CodeBadMessage, "a sign-in is already being checked")
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
		s.keepCertificate(v.Certificate, v.Chain)
	case "password":
		s.checkPassword(c, env, in)
		return
	case "resume":
		if !s.resume(c, env, in) {
			return
		}
	default:
		s.fail(env, protocol.CodeBadMessage, "method must be eds, password or resume")
		return
	}
	s.welcome(env)
}

// keepCertificate keeps the sign-in certificate for Recheck, as copies of
// its DER (not slices of the CMS), with the chain's certificates that the
// trust store does not already hold.
func (s *sessionActor) keepCertificate(cert *x509.Certificate, chain []*x509.Certificate) {
	s.cert = bytes.Clone(cert.Raw)
	known := func(c *x509.Certificate) bool {
		for _, list := range [][]*x509.Certificate{s.deps.Trust.Roots(), s.deps.Trust.Intermediates()} {
			for _, k := range list {
				if bytes.Equal(k.Raw, c.Raw) {
					return true
				}
			}
		}
		return bytes.Equal(c.Raw, cert.Raw)
	}
	s.certChain = nil
	for _, c := range chain {
		if !known(c) {
			s.certChain = append(s.certChain, bytes.Clone(c.Raw))
		}
	}
}

// welcome completes a sign-in as s.me.
func (s *sessionActor) welcome(env protocol.Envelope) {
	s.signedIn = true
	metrics.Sessions.WithLabelValues(string(s.me.Role)).Inc()
	s.log = s.log.With().Str("who", s.deps.who(s.me)).Logger()
	s.log.Info().Msg("signed in")
	w := protocol.Welcome{Role: string(s.me.Role), Name: s.me.Name}
	if s.me.Role == act.RoleNotary || s.me.Role == act.RoleStaff {
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
		cert, chain, err := parseCertificates(e.cert, e.chain)
		if err == nil {
			err = s.deps.Trust.CheckCertificate(cert, chain, s.deps.Now())
		}
		if err != nil {
			s.log.Info().Str("code", string(pki.CodeOf(err))).Msg("resume refused: certificate no longer accepted")
			s.fail(env, string(pki.CodeOf(err)), "%v", err)
			return false
		}
		s.cert, s.certChain = e.cert, e.chain
	case e.who.Role == act.RoleNotary || e.who.Role == act.RoleStaff:
		n, ok := s.sd.Accounts.Get(e.who.ID)
		if !ok {
			s.fail(env, protocol.CodeAccountRemoved, "the notary's account was removed")
			return false
		}
		if accountRole(n) != e.who.Role {
			s.fail(env, protocol.CodeAccountRemoved, "the account's roles changed since; sign in again")
			return false
		}
		e.who.IIN, e.who.Name = n.IIN, n.Name
		if e.who.Role == act.RoleNotary {
			c.Send(s.sd.Sys.Operators(), OperatorJoin{Login: n.Login, Session: c.PID()})
		}
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

// operatorStatus sends the notary's console its operator_state: after
// the sign-in, what it shows as they left it, and again when the mode
// changes in any of their sessions. The mode comes from the operator
// actor, the acts in progress from the log's notary index (a restart
// keeps them). The offers the notary holds follow as offer frames.
func (s *sessionActor) operatorStatus(m OperatorStatus) {
	if !s.signedIn || s.me.Role != act.RoleNotary {
		return
	}
	st := protocol.OperatorState{Available: m.Available, InProgress: []protocol.ActSummary{}}
	if s.sd.Summaries == nil {
		s.sd.Summaries = NewSummaryCache(DefaultSummaryCacheSize)
	}
	list, err := listActs(s.deps.Log, s.sd.Summaries, s.me, "register",
		listFilter{status: string(act.PhaseWithNotary), page: 1, per: maxPerPage})
	if err != nil {
		s.log.Warn().Err(err).Msg("operator_state: cannot list the acts in progress")
		st.Partial = true
	} else {
		st.InProgress, st.Partial = list.Acts, list.Partial || list.Total > len(list.Acts)
	}
	body, _ := json.Marshal(st)
	s.send(protocol.Envelope{Type: protocol.TypeOperatorState, Body: body})
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
	if s.sd.Admission.Full() {
		metrics.OverloadSheds.WithLabelValues("command").Inc()
		s.send(protocol.Envelope{Type: protocol.TypeError, ID: env.ID, Act: env.Act, Code: protocol.CodeOverloaded,
			Message: "the server is at capacity; try again shortly", RetryAfterMS: s.sd.Admission.RetryAfter().Milliseconds()})
		return false
	}
	if len(s.inFlight) >= s.sd.Limits.MaxInFlight {
		metrics.Refused.WithLabelValues("overloaded").Inc()
		s.fail(env, protocol.CodeOverloaded, "at most %d requests in flight per connection", s.sd.Limits.MaxInFlight)
		return false
	}
	return true
}

// passwordChecked is the outcome of a password check, run off the session's
// goroutine.
type passwordChecked struct {
	env    protocol.Envelope
	notary accounts.Notary
	err    error
}

// checkPassword runs a notary's password check under the password limiter,
// on a goroutine of its own that answers with passwordChecked: argon2id
// takes 64 MiB and a CPU for about 170 ms, and the actor must not sit on it
// (nor on the wait for a free check). Busy and locked-out checks are
// refused at once with a retry-after; the goroutines are bounded by the
// limiter's workers and queue.
func (s *sessionActor) checkPassword(c *actor.Context, env protocol.Envelope, in protocol.SignIn) {
	addr := ""
	if a, ok := s.conn.(ClientAddr); ok {
		addr = a.ClientIP()
	}
	ticket, err := s.sd.passwords().Begin(in.Login, addr)
	if err != nil {
		s.passwordRefused(env, err)
		return
	}
	s.checkingPassword = true
	store, engine, self := s.sd.Accounts, c.Engine(), c.PID()
	go func() {
		var out passwordChecked
		out.env = env
		if _, err := ticket.Run(func() bool {
			out.notary, out.err = store.Authenticate(in.Login, in.Password)
			// An unreadable accounts file is no guess at a password.
			return !errors.Is(out.err, accounts.ErrBadLogin)
		}); err != nil {
			out.err = err
		}
		engine.Send(self, out)
	}()
}

// passwordRefused answers a check the limiter refused (busy, locked_out).
func (s *sessionActor) passwordRefused(env protocol.Envelope, err error) {
	var r *pwlimit.Refusal
	errors.As(err, &r)
	code, msg := protocol.CodeLockedOut, "too many wrong passwords; try again later"
	if errors.Is(err, pwlimit.ErrBusy) {
		code, msg = protocol.CodeBusy, "every password check is taken; try again shortly"
		metrics.OverloadSheds.WithLabelValues("password").Inc()
	}
	s.log.Info().Str("code", code).Msg("password sign-in refused by the limiter")
	s.send(protocol.Envelope{Type: protocol.TypeError, ID: env.ID, Code: code, Message: msg, RetryAfterMS: retryMS(r.RetryAfter)})
}

func (s *sessionActor) passwordChecked(c *actor.Context, m passwordChecked) {
	s.checkingPassword = false
	var refusal *pwlimit.Refusal
	if errors.As(m.err, &refusal) {
		s.passwordRefused(m.env, m.err)
		return
	}
	if errors.Is(m.err, accounts.ErrBadLogin) {
		s.fail(m.env, protocol.CodeSignInFail, "wrong login or password")
		return
	}
	if m.err != nil {
		s.fail(m.env, protocol.CodeInternal, "accounts: %v", m.err)
		return
	}
	n := m.notary
	s.me = act.Actor{Role: accountRole(n), ID: n.Login, IIN: n.IIN, Name: n.Name}
	if s.me.Role == act.RoleNotary {
		c.Send(s.sd.Sys.Operators(), OperatorJoin{Login: n.Login, Session: c.PID()})
	}
	s.welcome(m.env)
}

// accountRole is the role an account signs in with: notary if it is a
// notary's (no roles, or notary among them), staff if its roles are only
// staff roles (registrar, moderator). Staff have no notary capability.
func accountRole(n accounts.Notary) act.Role {
	if n.IsNotary() {
		return act.RoleNotary
	}
	return act.RoleStaff
}

// staffOnly refuses a staff session everything of the notaries' and the
// parties' (acts, their queries and media, operator mode on the notaries'
// desk) and reports whether it did.
func (s *sessionActor) staffOnly(env protocol.Envelope) bool {
	if s.me.Role != act.RoleStaff {
		return false
	}
	s.fail(env, string(act.CodeForbidden), "a staff account (registrar, moderator) is not a notary: it works only on issuance")
	return true
}

// retryMS is a retry-after in whole milliseconds, at least 1.
func retryMS(d time.Duration) int64 {
	if ms := d.Milliseconds(); ms > 0 {
		return ms
	}
	return 1
}
