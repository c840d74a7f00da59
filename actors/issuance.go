package actors

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/bmg"
	"github.com/senim-kz/senim/ca"
	"github.com/senim-kz/senim/docrecog"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/faceid"
	"github.com/senim-kz/senim/legalreg"
	"github.com/senim-kz/senim/mail"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/sms"
)

// Remote EDS issuance (docs/issuance.md): one actor per application around
// the pure core domain/issuance, in the same event log as the acts (stream
// issuance/<id>, hash chain, command ids, durable before the reply). The
// actor is a thin shell: load = replay through issuance.Apply; a command =
// Decide, append, apply, publish; then the side effects of the new events,
// done outside the actor in goroutines that send their outcome back as a
// system command.

// IssuanceDeps are what the application actors need besides Deps.
type IssuanceDeps struct {
	Rules issuance.Rules
	// CodeKey keys the HMAC of one-time codes: only the keyed hash of a
	// code is ever stored.
	CodeKey []byte
	// FilesDir holds the uploads and the certificate requests, one
	// directory per application (FilesDir/<id>/).
	FilesDir string
	BMG      bmg.Database
	SMS      sms.Gateway
	FaceID   faceid.Checker
	DocRecog docrecog.Recogniser
	CA       ca.CA
	// LegalEntities is the register of legal entities (ГБД ЮЛ): a legal
	// entity's start needs it active, a first head's its head's IIN, and
	// the CA request its name. nil refuses every first-head application
	// every first-head application (fail closed).
	LegalEntities legalreg.Register
	// IdleAfter passivates an application idle that long (0: never).
	IdleAfter time.Duration
	// RetryMin and RetryMax bound the backoff of an outside call that
	// answered "unavailable"; CAPoll is the wait between fetches of
	// certificates the CA has not signed yet.
	RetryMin, RetryMax, CAPoll time.Duration
	// MaxOpenPerIIN bounds the unfinished applications of one IIN;
	// StartsPerIP bounds the applications one address starts per hour.
	MaxOpenPerIIN int
	StartsPerIP   int
	// Text is the SMS text of key (pages catalogs) with arg in it; nil
	// sends the key itself.
	Text func(key, arg string) string
	// Mail tells an applicant who gave an e-mail address that the
	// certificates are issued (nil: no e-mail); MailText is the message of
	// key with vars in it (nil: the key itself).
	Mail     mail.Sender
	MailText func(key string, vars map[string]string) (subject, body string)

	ctx    context.Context
	cancel context.CancelFunc
	// the staff queues (issuance_desk.go) and the registration calls
	// (issuance_call.go; nil without an SFU)
	registrationDesk, moderationDesk, calls *actor.PID
	// router is the applications' router (the calls send it recordings).
	router *actor.PID
	// tickets open the applications' files over HTTP (issuance_files.go).
	tickets *fileTickets
}

func (d *IssuanceDeps) desk(q StaffQueue) *actor.PID {
	if q == QueueModeration {
		return d.moderationDesk
	}
	return d.registrationDesk
}

func (d *IssuanceDeps) context() context.Context { return d.ctx }
func (d *IssuanceDeps) stopped() bool            { return d.ctx.Err() != nil }

// sleep waits d, or less if the system stops (then false).
func (d *IssuanceDeps) sleep(wait time.Duration) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-d.ctx.Done():
		return false
	}
}

// IssuanceStreamOf is the event-log stream of an application.
func IssuanceStreamOf(id string) string { return "issuance/" + id }

// Index names of applications (the acts use "phase").
const (
	IndexIssuancePhase = "issuance_phase"
	IndexIssuanceIIN   = "issuance_iin"
	IndexIssuanceKey   = "issuance_key" // public-key fingerprints submitted
	IndexIssuanceBIN   = "issuance_bin" // legal entities waiting for approvals
)

// Codes the issuance shell adds to the core's (PROTOCOL.md).
const (
	// CodeIssuanceUnavailable: issuance is not configured on this server.
	CodeIssuanceUnavailable = "issuance_unavailable"
	// CodeTooManyApplications: the IIN has too many unfinished applications,
	// or the address started too many in the last hour.
	CodeTooManyApplications = "too_many_applications"
	// CodeBadToken: the application token is not this application's.
	CodeBadToken = "bad_token"
)

