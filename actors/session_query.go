package actors

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/protocol"
)

// The queries a session answers: preparing what is signed, an act's state,
// the document, the cabinets and registers, and registry look-ups.

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
			s.fail(env, string(act.IINCode(err)), "attorney: %v", err)
			return
		}
		id := newActID()
		data := act.ApplicationBytes(id, p.ActionType, s.me.IIN, p.Phone, p.AttorneyIIN, p.Consent)
		result(protocol.PreparedApplication{Act: id, Data: base64.StdEncoding.EncodeToString(data)})
	case "recording_link":
		var q protocol.RecordingLinkQuery
		if env.Act == "" || json.Unmarshal(env.Body, &q) != nil || q.Recording == "" || len(q.Recording) > 64 {
			s.fail(env, protocol.CodeBadMessage, "recording_link needs act and a body {\"recording\": id}")
			return
		}
		s.inFlight[env.ID] = "query"
		s.pending["q:"+env.ID] = env
		c.Send(s.sd.Sys.Acts(), GetState{ActID: env.Act, Actor: s.me, ReplyTo: c.PID(), Tag: env.ID})
	case "to_sign", "act", "document", "payment_link":
		if env.Act == "" {
			s.fail(env, protocol.CodeBadMessage, "%s needs act", env.Name)
			return
		}
		if env.Name == "document" && !documentQueryOK(env.Body) {
			s.fail(env, protocol.CodeBadMessage, "document's body is none, {} or {\"draft\": revision} with a revision from 1")
			return
		}
		s.inFlight[env.ID] = "query"
		s.pending["q:"+env.ID] = env
		c.Send(s.sd.Sys.Acts(), GetState{ActID: env.Act, Actor: s.me, ReplyTo: c.PID(), Tag: env.ID})
	case "registry_lookup":
		// The notary's look-up in the individuals registry, for an act the
		// notary holds, during its identity checks. First the act says
		// whether this notary may (a GetState, answered in stateAnswer).
		if s.me.Role != act.RoleNotary || s.deps.Registry == nil {
			s.fail(env, string(act.CodeForbidden), "registry look-ups are for notaries")
			return
		}
		if env.Act == "" {
			s.fail(env, string(act.CodeForbidden), "a registry look-up is made for an act you hold: set act")
			return
		}
		if _, ok := s.lookupQuery(env); !ok {
			return
		}
		s.inFlight[env.ID] = "query"
		s.pending["q:"+env.ID] = env
		c.Send(s.sd.Sys.Acts(), GetState{ActID: env.Act, Actor: s.me, ReplyTo: c.PID(), Tag: env.ID})
	case "my_acts", "attorney_acts", "register", "completed":
		var q protocol.ListQuery
		if len(env.Body) > 0 && string(env.Body) != "null" {
			if err := json.Unmarshal(env.Body, &q); err != nil {
				s.fail(env, protocol.CodeBadQuery, "body: %v", err)
				return
			}
		}
		f, err := parseList(q)
		if err != nil {
			s.fail(env, protocol.CodeBadQuery, "%v", err)
			return
		}
		if s.sd.Summaries == nil {
			s.sd.Summaries = NewSummaryCache(DefaultSummaryCacheSize)
		}
		list, err := listActs(s.deps.Log, s.sd.Summaries, s.me, env.Name, f)
		if err != nil {
			var e *act.Error
			if errors.As(err, &e) {
				s.fail(env, string(e.Code), "%s", e.Message)
				return
			}
			s.fail(env, protocol.CodeInternal, "%v", err)
			return
		}
		result(list)
	case "queue_position":
		s.queuePosition(c, env)
	case "desk_queue":
		// A notary's console shows how many wait and for how long, also
		// when no call is offered to them.
		if s.me.Role != act.RoleNotary {
			s.fail(env, string(act.CodeForbidden), "desk_queue is for notaries")
			return
		}
		s.inFlight[env.ID] = "query"
		s.pending["dq:"+env.ID] = env
		c.Send(s.deps.Desk, DeskQueueAsk{Tag: env.ID, ReplyTo: c.PID()})
	case "sign_link":
		s.signLink(c, env)
	case "my_documents":
		s.myDocuments(c, env)
	case "open_document":
		s.openDocument(c, env)
	default:
		s.fail(env, protocol.CodeUnknownName, "unknown query %q", env.Name)
	}
}

// registryQuery is the body of a registry_lookup query.
type registryQuery struct {
	IIN string `json:"iin"`
}

func (s *sessionActor) lookupQuery(env protocol.Envelope) (registryQuery, bool) {
	var q registryQuery
	if len(env.Body) > 0 {
		if err := json.Unmarshal(env.Body, &q); err != nil {
			s.fail(env, protocol.CodeBadMessage, "body: %v", err)
			return q, false
		}
	}
	return q, true
}

