package actors

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pion/webrtc/v4"
	"sort"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/metrics"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/protocol"
)

// SessionLimits bound what one connection may ask of the server. hollywood's
// inboxes are unbounded, so these are the admission control.
type SessionLimits struct {
	// MaxInFlight is the number of commands and queries awaiting an answer.
	MaxInFlight int
	// RatePerSecond and Burst limit messages from the app.
	RatePerSecond float64
	Burst         int
}

// DefaultSessionLimits are the limits PROTOCOL.md promises.
func DefaultSessionLimits() SessionLimits {
	return SessionLimits{MaxInFlight: 8, RatePerSecond: 50, Burst: 100}
}

// Conn is the session's side of a websocket: Send queues one frame without
// blocking and reports false when the app is too slow to keep up (the
// gateway then closes the connection); Close ends it.
type Conn interface {
	Send(frame []byte) bool
	Close(reason string)
}

// Inbound is one frame from the app.
type Inbound struct{ Frame []byte }

// ConnClosed tells the session its websocket is gone.
type ConnClosed struct{}

// SessionDeps are what a session needs besides Deps.
type SessionDeps struct {
	Sys      *System
	Accounts *accounts.Store
	Limits   SessionLimits
	// PDF renders a signed act's printable document.
	PDF func(*act.State) ([]byte, error)
	// ICEServers returns the ICE servers, with TURN credentials, for a user;
	// nil when TURN is off.
	ICEServers func(user string) []protocol.ICEServer
}

// sessionActor is one signed-in app on one websocket. It speaks the
// protocol, checks limits, and turns frames into messages for acts, the desk
// and the operators; answers come back as messages and leave as frames.
type sessionActor struct {
	deps     Deps
	sd       SessionDeps
	conn     Conn
	log      zerolog.Logger
	toSign   []byte
	me       act.Actor
	signedIn bool
	inFlight map[string]string // command/query id -> kind
	pending  map[string]protocol.Envelope
	subs     map[string]uint64 // act -> last seq sent
	offers   map[string]bool   // acts the desk currently offers this notary
	tokens   float64
	last     time.Time
}

// NewSession returns the producer of a session actor for one connection.
func NewSession(sd SessionDeps, conn Conn) actor.Producer {
	return func() actor.Receiver {
		d := sd.Sys.Deps()
		return &sessionActor{deps: d, sd: sd, conn: conn, log: d.Logger,
			inFlight: map[string]string{}, pending: map[string]protocol.Envelope{}, subs: map[string]uint64{}, offers: map[string]bool{}}
	}
}

func (s *sessionActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		s.challenge()
	case Inbound:
		s.inbound(c, m.Frame)
	case ConnClosed:
		s.closed(c)
		c.Engine().Poison(c.PID())
	case CommandResult:
		delete(s.inFlight, m.CommandID)
		if m.Code != "" {
			s.send(protocol.Envelope{Type: protocol.TypeError, ID: m.CommandID, Act: m.ActID, Code: m.Code, Message: m.Message, Duplicate: m.Duplicate})
			return
		}
		s.send(protocol.Envelope{Type: protocol.TypeAck, ID: m.CommandID, Act: m.ActID, Seq: m.Seq, Duplicate: m.Duplicate})
	case SubscribeResult:
		env, ok := s.pending["sub:"+m.ActID]
		delete(s.pending, "sub:"+m.ActID)
		delete(s.inFlight, env.ID)
		if !ok {
			return
		}
		if m.Code != "" {
			delete(s.subs, m.ActID)
			s.send(protocol.Envelope{Type: protocol.TypeError, ID: env.ID, Act: m.ActID, Code: m.Code, Message: m.Message})
			return
		}
		s.send(protocol.Envelope{Type: protocol.TypeSubscribed, ID: env.ID, Act: m.ActID})
	case ActEvents:
		s.events(m)
	case StateResult:
		s.stateAnswer(m)
	case MediaOut:
		s.mediaOut(m)
	case registryAnswer:
		s.registryAnswer(m)
	case OfferCall:
		s.offers[m.ActID] = true
		body, _ := json.Marshal(protocol.Offer{
			Principal: m.Call.PrincipalName, PrincipalIIN: m.Call.PrincipalIIN, AttorneyIIN: m.Call.AttorneyIIN,
			ActionType: m.Call.ActionType, WaitingSince: m.Call.RequestedAt.UTC(), QueuePosition: m.Position,
		})
		s.send(protocol.Envelope{Type: protocol.TypeOffer, Act: m.ActID, Body: body})
	case WithdrawOffer:
		delete(s.offers, m.ActID)
		s.send(protocol.Envelope{Type: protocol.TypeOfferGone, Act: m.ActID})
	}
}