// IssuanceCommand asks an application to run a command. Cmd is set by the
// shell (system commands, and applicant commands the session built).
type IssuanceCommand struct {
	AppID     string
	CommandID string
	Actor     issuance.Actor
	Cmd       issuance.Command
	// Digest identifies what was asked, for retries of the same id.
	Digest  string
	ReplyTo *actor.PID
	// Code is the plain one-time code drawn for an issue_code command:
	// sent by SMS after the durable append, never stored.
	Code string
	// Resend is the applicant asking for a new code (Cmd is nil): the
	// shell draws it and runs issue_code as the system.
	Resend bool
}

func (m IssuanceCommand) replyTo() *actor.PID { return m.ReplyTo }
func (m IssuanceCommand) failed(reason string) any {
	return IssuanceResult{AppID: m.AppID, CommandID: m.CommandID, Code: CodeInternal, Message: "internal error: " + reason}
}

// IssuanceResult answers an IssuanceCommand.
type IssuanceResult struct {
	AppID     string
	CommandID string
	Seq       uint64
	Duplicate bool
	Code      string
	Message   string
}

// IssuanceGet asks for an application as Actor may see it.
type IssuanceGet struct {
	AppID   string
	Actor   issuance.Actor
	Tag     string
	ReplyTo *actor.PID
}

func (m IssuanceGet) replyTo() *actor.PID { return m.ReplyTo }
func (m IssuanceGet) failed(reason string) any {
	return IssuanceView{AppID: m.AppID, Tag: m.Tag, Code: CodeInternal, Message: reason}
}

// IssuanceView answers IssuanceGet.
type IssuanceView struct {
	AppID   string
	Tag     string
	State   issuance.State
	Seq     uint64
	Waiting []string // outside services being retried
	Problem string   // the last outside refusal the applicant must act on
	// CodeExpiresAt and CodeTriesLeft describe the outstanding code (its
	// hash is not in State).
	CodeExpiresAt *time.Time
	CodeTriesLeft int
	Code          string
	Message       string
}

// IssuanceSubscribe asks for the application's events after FromSeq.
type IssuanceSubscribe struct {
	AppID      string
	FromSeq    uint64
	Actor      issuance.Actor
	Tag        string
	Subscriber *actor.PID
}

// IssuanceUnsubscribe ends a subscription.
type IssuanceUnsubscribe struct {
	AppID      string
	Subscriber *actor.PID
}

// IssuanceEvents carries stored events of one application, in order.
type IssuanceEvents struct {
	AppID   string
	Records []eventlog.Record
}

// IssuanceSubscribed answers IssuanceSubscribe before any events.
type IssuanceSubscribed struct {
	AppID   string
	Tag     string
	Code    string
	Message string
}

// IssuanceUpload is a file the HTTP endpoint stored for the applicant
// (Actor): the application checks it is theirs and records it.
type IssuanceUpload struct {
	AppID   string
	Actor   issuance.Actor
	Upload  issuance.Upload
	ReplyTo *actor.PID
}

// issuanceMessage is any message addressed to one application.
type issuanceMessage interface{ appID() string }

func (m IssuanceCommand) appID() string     { return m.AppID }
func (m IssuanceGet) appID() string         { return m.AppID }
func (m IssuanceSubscribe) appID() string   { return m.AppID }
func (m IssuanceUnsubscribe) appID() string { return m.AppID }
func (m IssuanceUpload) appID() string      { return m.AppID }
func (m outsideDone) appID() string         { return m.AppID }
func (m outsideWaiting) appID() string      { return m.AppID }
func (m issuancePoke) appID() string        { return m.AppID }

// CodeHash is the keyed hash of a one-time code for an application: the
// application id is in it, so a code of one application proves nothing in
// another.
func CodeHash(key []byte, appID, code string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("senim.otp.v1\x00" + appID + "\x00" + code))
	return m.Sum(nil)
}

