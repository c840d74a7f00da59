package actors

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/ca"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/legalreg"
	"github.com/senim-kz/senim/transport/protocol"
)

// The applicant's, the staff's and the approvers' side of remote EDS
// issuance on the session websocket (PROTOCOL.md, "Remote EDS issuance").
// An applicant has no EDS: start gives them an application token, and the
// session speaks for the applications whose token it was given (start or
// resume). Staff are accounts with the registrar or moderator role, signed
// in with their password (as staff, or as notary if the account also has
// the notary role); approvers are people signed in with their EDS.

// issuanceSession is a session's issuance state.
type issuanceSession struct {
	apps    map[string]string // application id -> applicant id this session speaks for
	subs    map[string]uint64 // application -> last seq sent
	pending map[string]issPending
	// joined are the staff queues this session is registered with; offers
	// the cases a queue offers to this staff member, by application.
	joined map[StaffQueue]bool
	offers map[string]StaffQueue
	// calls are the registration calls this staff session took.
	calls map[string]bool
}

type issPending struct {
	kind  string
	env   protocol.Envelope
	app   string
	token string
}

func (s *sessionActor) iss() *issuanceSession {
	if s.issuance == nil {
		s.issuance = &issuanceSession{apps: map[string]string{}, subs: map[string]uint64{}, pending: map[string]issPending{},
			joined: map[StaffQueue]bool{}, offers: map[string]StaffQueue{}, calls: map[string]bool{}}
	}
	return s.issuance
}

// isApplicant reports whether the session speaks for an application: it
// then needs no sign-in.
func (s *sessionActor) isApplicant() bool { return s.issuance != nil && len(s.issuance.apps) > 0 }