func (s *sessionActor) challenge() {
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	now := s.deps.Now().UTC()
	s.toSign = []byte("senim.signin.v1:" + hex.EncodeToString(nonce) + ":" + now.Format(time.RFC3339))
	body, _ := json.Marshal(protocol.Challenge{Protocol: protocol.Version, ToSign: base64.StdEncoding.EncodeToString(s.toSign), ServerTime: now})
	s.send(protocol.Envelope{Type: protocol.TypeChallenge, Body: body})
}

func (s *sessionActor) send(env protocol.Envelope) {
	b, err := json.Marshal(env)
	if err != nil {
		panic(fmt.Sprintf("envelope does not encode: %v", err))
	}
	if !s.conn.Send(b) {
		s.conn.Close("the app does not read its messages fast enough")
	}
}

func (s *sessionActor) fail(env protocol.Envelope, code, format string, args ...any) {
	s.send(protocol.Envelope{Type: protocol.TypeError, ID: env.ID, Act: env.Act, Code: code, Message: fmt.Sprintf(format, args...)})
}

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

func (s *sessionActor) inbound(c *actor.Context, frame []byte) {
	var env protocol.Envelope
	if err := json.Unmarshal(frame, &env); err != nil {
		s.fail(env, protocol.CodeBadMessage, "not a JSON envelope: %v", err)
		return
	}
	if !s.allow() {
		metrics.Refused.WithLabelValues("rate_limited").Inc()
		s.fail(env, protocol.CodeRateLimited, "more than %.0f messages per second", s.sd.Limits.RatePerSecond)
		return
	}
	if len(env.ID) > 64 || len(env.Act) > 64 {
		s.fail(env, protocol.CodeBadMessage, "id and act are at most 64 characters")
		return
	}
	if env.Type == protocol.TypeSignIn {
		s.signIn(c, env)
		return
	}
	if !s.signedIn {
		s.fail(env, protocol.CodeNotSignedIn, "sign in first")
		return
	}
	switch env.Type {
	case protocol.TypeCommand, protocol.TypeQuery, protocol.TypeSubscribe:
		if !s.admit(env) {
			return
		}
	}
	switch env.Type {
	case protocol.TypeCommand:
		if env.Act == "" || env.Name == "" {
			s.fail(env, protocol.CodeBadMessage, "a command needs act and name")
			return
		}
		if env.Name == (act.RecordPayment{}).CommandName() {
			s.fail(env, string(act.CodeForbidden), "payments come from the bank's callback")
			return
		}
		if env.Name == (act.AcceptCall{}).CommandName() && s.me.Role == act.RoleNotary && !s.offers[env.Act] && !s.ownAct(env.Act) {
			// The desk routes calls, oldest first: a notary takes the call
			// offered to them, or a call back to an act already theirs.
			s.fail(env, string(act.CodeForbidden), "this call is not offered to you")
			return
		}
		s.inFlight[env.ID] = "command"
		c.Send(s.sd.Sys.Acts(), ActCommand{ActID: env.Act, CommandID: env.ID, Actor: s.me, Name: env.Name, Body: env.Body, ReplyTo: c.PID()})
	case protocol.TypeSubscribe:
		if env.Act == "" {
			s.fail(env, protocol.CodeBadMessage, "subscribe needs act")
			return
		}
		s.inFlight[env.ID] = "subscribe"
		s.pending["sub:"+env.Act] = env
		s.subs[env.Act] = env.Seq
		c.Send(s.sd.Sys.Acts(), Subscribe{ActID: env.Act, FromSeq: env.Seq, Actor: s.me, Subscriber: c.PID()})
	case protocol.TypeQuery:
		s.query(c, env)
	case protocol.TypeOperator:
		s.operator(c, env)
	case protocol.TypeMedia:
		s.mediaIn(c, env)
	default:
		s.fail(env, protocol.CodeBadMessage, "unknown message type %q", env.Type)
	}
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
	default:
		s.fail(env, protocol.CodeBadMessage, "method must be eds or password")
		return
	}
	s.signedIn = true
	s.log = s.log.With().Str("who", s.me.String()).Logger()
	s.log.Info().Msg("signed in")
	w := protocol.Welcome{Role: string(s.me.Role), Name: s.me.Name}
	if s.me.Role == act.RoleNotary {
		w.Login, w.IIN = s.me.ID, s.me.IIN
	} else {
		w.IIN = s.me.IIN
	}
	body, _ := json.Marshal(w)
	s.send(protocol.Envelope{Type: protocol.TypeWelcome, ID: env.ID, Body: body})
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
		c.Send(s.sd.Sys.Operators(), OperatorDecline{Login: s.me.ID, ActID: env.Act})
	default:
		s.fail(env, protocol.CodeUnknownName, "operator actions are available, away and decline")
		return
	}
	s.send(protocol.Envelope{Type: protocol.TypeAck, ID: env.ID, Act: env.Act})
}

