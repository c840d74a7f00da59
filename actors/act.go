package actors

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/bank"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/internal/pseudonym"
	"github.com/senim-kz/senim/metrics"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/registry"
)

// Deps are what the actors need from the rest of the server.
type Deps struct {
	Log   *eventlog.Log
	Trust *pki.TrustStore
	Rules act.Rules
	// MaxSkew bounds the signing time of live signatures.
	MaxSkew time.Duration
	// Now is the clock; tests inject one.
	Now    func() time.Time
	Logger zerolog.Logger
	// Desk hears about calls; set by Start.
	Desk *actor.PID
	// Bank takes the invoices acts issue.
	Bank bank.Bank
	// Registry is the individuals registry the parties' names come from;
	// nil takes the names from the certificates.
	Registry registry.Registry
	// Media runs the video calls; a nil SFU means this server has none.
	Media Media
	// MediaActors is where calls are joined; set by Start.
	MediaActors *actor.PID
	// Document is what an act records with its document code to render its
	// text (place, public address, template version), from the
	// configuration: the document keeps rendering the same after they change.
	Document act.DocumentInputs
	// Pseudonyms name people in log lines (never by IIN); nil gets a
	// random key for this process.
	Pseudonyms *pseudonym.Key
	// ActIdleAfter is how long an act actor stays in memory without a
	// message before it is stopped (rebuilt from the log on demand); 0
	// keeps every act in memory.
	ActIdleAfter time.Duration
	// OperatorGrace is how long a notary whose last session closed keeps
	// their operator mode and place at the desk (desk.operator_grace); 0
	// forgets them at once.
	OperatorGrace time.Duration
	// ActSnapshotEvery is how many events an act goes between snapshots
	// of its state (act_snapshot.go); 0 takes none.
	ActSnapshotEvery int
}

// StreamOf is the event-log stream of an act.
func StreamOf(actID string) string { return "act/" + actID }

// Codes the act shell adds to the core's.
const (
	CodeBadRequest = "bad_request" // a body that does not decode, or lacks its CMS
	CodeUnknownCmd = "unknown_command"
	// CodeBankUnavailable: the bank did not take an invoice.
	CodeBankUnavailable = "bank_unavailable"
	// CodeIDReused: the sender already used this command id for another
	// command (another name or body) in this act.
	CodeIDReused = "id_reused"
)

// cmdKey is what makes a command unique in its act: who sent it, and the id
// they gave it. Ids are the sender's own, so one party (or the system) can
// never pre-empt another's command by using its id.
type cmdKey struct{ actor, id string }

// appliedCmd is a command already in the log.
type appliedCmd struct {
	seq uint64 // the act's seq after it
	// digest is commandDigest of what it asked; "" until learned (a command
	// known from replay only: the log's command record has it).
	digest string
}

// refusedCmd is a command recently refused.
type refusedCmd struct {
	res    CommandResult
	digest string
}