// lookUp asks the registry, once the act has said who holds it. The
// registry is a remote system: it is asked off the actor's goroutine, and
// its answer comes back as a message, so the session stays responsive.
func (s *sessionActor) lookUp(c *actor.Context, env protocol.Envelope, st *act.State) {
	q, _ := s.lookupQuery(env) // decoded once already
	if err := act.MayCheckRegistry(st, s.me, q.IIN); err != nil {
		delete(s.inFlight, env.ID)
		s.fail(env, codeOf(err), "%s", messageOf(err))
		return
	}
	reg, eng, self := s.deps.Registry, c.Engine(), c.PID()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p, err := reg.Lookup(ctx, q.IIN)
		eng.Send(self, registryAnswer{env: env, iin: q.IIN, person: p, err: err})
	}()
}

// registryAnswer is the individuals registry's answer to a look-up.
type registryAnswer struct {
	env    protocol.Envelope
	iin    string
	person registry.Person
	err    error
}

// registryAnswer puts the look-up on the act's record before the notary
// sees its answer: a record_registry_check command to the act, under a
// command id of the server's own that no app can know, so that no app can
// make a look-up look recorded. An outage is answered at once and recorded
// as nothing: the registry said nothing about the person.
func (s *sessionActor) registryAnswer(c *actor.Context, m registryAnswer) {
	if m.err != nil && !errors.Is(m.err, registry.ErrNotFound) {
		delete(s.inFlight, m.env.ID)
		// Without the error's text: a registry adapter's error may quote
		// the request, IIN and all.
		s.log.Warn().Str("act", m.env.Act).Bool("timeout", errors.Is(m.err, context.DeadlineExceeded)).Msg("individuals registry did not answer")
		s.fail(m.env, CodeRegistryUnavailable, "the individuals registry did not answer; try again")
		return
	}
	cmd := act.RecordRegistryCheck{IIN: m.iin, Found: m.err == nil}
	body, _ := json.Marshal(cmd)
	id := "registry:" + newActID()
	if s.lookups == nil {
		s.lookups = map[string]registryAnswer{}
	}
	s.lookups[id] = m
	c.Send(s.sd.Sys.Acts(), ActCommand{ActID: m.env.Act, CommandID: id, Actor: s.me, Name: cmd.CommandName(), Body: body, ReplyTo: c.PID()})
}

// registryRecorded answers a look-up once the act has recorded it; it
// reports false for any other command's result.
func (s *sessionActor) registryRecorded(m CommandResult) bool {
	l, ok := s.lookups[m.CommandID]
	if !ok {
		return false
	}
	delete(s.lookups, m.CommandID)
	delete(s.inFlight, l.env.ID)
	s.log.Info().Str("act", l.env.Act).Str("looked_up", s.deps.person(l.iin)).Bool("found", l.err == nil).
		Str("code", m.Code).Msg("registry look-up")
	switch {
	case m.Code != "":
		// Not on record, so not shown.
		s.fail(l.env, m.Code, "the look-up could not be recorded in the act: %s", m.Message)
	case l.err != nil:
		s.fail(l.env, CodeUnknownPerson, "the individuals registry has no person with IIN %s", l.iin)
	default:
		body, _ := json.Marshal(l.person)
		s.send(protocol.Envelope{Type: protocol.TypeResult, ID: l.env.ID, Act: l.env.Act, Name: l.env.Name, Body: body})
	}
	return true
}

func (s *sessionActor) stateAnswer(c *actor.Context, m StateResult) {
	env, ok := s.pending["q:"+m.Tag]
	delete(s.pending, "q:"+m.Tag)
	if !ok {
		delete(s.inFlight, m.Tag)
		return
	}
	if env.Type == protocol.TypeCommand && env.Name == "save_document" && m.Code == "" {
		s.saveDocumentState(c, env, &m.State) // still in flight until recorded
		return
	}
	if env.Name == "registry_lookup" && m.Code == "" {
		s.lookUp(c, env, &m.State) // still in flight until the look-up is recorded
		return
	}
	delete(s.inFlight, m.Tag)
	if m.Code != "" {
		s.fail(env, m.Code, "%s", m.Message)
		return
	}
	var out any
	switch env.Name {
	case "sign_link":
		s.signLinkState(c, env, &m.State)
		return
	case "act":
		out = m.State
	case "document":
		var q protocol.DocumentQuery
		_ = json.Unmarshal(env.Body, &q) // checked before asking the act
		if q.Draft != 0 {
			s.draftPDF(env, &m.State, q.Draft)
			return
		}
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
	case "payment_link":
		s.paymentLink(c, env, &m.State)
		return
	case "recording_link":
		s.recordingLink(env, &m.State)
		return
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
		case "draft_preview":
			var ok bool
			if data, ok = s.draftPreview(env, m.State, q.Draft); !ok {
				return
			}
		default:
			s.fail(env, protocol.CodeBadMessage, "what must be consent, draft, document, revocation or draft_preview")
			return
		}
		out = protocol.ToSign{Data: base64.StdEncoding.EncodeToString(data)}
	}
	body, _ := json.Marshal(out)
	s.send(protocol.Envelope{Type: protocol.TypeResult, ID: env.ID, Act: env.Act, Name: env.Name, Body: body})
}