// ApplicantID is the applicant's actor id for an application token: the
// token's hash, so the log never holds the token.
func ApplicantID(token string) string {
	h := sha256.Sum256([]byte("senim.applicant.v1\x00" + token))
	return fmt.Sprintf("%x", h[:16])
}

// appActor is the shell around one application's core.
type appActor struct {
	id      string
	deps    Deps
	idep    *IssuanceDeps
	log     zerolog.Logger
	state   issuance.State
	seq     uint64
	loaded  bool
	applied map[cmdKey]appliedCmd
	refused map[cmdKey]refusedCmd
	fifo    []cmdKey
	subs    map[string]*actor.PID
	// running are the outside calls under way, by effect name, so that a
	// poke or a replay does not start one twice.
	running map[string]bool
	// waiting are the outside services answering "unavailable" now.
	waiting           map[string]bool
	problem           string
	failCode, failMsg string
}

func newAppActor(id string, deps Deps, idep *IssuanceDeps, subs map[string]*actor.PID) actor.Producer {
	return func() actor.Receiver {
		if subs == nil {
			subs = map[string]*actor.PID{}
		}
		return &appActor{id: id, deps: deps, idep: idep, log: deps.Logger.With().Str("application", id).Logger(), subs: subs,
			running: map[string]bool{}, waiting: map[string]bool{}, refused: map[cmdKey]refusedCmd{}}
	}
}

func (a *appActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		a.load()
		a.resume(c)
	case IssuanceCommand:
		a.ensureLoaded(c)
		var res IssuanceResult
		if m.Resend {
			res = a.resend(c, m)
		} else {
			res = a.handle(c, m)
		}
		if m.ReplyTo != nil {
			c.Engine().Send(m.ReplyTo, res)
		}
	case IssuanceUpload:
		a.ensureLoaded(c)
		res := IssuanceResult{AppID: a.id}
		if !a.loaded {
			res.Code, res.Message = a.failure()
		} else if a.state.Phase == issuance.PhaseNone || m.Actor.ID != a.state.Applicant.ID {
			res.Code, res.Message = CodeBadToken, "the application token is not this application's"
		} else if cur, ok := a.state.Uploads[m.Upload.Purpose]; ok && cur == m.Upload {
			res.Seq, res.Duplicate = a.seq, true // the same file again: already the one in use
		} else if len(m.Upload.SHA256) < 16 {
			res.Code, res.Message = string(issuance.CodeBadUpload), "an upload's SHA-256 must be 64 lower-case hex digits"
		} else {
			res = a.handle(c, IssuanceCommand{AppID: a.id, CommandID: fmt.Sprintf("sys:upload-%s-%s-%d", m.Upload.SHA256[:16], m.Upload.Purpose, a.seq),
				Actor: issuance.Actor{Role: issuance.RoleSystem}, Cmd: issuance.RecordUpload{Upload: m.Upload}})
		}
		c.Engine().Send(m.ReplyTo, res)
	case IssuanceGet:
		a.ensureLoaded(c)
		v := IssuanceView{AppID: a.id, Tag: m.Tag}
		switch {
		case !a.loaded:
			v.Code, v.Message = a.failure()
		case !a.mayRead(m.Actor):
			v.Code, v.Message = string(issuance.CodeForbidden), "not your application"
		default:
			v.State, v.Seq, v.Problem = a.state, a.seq, a.problem
			if code := a.state.Code; code != nil && code.Tries < a.idep.Rules.OTPMaxTries {
				at := code.ExpiresAt
				v.CodeExpiresAt, v.CodeTriesLeft = &at, a.idep.Rules.OTPMaxTries-code.Tries
			}
			v.State.Code = nil // the code's hash stays in the server
			for w := range a.waiting {
				v.Waiting = append(v.Waiting, w)
			}
			sort.Strings(v.Waiting)
		}
		c.Engine().Send(m.ReplyTo, v)
	case IssuanceSubscribe:
		a.ensureLoaded(c)
		a.subscribe(c, m)
	case IssuanceJoin:
		a.ensureLoaded(c)
		a.joinCall(c, m)
	case IssuanceUnsubscribe:
		delete(a.subs, m.Subscriber.ID)
	case outsideDone:
		a.ensureLoaded(c)
		a.outsideDone(c, m)
	case outsideWaiting:
		a.waiting[m.Service] = m.Waiting
		if !m.Waiting {
			delete(a.waiting, m.Service)
		}
	case issuancePoke:
		a.ensureLoaded(c)
		a.resume(c)
	case passivateAsk:
		c.Send(c.Parent(), passivateReady{ActID: a.id, PID: c.PID(), Sent: m.Sent, Subscribers: a.subs})
	}
}