// issuanceRequest handles one issuance message.
func (s *sessionActor) issuanceRequest(c *actor.Context, env protocol.Envelope) {
	sys := s.sd.Sys
	if sys.Issuance() == nil {
		s.fail(env, CodeIssuanceUnavailable, "remote EDS issuance is not enabled on this server")
		return
	}
	if env.Type == protocol.TypeMedia {
		s.issuanceMedia(c, env)
		return
	}
	if !s.admit(env) {
		return
	}
	st := s.iss()
	applicant := func() (issuance.Actor, bool) {
		who, ok := st.apps[env.Act]
		if !ok {
			s.fail(env, string(issuance.CodeForbidden), "resume the application with its token first")
			return issuance.Actor{}, false
		}
		return issuance.Actor{Role: issuance.RoleApplicant, ID: who}, true
	}
	command := func(by issuance.Actor, cmd issuance.Command) {
		s.inFlight[env.ID] = "issuance"
		st.pending[env.ID] = issPending{kind: "command", env: env}
		c.Send(sys.Issuance(), IssuanceCommand{AppID: env.Act, CommandID: env.ID, Actor: by, Cmd: cmd,
			Digest: commandDigest(env.Name, env.Body), ReplyTo: c.PID()})
	}
	get := func(by issuance.Actor, kind string) {
		s.inFlight[env.ID] = "issuance"
		st.pending[env.ID] = issPending{kind: kind, env: env}
		c.Send(sys.Issuance(), IssuanceGet{AppID: env.Act, Actor: by, Tag: env.ID, ReplyTo: c.PID()})
	}
	decode := func(v any) bool {
		body := env.Body
		if len(body) == 0 {
			body = json.RawMessage("{}")
		}
		if err := json.Unmarshal(body, v); err != nil {
			s.fail(env, string(issuance.CodeBadRequest), "body: %v", err)
			return false
		}
		return true
	}
	switch env.Name {
	case "start", "approvals", "registration_queue", "moderation_queue", "available", "away":
	default:
		if env.Act == "" {
			s.fail(env, protocol.CodeBadMessage, "%s needs act: the application id", env.Name)
			return
		}
	}
	switch env.Name {
	case "start":
		var in protocol.IssuanceStart
		if decode(&in) {
			s.issuanceStart(c, env, in)
		}
	case "resume":
		var in protocol.IssuanceResume
		if !decode(&in) {
			return
		}
		if in.Token == "" || len(in.Token) > 128 {
			s.fail(env, CodeBadToken, "resume needs the application's token")
			return
		}
		s.inFlight[env.ID] = "issuance"
		st.pending[env.ID] = issPending{kind: "resume", env: env, app: env.Act, token: ApplicantID(in.Token)}
		c.Send(sys.Issuance(), IssuanceGet{AppID: env.Act, Actor: issuance.Actor{Role: issuance.RoleApplicant, ID: ApplicantID(in.Token)},
			Tag: env.ID, ReplyTo: c.PID()})
	case "verify_code":
		by, ok := applicant()
		var in protocol.IssuanceCode
		if !ok || !decode(&in) {
			return
		}
		if len(in.Code) != 6 || strings.Trim(in.Code, "0123456789") != "" {
			s.fail(env, string(issuance.CodeWrongCode), "the code is six digits")
			return
		}
		command(by, issuance.VerifyCode{Hash: CodeHash(sys.IssuanceDeps().CodeKey, env.Act, in.Code)})
	case "resend":
		by, ok := applicant()
		if !ok {
			return
		}
		s.inFlight[env.ID] = "issuance"
		st.pending[env.ID] = issPending{kind: "command", env: env}
		c.Send(sys.Issuance(), IssuanceCommand{AppID: env.Act, CommandID: env.ID, Actor: by, Resend: true, ReplyTo: c.PID()})
	case "request_registration":
		if by, ok := applicant(); ok {
			command(by, issuance.RequestRegistration{})
		}
	case "choose_document":
		by, ok := applicant()
		var in issuance.ChooseDocument
		if ok && decode(&in) {
			command(by, in)
		}
	case "confirm_fields":
		by, ok := applicant()
		var in issuance.ConfirmFields
		if ok && decode(&in) {
			command(by, in)
		}
	case "submit_requests":
		by, ok := applicant()
		var in protocol.IssuanceRequests
		if !ok || !decode(&in) {
			return
		}
		cmd, code, msg := s.issuanceCSRs(env.Act, in)
		if code != "" {
			s.fail(env, code, "%s", msg)
			return
		}
		command(by, cmd)
	case "status":
		if by, ok := s.issuanceReader(env); ok {
			kind := "status"
			if by.Role == issuance.RoleModerator {
				kind = "status-moderator" // with the registry's data beside the document's
			}
			get(by, kind)
		}
	case "certificates":
		if by, ok := applicant(); ok {
			get(by, "certificates")
		}
	case "file":
		var in struct {
			Purpose string `json:"purpose"`
		}
		if !decode(&in) {
			return
		}
		by, ok := issuance.Actor{}, false
		if who, mine := st.apps[env.Act]; mine {
			by, ok = issuance.Actor{Role: issuance.RoleApplicant, ID: who}, true
		} else {
			by, ok = s.staff(env, accounts.RoleModerator, issuance.RoleModerator)
		}
		if ok {
			get(by, "file:"+in.Purpose)
		}
	case "subscribe":
		by, ok := applicant()
		if !ok {
			return
		}
		s.inFlight[env.ID] = "issuance"
		st.pending[env.ID] = issPending{kind: "subscribe", env: env}
		st.subs[env.Act] = env.Seq
		c.Send(sys.Issuance(), IssuanceSubscribe{AppID: env.Act, FromSeq: env.Seq, Actor: by, Tag: env.ID, Subscriber: c.PID()})
	case "registration_queue", "moderation_queue":
		s.issuanceQueue(env)
	case "take_registration", "record_registration", "reject":
		by, ok := s.staff(env, accounts.RoleRegistrar, issuance.RoleOperator)
		if !ok {
			return
		}
		var in protocol.IssuanceDecision
		if !decode(&in) {
			return
		}
		switch env.Name {
		case "take_registration":
			if st.offers[env.Act] != QueueRegistration {
				s.fail(env, string(issuance.CodeForbidden), "the registration desk offers each call to one registrar: this one is not offered to you")
				return
			}
			command(by, issuance.TakeRegistration{})
		case "record_registration":
			command(by, issuance.RecordRegistration{Success: in.Success, Phone: in.Phone, Reason: in.Reason})
		default:
			command(by, issuance.Reject{Reason: in.Reason})
		}
	case "take_moderation", "moderate":
		by, ok := s.staff(env, accounts.RoleModerator, issuance.RoleModerator)
		if !ok {
			return
		}
		var in protocol.IssuanceDecision
		if !decode(&in) {
			return
		}
		if env.Name == "take_moderation" {
			if st.offers[env.Act] != QueueModeration {
				s.fail(env, string(issuance.CodeForbidden), "the moderation queue offers each case to one moderator: this one is not offered to you")
				return
			}
			command(by, issuance.TakeModeration{})
		} else {
			command(by, issuance.Moderate{Approve: in.Approve, Reason: in.Reason})
		}
	case "available", "away", "decline":
		s.staffMode(c, env)
	case "approvals":
		s.issuanceApprovals(env)
	case "approval_data":
		if by, ok := s.approver(env); ok {
			get(by, "approval_data")
		}
	case "approve":
		by, ok := s.approver(env)
		var in protocol.Signed
		if !ok || !decode(&in) {
			return
		}
		ap, code, msg := s.approval(in.CMS)
		if code != "" {
			s.fail(env, code, "%s", msg)
			return
		}
		command(by, issuance.Approve{Approval: ap})
	default:
		s.fail(env, protocol.CodeUnknownName, "unknown issuance request %q", env.Name)
	}
}

