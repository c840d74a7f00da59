package actors

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
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
		if code, _ := loadFailure(err); code == CodeChainBroken || code == CodeStorageCorrupt {
			// A damaged act stays in the list, marked, and the others are served.
			out = append(out, protocol.ActSummary{Act: strings.TrimPrefix(st, "act/"), Phase: code})
			continue
		}
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
