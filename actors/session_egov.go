package actors

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/egovmobile"
	"github.com/senim-kz/senim/transport/protocol"
)

// Signing with eGov mobile: the sign_link query hands the app a link for
// the citizen's phone, over bytes the server computes itself (exactly
// those of prepare_application or to_sign), and the phone's accepted
// signature comes back to this session as an egovOutcome, pushed to the
// app as a "signed" message. The app then sends its command (or signin)
// with that CMS as with NCALayer's, so the act judges it again as usual.

// egovOutcome is what became of a link this session asked for.
type egovOutcome struct {
	queryID string
	o       egovmobile.Outcome
}

// signLinkQuery decodes a sign_link body; "approval" is the draft's.
func signLinkQuery(env protocol.Envelope) (protocol.SignLinkQuery, error) {
	var q protocol.SignLinkQuery
	if err := json.Unmarshal(env.Body, &q); err != nil {
		return q, err
	}
	if q.What == "approval" {
		q.What = egovmobile.KindDraft
	}
	if q.Act == "" {
		q.Act = env.Act
	}
	return q, nil
}

// signLink answers a sign_link query; it is the one query allowed before
// sign-in, for the sign-in itself.
func (s *sessionActor) signLink(c *actor.Context, env protocol.Envelope) {
	if s.sd.Egov == nil {
		s.fail(env, protocol.CodeUnknownName, "this server does not sign with eGov mobile")
		return
	}
	q, err := signLinkQuery(env)
	if err != nil {
		s.fail(env, protocol.CodeBadMessage, "body: %v", err)
		return
	}
	if !s.signedIn && q.What != egovmobile.KindSignIn {
		s.fail(env, protocol.CodeNotSignedIn, "sign in first")
		return
	}
	switch q.What {
	case egovmobile.KindSignIn:
		if s.signedIn {
			s.fail(env, protocol.CodeBadMessage, "already signed in")
			return
		}
		if env.ID == "" {
			s.fail(env, protocol.CodeBadMessage, "query needs an id")
			return
		}
		s.issueLink(c, env, q.What, "signin", "", s.toSign, nil)
	case egovmobile.KindApplication:
		a := q.Application
		switch {
		case s.me.Role != act.RoleClient:
			s.fail(env, string(act.CodeForbidden), "only a client applies")
			return
		case a == nil:
			s.fail(env, protocol.CodeBadMessage, "an application link needs application")
			return
		case !act.ValidActID(a.Act):
			s.fail(env, string(act.CodeBadActID), "application.act must be the id prepare_application made")
			return
		}
		if _, err := iin.ParseIIN(a.AttorneyIIN); err != nil {
			s.fail(env, string(act.IINCode(err)), "attorney: %v", err)
			return
		}
		data := act.ApplicationBytes(a.Act, a.ActionType, s.me.IIN, a.Phone, a.AttorneyIIN, a.Consent)
		s.issueLink(c, env, q.What, "application:"+a.Act, s.me.IIN, data, []egovmobile.Meta{{Name: "act", Value: a.Act}})
	case egovmobile.KindConsent, egovmobile.KindDraft, egovmobile.KindRevocation:
		if !act.ValidActID(q.Act) {
			s.fail(env, string(act.CodeBadActID), "act id %q is not one the server made", q.Act)
			return
		}
		// The bytes come from the act's state: asked of the act, answered
		// in stateAnswer (signLinkState).
		env.Act = q.Act
		s.inFlight[env.ID] = "query"
		s.pending["q:"+env.ID] = env
		c.Send(s.sd.Sys.Acts(), GetState{ActID: q.Act, Actor: s.me, ReplyTo: c.PID(), Tag: env.ID})
	default:
		s.fail(env, protocol.CodeBadMessage, "what must be signin, application, consent, draft, approval or revocation")
	}
}

// signLinkState issues a link over the act's bytes once its state is here:
// the same bytes the to_sign query gives.
func (s *sessionActor) signLinkState(c *actor.Context, env protocol.Envelope, st *act.State) {
	q, _ := signLinkQuery(env) // decoded once already
	var data []byte
	meta := []egovmobile.Meta{{Name: "act", Value: env.Act}}
	switch q.What {
	case egovmobile.KindConsent:
		data = act.ConsentBytes(st)
	case egovmobile.KindDraft:
		data = act.DraftBytes(st, q.Revision)
		meta = append(meta, egovmobile.Meta{Name: "revision", Value: strconv.Itoa(q.Revision)})
	case egovmobile.KindRevocation:
		data = act.RevocationBytes(st)
	}
	s.issueLink(c, env, q.What, q.What+":"+env.Act+":"+strconv.Itoa(q.Revision), s.me.IIN, data, meta)
}

func (s *sessionActor) issueLink(c *actor.Context, env protocol.Envelope, kind, key, signer string, data []byte, meta []egovmobile.Meta) {
	eng, self, queryID := c.Engine(), c.PID(), env.ID
	l, err := s.sd.Egov.Create(egovmobile.Request{Owner: self.String(), Key: key, Kind: kind, SignerIIN: signer, Data: data, Meta: meta,
		Notify: func(o egovmobile.Outcome) { eng.Send(self, egovOutcome{queryID: queryID, o: o}) }})
	if errors.Is(err, egovmobile.ErrFull) {
		s.fail(env, protocol.CodeOverloaded, "too many signing links are open; try again shortly")
		return
	}
	if err != nil {
		s.fail(env, protocol.CodeInternal, "%v", err)
		return
	}
	body, _ := json.Marshal(protocol.SignLink{Link: l.ID, URL: l.APIURL, QR: egovmobile.QRText(l.APIURL), DeepLink: egovmobile.DeepLink(l.APIURL),
		QRPNG: "/egov/qr/" + l.Token + ".png", ExpiresAt: l.ExpiresAt.UTC()})
	s.send(protocol.Envelope{Type: protocol.TypeResult, ID: env.ID, Act: env.Act, Name: env.Name, Body: body})
}

// egovOutcome pushes what became of a link: the accepted CMS, or its expiry.
func (s *sessionActor) egovOutcome(m egovOutcome) {
	if m.o.Expired {
		s.send(protocol.Envelope{Type: protocol.TypeError, ID: m.queryID, Code: egovmobile.CodeLinkExpired,
			Message: "the eGov mobile link expired unused; ask for a new one"})
		return
	}
	body, _ := json.Marshal(protocol.SignedBody{Link: m.o.LinkID, CMS: base64.StdEncoding.EncodeToString(m.o.CMS)})
	s.send(protocol.Envelope{Type: protocol.TypeSigned, ID: m.queryID, Body: body})
}
