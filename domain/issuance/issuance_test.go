package issuance

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	t0        = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rules     = DefaultRules()
	appID     = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	applicant = Actor{Role: RoleApplicant, ID: "sess-1"}
	intruder  = Actor{Role: RoleApplicant, ID: "sess-2"}
	operator  = Actor{Role: RoleOperator, ID: "kenes-1"}
	operator2 = Actor{Role: RoleOperator, ID: "kenes-2"}
	moderator = Actor{Role: RoleModerator, ID: "mod-1"}
	mod2      = Actor{Role: RoleModerator, ID: "mod-2"}
	system    = Actor{Role: RoleSystem}
	hrIIN     = "760212350620"
	headIIN   = "061211600012"
	hr        = Actor{Role: RoleApprover, ID: hrIIN, IIN: hrIIN}
	head      = Actor{Role: RoleApprover, ID: headIIN, IIN: headIIN}
)

const (
	personIIN = "871008401427"
	orgBIN    = "990240005438"
	otherBIN  = "940140000385"
)

// otp is the keyed hash the shell would compute for a code.
func otp(code string) []byte {
	m := hmac.New(sha256.New, []byte("test key"))
	m.Write([]byte(code))
	return m.Sum(nil)
}

func hex64(c byte) string { return strings.Repeat(string(c), 64) }

func upload(p Purpose, typ FileType, size int64) Upload {
	return Upload{Purpose: p, Name: string(p) + ".bin", SHA256: hex64('a'), Size: size, Type: typ}
}

func fields() DocumentFields {
	return DocumentFields{Kind: DocumentIDCard, IIN: personIIN, Surname: "Сейтқали", Name: "Әйгерім", Patronymic: "Нұрланқызы",
		BirthDate: "1987-10-08", Number: "043521987", ValidUntil: "2031-05-01"}
}

func csrs(bin string) []CSR {
	return []CSR{
		{Purpose: KeyAUTH, Algorithm: "RSA", KeyBits: 2048, Fingerprint: hex64('1'), SubjectIIN: personIIN, SubjectBIN: bin, SHA256: hex64('3')},
		{Purpose: KeySIGN, Algorithm: "RSA", KeyBits: 2048, Fingerprint: hex64('2'), SubjectIIN: personIIN, SubjectBIN: bin, SHA256: hex64('4')},
	}
}

func approval(signer, bin string, usage KeyPurpose, content []byte, roles ...string) Approval {
	return Approval{CMS: []byte{0x30}, SignerIIN: signer, SignerBIN: bin, RoleOIDs: roles, KeyUsage: usage,
		Fingerprint: hex64('f'), ContentSHA256: SHA256Hex(content), SignedAt: t0}
}

type step struct {
	name string
	by   Actor
	cmd  func(s *State) Command
}

func start(kind Kind, tpl Template, bin string) step {
	return step{"started", applicant, func(*State) Command {
		c := Start{ApplicationID: appID, Kind: kind, Template: tpl, BIN: bin, IIN: personIIN}
		if tpl == TemplateFirstHead {
			c.HeadIIN = personIIN
		}
		return c
	}}
}

// The common path from the phone lookup to the verified identity.
var identify = []step{
	{"looked_up", system, func(*State) Command { return RecordPhoneLookup{Found: true, Phone: "+7 701 234 56 78"} }},
	{"code_sent", system, func(*State) Command { return IssueCode{Hash: otp("123456")} }},
	{"phone_ok", applicant, func(*State) Command { return VerifyCode{Hash: otp("123456")} }},
	{"doc_chosen", applicant, func(*State) Command { return ChooseDocument{Kind: DocumentIDCard} }},
	{"selfie", system, func(*State) Command { return RecordUpload{Upload: upload(PurposeSelfie, TypeJPEG, 1000)} }},
	{"video", system, func(*State) Command { return RecordUpload{Upload: upload(PurposeLiveness, TypeWebM, 100000)} }},
	{"live", system, func(*State) Command { return RecordLiveness{Passed: true} }},
	{"front", system, func(*State) Command { return RecordUpload{Upload: upload(PurposeDocumentFront, TypePNG, 1000)} }},
	{"back", system, func(*State) Command { return RecordUpload{Upload: upload(PurposeDocumentBack, TypePNG, 1000)} }},
	{"recognised", system, func(*State) Command { return RecordRecognition{Fields: fields()} }},
	{"confirmed", applicant, func(*State) Command { return ConfirmFields{Fields: fields()} }},
	{"verified", system, func(*State) Command { return RecordFaceMatch{Match: true} }},
}