// ownAct reports whether the act is already this notary's (from the log's
// notary index).
func (s *sessionActor) ownAct(actID string) bool {
	streams, err := s.deps.Log.Lookup("notary", s.me.ID)
	if err != nil {
		return false
	}
	for _, st := range streams {
		if st == StreamOf(actID) {
			return true
		}
	}
	return false
}

func (s *sessionActor) closed(c *actor.Context) {
	for a := range s.subs {
		c.Send(s.sd.Sys.Acts(), Unsubscribe{ActID: a, Subscriber: c.PID()})
	}
	if s.me.Role == act.RoleNotary {
		c.Send(s.sd.Sys.Operators(), OperatorLeave{Login: s.me.ID, Session: c.PID()})
	}
	s.log.Debug().Msg("session closed")
}

// events sends stored events on, never one twice and never out of order.
func (s *sessionActor) events(m ActEvents) {
	last, ok := s.subs[m.ActID]
	if !ok {
		return
	}
	for _, r := range m.Records {
		if r.Seq <= last {
			continue
		}
		at := r.At.UTC()
		s.send(protocol.Envelope{Type: protocol.TypeEvent, Act: m.ActID, Seq: r.Seq, Name: r.Type, Actor: r.Actor, At: &at, Body: r.Payload})
		last = r.Seq
	}
	s.subs[m.ActID] = last
}