func (a *appActor) afterPanic() { a.loaded = false }

// resend draws a new code for the applicant; the core judges whether it is
// too early or too many.
func (a *appActor) resend(c *actor.Context, m IssuanceCommand) IssuanceResult {
	res := IssuanceResult{AppID: a.id, CommandID: m.CommandID}
	switch {
	case !a.loaded:
		res.Code, res.Message = a.failure()
		return res
	case a.state.Phase == issuance.PhaseNone:
		res.Code, res.Message = string(issuance.CodeNoSuchApplication), "no such application"
		return res
	case m.Actor.Role != issuance.RoleApplicant || m.Actor.ID != a.state.Applicant.ID:
		res.Code, res.Message = string(issuance.CodeForbidden), "this is another applicant's application"
		return res
	}
	out := a.drawCode(c)
	out.CommandID = m.CommandID
	out.Duplicate = false
	return out
}

func (a *appActor) ensureLoaded(c *actor.Context) {
	if !a.loaded {
		a.load()
		if a.loaded {
			a.resume(c)
		}
	}
}

func (a *appActor) failure() (string, string) {
	if a.failCode == "" {
		return CodeInternal, "the application could not be loaded; retry"
	}
	return a.failCode, a.failMsg
}

func (a *appActor) load() {
	a.state, a.seq = issuance.State{}, 0
	a.applied = map[cmdKey]appliedCmd{}
	// Payloads are borrowed (ReplayVerified): DecodeEvent's json.Unmarshal
	// copies what it keeps, and note keeps no payload. The chain is checked
	// as the records go, so an error discards what was applied before it.
	err := a.deps.Log.ReplayVerified(IssuanceStreamOf(a.id), func(r eventlog.Record) error {
		e, err := issuance.DecodeEvent(r.Type, r.Payload)
		if err != nil {
			return err
		}
		a.state = issuance.Apply(a.state, e)
		a.note(r)
		return nil
	})
	if err != nil {
		a.state, a.seq = issuance.State{}, 0
		a.applied = map[cmdKey]appliedCmd{}
		a.failCode, a.failMsg = loadFailure(err)
		a.log.Error().Err(err).Str("code", a.failCode).Msg("replay failed")
		return
	}
	a.failCode, a.failMsg, a.loaded = "", "", true
}

func (a *appActor) note(r eventlog.Record) {
	if r.CommandID != "" {
		a.applied[cmdKey{r.Actor, r.CommandID}] = appliedCmd{seq: r.Seq}
	}
	a.seq = r.Seq
}

func (a *appActor) mayRead(by issuance.Actor) bool {
	s := &a.state
	if s.Phase == issuance.PhaseNone {
		return false
	}
	switch by.Role {
	case issuance.RoleApplicant:
		return by.ID != "" && by.ID == s.Applicant.ID
	case issuance.RoleModerator:
		return s.Phase == issuance.PhaseModeration || (s.Moderator.ID != "" && s.Moderator.ID == by.ID)
	case issuance.RoleOperator:
		return s.Phase == issuance.PhaseRegistrationWaiting || (s.Operator.ID != "" && s.Operator.ID == by.ID)
	case issuance.RoleApprover:
		return s.Phase == issuance.PhaseApprovals && by.IIN != "" && by.IIN != s.IIN
	case issuance.RoleSystem:
		return true
	}
	return false
}

