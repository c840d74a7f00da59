package actors

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/transport/protocol"
)

// Issuance answers on the session: what the application actors answer,
// turned into results and pushes for the applicant and staff.

func (s *sessionActor) result(env protocol.Envelope, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	s.send(protocol.Envelope{Type: protocol.TypeResult, ID: env.ID, Act: env.Act, Name: env.Name, Body: b})
}

// takePending ends the wait for the answer tagged tag: the request it
// answers, if this session is still waiting for it.
func (s *sessionActor) takePending(tag string) (issPending, bool) {
	st := s.iss()
	p, ok := st.pending[tag]
	delete(st.pending, tag)
	delete(s.inFlight, tag)
	return p, ok
}

// issuanceAnswer handles the application actors' answers.
func (s *sessionActor) issuanceAnswer(c *actor.Context, msg any) {
	st := s.iss()
	switch m := msg.(type) {
	case IssuanceResult:
		p, ok := s.takePending(m.CommandID)
		if !ok {
			return
		}
		if m.Code != "" {
			s.send(protocol.Envelope{Type: protocol.TypeError, ID: p.env.ID, Act: m.AppID, Code: m.Code, Message: m.Message, Duplicate: m.Duplicate})
			return
		}
		if p.kind == "start" {
			st.apps[p.app] = ApplicantID(p.token)
			s.result(protocol.Envelope{ID: p.env.ID, Act: p.app, Name: p.env.Name},
				protocol.IssuanceStarted{Application: p.app, Token: p.token})
			return
		}
		if p.env.Name == "take_registration" {
			st.calls[m.AppID] = true
		}
		s.send(protocol.Envelope{Type: protocol.TypeAck, ID: p.env.ID, Act: m.AppID, Seq: m.Seq, Duplicate: m.Duplicate})
	case IssuanceView:
		p, ok := s.takePending(m.Tag)
		if !ok {
			return
		}
		if m.Code != "" {
			code := m.Code
			if p.kind == "resume" && code == string(issuance.CodeForbidden) {
				code = CodeBadToken // no such application, or another's: the same answer
			}
			s.send(protocol.Envelope{Type: protocol.TypeError, ID: p.env.ID, Act: m.AppID, Code: code, Message: m.Message})
			return
		}
		switch p.kind {
		case "resume":
			st.apps[p.app] = p.token
			s.result(p.env, statusOf(m))
		case "status":
			s.result(p.env, statusOf(m))
		case "status-moderator":
			out := statusOf(m)
			if s.deps.Registry != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if person, err := s.deps.Registry.Lookup(ctx, m.State.IIN); err == nil {
					out.Registry = &person
				}
				cancel()
			}
			s.result(p.env, out)
		case "certificates":
			certs := []protocol.IssuanceCertificate{}
			for _, crt := range m.State.Certificates {
				certs = append(certs, protocol.IssuanceCertificate{Purpose: string(crt.Purpose), Serial: crt.Serial, NotAfter: crt.NotAfter.UTC(),
					DER: base64.StdEncoding.EncodeToString(crt.DER), Chain: s.issuersOf(crt.DER)})
			}
			s.result(p.env, map[string]any{"certificates": certs})
		case "approval_data":
			step := m.State.NextApproval()
			if step == "" || m.State.BIN != s.signerBIN() {
				s.fail(p.env, string(issuance.CodeForbidden), "no approval of your organisation is awaited on this application")
				return
			}
			s.result(p.env, map[string]any{"step": string(step),
				"data": base64.StdEncoding.EncodeToString(issuance.ApprovalBytes(&m.State, step))})
		default:
			if purpose, ok := strings.CutPrefix(p.kind, "file:"); ok {
				s.fileTicket(p.env, m, issuance.Purpose(purpose))
			}
		}
	case IssuanceSubscribed:
		p, ok := s.takePending(m.Tag)
		if !ok {
			return
		}
		if m.Code != "" {
			delete(st.subs, m.AppID)
			s.send(protocol.Envelope{Type: protocol.TypeError, ID: p.env.ID, Act: m.AppID, Code: m.Code, Message: m.Message})
			return
		}
		s.send(protocol.Envelope{Type: protocol.TypeSubscribed, ID: p.env.ID, Act: m.AppID})
	case issuanceEntity:
		s.issuanceEntityAnswer(c, m)
	case IssuanceOffer:
		st.offers[m.AppID] = m.Queue
		body, _ := json.Marshal(protocol.Offer{PrincipalIIN: m.IIN, ActionType: "issuance_" + string(m.Queue),
			WaitingSince: m.WaitingSince.UTC(), QueuePosition: m.Position})
		s.send(protocol.Envelope{Type: protocol.TypeOffer, Act: m.AppID, Body: body})
	case IssuanceOfferGone:
		delete(st.offers, m.AppID)
		s.send(protocol.Envelope{Type: protocol.TypeOfferGone, Act: m.AppID})
	case IssuanceEvents:
		last, ok := st.subs[m.AppID]
		if !ok {
			return
		}
		for _, r := range m.Records {
			if r.Seq <= last {
				continue
			}
			at := r.At.UTC()
			s.send(protocol.Envelope{Type: protocol.TypeEvent, Act: m.AppID, Seq: r.Seq, Name: r.Type, Actor: r.Actor, At: &at,
				Body: redactIssuanceEvent(r.Type, r.Payload)})
			last = r.Seq
		}
		st.subs[m.AppID] = last
	}
}