// commandDigest identifies what a command asks: the SHA-256 of its name and
// its compacted body, so that a retry with the same id and the same command
// is recognised, and the same id with another command is not. A body with
// no whitespace byte at all (what clients send: a signed command's body is
// mostly its base64 CMS) is its own compaction and is hashed as it is; one
// that is not JSON is hashed as it is too.
func commandDigest(name string, body json.RawMessage) string {
	if len(body) == 0 {
		body = emptyBody // decode treats an absent body as {}
	} else if bytes.ContainsAny(body, " \t\r\n") {
		var b bytes.Buffer
		if json.Compact(&b, body) == nil {
			body = b.Bytes()
		}
	}
	var head [64]byte
	p := strconv.AppendInt(head[:0], int64(len(name)), 10)
	p = append(p, ':')
	h := sha256.New()
	h.Write(p)
	h.Write([]byte(name))
	p = strconv.AppendInt(append(head[:0], ','), int64(len(body)), 10)
	p = append(p, ':')
	h.Write(p)
	h.Write(body)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

var emptyBody = json.RawMessage("{}")

// actActor is the shell around one act's core.
type actActor struct {
	id    string
	deps  Deps
	log   zerolog.Logger
	state act.State
	// applied maps a command (actor and id) to the act's seq after it, for
	// retries.
	applied map[cmdKey]appliedCmd
	// refused remembers recent refusals by actor and command id, so that a
	// retry gets the same answer even if the act moved on meanwhile.
	refused     map[cmdKey]refusedCmd
	refusedFIFO []cmdKey
	subscribers map[string]*actor.PID
	loaded      bool
	// failCode and failMsg answer every message while the act is not
	// loaded: why the last load failed (see loadFailure).
	failCode, failMsg string
	// approvalHash is the log hash of the latest draft_approved event: the
	// history head the document names.
	approvalHash string
	// lastAt is when the act's last event was recorded: expire_act's
	// idle_since, which no sender may state.
	lastAt time.Time
	// snap is the snapshot bookkeeping (act_snapshot.go).
	snap actSnapshots
}

const refusedMemory = 256

// newActActor makes the actor of act id; subs are the subscribers it had
// when it was last passivated (nil for none).
func newActActor(id string, deps Deps, subs map[string]*actor.PID) actor.Producer {
	return func() actor.Receiver {
		return &actActor{id: id, deps: deps, log: deps.Logger.With().Str("act", id).Logger(), subscribers: subs}
	}
}

func (a *actActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		a.load()
	case ActCommand:
		start := time.Now()
		a.ensureLoaded()
		res := a.handle(c, m)
		metrics.CommandSeconds.Observe(time.Since(start).Seconds())
		countCommand(m.Name, res.Code)
		c.Engine().Send(m.ReplyTo, res)
	case Subscribe:
		a.ensureLoaded()
		a.subscribe(c, m)
	case Unsubscribe:
		delete(a.subscribers, m.Subscriber.ID)
	case passivateAsk:
		// The router stops this actor only if it forwarded nothing since
		// asking; the subscribers wait with it for the next incarnation.
		c.Send(c.Parent(), passivateReady{ActID: a.id, PID: c.PID(), Sent: m.Sent, Subscribers: a.subscribers})
	case JoinCall:
		a.ensureLoaded()
		a.joinCall(c, m)
	case GetState:
		a.ensureLoaded()
		r := StateResult{ActID: a.id, Tag: m.Tag}
		if !a.loaded {
			r.Code, r.Message = a.failure()
		} else if !a.mayRead(m.Actor) {
			r.Code, r.Message = string(act.CodeForbidden), "not a party to this act"
		} else {
			r.State = act.ForViewer(a.state, m.Actor) // an attorney's copy has no phone
		}
		c.Engine().Send(m.ReplyTo, r)
	}
}

// afterPanic drops the in-memory state: the next message rebuilds it from
// the log, which is the truth.
func (a *actActor) afterPanic() { a.loaded = false }

func (a *actActor) ensureLoaded() {
	if !a.loaded {
		a.load()
	}
}

// load replays the act's stream, checking its hash chain and head as it
// goes (ReplayVerified). A failure leaves the actor unloaded, answering
// failCode; the next message tries again, so a broken chain or a damaged
// block keeps answering chain_broken or storage_corrupt, and a transient
// failure heals.
func (a *actActor) load() {
	a.state = act.State{}
	a.applied = map[cmdKey]appliedCmd{}
	if a.refused == nil {
		a.refused = map[cmdKey]refusedCmd{}
	}
	if a.subscribers == nil {
		a.subscribers = map[string]*actor.PID{}
	}
	err := a.restore(a.replayRecord) // from the act's snapshot, if it has one
	if err != nil {
		// Records before a damaged one may have been applied: drop all.
		a.state, a.applied, a.approvalHash, a.lastAt = act.State{}, map[cmdKey]appliedCmd{}, "", time.Time{}
		a.failCode, a.failMsg = loadFailure(err)
		a.log.Error().Err(err).Str("code", a.failCode).Msg("replay failed")
		return
	}
	a.failCode, a.failMsg = "", ""
	a.loaded = true
	a.maybeSnapshot()
	if a.state.Version > 0 {
		a.log.Debug().Uint64("seq", a.state.Version).Str("phase", string(a.state.Phase)).Msg("act rebuilt from the log")
	}
}