func (a *appActor) handle(c *actor.Context, m IssuanceCommand) IssuanceResult {
	res := IssuanceResult{AppID: a.id, CommandID: m.CommandID}
	if !a.loaded {
		res.Code, res.Message = a.failure()
		return res
	}
	if m.Cmd == nil {
		res.Code, res.Message = string(issuance.CodeBadRequest), "no command"
		return res
	}
	digest := m.Digest
	if digest == "" {
		b, _ := json.Marshal(m.Cmd)
		digest = commandDigest(m.Cmd.CommandName(), b)
	}
	key := cmdKey{m.Actor.String(), m.CommandID}
	if m.CommandID != "" {
		// A refusal first: a wrong code is both in the log and refused,
		// and its retry must hear the refusal again, not an ack.
		if r, ok := a.refused[key]; ok && r.digest == digest {
			r.res.Duplicate = true
			return issuanceResultOf(r.res, a.id)
		}
		if done, ok := a.applied[key]; ok {
			if done.digest == "" {
				if cmd, found, err := a.deps.Log.Command(IssuanceStreamOf(a.id), key.actor, key.id); err == nil && found {
					done.digest = cmd.Digest
					a.applied[key] = done
				}
			}
			if done.digest != "" && done.digest != digest {
				res.Code, res.Message = CodeIDReused, fmt.Sprintf("command id %q was already used for another command", m.CommandID)
				return res
			}
			res.Seq, res.Duplicate = done.seq, true
			return res
		}
	}
	now := a.deps.Now()
	events, err := issuance.Decide(a.state, m.Actor, m.Cmd, now, a.idep.Rules)
	if len(events) > 0 {
		// A wrong code is both a fact and a refusal: the fact is stored.
		out := a.commit(c, m, events, now, digest)
		if out.Code != "" || err == nil {
			return out
		}
		res.Seq = out.Seq
	}
	if err != nil {
		res.Code, res.Message = issuanceCodeOf(err), issuanceMessageOf(err)
		a.remember(key, digest, res)
		a.log.Info().Str("command", m.Cmd.CommandName()).Str("by", string(m.Actor.Role)).Str("code", res.Code).Msg("command refused")
	}
	return res
}

func issuanceResultOf(r CommandResult, id string) IssuanceResult {
	return IssuanceResult{AppID: id, CommandID: r.CommandID, Seq: r.Seq, Duplicate: r.Duplicate, Code: r.Code, Message: r.Message}
}

func (a *appActor) remember(key cmdKey, digest string, r IssuanceResult) {
	if key.id == "" {
		return
	}
	if len(a.fifo) >= refusedMemory {
		delete(a.refused, a.fifo[0])
		a.fifo = a.fifo[1:]
	}
	a.refused[key] = refusedCmd{res: CommandResult{CommandID: r.CommandID, Seq: r.Seq, Code: r.Code, Message: r.Message}, digest: digest}
	a.fifo = append(a.fifo, key)
}