func (s *sessionActor) query(c *actor.Context, env protocol.Envelope) {
	result := func(v any) {
		body, _ := json.Marshal(v)
		s.send(protocol.Envelope{Type: protocol.TypeResult, ID: env.ID, Act: env.Act, Name: env.Name, Body: body})
	}
	switch env.Name {
	case "prepare_application":
		if s.me.Role != act.RoleClient {
			s.fail(env, string(act.CodeForbidden), "only a client applies")
			return
		}
		var p protocol.PrepareApplication
		if err := json.Unmarshal(env.Body, &p); err != nil {
			s.fail(env, protocol.CodeBadMessage, "body: %v", err)
			return
		}
		if _, err := iin.ParseIIN(p.AttorneyIIN); err != nil {
			s.fail(env, string(act.CodeBadIIN), "attorney: %v", err)
			return
		}
		id := newActID()
		data := act.ApplicationBytes(id, p.ActionType, s.me.IIN, p.Phone, p.AttorneyIIN, p.Consent)
		result(protocol.PreparedApplication{Act: id, Data: base64.StdEncoding.EncodeToString(data)})
	case "to_sign", "act", "document":
		if env.Act == "" {
			s.fail(env, protocol.CodeBadMessage, "%s needs act", env.Name)
			return
		}
		s.inFlight[env.ID] = "query"
		s.pending["q:"+env.ID] = env
		c.Send(s.sd.Sys.Acts(), GetState{ActID: env.Act, Actor: s.me, ReplyTo: c.PID(), Tag: env.ID})
	case "ice_servers":
		var list []protocol.ICEServer
		if s.sd.ICEServers != nil {
			list = s.sd.ICEServers(s.me.String())
		}
		result(map[string]any{"ice_servers": list})
	case "registry_lookup":
		// The notary's look-up in the individuals registry (identity checks).
		if s.me.Role != act.RoleNotary || s.deps.Registry == nil {
			s.fail(env, string(act.CodeForbidden), "registry look-ups are for notaries")
			return
		}
		var q struct {
			IIN string `json:"iin"`
		}
		_ = json.Unmarshal(env.Body, &q)
		// The registry is a remote system: ask it off the actor's goroutine
		// and take the answer as a message, so the session stays responsive.
		s.inFlight[env.ID] = "query"
		reg, eng, self := s.deps.Registry, c.Engine(), c.PID()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			p, err := reg.Lookup(ctx, q.IIN)
			eng.Send(self, registryAnswer{env: env, iin: q.IIN, person: p, err: err})
		}()
	case "my_acts", "attorney_acts", "register", "completed":
		list, err := s.cabinet(env.Name)
		if err != nil {
			var e *act.Error
			if errors.As(err, &e) {
				s.fail(env, string(e.Code), "%s", e.Message)
				return
			}
			s.fail(env, protocol.CodeInternal, "%v", err)
			return
		}
		result(map[string]any{"acts": list})
	default:
		s.fail(env, protocol.CodeUnknownName, "unknown query %q", env.Name)
	}
}

// registryAnswer is the individuals registry's answer to a look-up.
type registryAnswer struct {
	env    protocol.Envelope
	iin    string
	person registry.Person
	err    error
}

func (s *sessionActor) registryAnswer(m registryAnswer) {
	delete(s.inFlight, m.env.ID)
	switch {
	case errors.Is(m.err, registry.ErrNotFound):
		s.fail(m.env, CodeUnknownPerson, "the individuals registry has no person with IIN %s", m.iin)
	case m.err != nil:
		s.fail(m.env, CodeRegistryUnavailable, "the individuals registry did not answer; try again")
	default:
		s.log.Info().Str("looked_up", m.iin).Msg("registry look-up")
		body, _ := json.Marshal(m.person)
		s.send(protocol.Envelope{Type: protocol.TypeResult, ID: m.env.ID, Act: m.env.Act, Name: m.env.Name, Body: body})
	}
}

func (s *sessionActor) stateAnswer(m StateResult) {
	env, ok := s.pending["q:"+m.Tag]
	delete(s.pending, "q:"+m.Tag)
	delete(s.inFlight, m.Tag)
	if !ok {
		return
	}
	if m.Code != "" {
		s.fail(env, m.Code, "%s", m.Message)
		return
	}
	var out any
	switch env.Name {
	case "act":
		out = m.State
	case "document":
		if m.State.Phase != act.PhaseSigned && m.State.Phase != act.PhaseRevoked {
			s.fail(env, string(act.CodeNotAllowedInState), "the document is not signed (act is %s)", m.State.Phase)
			return
		}
		pdf, err := s.sd.PDF(&m.State)
		if err != nil {
			s.fail(env, protocol.CodeInternal, "%v", err)
			return
		}
		out = map[string]string{"code": m.State.DocumentCode, "pdf": base64.StdEncoding.EncodeToString(pdf)}
	case "to_sign":
		var q protocol.ToSignQuery
		_ = json.Unmarshal(env.Body, &q)
		var data []byte
		switch q.What {
		case "consent":
			data = act.ConsentBytes(&m.State)
		case "draft":
			data = act.DraftBytes(&m.State, q.Revision)
		case "document":
			data = s.deps.Rules.Document(&m.State)
		case "revocation":
			data = act.RevocationBytes(&m.State)
		default:
			s.fail(env, protocol.CodeBadMessage, "what must be consent, draft, document or revocation")
			return
		}
		out = protocol.ToSign{Data: base64.StdEncoding.EncodeToString(data)}
	}
	body, _ := json.Marshal(out)
	s.send(protocol.Envelope{Type: protocol.TypeResult, ID: env.ID, Act: env.Act, Name: env.Name, Body: body})
}