// issuanceStart opens an application under the bounds of anonymous
// applicants: per address and per IIN.
func (s *sessionActor) issuanceStart(c *actor.Context, env protocol.Envelope, in protocol.IssuanceStart) {
	sys, idep := s.sd.Sys, s.sd.Sys.IssuanceDeps()
	ip := ""
	if a, ok := s.conn.(ClientAddr); ok {
		ip = a.ClientIP()
	}
	if len(in.IIN) == 12 {
		if open, err := s.deps.Log.Lookup(IndexIssuanceIIN, in.IIN); err == nil && len(open) >= idep.MaxOpenPerIIN {
			s.fail(env, CodeTooManyApplications, "this IIN has %d unfinished applications; finish or wait for them", len(open))
			return
		}
	}
	if !sys.ipStarts.Allow(ip, s.deps.Now(), idep.StartsPerIP) {
		s.fail(env, CodeTooManyApplications, "too many applications from this address in the last hour; try again later")
		return
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		panic(err)
	}
	token := base64.RawURLEncoding.EncodeToString(tok)
	app := newActID()
	who := ApplicantID(token)
	cmd := issuance.Start{ApplicationID: app, Kind: issuance.Kind(in.Kind), Template: issuance.Template(in.Template), BIN: in.BIN, IIN: in.IIN}
	s.inFlight[env.ID] = "issuance"
	s.iss().pending[env.ID] = issPending{kind: "start", env: env, app: app, token: token}
	start := IssuanceCommand{AppID: app, CommandID: env.ID, Actor: issuance.Actor{Role: issuance.RoleApplicant, ID: who},
		Cmd: cmd, Digest: commandDigest(env.Name, env.Body), ReplyTo: c.PID()}
	if cmd.Kind == issuance.KindLegalEntity && idep.LegalEntities != nil {
		// The register of legal entities: the entity must be active, and
		// it names the first head (never the applicant). Asked off the
		// session's goroutine.
		eng, self := c.Engine(), c.PID()
		go func() {
			ctx, cancel := context.WithTimeout(idep.context(), 10*time.Second)
			defer cancel()
			e, err := legalreg.LookupActive(ctx, idep.LegalEntities, in.BIN)
			eng.Send(self, issuanceEntity{start: start, head: e.Head.IIN, err: err})
		}()
		return
	}
	c.Send(sys.Issuance(), start)
}

// issuanceEntity is the register of legal entities' answer for a start.
type issuanceEntity struct {
	start IssuanceCommand
	head  string
	err   error
}

// Codes of a legal entity's start the register decides.
const (
	// CodeLegalRegisterUnavailable: the register of legal entities did not
	// answer; try again later.
	CodeLegalRegisterUnavailable = "legal_register_unavailable"
	// CodeEntityUnknown: the BIN is not a registered legal entity.
	CodeEntityUnknown = "entity_unknown"
	// CodeEntityNotActive: the legal entity is suspended or liquidated: it
	// gets no keys.
	CodeEntityNotActive = "entity_not_active"
)