// replayRecord applies one record of the act's stream during load. Its
// payload is borrowed from the log's read (eventlog.Replay): decoded here,
// never kept.
func (a *actActor) replayRecord(r eventlog.Record) error {
	e, err := act.DecodeEvent(r.Type, r.Payload)
	if err != nil {
		return err
	}
	a.state = act.Apply(a.state, e)
	a.noteRecord(r)
	a.snap.decoded++
	return nil
}

func (a *actActor) handle(c *actor.Context, m ActCommand) CommandResult {
	res := CommandResult{ActID: a.id, CommandID: m.CommandID}
	if !a.loaded {
		res.Code, res.Message = a.failure()
		return res
	}
	key, digest := cmdKey{m.Actor.String(), m.CommandID}, commandDigest(m.Name, m.Body)
	if m.CommandID != "" {
		if done, ok := a.applied[key]; ok {
			if done.digest == "" {
				cmd, found, err := a.deps.Log.Command(StreamOf(a.id), key.actor, key.id)
				if err != nil {
					res.Code, res.Message = CodeInternal, "the act's log could not be read; retry"
					return res
				}
				if found {
					done.digest = cmd.Digest // still "" for a record older than digests
					a.applied[key] = done
				}
			}
			if done.digest != "" && done.digest != digest {
				return idReused(res)
			}
			res.Seq, res.Duplicate = done.seq, true
			return res
		}
		if r, ok := a.refused[key]; ok {
			if r.digest != digest {
				return idReused(res)
			}
			r.res.Duplicate = true
			return r.res
		}
	}
	now := a.deps.Now()
	cmd, err := a.decode(m, now)
	if err == nil {
		var events []act.Event
		events, err = act.Decide(a.state, m.Actor, cmd, now, a.deps.Rules)
		if err == nil {
			return a.commit(c, m, digest, events, now)
		}
	}
	res.Code, res.Message = codeOf(err), err.Error()
	a.remember(key, digest, res)
	a.log.Info().Str("command", m.Name).Str("by", a.deps.who(m.Actor)).Str("code", res.Code).Msg("command refused")
	return res
}