// cabinet answers the cabinet and register queries from the log's indexes.
func (s *sessionActor) cabinet(name string) ([]protocol.ActSummary, error) {
	var index, value string
	switch {
	case name == "my_acts" && s.me.Role == act.RoleClient:
		index, value = "principal", s.me.IIN
	case name == "attorney_acts" && s.me.Role == act.RoleAttorney:
		index, value = "attorney", s.me.IIN
	case name == "register" && s.me.Role == act.RoleNotary:
		index, value = "notary", s.me.ID
	case name == "completed" && s.me.Role == act.RoleNotary:
		index, value = "phase", string(act.PhaseSigned)
	default:
		return nil, &act.Error{Code: act.CodeForbidden, Message: fmt.Sprintf("%s is not for a %s", name, s.me.Role)}
	}
	streams, err := s.deps.Log.Lookup(index, value)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.ActSummary, 0, len(streams))
	for _, st := range streams {
		a, err := ReplayStream(s.deps.Log, st)
		if err != nil {
			return nil, err
		}
		if name == "attorney_acts" && a.Phase != act.PhaseSigned {
			continue // an attorney sees the powers granted, not drafts
		}
		sum := protocol.ActSummary{
			Act: a.ID, Phase: string(a.Phase), PrincipalIIN: a.Principal.IIN, Principal: a.Principal.Name,
			AttorneyIIN: a.Attorney.IIN, Notary: a.Notary.ID, DocumentCode: a.DocumentCode, CreatedAt: a.CreatedAt,
		}
		if s.me.Role == act.RoleNotary && name == "register" {
			sum.Phone = a.Principal.Phone
		}
		if !a.SignedAt.IsZero() {
			t := a.SignedAt
			sum.SignedAt = &t
		}
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// newActID is 128 random bits, hex: unguessable, so that an act id alone
// gives nobody access (the act checks who asks anyway).
func newActID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// SpawnSession starts the session actor of one websocket.
func SpawnSession(sd SessionDeps, conn Conn) *actor.PID {
	return sd.Sys.Engine.Spawn(NewSession(sd, conn), "session", spawnOpts(sd.Sys.Deps().Logger, newActID())...)
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
		c.Send(s.sd.Sys.Acts(), JoinCall{ActID: env.Act, Actor: s.me, Session: c.PID(), Tag: env.ID, Resume: m.Resume})
		return
	}
	in := MediaIn{ActID: env.Act, Participant: s.me.String(), Session: c.PID(), Tag: env.ID, Kind: m.Kind, SDP: m.SDP}
	switch m.Kind {
	case "answer":
		if m.SDP == "" {
			s.fail(env, CodeBadSDP, "an answer needs sdp")
			return
		}
	case "candidate":
		if m.Candidate == nil {
			s.fail(env, CodeBadCandidate, "a candidate message needs candidate")
			return
		}
		in.Candidate = &webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid,
			SDPMLineIndex: m.Candidate.SDPMLineIndex, UsernameFragment: m.Candidate.UsernameFragment}
	case "restart", "leave":
	default:
		s.fail(env, CodeUnknownMediaKind, "unknown media kind %q", m.Kind)
		return
	}
	media := s.sd.Sys.Media()
	if media == nil {
		s.fail(env, CodeMediaUnavailable, "this server runs no video calls")
		return
	}
	c.Send(media, in)
}

func (s *sessionActor) mediaOut(m MediaOut) {
	if m.Tag != "" {
		delete(s.inFlight, m.Tag)
	}
	if m.Code != "" {
		s.send(protocol.Envelope{Type: protocol.TypeError, ID: m.Tag, Act: m.ActID, Code: m.Code, Message: m.Message})
		return
	}
	out := protocol.Media{Kind: m.Kind, SDP: m.SDP, Notice: m.Notice, Message: m.Message}
	if c := m.Candidate; c != nil {
		out.Candidate = &protocol.ICECandidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	}
	body, _ := json.Marshal(out)
	s.send(protocol.Envelope{Type: protocol.TypeMedia, ID: m.Tag, Act: m.ActID, Body: body})
}