func (s *sessionActor) issuanceEntityAnswer(c *actor.Context, m issuanceEntity) {
	refuse := func(code, msg string) {
		p := s.iss().pending[m.start.CommandID]
		delete(s.iss().pending, m.start.CommandID)
		delete(s.inFlight, m.start.CommandID)
		s.fail(p.env, code, "%s", msg)
	}
	switch {
	case errors.Is(m.err, legalreg.ErrUnavailable):
		refuse(CodeLegalRegisterUnavailable, "the register of legal entities did not answer; try again later")
		return
	case errors.Is(m.err, legalreg.ErrNotFound):
		refuse(CodeEntityUnknown, "the register of legal entities has no entity with this BIN")
		return
	case errors.Is(m.err, legalreg.ErrNotActive):
		refuse(CodeEntityNotActive, "the legal entity is suspended or liquidated: it gets no keys")
		return
	}
	// A bad BIN: the core refuses it (bad_bin).
	st := m.start.Cmd.(issuance.Start)
	st.HeadIIN = m.head
	m.start.Cmd = st
	c.Send(s.sd.Sys.Issuance(), m.start)
}

// issuanceCSRs parses the requests, keeps their DER under the
// application's directory (their SHA-256 goes into the log), and asks the
// key register whether each key was seen before.
func (s *sessionActor) issuanceCSRs(app string, in protocol.IssuanceRequests) (issuance.Command, string, string) {
	idep := s.sd.Sys.IssuanceDeps()
	out := issuance.SubmitRequests{Email: in.Email}
	if len(in.CSRs) > 2 {
		return nil, string(issuance.CodeBadCSR), "one AUTH and one SIGN request"
	}
	type file struct {
		path string
		der  []byte
	}
	var files []file
	for _, q := range in.CSRs {
		purpose := issuance.KeyPurpose(q.Purpose)
		if purpose != issuance.KeyAUTH && purpose != issuance.KeySIGN {
			return nil, string(issuance.CodeBadCSR), fmt.Sprintf("key purpose must be AUTH or SIGN, not %q", q.Purpose)
		}
		der, err := base64.StdEncoding.DecodeString(q.DER)
		if err != nil || len(der) == 0 || len(der) > 16<<10 {
			return nil, string(issuance.CodeBadCSR), "der must be base64 of a PKCS#10 request (at most 16 KiB)"
		}
		facts, _, err := ca.ParseCSR(der, purpose)
		if err != nil {
			return nil, string(issuance.CodeBadCSR), err.Error()
		}
		if seen, err := s.deps.Log.Lookup(IndexIssuanceKey, facts.Fingerprint); err == nil && len(seen) > 0 {
			facts.SeenBefore = true
		}
		if reg, ok := idep.CA.(ca.KeyRegister); ok && !facts.SeenBefore {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			certified, err := reg.KeySeen(ctx, facts.Fingerprint)
			cancel()
			// A register that does not answer holds nobody up: the CA
			// checks the key again when it signs, and refuses one it
			// certified before (the application is then rejected).
			if err != nil {
				s.log.Warn().Err(err).Msg("the CA's key register did not answer; the CA checks the key when it signs")
			}
			facts.SeenBefore = err == nil && certified
		}
		p, err := CSRPath(idep.FilesDir, app, purpose)
		if err != nil {
			return nil, CodeInternal, err.Error()
		}
		files = append(files, file{p, der})
		out.CSRs = append(out.CSRs, facts)
	}
	for _, f := range files {
		if err := writeSynced(f.path, f.der); err != nil {
			return nil, CodeInternal, "the request could not be stored; try again"
		}
	}
	return out, "", ""
}

// writeSynced writes b to path durably (the directory made if need be).
func writeSynced(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	defer func() {
		if err == nil { // the new name is durable too
			var d *os.File
			if d, err = os.Open(dir); err == nil {
				err = d.Sync()
				d.Close()
			}
		}
	}()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