// commit appends the events durably, then applies and publishes them.
// digest is the command's commandDigest.
func (a *actActor) commit(c *actor.Context, m ActCommand, digest string, events []act.Event, now time.Time) CommandResult {
	res := CommandResult{ActID: a.id, CommandID: m.CommandID, Seq: a.state.Version}
	if len(events) == 0 {
		return res // an idempotent repeat: nothing to write
	}
	next := a.state
	drafts := make([]eventlog.Draft, len(events))
	for i, e := range events {
		payload, err := json.Marshal(e)
		if err != nil {
			panic(fmt.Sprintf("event %T does not encode: %v", e, err))
		}
		drafts[i] = eventlog.Draft{Type: e.EventType(), Actor: m.Actor.String(), At: now, Payload: payload}
		next = act.Apply(next, e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.tellBank(ctx, events); err != nil {
		a.log.Warn().Err(err).Msg("bank refused the invoice")
		res.Code, res.Message = CodeBankUnavailable, "the bank did not take the invoice; try again"
		return res
	}
	out, err := a.deps.Log.Append(ctx, eventlog.AppendRequest{
		Stream:        StreamOf(a.id),
		ExpectedSeq:   a.state.Version,
		CommandID:     m.CommandID,
		CommandActor:  m.Actor.String(),
		CommandDigest: digest,
		Events:        drafts,
		Index:         indexOps(&a.state, &next),
		// The payloads are json.Marshal's, just above.
		TrustedPayloads: true,
	})
	if errors.Is(err, eventlog.ErrIDReused) {
		a.loaded = false // the log knows a command this actor did not: reload
		return idReused(res)
	}
	if err != nil {
		// The log is the truth: whatever happened, rebuild from it before the
		// next command, and let the client retry with the same id.
		a.loaded = false
		a.log.Error().Err(err).Str("command", m.Name).Msg("append failed")
		res.Code, res.Message = CodeInternal, "the act could not be saved; retry with the same command id"
		return res
	}
	if out.Duplicate {
		a.loaded = false // someone else wrote this command: reload to see it
		res.Seq, res.Duplicate = out.Records[len(out.Records)-1].Seq, true
		return res
	}
	metrics.AppendBatch.Observe(float64(len(drafts)))
	wasInCall := a.state.Call == act.CallActive
	a.state = next
	res.Seq = a.state.Version
	if wasInCall && a.state.Call != act.CallActive && a.deps.MediaActors != nil {
		c.Send(a.deps.MediaActors, callOver{ActID: a.id})
	}
	for _, r := range out.Records {
		a.noteRecord(r)
	}
	if m.CommandID != "" {
		a.applied[cmdKey{m.Actor.String(), m.CommandID}] = appliedCmd{seq: res.Seq, digest: digest}
	}
	// The parties first: the snapshot (its state's JSON and a write) is
	// nobody's wait.
	res.events = a.publish(c, out.Records, m.ReplyTo)
	if a.deps.Desk != nil {
		for _, news := range deskNews(&a.state, events) {
			c.Send(a.deps.Desk, news)
		}
	}
	a.log.Info().Str("command", m.Name).Str("by", a.deps.who(m.Actor)).Uint64("seq", res.Seq).Str("phase", string(a.state.Phase)).Msg("command applied")
	a.maybeSnapshot()
	return res
}

// tellBank registers an invoice with the bank before the act records it, so
// that an invoice the client sees can always be paid. If the append then
// fails, the bank holds an invoice nobody will pay; that is harmless.
func (a *actActor) tellBank(ctx context.Context, events []act.Event) error {
	for _, e := range events {
		if inv, ok := e.(act.InvoiceIssued); ok && a.deps.Bank != nil {
			err := a.deps.Bank.CreateInvoice(ctx, bank.Invoice{
				ID: inv.Invoice.ID, ActID: a.id, PayerIIN: a.state.Principal.IIN, Amount: int64(inv.Invoice.Amount),
				Description: fmt.Sprintf("Нотариальное действие %s, ред. %d", a.id, inv.Invoice.Revision), Created: a.deps.Now(),
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// noteRecord keeps what the shell needs from stored records: command ids
// for retries, and the approval's hash for the document.
func (a *actActor) noteRecord(r eventlog.Record) {
	if r.CommandID != "" {
		// A command's events all carry its sender as their actor.
		a.applied[cmdKey{r.Actor, r.CommandID}] = appliedCmd{seq: r.Seq}
	}
	if r.Type == (act.DraftApproved{}).EventType() {
		a.approvalHash = r.Hash
	}
	a.lastAt = r.At
	a.snap.noteHead(r)
}

// publish sends recs to the act's subscribers. If replyTo (the command's
// sender) is one of them, its copy is returned for the command's answer
// instead (CommandResult.events): it reaches that session in the same
// place, just before the answer, in one message.
func (a *actActor) publish(c *actor.Context, recs []eventlog.Record, replyTo *actor.PID) (own *ActEvents) {
	msg := ActEvents{ActID: a.id, Records: recs}
	if len(a.subscribers) > 1 {
		msg.frames = &eventFrames{}
	}
	for _, pid := range a.subscribers {
		if replyTo != nil && own == nil && pid.Equals(replyTo) {
			mine := msg
			own = &mine
			continue
		}
		c.Engine().Send(pid, msg)
	}
	return own
}

func (a *actActor) remember(key cmdKey, digest string, r CommandResult) {
	if key.id == "" {
		return
	}
	if len(a.refusedFIFO) >= refusedMemory {
		delete(a.refused, a.refusedFIFO[0])
		a.refusedFIFO = a.refusedFIFO[1:]
	}
	a.refused[key] = refusedCmd{res: r, digest: digest}
	a.refusedFIFO = append(a.refusedFIFO, key)
}

// idReused refuses a command whose id its sender already gave another
// command: answering with the first command's outcome would tell the
// sender that something it never asked for was done.
func idReused(res CommandResult) CommandResult {
	res.Code, res.Message = CodeIDReused, fmt.Sprintf("command id %q was already used for another command in this act; use a fresh id for each new command", res.CommandID)
	return res
}

// joinCall lets the act's principal and its assigned notary into the call's
// room, while the call is on.
func (a *actActor) joinCall(c *actor.Context, m JoinCall) {
	fail := func(code, msg string) {
		c.Send(m.Session, MediaOut{ActID: a.id, Tag: m.Tag, Code: code, Message: msg})
	}
	s := &a.state
	principal := m.Actor.Role == act.RoleClient && m.Actor.IIN != "" && m.Actor.IIN == s.Principal.IIN
	notary := m.Actor.Role == act.RoleNotary && m.Actor.ID != "" && m.Actor.ID == s.Notary.ID
	switch {
	case !a.loaded:
		fail(a.failure())
	case s.Phase == act.PhaseNone:
		fail(string(act.CodeNoSuchAct), "no such act")
	case !principal && !notary:
		fail(string(act.CodeForbidden), "only the principal and the act's notary take part in its call")
	case s.Call != act.CallActive:
		fail(CodeNotInCall, fmt.Sprintf("the act has no call in progress (call %q)", s.Call))
	case a.deps.MediaActors == nil:
		fail(CodeMediaUnavailable, "this server runs no video calls")
	default:
		c.Send(a.deps.MediaActors, m)
	}
}

func (a *actActor) mayRead(by act.Actor) bool {
	return a.state.Phase != act.PhaseNone && a.state.Participant(by)
}

func (a *actActor) subscribe(c *actor.Context, m Subscribe) {
	if !a.loaded {
		code, msg := a.failure()
		c.Engine().Send(m.Subscriber, SubscribeResult{ActID: a.id, Code: code, Message: msg})
		return
	}
	if !a.mayRead(m.Actor) {
		c.Engine().Send(m.Subscriber, SubscribeResult{ActID: a.id, Code: string(act.CodeForbidden), Message: "not a party to this act"})
		return
	}
	var missed []eventlog.Record
	if err := a.deps.Log.Read(StreamOf(a.id), m.FromSeq+1, func(r eventlog.Record) error {
		missed = append(missed, r)
		return nil
	}); err != nil {
		c.Engine().Send(m.Subscriber, SubscribeResult{ActID: a.id, Code: CodeInternal, Message: err.Error()})
		return
	}
	res := SubscribeResult{ActID: a.id}
	if len(missed) > 0 {
		res.events = &ActEvents{ActID: a.id, Records: missed}
	}
	c.Engine().Send(m.Subscriber, res)
	a.subscribers[m.Subscriber.ID] = m.Subscriber
}

// decode turns a protocol command into a core command: it verifies the CMS
// a signed command carries and overwrites every field the server owns, so
// that a client can never supply a "verified" signature, an act id, an
// invoice id or a document code of its own.
func (a *actActor) decode(m ActCommand, now time.Time) (act.Command, error) {
	proto, ok := act.CommandByName(m.Name)
	if !ok {
		return nil, &act.Error{Code: CodeUnknownCmd, Message: fmt.Sprintf("unknown command %q", m.Name)}
	}
	body := m.Body
	if len(body) == 0 {
		body = emptyBody
	}
	typ := reflect.TypeOf(proto)
	cmd, cms, read := decodeSigned(typ, body)
	if !read {
		ptr := reflect.New(typ)
		if err := json.Unmarshal(body, ptr.Interface()); err != nil {
			return nil, &act.Error{Code: CodeBadRequest, Message: "body: " + err.Error()}
		}
		cmd = ptr.Elem().Interface().(act.Command)
	}
	verify := func() (act.Signature, *pki.Verified, error) {
		if !read {
			// The CMS is read again only for the commands that carry one.
			var wire struct {
				CMS string `json:"cms"`
			}
			_ = json.Unmarshal(body, &wire)
			cms = wire.CMS
		}
		if cms == "" {
			return act.Signature{}, nil, &act.Error{Code: CodeBadRequest, Message: m.Name + " needs the signed CMS in \"cms\""}
		}
		der, err := base64.StdEncoding.DecodeString(cms)
		if err != nil {
			return act.Signature{}, nil, &act.Error{Code: CodeBadRequest, Message: "cms is not base64"}
		}
		v, err := a.deps.Trust.Verify(der, pki.VerifyOptions{Purpose: pki.PurposeSign, Live: true, Now: now, MaxSkew: a.deps.MaxSkew})
		if err != nil {
			return act.Signature{}, nil, &act.Error{Code: act.Code(pki.CodeOf(err)), Message: err.Error()}
		}
		return act.Signature{
			CMS: der, SignerIIN: v.IIN.String(), SignerName: v.FullName(), Fingerprint: v.Fingerprint,
			ContentSHA256: act.SHA256Hex(v.Content), SignedAt: v.SigningTime,
		}, v, nil
	}
	switch c := cmd.(type) {
	case act.SubmitApplication:
		sig, v, err := verify()
		if err != nil {
			return nil, err
		}
		c.ActID, c.Signature, c.PrincipalName, c.AttorneyName = a.id, sig, v.FullName(), ""
		if a.deps.Registry != nil {
			var err error
			if c.PrincipalName, err = a.personName(m.Actor.IIN); err != nil {
				return nil, err
			}
			if c.AttorneyName, err = a.personName(c.AttorneyIIN); err != nil {
				return nil, err
			}
		}
		return c, nil
	case act.GiveConsent:
		sig, _, err := verify()
		c.Signature = sig
		return c, err
	case act.ApproveDraft:
		sig, _, err := verify()
		c.Signature = sig
		return c, err
	case act.SignAct:
		sig, _, err := verify()
		c.Signature = sig
		return c, err
	case act.RevokePOA:
		sig, _, err := verify()
		c.Signature = sig
		return c, err
	case act.IssueInvoice:
		c.InvoiceID = "INV-" + randomCode(8)
		return c, nil
	case act.ExpireAct:
		c.IdleSince = a.lastAt
		return c, nil
	case act.IssueDocumentCode:
		code, err := a.uniqueDocumentCode()
		c.Code, c.HistoryHead, c.DocumentInputs = code, a.approvalHash, a.deps.Document
		return c, err
	}
	return cmd, nil
}

// signedBodies holds, by the type of a signed command (one with a Signature
// field, which decode fills from the CMS it verifies), a struct type that
// embeds the command with the body's top-level "cms" beside it.
var signedBodies sync.Map // reflect.Type → reflect.Type

// decodeSigned reads a signed command's body once for the command and its
// CMS together, where reading it for each (the body is mostly the base64
// CMS) scanned it twice as often: read is false for any other command,
// and for a body the two could not both take, which decode then reads as
// before, so that what it accepts and the errors it gives are as ever.
// (The embedded command's fields are at one level deeper than "cms", so a
// command that had a top-level "cms" field of its own would lose it here:
// none has; TestSignedBodyReadWithItsCMS checks.)
func decodeSigned(t reflect.Type, body []byte) (cmd act.Command, cms string, read bool) {
	w, ok := signedBodies.Load(t)
	if !ok {
		var wrapper reflect.Type // nil: not a signed command
		if f, has := t.FieldByName("Signature"); t.Kind() == reflect.Struct && has && f.Type == reflect.TypeOf(act.Signature{}) {
			wrapper = reflect.StructOf([]reflect.StructField{
				{Name: t.Name(), Type: t, Anonymous: true},
				{Name: "CMS", Type: reflect.TypeOf(""), Tag: `json:"cms"`},
			})
		}
		w, _ = signedBodies.LoadOrStore(t, wrapper)
	}
	wrapper, _ := w.(reflect.Type)
	if wrapper == nil {
		return nil, "", false
	}
	v := reflect.New(wrapper)
	if json.Unmarshal(body, v.Interface()) != nil {
		return nil, "", false
	}
	return v.Elem().Field(0).Interface().(act.Command), v.Elem().Field(1).String(), true
}

// Codes of the individuals registry.
const (
	CodeUnknownPerson       = "unknown_person"       // the registry has no such IIN
	CodeRegistryUnavailable = "registry_unavailable" // the registry did not answer; retry
)

// personName asks the individuals registry for a party's name.
func (a *actActor) personName(id string) (string, error) {
	if _, err := iin.ParseIIN(id); err != nil {
		return "", &act.Error{Code: act.IINCode(err), Message: err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := a.deps.Registry.Lookup(ctx, id)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return "", &act.Error{Code: CodeUnknownPerson, Message: "the individuals registry has no person with IIN " + id}
	case err != nil:
		return "", &act.Error{Code: CodeRegistryUnavailable, Message: "the individuals registry did not answer; try again"}
	}
	return p.FullName(), nil
}

// uniqueDocumentCode draws codes until one is not in the "code" index.
// With 80 random bits a second draw is already a curiosity.
func (a *actActor) uniqueDocumentCode() (string, error) {
	for i := 0; i < 5; i++ {
		code := randomCode(16)
		code = code[:4] + "-" + code[4:8] + "-" + code[8:12] + "-" + code[12:]
		found, err := a.deps.Log.Lookup("code", code)
		if err != nil {
			return "", err
		}
		if len(found) == 0 {
			return code, nil
		}
	}
	return "", errors.New("could not draw a unique document code")
}

var codeAlphabet = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// randomCode returns n characters of Crockford base32 (no I, L, O, U).
func randomCode(n int) string {
	b := make([]byte, (n*5+7)/8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return codeAlphabet.EncodeToString(b)[:n]
}

// indexOps turns the change of the act's index entries into log index ops,
// by index name: the old entry's removal, then the new one.
func indexOps(before, after *act.State) []eventlog.IndexOp {
	b, n := act.IndexValues(before), act.IndexValues(after)
	var ops []eventlog.IndexOp
	for i, name := range act.IndexNames {
		old, cur := b[i], n[i]
		if old == cur {
			continue
		}
		if old != "" {
			ops = append(ops, eventlog.IndexOp{Index: name, Value: old, Delete: true})
		}
		if cur != "" {
			ops = append(ops, eventlog.IndexOp{Index: name, Value: cur})
		}
	}
	return ops
}

// countCommand feeds senim_commands_total. Names come from clients, so only
// known commands get their own label.
func countCommand(name, code string) {
	if _, ok := act.CommandByName(name); !ok {
		name = "unknown"
	}
	if code == "" {
		code = "ok"
	}
	metrics.Commands.WithLabelValues(name, code).Inc()
}

// messageOf is the message of a refusal.
func messageOf(err error) string {
	var e *act.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

func codeOf(err error) string {
	var e *act.Error
	if errors.As(err, &e) {
		return string(e.Code)
	}
	return CodeInternal
}
