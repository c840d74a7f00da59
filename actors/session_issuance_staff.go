package actors

import (
	"crypto/x509"
	"encoding/base64"
	"sort"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/transport/protocol"
)

// The staff's and the approvers' side of issuance on the session: operator
// mode, queues, cases, and who may act as what.

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

// hasStaffRole reports whether the signed-in account has the staff role.
func (s *sessionActor) hasStaffRole(role string) bool {
	for _, r := range s.staffRoles() {
		if r == role {
			return true
		}
	}
	return false
}