func individualPath() []step {
	p := append([]step{start(KindIndividual, "", "")}, identify...)
	return append(p,
		step{"submitted", applicant, func(*State) Command { return SubmitRequests{Email: "a@example.kz", CSRs: csrs("")} }},
		step{"at_ca", system, func(*State) Command { return SendToCA{Reference: "ca-1"} }},
		step{"issued", system, func(s *State) Command { return RecordCertificates{Certificates: certs(s)} }},
	)
}

func employeePath() []step {
	p := append([]step{start(KindLegalEntity, TemplateEmployee, orgBIN)}, identify...)
	return append(p,
		step{"submitted", applicant, func(*State) Command { return SubmitRequests{CSRs: csrs(orgBIN)} }},
		step{"hr_ok", hr, func(s *State) Command {
			return Approve{Approval: approval(hrIIN, orgBIN, KeySIGN, ApprovalBytes(s, StepHR), OIDHR)}
		}},
		step{"head_ok", head, func(s *State) Command {
			return Approve{Approval: approval(headIIN, orgBIN, KeySIGN, ApprovalBytes(s, StepFirstHead), OIDFirstHead)}
		}},
		step{"at_ca", system, func(*State) Command { return SendToCA{} }},
	)
}

func certs(s *State) []Certificate {
	var out []Certificate
	for i, q := range s.CSRs {
		out = append(out, Certificate{Purpose: q.Purpose, Serial: string(rune('1' + i)), Fingerprint: q.Fingerprint, NotAfter: t0.AddDate(1, 0, 0), DER: []byte{0x30}})
	}
	return out
}

// run applies the path up to and including the named step.
func run(t *testing.T, path []step, upto string) State {
	t.Helper()
	var s State
	for _, st := range path {
		s = mustApply(t, s, st.by, st.cmd(&s))
		if st.name == upto {
			return s
		}
	}
	if upto != "" {
		t.Fatalf("no step %q", upto)
	}
	return s
}

func mustApply(t *testing.T, s State, by Actor, cmd Command) State {
	t.Helper()
	events, err := Decide(s, by, cmd, t0, rules)
	if err != nil {
		t.Fatalf("%s by %s: %v", cmd.CommandName(), by, err)
	}
	for _, e := range events {
		s = Apply(s, e)
	}
	return s
}