func (a *appActor) commit(c *actor.Context, m IssuanceCommand, events []issuance.Event, now time.Time, digest string) IssuanceResult {
	res := IssuanceResult{AppID: a.id, CommandID: m.CommandID, Seq: a.seq}
	next := a.state
	drafts := make([]eventlog.Draft, len(events))
	for i, e := range events {
		payload, err := json.Marshal(e)
		if err != nil {
			panic(fmt.Sprintf("event %T does not encode: %v", e, err))
		}
		drafts[i] = eventlog.Draft{Type: e.EventType(), Actor: m.Actor.String(), At: now, Payload: payload}
		next = issuance.Apply(next, e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := a.deps.Log.Append(ctx, eventlog.AppendRequest{
		Stream: IssuanceStreamOf(a.id), ExpectedSeq: a.seq, CommandID: m.CommandID, CommandActor: m.Actor.String(),
		CommandDigest: digest, Events: drafts, Index: issuanceIndexOps(&a.state, &next),
	})
	if errors.Is(err, eventlog.ErrIDReused) {
		a.loaded = false
		res.Code, res.Message = CodeIDReused, fmt.Sprintf("command id %q was already used for another command", m.CommandID)
		return res
	}
	if err != nil {
		a.loaded = false
		a.log.Error().Err(err).Str("command", m.Cmd.CommandName()).Msg("append failed")
		res.Code, res.Message = CodeInternal, "the application could not be saved; retry with the same command id"
		return res
	}
	if out.Duplicate {
		a.loaded = false
		res.Seq, res.Duplicate = out.Records[len(out.Records)-1].Seq, true
		return res
	}
	before := a.state
	a.state = next
	for _, r := range out.Records {
		a.note(r)
	}
	a.tellQueues(c, &before, &a.state)
	if before.Phase == issuance.PhaseRegistrationCall && a.state.Phase != issuance.PhaseRegistrationCall && a.idep.calls != nil {
		c.Send(a.idep.calls, issuanceCallOver{AppID: a.id})
	}
	if m.CommandID != "" {
		a.applied[cmdKey{m.Actor.String(), m.CommandID}] = appliedCmd{seq: a.seq, digest: digest}
	}
	res.Seq = a.seq
	a.log.Info().Str("command", m.Cmd.CommandName()).Str("by", string(m.Actor.Role)).Uint64("seq", a.seq).Str("phase", string(a.state.Phase)).Msg("command applied")
	msg := IssuanceEvents{AppID: a.id, Records: out.Records}
	for _, pid := range a.subs {
		c.Engine().Send(pid, msg)
	}
	a.effects(c, events, m)
	return res
}

func (a *appActor) subscribe(c *actor.Context, m IssuanceSubscribe) {
	ans := IssuanceSubscribed{AppID: a.id, Tag: m.Tag}
	switch {
	case !a.loaded:
		ans.Code, ans.Message = a.failure()
	case !a.mayRead(m.Actor):
		ans.Code, ans.Message = string(issuance.CodeForbidden), "not your application"
	}
	c.Engine().Send(m.Subscriber, ans)
	if ans.Code != "" {
		return
	}
	a.subs[m.Subscriber.ID] = m.Subscriber
	if m.FromSeq < a.seq {
		var recs []eventlog.Record
		_ = a.deps.Log.Read(IssuanceStreamOf(a.id), m.FromSeq+1, func(r eventlog.Record) error {
			recs = append(recs, r)
			return nil
		})
		if len(recs) > 0 {
			c.Engine().Send(m.Subscriber, IssuanceEvents{AppID: a.id, Records: recs})
		}
	}
}

// issuanceIndex is an application's index entries: its phase (unfinished
// ones only), its IIN while unfinished, its submitted keys (for good), and
// its BIN while it waits for approvals.
func issuanceIndex(s *issuance.State) map[string]string {
	out := map[string]string{}
	if s.Phase == issuance.PhaseNone {
		return out
	}
	for _, q := range s.CSRs {
		out[IndexIssuanceKey+"/"+q.Fingerprint] = q.Fingerprint
	}
	if s.Phase.Final() {
		return out
	}
	out[IndexIssuancePhase] = string(s.Phase)
	out[IndexIssuanceIIN] = s.IIN
	if s.Phase == issuance.PhaseApprovals {
		out[IndexIssuanceBIN] = s.BIN
	}
	return out
}

func issuanceIndexOps(before, after *issuance.State) []eventlog.IndexOp {
	b, n := issuanceIndex(before), issuanceIndex(after)
	keys := make([]string, 0, len(b)+len(n))
	for k := range b {
		keys = append(keys, k)
	}
	for k := range n {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var ops []eventlog.IndexOp
	name := func(k string) string {
		if len(k) > len(IndexIssuanceKey) && k[:len(IndexIssuanceKey)+1] == IndexIssuanceKey+"/" {
			return IndexIssuanceKey
		}
		return k
	}
	for _, k := range keys {
		old, had := b[k]
		cur, has := n[k]
		if had && (!has || old != cur) {
			ops = append(ops, eventlog.IndexOp{Index: name(k), Value: old, Delete: true})
		}
		if has && (!had || old != cur) {
			ops = append(ops, eventlog.IndexOp{Index: name(k), Value: cur})
		}
	}
	return ops
}

func issuanceCodeOf(err error) string {
	var e *issuance.Error
	if errors.As(err, &e) {
		return string(e.Code)
	}
	return CodeInternal
}

func issuanceMessageOf(err error) string {
	var e *issuance.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// issuanceRouter owns the application actors, as router owns the acts'.
type issuanceRouter struct {
	deps   Deps
	idep   *IssuanceDeps
	live   map[string]*liveAct
	parked map[string]map[string]*actor.PID
	gen    uint64
	sweep  *actor.SendRepeater
}

func (r *issuanceRouter) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		if d := r.idep.IdleAfter; d > 0 {
			every := max(d/2, time.Second)
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
		now := r.deps.Now()
		for _, la := range r.live {
			if now.Sub(la.lastAt) >= r.idep.IdleAfter {
				c.Send(la.pid, passivateAsk{Sent: la.sent})
			}
		}
		return
	case liveActs:
		pids := make(map[string]*actor.PID, len(r.live))
		for id, la := range r.live {
			pids[id] = la.pid
		}
		c.Engine().Send(m.ReplyTo, pids)
		return
	case passivateReady:
		la := r.live[m.ActID]
		if la == nil || !la.pid.Equals(m.PID) || la.sent != m.Sent {
			return
		}
		delete(r.live, m.ActID)
		if len(m.Subscribers) > 0 {
			r.parked[m.ActID] = m.Subscribers
		}
		c.Engine().Poison(la.pid)
		return
	}
	m, ok := c.Message().(issuanceMessage)
	if !ok {
		return
	}
	id := m.appID()
	la := r.live[id]
	if la == nil {
		if u, ok := m.(IssuanceUnsubscribe); ok {
			if subs := r.parked[id]; subs != nil {
				delete(subs, u.Subscriber.ID)
			}
			return
		}
		if !issuance.ValidApplicationID(id) {
			refuseIssuance(c, m, string(issuance.CodeBadApplicationID), "not an application id the server made")
			return
		}
		head, _, herr := r.deps.Log.Head(IssuanceStreamOf(id))
		if herr == nil && head == 0 && !startsApplication(m) {
			refuseIssuance(c, m, string(issuance.CodeNoSuchApplication), "no such application")
			return
		}
		subs := r.parked[id]
		delete(r.parked, id)
		r.gen++
		opts := append(spawnOpts(r.deps.Logger, id+"."+strconv.FormatUint(r.gen, 36)), actor.WithInboxSize(actInbox))
		la = &liveAct{pid: c.SpawnChild(newAppActor(id, r.deps, r.idep, subs), "application", opts...)}
		r.live[id] = la
	}
	la.sent++
	la.lastAt = r.deps.Now()
	c.Engine().Send(la.pid, c.Message())
}

func startsApplication(m issuanceMessage) bool {
	c, ok := m.(IssuanceCommand)
	if !ok {
		return false
	}
	_, start := c.Cmd.(issuance.Start)
	return start
}

// refuseIssuance answers a message for an application that cannot be
// spawned. Reads get forbidden, as for acts: an outsider learns nothing.
func refuseIssuance(c *actor.Context, m issuanceMessage, code, why string) {
	switch m := m.(type) {
	case IssuanceCommand:
		if m.ReplyTo != nil {
			c.Engine().Send(m.ReplyTo, IssuanceResult{AppID: m.AppID, CommandID: m.CommandID, Code: code, Message: why})
		}
	case IssuanceUpload:
		c.Engine().Send(m.ReplyTo, IssuanceResult{AppID: m.AppID, Code: code, Message: why})
	case IssuanceGet:
		c.Engine().Send(m.ReplyTo, IssuanceView{AppID: m.AppID, Tag: m.Tag, Code: string(issuance.CodeForbidden), Message: "not your application"})
	case IssuanceSubscribe:
		c.Engine().Send(m.Subscriber, IssuanceSubscribed{AppID: m.AppID, Tag: m.Tag, Code: string(issuance.CodeForbidden), Message: "not your application"})
	case IssuanceJoin:
		c.Engine().Send(m.Session, MediaOut{ActID: m.AppID, Tag: m.Tag, Code: string(issuance.CodeForbidden), Message: "not your application"})
	}
}

// StartIssuance spawns the applications' router with idep, and pokes the
// unfinished applications with outside work pending (a restart lost their
// goroutines). Call it once, after Start.
func (s *System) StartIssuance(idep IssuanceDeps) error {
	if idep.RetryMin <= 0 {
		idep.RetryMin = time.Second
	}
	if idep.RetryMax <= 0 {
		idep.RetryMax = time.Minute
	}
	if idep.CAPoll <= 0 {
		idep.CAPoll = 2 * time.Second
	}
	if len(idep.CodeKey) < 32 {
		return errors.New("actors: issuance needs a code key of at least 32 bytes")
	}
	d := s.deps
	idep.ctx, idep.cancel = context.WithCancel(context.Background())
	idep.tickets = &fileTickets{}
	idep.registrationDesk = s.Engine.Spawn(newStaffDesk(d, QueueRegistration), "issuance-desk", spawnOpts(d.Logger, "registration")...)
	idep.moderationDesk = s.Engine.Spawn(newStaffDesk(d, QueueModeration), "issuance-desk", spawnOpts(d.Logger, "moderation")...)
	p := &idep
	s.issuanceDeps = p
	s.issuance = s.Engine.Spawn(func() actor.Receiver {
		return &issuanceRouter{deps: d, idep: p, live: map[string]*liveAct{}, parked: map[string]map[string]*actor.PID{}}
	}, "issuance", spawnOpts(d.Logger, "router")...)
	p.router = s.issuance
	if d.Media.SFU != nil {
		p.calls = s.Engine.Spawn(func() actor.Receiver {
			return &issuanceCalls{deps: d, idep: p, rooms: map[string]*callRoom{}, pending: map[string]callClosed{}}
		}, "issuance-calls", spawnOpts(d.Logger, "rooms")...)
	}
	s.ipStarts = newIPWindow()
	for _, ph := range []issuance.Phase{issuance.PhasePhone, issuance.PhaseIdentity, issuance.PhaseIdentified, issuance.PhaseSigning,
		issuance.PhaseRegistrationCall} {
		streams, err := d.Log.Lookup(IndexIssuancePhase, string(ph))
		if err != nil {
			return err
		}
		for _, st := range streams {
			s.Engine.Send(s.issuance, issuancePoke{AppID: st[len("issuance/"):]})
		}
	}
	return nil
}

// Issuance is where application messages go; nil when issuance is off.
func (s *System) Issuance() *actor.PID { return s.issuance }

// IssuanceDeps are the issuance dependencies; nil when issuance is off.
func (s *System) IssuanceDeps() *IssuanceDeps { return s.issuanceDeps }

// stopIssuance ends the outside calls and the applications.
func (s *System) stopIssuance() {
	if s.issuance == nil {
		return
	}
	s.issuanceDeps.cancel()
	<-s.Engine.Poison(s.issuance).Done()
	<-s.Engine.Poison(s.issuanceDeps.registrationDesk).Done()
	<-s.Engine.Poison(s.issuanceDeps.moderationDesk).Done()
	if s.issuanceDeps.calls != nil {
		<-s.Engine.Poison(s.issuanceDeps.calls).Done()
	}
}

// ipWindow counts the applications each address started in the last hour.
type ipWindow struct {
	mu  sync.Mutex
	ats map[string][]time.Time
}

func newIPWindow() *ipWindow { return &ipWindow{ats: map[string][]time.Time{}} }

// Allow records a start from ip at now if ip started fewer than limit in
// the hour before (limit <= 0: no bound).
func (w *ipWindow) Allow(ip string, now time.Time, limit int) bool {
	if limit <= 0 {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	keep := w.ats[ip][:0]
	for _, at := range w.ats[ip] {
		if now.Sub(at) < time.Hour {
			keep = append(keep, at)
		}
	}
	if len(keep) >= limit {
		w.ats[ip] = keep
		return false
	}
	w.ats[ip] = append(keep, now)
	if len(w.ats) > 100_000 { // a flood of addresses: forget the idle ones
		for k, v := range w.ats {
			if len(v) == 0 || now.Sub(v[len(v)-1]) >= time.Hour {
				delete(w.ats, k)
			}
		}
	}
	return true
}