// queuePosition asks the desk where the principal's call waits. The desk
// knows each waiting call's principal, so it judges who may ask; the
// answer comes back as a QueuePositionAnswer.
func (s *sessionActor) queuePosition(c *actor.Context, env protocol.Envelope) {
	if s.me.Role != act.RoleClient {
		s.fail(env, string(act.CodeForbidden), "queue_position is for the act's principal")
		return
	}
	if env.Act == "" {
		s.fail(env, protocol.CodeBadMessage, "queue_position needs act")
		return
	}
	if !act.ValidActID(env.Act) {
		s.fail(env, string(act.CodeBadActID), "act id %q is not one the server made", env.Act)
		return
	}
	s.inFlight[env.ID] = "query"
	s.pending["qp:"+env.ID] = env
	c.Send(s.deps.Desk, QueuePositionAsk{ActID: env.Act, PrincipalIIN: s.me.IIN, Default: s.sd.QueueEstimate, ReplyTo: c.PID(), Tag: env.ID})
}

// draftPreview is what the client would sign if the notary presented the
// draft in body now: present_draft decided on a copy of the act and
// applied there, never recorded. The core's rules judge it as they would
// the command (the act's notary only, in a call's act, a valid draft), so
// the preview shows the refusal the command would get, and the fees the
// tariff gives.
func (s *sessionActor) draftPreview(env protocol.Envelope, st act.State, body json.RawMessage) ([]byte, bool) {
	var pd act.PresentDraft
	if len(body) == 0 || json.Unmarshal(body, &pd) != nil {
		s.fail(env, protocol.CodeBadMessage, "draft_preview needs draft: a present_draft body")
		return nil, false
	}
	events, err := act.Decide(st, s.me, pd, s.deps.Now(), s.deps.Rules)
	if err != nil {
		s.fail(env, codeOf(err), "%s", messageOf(err))
		return nil, false
	}
	for _, e := range events {
		st = act.Apply(st, e)
	}
	return act.DraftBytes(&st, len(st.Revisions)), true
}

// deskQueueAnswer answers a desk_queue query.
func (s *sessionActor) deskQueueAnswer(m DeskQueue) {
	env, ok := s.pending["dq:"+m.Tag]
	delete(s.pending, "dq:"+m.Tag)
	delete(s.inFlight, m.Tag)
	if !ok {
		return
	}
	q := protocol.DeskQueue{Waiting: m.Waiting}
	if !m.Oldest.IsZero() {
		t := m.Oldest.UTC()
		q.OldestSince = &t
	}
	body, _ := json.Marshal(q)
	s.send(protocol.Envelope{Type: protocol.TypeResult, ID: env.ID, Name: env.Name, Body: body})
}

func (s *sessionActor) queueAnswer(m QueuePositionAnswer) {
	env, ok := s.pending["qp:"+m.Tag]
	delete(s.pending, "qp:"+m.Tag)
	delete(s.inFlight, m.Tag)
	if !ok {
		return
	}
	if m.Code != "" {
		s.fail(env, m.Code, "%s", m.Message)
		return
	}
	body, _ := json.Marshal(protocol.QueuePosition{Position: m.Position, Waiting: m.Waiting, EstimateSeconds: m.EstimateSeconds})
	s.send(protocol.Envelope{Type: protocol.TypeResult, ID: env.ID, Act: env.Act, Name: env.Name, Body: body})
}

// documentQueryOK checks the document query's body: none, or a
// DocumentQuery whose draft, if set, is a revision number (from 1).
func documentQueryOK(body json.RawMessage) bool {
	if len(body) == 0 || string(body) == "null" {
		return true
	}
	var q protocol.DocumentQuery
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	return d.Decode(&q) == nil && q.Draft >= 0
}

// draftPDF answers the document query with draft: the PDF of a presented
// revision, marked as a draft, for the act's parties (the act answered the
// state only to them). The answer has the shape of the signed document's,
// with the revision in place of the code.
func (s *sessionActor) draftPDF(env protocol.Envelope, st *act.State, rev int) {
	if rev < 1 || rev > len(st.Revisions) {
		s.fail(env, protocol.CodeNotPresented, "revision %d is not a presented draft (the act has %d)", rev, len(st.Revisions))
		return
	}
	if s.sd.DraftPDF == nil {
		s.fail(env, protocol.CodeInternal, "this server renders no draft PDFs")
		return
	}
	pdf, err := s.sd.DraftPDF(st, rev)
	if err != nil {
		s.fail(env, protocol.CodeInternal, "%v", err)
		return
	}
	body, _ := json.Marshal(map[string]any{"draft": rev, "pdf": base64.StdEncoding.EncodeToString(pdf)})
	s.send(protocol.Envelope{Type: protocol.TypeResult, ID: env.ID, Act: env.Act, Name: env.Name, Body: body})
}
