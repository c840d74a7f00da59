package actors

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/digidocs"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/transport/protocol"
)

// Digital documents: the principal saves a signed act's document to eGov's
// "Digital documents" (the save_document command) and lists what they
// saved (the my_documents query). The service is a remote system: it is
// called off the actor's goroutine, as the registry is, and the act records
// the save (document_saved) only after the service took the document.

// CodeDigidocsUnavailable answers save_document and my_documents when the
// Digital documents service did not answer: nothing was recorded.
const CodeDigidocsUnavailable = "digidocs_unavailable"

// digidocsTimeout bounds one call to the service.
const digidocsTimeout = 15 * time.Second

// digidocsSaved is the service's answer to a save.
type digidocsSaved struct {
	env protocol.Envelope
	doc digidocs.Document
	err error
}

// digidocsOpened is the service's answer to open_document.
type digidocsOpened struct {
	env protocol.Envelope
	doc digidocs.Document
	err error
}

// digidocsListed is the service's answer to my_documents.
type digidocsListed struct {
	env  protocol.Envelope
	docs []digidocs.Document
	err  error
}

// saveDocument starts a save: first the act's state says whether this
// client may (answered in stateAnswer, then saveDocumentState).
func (s *sessionActor) saveDocument(c *actor.Context, env protocol.Envelope) {
	if s.sd.Digidocs == nil || s.me.Role != act.RoleClient {
		s.fail(env, string(act.CodeForbidden), "documents are saved by the act's principal, where Digital documents is configured")
		return
	}
	s.inFlight[env.ID] = "command"
	s.pending["q:"+env.ID] = env
	c.Send(s.sd.Sys.Acts(), GetState{ActID: env.Act, Actor: s.me, ReplyTo: c.PID(), Tag: env.ID})
}

// saveDocumentState renders the signed document, exactly as the document
// query gives it, and hands it to the service.
func (s *sessionActor) saveDocumentState(c *actor.Context, env protocol.Envelope, st *act.State) {
	if err := act.MaySaveDocument(st, s.me); err != nil {
		delete(s.inFlight, env.ID)
		s.fail(env, codeOf(err), "%s", messageOf(err))
		return
	}
	pdf, err := s.sd.PDF(st)
	if err != nil {
		delete(s.inFlight, env.ID)
		s.fail(env, protocol.CodeInternal, "%v", err)
		return
	}
	sum := sha256.Sum256(pdf)
	doc := digidocs.Document{ID: "senim-" + st.ID, Title: st.ActionType, ActID: st.ID, Code: st.DocumentCode, MIME: "application/pdf",
		SHA256: hex.EncodeToString(sum[:]), Size: len(pdf), SavedAt: s.deps.Now().UTC(), Data: pdf}
	port, eng, self, who := s.sd.Digidocs, c.Engine(), c.PID(), s.me.IIN
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), digidocsTimeout)
		defer cancel()
		err := port.Save(ctx, who, doc)
		eng.Send(self, digidocsSaved{env: env, doc: doc, err: err})
	}()
}

// digidocsSaved records the save in the act, under the app's command id
// (so a retry is answered as the first), or reports the outage.
func (s *sessionActor) digidocsSaved(c *actor.Context, m digidocsSaved) {
	if m.err != nil {
		delete(s.inFlight, m.env.ID)
		s.log.Warn().Str("act", m.env.Act).Bool("timeout", errors.Is(m.err, context.DeadlineExceeded)).Msg("Digital documents did not take the document")
		s.fail(m.env, CodeDigidocsUnavailable, "Digital documents did not answer; try again")
		return
	}
	body, _ := json.Marshal(act.SaveDocument{Service: "digidocs", DocumentID: m.doc.ID, SHA256: m.doc.SHA256})
	c.Send(s.sd.Sys.Acts(), ActCommand{ActID: m.env.Act, CommandID: m.env.ID, Actor: s.me, Name: act.SaveDocument{}.CommandName(), Body: body, ReplyTo: c.PID()})
}

// myDocuments lists the client's saved documents at the service.
func (s *sessionActor) myDocuments(c *actor.Context, env protocol.Envelope) {
	if s.sd.Digidocs == nil || s.me.Role != act.RoleClient {
		s.fail(env, string(act.CodeForbidden), "my_documents is for clients, where Digital documents is configured")
		return
	}
	s.inFlight[env.ID] = "query"
	port, eng, self, who := s.sd.Digidocs, c.Engine(), c.PID(), s.me.IIN
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), digidocsTimeout)
		defer cancel()
		docs, err := port.List(ctx, who)
		eng.Send(self, digidocsListed{env: env, docs: docs, err: err})
	}()
}

func (s *sessionActor) digidocsListed(m digidocsListed) {
	delete(s.inFlight, m.env.ID)
	if m.err != nil {
		s.fail(m.env, CodeDigidocsUnavailable, "Digital documents did not answer; try again")
		return
	}
	out := protocol.MyDocuments{Documents: []protocol.SavedDocument{}}
	for _, d := range m.docs {
		out.Documents = append(out.Documents, protocol.SavedDocument{ID: d.ID, Title: d.Title, Act: d.ActID, Code: d.Code,
			MIME: d.MIME, SHA256: d.SHA256, Size: d.Size, SavedAt: d.SavedAt.UTC()})
	}
	body, _ := json.Marshal(out)
	s.send(protocol.Envelope{Type: protocol.TypeResult, ID: m.env.ID, Name: m.env.Name, Body: body})
}

// openDocument fetches one of the client's saved documents from the
// service: the person's own only, since the service is asked under the
// session's IIN.
func (s *sessionActor) openDocument(c *actor.Context, env protocol.Envelope) {
	if s.sd.Digidocs == nil || s.me.Role != act.RoleClient {
		s.fail(env, string(act.CodeForbidden), "open_document is for clients, where Digital documents is configured")
		return
	}
	var q struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(env.Body, &q); err != nil || q.ID == "" || len(q.ID) > 128 {
		s.fail(env, protocol.CodeBadMessage, "open_document needs the id of a saved document")
		return
	}
	s.inFlight[env.ID] = "query"
	port, eng, self, who := s.sd.Digidocs, c.Engine(), c.PID(), s.me.IIN
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), digidocsTimeout)
		defer cancel()
		doc, err := port.Open(ctx, who, q.ID)
		eng.Send(self, digidocsOpened{env: env, doc: doc, err: err})
	}()
}

func (s *sessionActor) digidocsOpened(m digidocsOpened) {
	delete(s.inFlight, m.env.ID)
	switch {
	case errors.Is(m.err, digidocs.ErrNotFound):
		s.fail(m.env, protocol.CodeNotFound, "you have no saved document with that id")
		return
	case m.err != nil:
		s.fail(m.env, CodeDigidocsUnavailable, "Digital documents did not answer; try again")
		return
	}
	d := m.doc
	out := protocol.OpenedDocument{SavedDocument: protocol.SavedDocument{ID: d.ID, Title: d.Title, Act: d.ActID, Code: d.Code,
		MIME: d.MIME, SHA256: d.SHA256, Size: d.Size, SavedAt: d.SavedAt.UTC()}, Data: base64.StdEncoding.EncodeToString(d.Data)}
	body, _ := json.Marshal(out)
	s.send(protocol.Envelope{Type: protocol.TypeResult, ID: m.env.ID, Name: m.env.Name, Body: body})
}