func code(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestIndividualHappyPath(t *testing.T) {
	var statuses []Status
	var s State
	for _, st := range individualPath() {
		s = mustApply(t, s, st.by, st.cmd(&s))
		if n := len(statuses); n == 0 || statuses[n-1] != s.Status() {
			statuses = append(statuses, s.Status())
		}
	}
	want := []Status{StatusNew, StatusIdentified, StatusSigning, StatusIssued}
	if !reflect.DeepEqual(statuses, want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	if s.Phone != "+77012345678" || !s.PhoneVerified {
		t.Errorf("phone %q verified %v", s.Phone, s.PhoneVerified)
	}
	if s.Subject == nil || s.Subject.SerialNumber != "IIN"+personIIN || s.Subject.CommonName != "СЕЙТҚАЛИ ӘЙГЕРІМ" || s.Subject.OrgUnit != "" {
		t.Errorf("subject %+v", s.Subject)
	}
	if len(s.Certificates) != 2 || s.Email != "a@example.kz" || s.CAReference != "ca-1" {
		t.Errorf("certificates %d email %q ref %q", len(s.Certificates), s.Email, s.CAReference)
	}
}

func TestEmployeeNeedsHRThenFirstHead(t *testing.T) {
	path := employeePath()
	if s := run(t, path, "submitted"); s.Phase != PhaseApprovals || s.NextApproval() != StepHR {
		t.Fatalf("after requests: phase %s next %q", s.Phase, s.NextApproval())
	}
	if s := run(t, path, "hr_ok"); s.Phase != PhaseApprovals || s.NextApproval() != StepFirstHead {
		t.Fatalf("after HR: phase %s next %q", s.Phase, s.NextApproval())
	}
	s := run(t, path, "at_ca")
	if s.Status() != StatusSigning || len(s.Approvals) != 2 || s.Subject.OrgUnit != "BIN"+orgBIN {
		t.Fatalf("status %s approvals %d subject %+v", s.Status(), len(s.Approvals), s.Subject)
	}
}

func TestFirstHeadNeedsNoApproval(t *testing.T) {
	p := append([]step{start(KindLegalEntity, TemplateFirstHead, orgBIN)}, identify...)
	p = append(p, step{"submitted", applicant, func(*State) Command { return SubmitRequests{CSRs: csrs(orgBIN)} }})
	if s := run(t, p, "submitted"); s.Phase != PhaseIdentified {
		t.Fatalf("first head's application is %s", s.Phase)
	}
}

// Each transition: the events a command produces at a step, by type.
func TestTransitions(t *testing.T) {
	ind := individualPath()
	cases := []struct {
		name, at string
		by       Actor
		cmd      func(s *State) Command
		want     []string
	}{
		{"start", "", applicant, func(*State) Command { return Start{ApplicationID: appID, Kind: KindIndividual, IIN: personIIN} }, []string{"issuance_started"}},
		{"not in БМГ", "started", system, func(*State) Command { return RecordPhoneLookup{} }, []string{"phone_not_found"}},
		{"wrong code is recorded", "code_sent", applicant, func(*State) Command { return VerifyCode{Hash: otp("000000")} }, []string{"code_rejected"}},
		{"registration asked", "started", applicant, func(*State) Command { return RequestRegistration{} }, []string{"registration_requested"}},
		{"registration asked when the SMS does not come", "code_sent", applicant, func(*State) Command { return RequestRegistration{} }, []string{"registration_requested"}},
		{"same document again changes nothing", "doc_chosen", applicant, func(*State) Command { return ChooseDocument{Kind: DocumentIDCard} }, nil},
		{"another document", "front", applicant, func(*State) Command { return ChooseDocument{Kind: DocumentPassport} }, []string{"document_chosen"}},
		{"liveness failed", "video", system, func(*State) Command { return RecordLiveness{Passed: false, Detail: "нет движения"} }, []string{"liveness_checked"}},
		{"face mismatch goes to moderation", "confirmed", system, func(*State) Command { return RecordFaceMatch{Match: false} }, []string{"face_matched", "moderation_requested"}},
		{"face match verifies the identity", "confirmed", system, func(*State) Command { return RecordFaceMatch{Match: true} }, []string{"face_matched", "identity_verified"}},
		{"requests of an individual", "verified", applicant, func(*State) Command { return SubmitRequests{CSRs: csrs("")} }, []string{"requests_submitted", "application_identified"}},
		{"to the CA", "submitted", system, func(*State) Command { return SendToCA{} }, []string{"sent_to_ca"}},
		{"CA refuses", "at_ca", system, func(*State) Command { return Reject{Reason: "CA: отказ"} }, []string{"application_rejected"}},
		{"expiry", "verified", system, func(*State) Command { return Expire{} }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := State{}
			if c.at != "" {
				s = run(t, ind, c.at)
			}
			events, err := Decide(s, c.by, c.cmd(&s), t0, rules)
			if c.name == "wrong code is recorded" {
				if code(err) != CodeWrongCode {
					t.Fatalf("err %v, want wrong_code", err)
				}
			} else if c.name == "expiry" {
				if code(err) != CodeNotDue {
					t.Fatalf("err %v, want not_due", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range events {
				got = append(got, e.EventType())
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("events %v, want %v", got, c.want)
			}
		})
	}
}

func TestOneTimeCode(t *testing.T) {
	ind := individualPath()
	t.Run("three wrong tries void the code", func(t *testing.T) {
		s := run(t, ind, "code_sent")
		for i := 1; i <= rules.OTPMaxTries; i++ {
			evs, err := Decide(s, applicant, VerifyCode{Hash: otp("999999")}, t0, rules)
			if code(err) != CodeWrongCode || len(evs) != 1 {
				t.Fatalf("try %d: %v %v", i, evs, err)
			}
			s = Apply(s, evs[0])
		}
		if _, err := Decide(s, applicant, VerifyCode{Hash: otp("123456")}, t0, rules); code(err) != CodeNoCode {
			t.Fatalf("the right code after 3 wrong tries: %v", err)
		}
		// A dead code does not hold the countdown: a new one may be sent at once.
		s = mustApply(t, s, system, IssueCode{Hash: otp("654321")})
		if s = mustApply(t, s, applicant, VerifyCode{Hash: otp("654321")}); !s.PhoneVerified {
			t.Fatal("new code not accepted")
		}
	})
	t.Run("the code expires after 120 s", func(t *testing.T) {
		s := run(t, ind, "code_sent")
		if _, err := Decide(s, applicant, VerifyCode{Hash: otp("123456")}, t0.Add(rules.OTPTTL), rules); code(err) != CodeCodeExpired {
			t.Fatalf("late code: %v", err)
		}
		if _, err := Decide(s, applicant, VerifyCode{Hash: otp("123456")}, t0.Add(rules.OTPTTL-time.Second), rules); err != nil {
			t.Fatalf("code just in time: %v", err)
		}
	})
	t.Run("resend only after the countdown", func(t *testing.T) {
		s := run(t, ind, "code_sent")
		if _, err := Decide(s, system, IssueCode{Hash: otp("111111")}, t0.Add(time.Minute), rules); code(err) != CodeResendTooEarly {
			t.Fatalf("resend during the countdown: %v", err)
		}
		if _, err := Decide(s, system, IssueCode{Hash: otp("111111")}, t0.Add(rules.OTPTTL), rules); err != nil {
			t.Fatalf("resend after the countdown: %v", err)
		}
	})
	t.Run("five codes an hour, then a lockout", func(t *testing.T) {
		s := run(t, ind, "looked_up")
		at := t0
		for i := 0; i < rules.OTPPerWindow; i++ {
			evs, err := Decide(s, system, IssueCode{Hash: otp("123456")}, at, rules)
			if err != nil {
				t.Fatalf("code %d: %v", i+1, err)
			}
			s = Apply(s, evs[0])
			at = at.Add(rules.OTPTTL)
		}
		if _, err := Decide(s, system, IssueCode{Hash: otp("123456")}, at, rules); code(err) != CodeOTPLocked {
			t.Fatalf("6th code within the hour: %v", err)
		}
		if _, err := Decide(s, system, IssueCode{Hash: otp("123456")}, t0.Add(rules.OTPWindow), rules); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
	t.Run("codes of other applications of the IIN count", func(t *testing.T) {
		s := run(t, ind, "looked_up")
		if _, err := Decide(s, system, IssueCode{Hash: otp("1"), SentForIIN: rules.OTPPerWindow}, t0, rules); code(err) != CodeOTPLocked {
			t.Fatalf("IIN over its limit: %v", err)
		}
	})
	t.Run("only the keyed hash is kept", func(t *testing.T) {
		s := mustApply(t, run(t, ind, "looked_up"), system, IssueCode{Hash: otp("480917")})
		b, _ := json.Marshal(s)
		if bytes.Contains(b, []byte("480917")) || !bytes.Equal(s.Code.Hash, otp("480917")) {
			t.Fatal("the state holds the code in clear, or not its hash")
		}
	})
}

func TestRegistrationByVideoCall(t *testing.T) {
	p := []step{
		start(KindIndividual, "", ""),
		{"not_found", system, func(*State) Command { return RecordPhoneLookup{} }},
		{"queued", applicant, func(*State) Command { return RequestRegistration{} }},
		{"taken", operator, func(*State) Command { return TakeRegistration{} }},
	}
	s := run(t, p, "not_found")
	if _, err := Decide(s, system, IssueCode{Hash: otp("1")}, t0, rules); code(err) != CodePhoneUnknown {
		t.Fatalf("a code without a phone: %v", err)
	}
	s = run(t, p, "taken")
	if s.Phase != PhaseRegistrationCall || s.Operator.ID != operator.ID {
		t.Fatalf("phase %s operator %s", s.Phase, s.Operator)
	}
	if _, err := Decide(s, operator2, RecordRegistration{Success: true, Phone: "+77011112233"}, t0, rules); code(err) != CodeWrongOperator {
		t.Fatalf("another operator recorded: %v", err)
	}
	if _, err := Decide(s, operator, RecordRegistration{Success: false}, t0, rules); code(err) != CodeReasonRequired {
		t.Fatalf("failure without a reason: %v", err)
	}
	failed := mustApply(t, s, operator, RecordRegistration{Reason: "документ не показан"})
	if failed.Phase != PhasePhone || failed.RegistrationReason != "документ не показан" {
		t.Fatalf("after a failed call: %s %q", failed.Phase, failed.RegistrationReason)
	}
	ok := mustApply(t, s, operator, RecordRegistration{Success: true, Phone: "8 701 111 22 33"})
	if ok.Phase != PhaseIdentity || ok.Phone != "+77011112233" || !ok.PhoneVerified {
		t.Fatalf("after registration: %s %q %v", ok.Phase, ok.Phone, ok.PhoneVerified)
	}
}

func TestModeration(t *testing.T) {
	ind := individualPath()
	s := mustApply(t, run(t, ind, "confirmed"), system, RecordFaceMatch{Match: false})
	if s.Phase != PhaseModeration || s.Moderation.Reason != "face_mismatch" {
		t.Fatalf("phase %s", s.Phase)
	}
	if _, err := Decide(s, moderator, Moderate{Approve: true, Reason: "ok"}, t0, rules); code(err) != CodeNotAllowedInState {
		t.Fatalf("decision before taking: %v", err)
	}
	s = mustApply(t, s, moderator, TakeModeration{})
	if _, err := Decide(s, mod2, TakeModeration{}, t0, rules); code(err) != CodeWrongOperator {
		t.Fatalf("a second moderator took the case: %v", err)
	}
	if _, err := Decide(s, moderator, Moderate{Approve: true}, t0, rules); code(err) != CodeReasonRequired {
		t.Fatalf("decision without a reason: %v", err)
	}
	ok := mustApply(t, s, moderator, Moderate{Approve: true, Reason: "сходство подтверждено"})
	if ok.Phase != PhaseApplication || ok.Subject == nil {
		t.Fatalf("approved: %s", ok.Phase)
	}
	no := mustApply(t, s, moderator, Moderate{Reason: "другое лицо"})
	if no.Phase != PhaseRejected || no.Rejection != "другое лицо" || no.Status() != StatusRejected {
		t.Fatalf("rejected: %s %q", no.Phase, no.Rejection)
	}
	live := mustApply(t, run(t, ind, "video"), system, RecordLiveness{Passed: false})
	for _, st := range ind[8:13] {
		live = mustApply(t, live, st.by, st.cmd(&live))
	}
	if live.Phase != PhaseModeration || live.Moderation.Reason != "liveness_failed" {
		t.Fatalf("failed liveness: %s", live.Phase)
	}
}

func TestExpiry(t *testing.T) {
	s := run(t, individualPath(), "verified")
	if _, err := Decide(s, system, Expire{}, t0.Add(rules.ExpireAfter-time.Second), rules); code(err) != CodeNotDue {
		t.Fatalf("early expiry: %v", err)
	}
	s = mustApply2(t, s, system, Expire{}, t0.Add(rules.ExpireAfter))
	if s.Status() != StatusExpired {
		t.Fatalf("status %s", s.Status())
	}
	if _, err := Decide(s, applicant, SubmitRequests{CSRs: csrs("")}, t0, rules); code(err) != CodeNotAllowedInState {
		t.Fatalf("a command after expiry: %v", err)
	}
	atCA := run(t, individualPath(), "at_ca")
	if _, err := Decide(atCA, system, Expire{}, t0.Add(2*rules.ExpireAfter), rules); code(err) != CodeNotAllowedInState {
		t.Fatalf("an application at the CA expired: %v", err)
	}
}

// A phone that changes in БМГ voids the code sent to the old one.
func TestNewPhoneVoidsTheCode(t *testing.T) {
	s := run(t, individualPath(), "code_sent")
	s = mustApply(t, s, system, RecordPhoneLookup{Found: true, Phone: "+77770001122"})
	if _, err := Decide(s, applicant, VerifyCode{Hash: otp("123456")}, t0, rules); code(err) != CodeNoCode {
		t.Fatalf("old code for the new phone: %v", err)
	}
}

func mustApply2(t *testing.T, s State, by Actor, cmd Command, now time.Time) State {
	t.Helper()
	evs, err := Decide(s, by, cmd, now, rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		s = Apply(s, e)
	}
	return s
}

func TestRefusals(t *testing.T) {
	ind, emp := individualPath(), employeePath()
	startWith := func(f func(*Start)) func(*State) Command {
		return func(*State) Command {
			c := Start{ApplicationID: appID, Kind: KindLegalEntity, Template: TemplateHR, BIN: orgBIN, IIN: personIIN}
			f(&c)
			return c
		}
	}
	up := func(u Upload) func(*State) Command { return func(*State) Command { return RecordUpload{Upload: u} } }
	req := func(f func([]CSR)) func(*State) Command {
		return func(*State) Command { c := csrs(""); f(c); return SubmitRequests{CSRs: c} }
	}
	appr := func(signer, bin string, usage KeyPurpose, step ApprovalStep, roles ...string) func(*State) Command {
		return func(s *State) Command {
			return Approve{Approval: approval(signer, bin, usage, ApprovalBytes(s, step), roles...)}
		}
	}
	cases := []struct {
		name string
		path []step
		at   string
		by   Actor
		cmd  func(s *State) Command
		want Code
	}{
		{"bad IIN check digit", nil, "", applicant, startWith(func(c *Start) { c.IIN = "871008401428" }), CodeBadIINChecksum},
		{"bad BIN check digit", nil, "", applicant, startWith(func(c *Start) { c.BIN = "990240005439" }), CodeBadBINChecksum},
		{"IIN too short", nil, "", applicant, startWith(func(c *Start) { c.IIN = "87100840142" }), CodeBadIIN},
		{"BIN of month 13", nil, "", applicant, startWith(func(c *Start) { c.BIN = "941340000385" }), CodeBadBIN},
		{"first head by their own say", nil, "", applicant, startWith(func(c *Start) { c.Template = TemplateFirstHead }), CodeNotFirstHead},
		{"first head the register names otherwise", nil, "", applicant, startWith(func(c *Start) { c.Template = TemplateFirstHead; c.HeadIIN = headIIN }), CodeNotFirstHead},
		{"unknown kind", nil, "", applicant, startWith(func(c *Start) { c.Kind = "robot" }), CodeBadKind},
		{"legal entity without a template", nil, "", applicant, startWith(func(c *Start) { c.Template = "" }), CodeBadTemplate},
		{"individual with a template", nil, "", applicant, startWith(func(c *Start) { c.Kind = KindIndividual }), CodeBadTemplate},
		{"application id not the server's", nil, "", applicant, startWith(func(c *Start) { c.ApplicationID = "../x" }), CodeBadApplicationID},
		{"started twice", ind, "started", applicant, startWith(func(*Start) {}), CodeNotAllowedInState},
		{"no such application", nil, "", applicant, func(*State) Command { return VerifyCode{Hash: otp("1")} }, CodeNoSuchApplication},
		{"applicant cannot send system facts", ind, "started", applicant, func(*State) Command { return RecordPhoneLookup{Found: true, Phone: "+77012345678"} }, CodeForbidden},
		{"another applicant's session", ind, "code_sent", intruder, func(*State) Command { return VerifyCode{Hash: otp("123456")} }, CodeForbidden},
		{"БМГ answers a foreign number", ind, "started", system, func(*State) Command { return RecordPhoneLookup{Found: true, Phone: "+7 495 123 45 67"} }, CodeBadPhone},
		{"a code hash of the wrong size", ind, "looked_up", system, func(*State) Command { return IssueCode{Hash: []byte("123456")} }, CodeBadRequest},
		{"code before any was sent", ind, "looked_up", applicant, func(*State) Command { return VerifyCode{Hash: otp("1")} }, CodeNoCode},
		{"registration after the phone is verified", ind, "phone_ok", applicant, func(*State) Command { return RequestRegistration{} }, CodeNotAllowedInState},
		{"operator takes a call nobody asked for", ind, "started", operator, func(*State) Command { return TakeRegistration{} }, CodeNotAllowedInState},
		{"unknown document", ind, "phone_ok", applicant, func(*State) Command { return ChooseDocument{Kind: "driving_licence"} }, CodeBadDocumentKind},
		{"passport page for an ID card", ind, "doc_chosen", system, up(upload(PurposePassportPage, TypeJPEG, 10)), CodeBadDocumentKind},
		{"document photo before choosing", ind, "phone_ok", system, up(upload(PurposeDocumentFront, TypeJPEG, 10)), CodeBadDocumentKind},
		{"unknown purpose", ind, "doc_chosen", system, up(upload("tattoo", TypeJPEG, 10)), CodeBadUpload},
		{"path in the stored name", ind, "doc_chosen", system, up(Upload{Purpose: PurposeSelfie, Name: "../etc/passwd", SHA256: hex64('a'), Size: 1, Type: TypeJPEG}), CodeBadUpload},
		{"bad SHA-256", ind, "doc_chosen", system, up(Upload{Purpose: PurposeSelfie, Name: "s.jpg", SHA256: "abc", Size: 1, Type: TypeJPEG}), CodeBadUpload},
		{"empty file", ind, "doc_chosen", system, up(upload(PurposeSelfie, TypeJPEG, 0)), CodeBadUpload},
		{"selfie as a video", ind, "doc_chosen", system, up(upload(PurposeSelfie, TypeWebM, 10)), CodeUploadType},
		{"liveness as a photo", ind, "doc_chosen", system, up(upload(PurposeLiveness, TypePNG, 10)), CodeUploadType},
		{"photo too large", ind, "doc_chosen", system, up(upload(PurposeSelfie, TypeJPEG, rules.MaxImageBytes+1)), CodeUploadTooLarge},
		{"video too large", ind, "doc_chosen", system, up(upload(PurposeLiveness, TypeWebM, rules.MaxVideoBytes+1)), CodeUploadTooLarge},
		{"liveness without a video", ind, "selfie", system, func(*State) Command { return RecordLiveness{Passed: true} }, CodeMissingUpload},
		{"recognition without the back side", ind, "front", system, func(*State) Command { return RecordRecognition{Fields: fields()} }, CodeMissingUpload},
		{"someone else's document", ind, "back", system, func(*State) Command { f := fields(); f.IIN = hrIIN; return RecordRecognition{Fields: f} }, CodeIdentityMismatch},
		{"recognised a passport for an ID card", ind, "back", system, func(*State) Command { f := fields(); f.Kind = DocumentPassport; return RecordRecognition{Fields: f} }, CodeBadDocumentKind},
		{"confirmed fields changed", ind, "recognised", applicant, func(*State) Command { f := fields(); f.Surname = "Иванов"; return ConfirmFields{Fields: f} }, CodeFieldsMismatch},
		{"face match before confirming", ind, "recognised", system, func(*State) Command { return RecordFaceMatch{Match: true} }, CodeNotAllowedInState},
		{"requests before identity", ind, "confirmed", applicant, req(func([]CSR) {}), CodeNotAllowedInState},
		{"bad e-mail", ind, "verified", applicant, func(*State) Command { return SubmitRequests{Email: "a@b", CSRs: csrs("")} }, CodeBadEmail},
		{"one request only", ind, "verified", applicant, func(*State) Command { return SubmitRequests{CSRs: csrs("")[:1]} }, CodeBadCSR},
		{"two AUTH requests", ind, "verified", applicant, req(func(c []CSR) { c[1].Purpose = KeyAUTH }), CodeBadCSR},
		{"1024-bit key", ind, "verified", applicant, req(func(c []CSR) { c[0].KeyBits = 1024 }), CodeWeakKey},
		{"key certified before", ind, "verified", applicant, req(func(c []CSR) { c[1].SeenBefore = true }), CodeKeyReused},
		{"one key for both purposes", ind, "verified", applicant, req(func(c []CSR) { c[1].Fingerprint = c[0].Fingerprint }), CodeKeyReused},
		{"subject of another person", ind, "verified", applicant, req(func(c []CSR) { c[0].SubjectIIN = hrIIN }), CodeSubjectMismatch},
		{"individual's request names a BIN", ind, "verified", applicant, req(func(c []CSR) { c[0].SubjectBIN = orgBIN }), CodeSubjectMismatch},
		{"employee's request without the BIN", emp, "verified", applicant, func(*State) Command { return SubmitRequests{CSRs: csrs("")} }, CodeSubjectMismatch},
		{"approval with an AUTH key", emp, "submitted", hr, appr(hrIIN, orgBIN, KeyAUTH, StepHR, OIDHR), CodeAuthKey},
		{"approver of another BIN", emp, "submitted", hr, appr(hrIIN, otherBIN, KeySIGN, StepHR, OIDHR), CodeOtherBIN},
		{"first head before HR", emp, "submitted", head, appr(headIIN, orgBIN, KeySIGN, StepFirstHead, OIDFirstHead), CodeApprovalOrder},
		{"approver without a role", emp, "submitted", hr, appr(hrIIN, orgBIN, KeySIGN, StepHR, "1.2.398.3.3.4.1.2"), CodeWrongRole},
		{"HR approves twice", emp, "hr_ok", hr, appr(hrIIN, orgBIN, KeySIGN, StepFirstHead, OIDHR), CodeWrongRole},
		{"HR signs the first head's text", emp, "submitted", hr, appr(hrIIN, orgBIN, KeySIGN, StepFirstHead, OIDHR), CodeContentMismatch},
		{"approval signed by someone else", emp, "submitted", head, appr(hrIIN, orgBIN, KeySIGN, StepHR, OIDHR), CodeSignerMismatch},
		{"the applicant approves", emp, "submitted", Actor{Role: RoleApprover, ID: personIIN, IIN: personIIN}, appr(personIIN, orgBIN, KeySIGN, StepHR, OIDHR), CodeSelfApproval},
		{"approval of an individual", ind, "submitted", hr, appr(hrIIN, "", KeySIGN, StepHR, OIDHR), CodeNotAllowedInState},
		{"applicant cannot approve", emp, "submitted", applicant, appr(hrIIN, orgBIN, KeySIGN, StepHR, OIDHR), CodeForbidden},
		{"to the CA before approvals", emp, "hr_ok", system, func(*State) Command { return SendToCA{} }, CodeNotAllowedInState},
		{"certificate for another key", ind, "at_ca", system, func(s *State) Command {
			c := certs(s)
			c[0].Fingerprint = hex64('9')
			return RecordCertificates{Certificates: c}
		}, CodeCertificateMismatch},
		{"one certificate missing", ind, "at_ca", system, func(s *State) Command { return RecordCertificates{Certificates: certs(s)[:1]} }, CodeCertificateMismatch},
		{"issued is final", ind, "issued", system, func(*State) Command { return Reject{Reason: "x"} }, CodeNotAllowedInState},
		{"reject without a reason", ind, "at_ca", system, func(*State) Command { return Reject{} }, CodeReasonRequired},
		{"operator rejects outside a call", ind, "verified", operator, func(*State) Command { return Reject{Reason: "x"} }, CodeWrongOperator},
		{"moderator rejects a case not taken", ind, "verified", moderator, func(*State) Command { return Reject{Reason: "x"} }, CodeWrongOperator},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := State{}
			if c.at != "" {
				s = run(t, c.path, c.at)
			}
			before, _ := json.Marshal(s)
			evs, err := Decide(s, c.by, c.cmd(&s), t0, rules)
			if code(err) != c.want {
				t.Fatalf("err %v, want %s", err, c.want)
			}
			if len(evs) != 0 {
				t.Fatalf("a refusal produced events %v", evs)
			}
			if after, _ := json.Marshal(s); !bytes.Equal(before, after) {
				t.Fatal("Decide changed the state")
			}
		})
	}
}

func TestUploadAttempts(t *testing.T) {
	s := run(t, individualPath(), "doc_chosen")
	for i := 0; i < rules.MaxUploadsPerPurpose; i++ {
		s = mustApply(t, s, system, RecordUpload{Upload: upload(PurposeSelfie, TypeJPEG, 10)})
	}
	if _, err := Decide(s, system, RecordUpload{Upload: upload(PurposeSelfie, TypeJPEG, 10)}, t0, rules); code(err) != CodeTooManyUploads {
		t.Fatalf("upload beyond the attempts: %v", err)
	}
}

// A new document photo voids what was recognised from the old one.
func TestNewPhotoVoidsRecognition(t *testing.T) {
	s := run(t, individualPath(), "confirmed")
	s = mustApply(t, s, system, RecordUpload{Upload: upload(PurposeDocumentBack, TypeJPEG, 10)})
	if s.Recognised != nil || s.Confirmed {
		t.Fatal("recognition of the old photo still counts")
	}
	if _, err := Decide(s, system, RecordFaceMatch{Match: true}, t0, rules); code(err) != CodeNotAllowedInState {
		t.Fatalf("face match with unconfirmed fields: %v", err)
	}
}

// Every event survives the log: encoded, decoded and applied, it gives the same state.
func TestReplayFromTheLog(t *testing.T) {
	var live, replayed State
	for _, st := range employeePath() {
		evs, err := Decide(live, st.by, st.cmd(&live), t0, rules)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for _, e := range evs {
			live = Apply(live, e)
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			d, err := DecodeEvent(e.EventType(), b)
			if err != nil {
				t.Fatal(err)
			}
			replayed = Apply(replayed, d)
		}
	}
	a, _ := json.Marshal(live)
	b, _ := json.Marshal(replayed)
	if !bytes.Equal(a, b) {
		t.Fatalf("replayed state differs:\n%s\n%s", a, b)
	}
	if _, err := DecodeEvent("nope", nil); err == nil {
		t.Fatal("unknown event type decoded")
	}
}

func TestEveryCommandHasRoles(t *testing.T) {
	for name := range Commands() {
		if len(roles[name]) == 0 {
			t.Errorf("command %s has no roles", name)
		}
	}
	if len(roles) != len(Commands()) {
		t.Errorf("%d roles for %d commands", len(roles), len(Commands()))
	}
	if len(EventTypes()) != 28 {
		t.Errorf("%d event types", len(EventTypes()))
	}
}

// Every command, zero-valued or not, from every role, at every step of both
// paths: Decide never panics, never changes the state, and a refusal
// carries a known code and no events (but for the recorded wrong code).
func TestEveryCommandEverywhere(t *testing.T) {
	known := map[Code]bool{}
	for _, c := range Codes() {
		known[c] = true
	}
	actors := []Actor{applicant, intruder, operator, moderator, hr, head, system, {Role: "notary", ID: "x"}}
	for _, path := range [][]step{individualPath(), employeePath()} {
		var s State
		for _, st := range path {
			for _, cmd := range Commands() {
				for _, by := range actors {
					before, _ := json.Marshal(s)
					evs, err := Decide(s, by, cmd, t0, rules)
					if after, _ := json.Marshal(s); !bytes.Equal(before, after) {
						t.Fatalf("%s by %s at %s changed the state", cmd.CommandName(), by, s.Phase)
					}
					if err == nil {
						continue
					}
					if c := code(err); !known[c] {
						t.Fatalf("%s by %s at %s: code %q not in Codes()", cmd.CommandName(), by, s.Phase, c)
					}
					if len(evs) != 0 && code(err) != CodeWrongCode {
						t.Fatalf("%s by %s at %s: refusal %v with events", cmd.CommandName(), by, s.Phase, err)
					}
				}
			}
			s = mustApply(t, s, st.by, st.cmd(&s))
		}
	}
}
