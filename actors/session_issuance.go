package actors

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/ca"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/legalreg"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
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

// staffQueues are the queues of the signed-in staff member's roles.
func (s *sessionActor) staffQueues() []StaffQueue {
	var qs []StaffQueue
	for _, r := range s.staffRoles() {
		switch r {
		case accounts.RoleRegistrar:
			qs = append(qs, QueueRegistration)
		case accounts.RoleModerator:
			qs = append(qs, QueueModeration)
		}
	}
	return qs
}

// staffMode is operator mode for staff: available, away, or decline the
// case offered.
func (s *sessionActor) staffMode(c *actor.Context, env protocol.Envelope) {
	st, deps := s.iss(), s.sd.Sys.IssuanceDeps()
	qs := s.staffQueues()
	if len(qs) == 0 {
		s.fail(env, string(issuance.CodeForbidden), "operator mode is for registrars and moderators")
		return
	}
	if env.Name == "decline" {
		q, ok := st.offers[env.Act]
		if !ok {
			s.fail(env, protocol.CodeNotOffered, "this case is not offered to you")
			return
		}
		c.Send(deps.desk(q), StaffDecline{Queue: q, Login: s.me.ID, AppID: env.Act})
	} else {
		for _, q := range qs {
			if !st.joined[q] {
				st.joined[q] = true
				c.Send(deps.desk(q), StaffJoin{Queue: q, Login: s.me.ID, Session: c.PID()})
			}
			c.Send(deps.desk(q), StaffMode{Queue: q, Login: s.me.ID, Available: env.Name == "available"})
		}
	}
	s.send(protocol.Envelope{Type: protocol.TypeAck, ID: env.ID, Act: env.Act})
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

// staffRoles are the staff roles of the signed-in account (notary or
// staff), if any: a notary's account without them has none.
func (s *sessionActor) staffRoles() []string {
	if !s.signedIn || (s.me.Role != act.RoleNotary && s.me.Role != act.RoleStaff) || s.sd.Accounts == nil {
		return nil
	}
	n, ok := s.sd.Accounts.Get(s.me.ID)
	if !ok || accountRole(n) != s.me.Role {
		return nil
	}
	return n.StaffRoles()
}

// staff is the session's actor for a staff request needing role.
func (s *sessionActor) staff(env protocol.Envelope, role string, as issuance.Role) (issuance.Actor, bool) {
	for _, r := range s.staffRoles() {
		if r == role {
			return issuance.Actor{Role: as, ID: s.me.ID}, true
		}
	}
	s.fail(env, string(issuance.CodeForbidden), "this needs an account with the %s role", role)
	return issuance.Actor{}, false
}

// issuanceReader is who reads an application: its applicant, or staff.
func (s *sessionActor) issuanceReader(env protocol.Envelope) (issuance.Actor, bool) {
	if who, ok := s.iss().apps[env.Act]; ok {
		return issuance.Actor{Role: issuance.RoleApplicant, ID: who}, true
	}
	for _, r := range s.staffRoles() {
		switch r {
		case accounts.RoleModerator:
			return issuance.Actor{Role: issuance.RoleModerator, ID: s.me.ID}, true
		case accounts.RoleRegistrar:
			return issuance.Actor{Role: issuance.RoleOperator, ID: s.me.ID}, true
		}
	}
	if s.signedIn && s.cert != nil {
		return issuance.Actor{Role: issuance.RoleApprover, ID: s.me.IIN, IIN: s.me.IIN}, true
	}
	s.fail(env, string(issuance.CodeForbidden), "not your application")
	return issuance.Actor{}, false
}

// signerBIN is the BIN of the session's EDS sign-in, "" if none.
func (s *sessionActor) signerBIN() string {
	if s.cert == nil {
		return ""
	}
	cert, _, err := parseCertificates(s.cert, nil)
	if err != nil {
		return ""
	}
	sub, err := pki.SubjectOf(cert)
	if err != nil {
		return ""
	}
	return string(sub.BIN)
}

func (s *sessionActor) approver(env protocol.Envelope) (issuance.Actor, bool) {
	if !s.signedIn || s.cert == nil || s.signerBIN() == "" {
		s.fail(env, string(issuance.CodeForbidden), "approvers sign in with the EDS of their organisation")
		return issuance.Actor{}, false
	}
	return issuance.Actor{Role: issuance.RoleApprover, ID: s.me.IIN, IIN: s.me.IIN}, true
}

// approval verifies an approver's CMS and reads the facts the core decides on.
func (s *sessionActor) approval(b64 string) (issuance.Approval, string, string) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(der) == 0 {
		return issuance.Approval{}, string(issuance.CodeBadRequest), "cms must be base64 of the signed approval"
	}
	v, err := s.deps.Trust.Verify(der, pki.VerifyOptions{Purpose: pki.PurposeAny, Live: true, Now: s.deps.Now(), MaxSkew: s.deps.MaxSkew})
	if err != nil {
		return issuance.Approval{}, string(pki.CodeOf(err)), err.Error()
	}
	a := issuance.Approval{CMS: der, SignerIIN: v.IIN.String(), SignerBIN: string(v.BIN), Fingerprint: v.Fingerprint,
		ContentSHA256: issuance.SHA256Hex(v.Content), SignedAt: v.SigningTime, KeyUsage: issuance.KeyAUTH}
	if v.Certificate.KeyUsage&x509.KeyUsageContentCommitment != 0 {
		a.KeyUsage = issuance.KeySIGN
	}
	for _, r := range v.Roles {
		a.RoleOIDs = append(a.RoleOIDs, r.OID().String())
	}
	return a, "", ""
}