// redactIssuanceEvent drops the code's keyed hash from what leaves the server.
func redactIssuanceEvent(typ string, payload []byte) json.RawMessage {
	if typ != (issuance.CodeIssued{}).EventType() {
		return payload
	}
	var m map[string]any
	if json.Unmarshal(payload, &m) != nil {
		return json.RawMessage("{}")
	}
	delete(m, "hash")
	b, _ := json.Marshal(m)
	return b
}

// statusOf is the application as its reader sees it.
func statusOf(v IssuanceView) protocol.IssuanceStatus {
	s := v.State
	out := protocol.IssuanceStatus{Application: v.AppID, Phase: string(s.Phase), Status: string(s.Status()), Kind: string(s.Kind),
		Template: string(s.Template), BIN: s.BIN, IIN: s.IIN, Seq: v.Seq, CreatedAt: s.CreatedAt.UTC(), PhoneVerified: s.PhoneVerified,
		Document: string(s.Document), Confirmed: s.Confirmed, NextApproval: string(s.NextApproval()), Rejection: s.Rejection,
		Certificates: len(s.Certificates), Waiting: v.Waiting, Problem: v.Problem}
	if n := len(s.Phone); n >= 4 {
		out.Phone = strings.Repeat("•", n-4) + s.Phone[n-4:]
	}
	if v.CodeExpiresAt != nil {
		t := v.CodeExpiresAt.UTC()
		out.CodeExpiresAt = &t
		out.CodeTriesLeft = v.CodeTriesLeft
	}
	for p := range s.Uploads {
		out.Uploads = append(out.Uploads, string(p))
	}
	sort.Strings(out.Uploads)
	if s.Recognised != nil {
		out.Recognised = s.Recognised
	}
	return out
}

// fileTicket answers the file query: a one-time address of the file.
func (s *sessionActor) fileTicket(env protocol.Envelope, m IssuanceView, purpose issuance.Purpose) {
	up, ok := m.State.Uploads[purpose]
	if !ok {
		s.fail(env, string(issuance.CodeMissingUpload), "the application has no such file")
		return
	}
	tok := s.sd.Sys.issuanceDeps.tickets.issue(FileTicket{AppID: m.AppID, Upload: up}, s.deps.Now())
	if tok == "" {
		s.fail(env, protocol.CodeOverloaded, "too many files are being read; try again shortly")
		return
	}
	s.result(env, map[string]any{"url": "/issuance/" + m.AppID + "/files/" + tok, "sha256": up.SHA256, "type": string(up.Type), "size": up.Size})
}

// issuersOf is the chain that makes an issued certificate trusted, for its
// key store: base64 DER, the issuing CA first. Empty, and logged, when the
// trust store does not make it trusted now (its CA is missing from
// pki.roots / pki.intermediates, or revoked): the key store then carries
// the certificate alone, and the server's operator has a CA to add.
func (s *sessionActor) issuersOf(der []byte) []string {
	out := []string{}
	cert, err := x509.ParseCertificate(der)
	if err == nil {
		var chain []*x509.Certificate
		if chain, err = s.deps.Trust.Issuers(cert, s.deps.Now()); err == nil {
			for _, c := range chain {
				out = append(out, base64.StdEncoding.EncodeToString(c.Raw))
			}
			return out
		}
	}
	s.log.Warn().Err(err).Msg("an issued certificate is not trusted by this server: its key store goes without the chain")
	return out
}
