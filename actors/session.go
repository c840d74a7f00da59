package actors

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/digidocs"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/egovmobile"
	"github.com/senim-kz/senim/internal/pwlimit"
	"github.com/senim-kz/senim/metrics"
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
	// SigninTimeout closes a connection without a welcome by then;
	// MaxAge closes any connection that old (0: never).
	SigninTimeout time.Duration
	MaxAge        time.Duration
}

// DefaultSessionLimits are the limits PROTOCOL.md promises.
func DefaultSessionLimits() SessionLimits {
	return SessionLimits{MaxInFlight: 8, RatePerSecond: 50, Burst: 100, SigninTimeout: 10 * time.Second, MaxAge: 12 * time.Hour}
}

// Timers of a session, sent to itself.
type (
	signinDeadline struct{}
	maxAgeReached  struct{}
)

// Conn is the session's side of a websocket: Send queues one frame without
// blocking and reports false when the app is too slow to keep up (the
// gateway then closes the connection); SendAll does so for frames that go
// out together, in order (one write to the socket where it can); Close
// ends it.
type Conn interface {
	Send(frame []byte) bool
	SendAll(frames [][]byte) bool
	Close(reason string)
}

// Inbound is one frame from the app.
type Inbound struct{ Frame []byte }

// forgetFrame replaces a large frame as the session's last message.
type forgetFrame struct{}

// ConnClosed tells the session its websocket is gone.
type ConnClosed struct{}

// SessionDeps are what a session needs besides Deps.
type SessionDeps struct {
	Sys      *System
	Accounts *accounts.Store
	Limits   SessionLimits
	// PDF renders a signed act's printable document.
	PDF func(*act.State) ([]byte, error)
	// DraftPDF renders a presented revision of the act as a draft's PDF
	// (the document query with draft); nil: drafts have no PDF.
	DraftPDF func(s *act.State, revision int) ([]byte, error)
	// Resume issues and redeems resume tokens; nil issues none.
	Resume *ResumeStore
	// Summaries caches the list queries' act summaries; nil gets one per session.
	Summaries *SummaryCache
	// QueueEstimate is queue_position's wait per call ahead until the desk
	// has seen calls taken.
	QueueEstimate time.Duration
	// Admission bounds work in flight across the server; nil: no bound.
	Admission *Admission
	// Passwords bounds the argon2id checks of password sign-ins; nil: a
	// limiter shared by every session without one (pwlimit's defaults).
	Passwords *pwlimit.Limiter
	// Egov issues eGov mobile signing links (sign_link); nil issues none.
	Egov *egovmobile.Store
	// Digidocs is the Digital documents service (save_document,
	// my_documents); nil has none.
	Digidocs digidocs.Port
	// Recordings issues links to play a call's recording (recording_link);
	// nil issues none.
	Recordings *RecordingLinks
}

// ClientAddr is implemented by a Conn that knows the client's address (the
// password limiter locks out addresses).
type ClientAddr interface{ ClientIP() string }

var (
	defaultPasswordsOnce sync.Once
	defaultPasswords     *pwlimit.Limiter
)

func (sd *SessionDeps) passwords() *pwlimit.Limiter {
	if sd.Passwords != nil {
		return sd.Passwords
	}
	defaultPasswordsOnce.Do(func() { defaultPasswords = pwlimit.New(pwlimit.Config{Queue: 64}) })
	return defaultPasswords
}

// sessionActor is one signed-in app on one websocket. It speaks the
// protocol, checks limits, and turns frames into messages for acts, the desk
// and the operators; answers come back as messages and leave as frames.
type sessionActor struct {
	// deps and sd are shared, read-only: the System's Deps, and the
	// SessionDeps of SessionDeps.Spawn (or a copy of SpawnSession's).
	// Copied into every session they were half of an idle one's struct.
	deps     *Deps
	sd       *SessionDeps
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
	// cert and certChain are the sign-in certificate of an EDS session and
	// the chain it was accepted through, kept to re-judge them on Recheck.
	// They are kept as DER, without the trust store's own certificates,
	// and parsed again on the rare Recheck: parsed, with the CMS they came
	// in, they were the largest part of an idle session.
	cert      []byte
	certChain [][]byte

	// lookups are registry look-ups being recorded in their act, by the
	// record_registry_check command's id.
	lookups map[string]registryAnswer
	// timers are the sign-in deadline and the maximum age, stopped when
	// the connection closes (a closed session holds no 12-hour timer).
	timers []*time.Timer
	// checkingPassword: a password sign-in is being checked off this
	// actor's goroutine (passwordChecked answers it).
	checkingPassword bool
	// holding: a message is being handled, and the frames it makes are
	// held (sendFrame) until it is done (flushHeld).
	holding bool
	held    [][]byte
	// issuance is the session's remote EDS issuance state (session_issuance.go).
	issuance *issuanceSession
}