// issuanceQueue lists the applications waiting for staff, oldest first.
func (s *sessionActor) issuanceQueue(env protocol.Envelope) {
	phase, role := issuance.PhaseRegistrationWaiting, accounts.RoleRegistrar
	if env.Name == "moderation_queue" {
		phase, role = issuance.PhaseModeration, accounts.RoleModerator
	}
	if _, ok := s.staff(env, role, ""); !ok {
		return
	}
	cases, err := s.issuanceCases(IndexIssuancePhase, string(phase), nil)
	if err != nil {
		s.fail(env, CodeInternal, "the queue could not be read; retry")
		return
	}
	// held are the cases this staff member took and has not decided yet
	// (in any session, before a restart too): the console opens them again.
	heldPhase, mine := issuance.PhaseRegistrationCall, func(st *issuance.State) bool { return st.Operator.ID == s.me.ID }
	if role == accounts.RoleModerator {
		heldPhase, mine = issuance.PhaseModeration, func(st *issuance.State) bool { return st.Moderator.ID == s.me.ID }
	}
	held, err := s.issuanceCases(IndexIssuancePhase, string(heldPhase), mine)
	if err != nil {
		s.fail(env, CodeInternal, "the queue could not be read; retry")
		return
	}
	s.result(env, map[string]any{"cases": cases, "held": held})
}

// issuanceApprovals lists the applications of the approver's organisation
// waiting for approvals.
func (s *sessionActor) issuanceApprovals(env protocol.Envelope) {
	if _, ok := s.approver(env); !ok {
		return
	}
	cases, err := s.issuanceCases(IndexIssuanceBIN, s.signerBIN(), nil)
	if err != nil {
		s.fail(env, CodeInternal, "the list could not be read; retry")
		return
	}
	keep := cases[:0]
	for _, k := range cases {
		if k.IIN != s.me.IIN {
			keep = append(keep, k)
		}
	}
	s.result(env, map[string]any{"cases": keep})
}

// issuanceCases reads the applications under an index value from the log:
// each one's start and its latest event, oldest wait first; keep, if set,
// chooses among them.
func (s *sessionActor) issuanceCases(index, value string, keep func(*issuance.State) bool) ([]protocol.IssuanceCase, error) {
	streams, err := s.deps.Log.Lookup(index, value)
	if err != nil {
		return nil, err
	}
	cases := []protocol.IssuanceCase{}
	for _, st := range streams {
		var state issuance.State
		err := s.deps.Log.Read(st, 1, func(r eventlog.Record) error {
			e, err := issuance.DecodeEvent(r.Type, r.Payload)
			if err == nil {
				state = issuance.Apply(state, e)
			}
			return nil
		})
		if err != nil || state.Phase == issuance.PhaseNone || keep != nil && !keep(&state) {
			continue
		}
		k := protocol.IssuanceCase{Application: state.ID, Phase: string(state.Phase), IIN: state.IIN, BIN: state.BIN,
			Template: string(state.Template), WaitingSince: state.LastEventAt.UTC()}
		if state.Moderation != nil {
			k.Reason = state.Moderation.Reason
		}
		cases = append(cases, k)
	}
	sort.Slice(cases, func(i, j int) bool {
		if !cases[i].WaitingSince.Equal(cases[j].WaitingSince) {
			return cases[i].WaitingSince.Before(cases[j].WaitingSince)
		}
		return cases[i].Application < cases[j].Application
	})
	return cases, nil
}

func (s *sessionActor) result(env protocol.Envelope, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	s.send(protocol.Envelope{Type: protocol.TypeResult, ID: env.ID, Act: env.Act, Name: env.Name, Body: b})
}

// issuanceAnswer handles the application actors' answers.
func (s *sessionActor) issuanceAnswer(c *actor.Context, msg any) {
	st := s.iss()
	switch m := msg.(type) {
	case IssuanceResult:
		p, ok := st.pending[m.CommandID]
		delete(st.pending, m.CommandID)
		delete(s.inFlight, m.CommandID)
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
		p, ok := st.pending[m.Tag]
		delete(st.pending, m.Tag)
		delete(s.inFlight, m.Tag)
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
		p, ok := st.pending[m.Tag]
		delete(st.pending, m.Tag)
		delete(s.inFlight, m.Tag)
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

// closeIssuance ends the session's subscriptions to applications.
func (s *sessionActor) closeIssuance(c *actor.Context) {
	if s.issuance == nil || s.sd.Sys.Issuance() == nil {
		return
	}
	for q := range s.issuance.joined {
		c.Send(s.sd.Sys.IssuanceDeps().desk(q), StaffLeave{Queue: q, Login: s.me.ID, Session: c.PID()})
	}
	for app := range s.issuance.subs {
		c.Send(s.sd.Sys.Issuance(), IssuanceUnsubscribe{AppID: app, Subscriber: c.PID()})
	}
}

// inIssuanceCall reports whether a media message for app is about a
// registration call of this session: its own application, or a call it took.
//
// A registrar's other session (a reload, a second tab, a sign-in after a
// server restart) did not take the call itself: an application's id (an
// act's has the same form, so the log says which it is) goes to the
// application, which admits only the registrar who holds its call.
func (s *sessionActor) inIssuanceCall(app string) bool {
	if app == "" {
		return false
	}
	if s.issuance != nil {
		if _, mine := s.issuance.apps[app]; mine || s.issuance.calls[app] {
			return true
		}
	}
	if !issuance.ValidApplicationID(app) || !s.hasStaffRole(accounts.RoleRegistrar) || s.deps.Log == nil {
		return false
	}
	if seq, _, err := s.deps.Log.Head(IssuanceStreamOf(app)); err != nil || seq == 0 {
		return false
	}
	s.iss().calls[app] = true
	return true
}

// hasStaffRole reports whether the signed-in account has the staff role.
func (s *sessionActor) hasStaffRole(role string) bool {
	for _, r := range s.staffRoles() {
		if r == role {
			return true
		}
	}
	return false
}

// issuanceMedia is the signaling of a registration call.
func (s *sessionActor) issuanceMedia(c *actor.Context, env protocol.Envelope) {
	st, deps := s.iss(), s.sd.Sys.IssuanceDeps()
	var m protocol.Media
	if err := json.Unmarshal(env.Body, &m); err != nil {
		s.fail(env, protocol.CodeBadMessage, "media needs a body with kind")
		return
	}
	by := issuance.Actor{Role: issuance.RoleOperator, ID: s.me.ID}
	if who, ok := st.apps[env.Act]; ok {
		by = issuance.Actor{Role: issuance.RoleApplicant, ID: who}
	}
	if m.Kind == "join" {
		if !s.admit(env) {
			return
		}
		s.inFlight[env.ID] = "join"
		c.Send(s.sd.Sys.Issuance(), IssuanceJoin{AppID: env.Act, Actor: by, Session: c.PID(), Tag: env.ID, Offers: m.Offers})
		return
	}
	in := IssuanceMediaIn{AppID: env.Act, Participant: callParticipant(by), Session: c.PID(), Tag: env.ID, Kind: m.Kind, SDP: m.SDP}
	switch m.Kind {
	case "answer", "offer":
		if m.SDP == "" || len(m.SDP) > maxSDP {
			s.fail(env, CodeBadSDP, "an %s needs sdp, of at most %d bytes", m.Kind, maxSDP)
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
	if deps.calls == nil {
		s.fail(env, CodeMediaUnavailable, "this server runs no video calls")
		return
	}
	c.Send(deps.calls, in)
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