// NewSession returns the producer of a session actor for one connection.
func NewSession(sd SessionDeps, conn Conn) actor.Producer {
	return newSession(&sd, conn)
}

// newSession is NewSession with sd shared: sd is not changed while the
// session lives, except that a session with no Summaries makes its own.
func newSession(sd *SessionDeps, conn Conn) actor.Producer {
	return func() actor.Receiver {
		d := &sd.Sys.deps // set once by Start, read-only since
		return &sessionActor{deps: d, sd: sd, conn: conn, log: d.Logger,
			inFlight: map[string]string{}, pending: map[string]protocol.Envelope{}, subs: map[string]uint64{}, offers: map[string]bool{}}
	}
}

func (s *sessionActor) Receive(c *actor.Context) {
	// Whatever this message sent on or had answered, the server-wide count
	// of work in flight follows this session's. The frames it made go out
	// together.
	before := len(s.inFlight)
	s.holding = true
	defer func() {
		s.flushHeld()
		s.sd.Admission.add(len(s.inFlight) - before)
	}()
	switch m := c.Message().(type) {
	case actor.Started:
		s.challenge()
		s.armTimers(c)
	case signinDeadline:
		if !s.signedIn && !s.isApplicant() {
			// An unauthenticated connection holds a slot of the IP's cap
			// and a session actor: it gets a bounded time to sign in.
			metrics.Refused.WithLabelValues(protocol.CodeSigninTimeout).Inc()
			s.closeWith(protocol.CodeSigninTimeout, "no sign-in in time")
		}
	case maxAgeReached:
		// A sign-in proves who was there when it was made; a session
		// does not live on it for ever.
		metrics.Refused.WithLabelValues(protocol.CodeReauthenticate).Inc()
		s.closeWith(protocol.CodeReauthenticate, "the session is too old; sign in again")
	case Inbound:
		s.inbound(c, m.Frame)
		if len(m.Frame) > 1024 {
			// hollywood's context keeps the last message until the next one
			// comes; for an idle session that was its sign-in with the CMS.
			c.Send(c.PID(), forgetFrame{})
		}
	case forgetFrame:
	case passwordChecked:
		s.passwordChecked(c, m)
	case ConnClosed:
		s.closed(c)
		clear(s.inFlight) // their answers will find no one: release them
		c.Engine().Poison(c.PID())
	case Recheck:
		s.recheck()
	case QueuePositionAnswer:
		s.queueAnswer(m)
	case DeskQueue:
		s.deskQueueAnswer(m)
	case CommandResult:
		if m.events != nil {
			s.events(*m.events) // the command's own events, before its answer
		}
		if s.registryRecorded(m) {
			return
		}
		delete(s.inFlight, m.CommandID)
		if m.Code != "" {
			s.send(protocol.Envelope{Type: protocol.TypeError, ID: m.CommandID, Act: m.ActID, Code: m.Code, Message: m.Message, Duplicate: m.Duplicate})
			return
		}
		s.send(protocol.Envelope{Type: protocol.TypeAck, ID: m.CommandID, Act: m.ActID, Seq: m.Seq, Duplicate: m.Duplicate})
	case SubscribeResult:
		s.subscribed(m)
		if m.events != nil {
			s.events(*m.events) // what the subscriber missed, after the answer
		}
	case ActEvents:
		s.events(m)
	case StateResult:
		s.stateAnswer(c, m)
	case paymentLinkAnswer:
		s.paymentLinkAnswer(m)
	case MediaOut:
		s.mediaOut(m)
	case registryAnswer:
		s.registryAnswer(c, m)
	case egovOutcome:
		s.egovOutcome(m)
	case digidocsSaved:
		s.digidocsSaved(c, m)
	case digidocsListed:
		s.digidocsListed(m)
	case digidocsOpened:
		s.digidocsOpened(m)
	case OfferCall:
		s.offers[m.ActID] = true
		body, _ := json.Marshal(protocol.Offer{
			Principal: m.Call.PrincipalName, PrincipalIIN: m.Call.PrincipalIIN, AttorneyIIN: m.Call.AttorneyIIN,
			ActionType: m.Call.ActionType, WaitingSince: m.Call.RequestedAt.UTC(), QueuePosition: m.Position,
		})
		s.send(protocol.Envelope{Type: protocol.TypeOffer, Act: m.ActID, Body: body})
	case IssuanceResult, IssuanceView, IssuanceSubscribed, IssuanceEvents, IssuanceOffer, IssuanceOfferGone, issuanceEntity:
		s.issuanceAnswer(c, m)
	case OperatorStatus:
		s.operatorStatus(m)
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
	s.sendFrame(b)
}

// sendFrame queues an encoded frame, which may be shared with other
// sessions: nobody changes a frame once made. While the session handles a
// message the frame is held, and goes out with the others that message
// made (flushHeld): an act's events with the answer to the command that
// made them, a subscription's missed events, in one write to the socket.
func (s *sessionActor) sendFrame(b []byte) {
	if s.holding {
		s.held = append(s.held, b)
		return
	}
	if !s.conn.Send(b) {
		s.tooSlow()
	}
}

// heldKept is the most frames whose slots held keeps between messages.
const heldKept = 8

// flushHeld sends the frames held, in order, and stops holding.
func (s *sessionActor) flushHeld() {
	s.holding = false
	var ok bool
	switch len(s.held) {
	case 0:
		return
	case 1:
		ok = s.conn.Send(s.held[0])
	default:
		ok = s.conn.SendAll(s.held)
	}
	clear(s.held) // the frames are the connection's now
	s.held = s.held[:0]
	if cap(s.held) > heldKept {
		s.held = nil
	}
	if !ok {
		s.tooSlow()
	}
}

func (s *sessionActor) tooSlow() {
	s.conn.Close("the app does not read its messages fast enough")
}

// maxEchoLen is the longest id or act an answer echoes (schema.json's
// limit): a longer one came from a message refused for it, and is dropped
// rather than sent back to its author at any size.
const maxEchoLen = 64

func (s *sessionActor) fail(env protocol.Envelope, code, format string, args ...any) {
	id, a := env.ID, env.Act
	if len(id) > maxEchoLen {
		id = ""
	}
	if len(a) > maxEchoLen {
		a = ""
	}
	s.send(protocol.Envelope{Type: protocol.TypeError, ID: id, Act: a, Code: code, Message: fmt.Sprintf(format, args...)})
}

// armTimers starts the session's sign-in deadline and its maximum age.
// The timers only send the session a message, which it judges itself.
func (s *sessionActor) armTimers(c *actor.Context) {
	eng, self := c.Engine(), c.PID()
	if d := s.sd.Limits.SigninTimeout; d > 0 {
		s.timers = append(s.timers, time.AfterFunc(d, func() { eng.Send(self, signinDeadline{}) }))
	}
	if d := s.sd.Limits.MaxAge; d > 0 {
		s.timers = append(s.timers, time.AfterFunc(d, func() { eng.Send(self, maxAgeReached{}) }))
	}
}

// closeWith ends the session with an error frame (no id) for apps that read
// frames and the websocket close reason "<code>: <why>" (status 1008).
func (s *sessionActor) closeWith(code, why string) {
	s.send(protocol.Envelope{Type: protocol.TypeError, Code: code, Message: why})
	s.flushHeld()
	s.conn.Close(code + ": " + why)
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
	if ReservedID(env.ID) {
		s.fail(env, protocol.CodeBadMessage, "ids starting with %q or %q are reserved for Senim's own commands", SystemIDPrefix, BankIDPrefix)
		return
	}
	if env.Type == protocol.TypeSignIn {
		s.signIn(c, env)
		return
	}
	if env.Type == protocol.TypeIssuance || (env.Type == protocol.TypeMedia && s.inIssuanceCall(env.Act)) {
		s.issuanceRequest(c, env) // an applicant has no EDS yet
		return
	}
	if !s.signedIn && env.Type == protocol.TypeQuery && env.Name == "sign_link" {
		s.signLink(c, env) // a phone's sign-in
		return
	}
	if !s.signedIn {
		s.fail(env, protocol.CodeNotSignedIn, "sign in first")
		return
	}
	if s.staffOnly(env) {
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
		if env.Name == (act.SaveDocument{}).CommandName() {
			s.saveDocument(c, env) // recorded only once Digital documents took it
			return
		}
		if env.Name == (act.RecordRegistryCheck{}).CommandName() {
			s.fail(env, string(act.CodeForbidden), "registry look-ups are recorded by the registry_lookup query")
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
		if prev, ok := s.pending["sub:"+env.Act]; ok {
			// One subscribe per act at a time: a second would take the
			// first's place in pending and leave its id in flight for good.
			s.fail(env, protocol.CodeBadMessage, "a subscribe to this act is in flight (id %q)", prev.ID)
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

func (s *sessionActor) closed(c *actor.Context) {
	for _, t := range s.timers {
		t.Stop()
	}
	for a := range s.subs {
		c.Send(s.sd.Sys.Acts(), Unsubscribe{ActID: a, Subscriber: c.PID()})
	}
	s.closeIssuance(c)
	if s.sd.Egov != nil {
		s.sd.Egov.DropOwner(c.PID().String())
	}
	if s.me.Role == act.RoleNotary {
		c.Send(s.sd.Sys.Operators(), OperatorLeave{Login: s.me.ID, Session: c.PID()})
	}
	if s.signedIn {
		metrics.Sessions.WithLabelValues(string(s.me.Role)).Dec()
	}
	s.log.Debug().Msg("session closed")
}

// subscribed answers a subscription.
func (s *sessionActor) subscribed(m SubscribeResult) {
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
}

// events sends stored events on, never one twice and never out of order.
func (s *sessionActor) events(m ActEvents) {
	last, ok := s.subs[m.ActID]
	if !ok {
		return
	}
	for i, r := range m.Records {
		if r.Seq <= last {
			continue
		}
		// The stored payload, or the copy this party may see (an attorney
		// is not shown the principal's phone). The stored payload's frame
		// is the same for every session: it is made once, by the first.
		var frame []byte
		if body := act.RedactEvent(r.Type, r.Payload, s.me.Role); sameBytes(body, r.Payload) {
			frame = m.frame(i)
		} else {
			frame = protocol.EventFrame(m.ActID, r.Seq, r.Type, r.Actor, r.At.UTC(), body)
		}
		s.sendFrame(frame)
		last = r.Seq
	}
	s.subs[m.ActID] = last
}

// sessionInbox is a session actor's first inbox: hollywood grows it on
// demand, and its default (1024 envelopes, 24 KiB) was most of an idle
// session's memory.
const sessionInbox = 8

// SpawnSession starts the session actor of one websocket, with a copy of
// sd of its own.
func SpawnSession(sd SessionDeps, conn Conn) *actor.PID {
	return spawnSession(&sd, conn)
}

// Spawn starts the session actor of one websocket, sharing sd with every
// other session it spawns: sd must not change from then on, and must have
// Summaries (a session without one makes its own in its SessionDeps).
func (sd *SessionDeps) Spawn(conn Conn) *actor.PID {
	if sd.Summaries == nil {
		panic("actors: SessionDeps.Spawn needs Summaries")
	}
	return spawnSession(sd, conn)
}

func spawnSession(sd *SessionDeps, conn Conn) *actor.PID {
	opts := append(spawnOpts(sd.Sys.deps.Logger, newActID()), actor.WithInboxSize(sessionInbox))
	return sd.Sys.Engine.Spawn(newSession(sd, conn), "session", opts...)
}
