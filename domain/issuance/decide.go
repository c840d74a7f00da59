package issuance

import (
	"crypto/subtle"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/iin"
)

// Limits on free text and names in an application.
const (
	MaxTextLen  = 2000 // characters of a reason or detail
	MaxNameLen  = 255  // bytes of an upload's stored name
	MaxEmailLen = 254  // bytes of an e-mail address (RFC 5321)
	HashLen     = 32   // bytes of a one-time code's keyed hash (HMAC-SHA-256)
)

// Decide validates cmd, sent by actor by at time now, against s, and returns
// the events it produces (possibly none, for an idempotent repeat), or an
// *Error. It never changes s. The one case with both events and an error is
// a wrong one-time code (see the package comment).
func Decide(s State, by Actor, cmd Command, now time.Time, r Rules) ([]Event, error) {
	allowed, ok := roles[cmd.CommandName()]
	if !ok {
		return nil, refuse(CodeUnknownCommand, "unknown command %q", cmd.CommandName())
	}
	if !hasRole(allowed, by.Role) {
		return nil, refuse(CodeForbidden, "a %s cannot %s", by.Role, cmd.CommandName())
	}
	if c, ok := cmd.(Start); ok {
		return decideStart(&s, by, c, now)
	}
	if s.Phase == PhaseNone {
		return nil, refuse(CodeNoSuchApplication, "no such application")
	}
	if by.Role == RoleApplicant && by.ID != s.Applicant.ID {
		return nil, refuse(CodeForbidden, "this is another applicant's application")
	}
	if c, ok := cmd.(RecordCall); ok {
		return decideRecordCall(&s, c, now) // the files of a call are facts in any phase
	}
	if c, ok := cmd.(RecordEmail); ok {
		return decideRecordEmail(&s, c, now) // after the final certificates_issued
	}
	if s.Phase.Final() {
		return nil, refuse(CodeNotAllowedInState, "the application is %s", s.Phase)
	}
	switch c := cmd.(type) {
	case RecordPhoneLookup, IssueCode, VerifyCode, RequestRegistration, TakeRegistration, RecordRegistration:
		return decidePhone(&s, by, c, now, r)
	case ChooseDocument, RecordUpload, RecordLiveness, RecordRecognition, ConfirmFields, RecordFaceMatch,
		TakeModeration, Moderate:
		return decideIdentity(&s, by, c, now, r)
	case SubmitRequests:
		return decideRequests(&s, c, now, r)
	case Approve:
		return decideApproval(&s, by, c.Approval, now)
	case SendToCA:
		if s.Phase != PhaseIdentified {
			return nil, refuse(CodeNotAllowedInState, "only an identified application goes to the CA (it is %s)", s.Phase)
		}
		if err := checkText("reference", c.Reference, false); err != nil {
			return nil, err
		}
		return []Event{SentToCA{Reference: c.Reference, At: now}}, nil
	case RecordCertificates:
		return decideCertificates(&s, c, now)
	case Reject:
		return decideReject(&s, by, c, now)
	case Expire:
		// At the CA the outcome is the CA's: certificates it issued must
		// still be recorded, so an application there does not expire.
		if s.Phase == PhaseSigning {
			return nil, refuse(CodeNotAllowedInState, "the application is at the CA")
		}
		if after := r.ExpiresAfter(&s); after <= 0 || now.Sub(s.CreatedAt) < after {
			return nil, refuse(CodeNotDue, "the application is not due to expire")
		}
		return []Event{ApplicationExpired{At: now}}, nil
	}
	return nil, refuse(CodeUnknownCommand, "unknown command %q", cmd.CommandName())
}

func hasRole(rs []Role, r Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func decideStart(s *State, by Actor, c Start, now time.Time) ([]Event, error) {
	if s.Phase != PhaseNone {
		return nil, refuse(CodeNotAllowedInState, "the application is already started")
	}
	if !ValidApplicationID(c.ApplicationID) {
		return nil, refuse(CodeBadApplicationID, "application id %q is not one the server made", c.ApplicationID)
	}
	if by.ID == "" {
		return nil, refuse(CodeBadRequest, "the applicant's session is missing")
	}
	switch c.Kind {
	case KindIndividual:
		if c.Template != "" || c.BIN != "" {
			return nil, refuse(CodeBadTemplate, "an individual has no template and no BIN")
		}
	case KindLegalEntity:
		if !c.Template.valid() {
			return nil, refuse(CodeBadTemplate, "unknown template %q", c.Template)
		}
		if _, err := iin.ParseBIN(c.BIN); err != nil {
			return nil, refuse(numberCode(err, CodeBadBIN), "%v", err)
		}
	default:
		return nil, refuse(CodeBadKind, "kind must be individual or legal_entity, not %q", c.Kind)
	}
	if _, err := iin.ParseIIN(c.IIN); err != nil {
		return nil, refuse(numberCode(err, CodeBadIIN), "%v", err)
	}
	if c.Template == TemplateFirstHead && c.HeadIIN != c.IIN {
		return nil, refuse(CodeNotFirstHead, "the register of legal entities does not name this IIN as the organisation's first head")
	}
	return []Event{Started{ApplicationID: c.ApplicationID, Kind: c.Kind, Template: c.Template, BIN: c.BIN,
		IIN: c.IIN, Applicant: Actor{Role: RoleApplicant, ID: by.ID}, At: now}}, nil
}

func decidePhone(s *State, by Actor, cmd Command, now time.Time, r Rules) ([]Event, error) {
	switch c := cmd.(type) {
	case RecordPhoneLookup:
		if s.Phase != PhasePhone {
			return nil, refuse(CodeNotAllowedInState, "the phone is not being looked up (application is %s)", s.Phase)
		}
		if !c.Found {
			return []Event{PhoneNotFound{At: now}}, nil
		}
		p, ok := act.NormalizePhone(c.Phone)
		if !ok {
			return nil, refuse(CodeBadPhone, "БМГ answered a phone that is not a Kazakh mobile number")
		}
		return []Event{PhoneFound{Phone: p, At: now}}, nil

	case IssueCode:
		if s.Phase != PhasePhone {
			return nil, refuse(CodeNotAllowedInState, "no code is needed (application is %s)", s.Phase)
		}
		if s.Phone == "" {
			return nil, refuse(CodePhoneUnknown, "no phone in the mobile-citizen database for this IIN; register by a video call")
		}
		if len(c.Hash) != HashLen {
			return nil, refuse(CodeBadRequest, "a code's keyed hash is %d bytes", HashLen)
		}
		if s.Code != nil && now.Before(s.Code.ExpiresAt) && s.Code.Tries < r.OTPMaxTries {
			return nil, refuse(CodeResendTooEarly, "a new code can be sent in %d s", int(s.Code.ExpiresAt.Sub(now).Seconds()+0.999))
		}
		own, oldest := 0, time.Time{}
		for _, at := range s.CodesSent {
			if now.Sub(at) < r.OTPWindow {
				if own == 0 {
					oldest = at
				}
				own++
			}
		}
		if own >= r.OTPPerWindow {
			return nil, refuse(CodeOTPLocked, "too many codes; try again after %s", oldest.Add(r.OTPWindow).UTC().Format(time.RFC3339))
		}
		if c.SentForIIN >= r.OTPPerWindow {
			return nil, refuse(CodeOTPLocked, "too many codes for this IIN; try again later")
		}
		return []Event{CodeIssued{Hash: append([]byte(nil), c.Hash...), At: now, ExpiresAt: now.Add(r.OTPTTL)}}, nil

	case VerifyCode:
		if s.Phase != PhasePhone {
			return nil, refuse(CodeNotAllowedInState, "no code is awaited (application is %s)", s.Phase)
		}
		if s.Code == nil || s.Code.Tries >= r.OTPMaxTries {
			return nil, refuse(CodeNoCode, "no code is outstanding; ask for a new one")
		}
		if !now.Before(s.Code.ExpiresAt) {
			return nil, refuse(CodeCodeExpired, "the code has expired; ask for a new one")
		}
		if len(c.Hash) != HashLen {
			return nil, refuse(CodeBadRequest, "a code's keyed hash is %d bytes", HashLen)
		}
		if subtle.ConstantTimeCompare(c.Hash, s.Code.Hash) == 1 {
			return []Event{PhoneVerified{Phone: s.Phone, Via: "code", At: now}}, nil
		}
		tries := s.Code.Tries + 1
		return []Event{CodeRejected{Tries: tries, At: now}},
			refuse(CodeWrongCode, "wrong code; %d tries left", max(r.OTPMaxTries-tries, 0))

	case RequestRegistration:
		if s.Phase != PhasePhone {
			return nil, refuse(CodeNotAllowedInState, "registration is for a phone not yet confirmed (application is %s)", s.Phase)
		}
		return []Event{RegistrationRequested{At: now}}, nil

	case TakeRegistration:
		if s.Phase != PhaseRegistrationWaiting {
			return nil, refuse(CodeNotAllowedInState, "no registration call is waiting (application is %s)", s.Phase)
		}
		return []Event{RegistrationTaken{Operator: by, At: now}}, nil

	case RecordRegistration:
		if s.Phase != PhaseRegistrationCall {
			return nil, refuse(CodeNotAllowedInState, "no registration call is active (application is %s)", s.Phase)
		}
		if by.ID != s.Operator.ID {
			return nil, refuse(CodeWrongOperator, "the call is another operator's")
		}
		if err := checkText("reason", c.Reason, !c.Success); err != nil {
			return nil, err
		}
		if !c.Success {
			return []Event{RegistrationRecorded{Operator: by, Reason: c.Reason, At: now}}, nil
		}
		p, ok := act.NormalizePhone(c.Phone)
		if !ok {
			return nil, refuse(CodeBadPhone, "the phone is not a Kazakh mobile number (+7 7XX XXX XX XX)")
		}
		return []Event{
			RegistrationRecorded{Operator: by, Success: true, Phone: p, Reason: c.Reason, At: now},
			PhoneVerified{Phone: p, Via: "operator", At: now},
		}, nil
	}
	return nil, refuse(CodeUnknownCommand, "unknown command %q", cmd.CommandName())
}

// documentPurposes are the photos each document needs.
var documentPurposes = map[DocumentKind][]Purpose{
	DocumentIDCard:   {PurposeDocumentFront, PurposeDocumentBack},
	DocumentPassport: {PurposePassportPage},
}

func decideIdentity(s *State, by Actor, cmd Command, now time.Time, r Rules) ([]Event, error) {
	switch cmd.(type) {
	case TakeModeration, Moderate:
		return decideModeration(s, by, cmd, now)
	}
	if s.Phase != PhaseIdentity {
		return nil, refuse(CodeNotAllowedInState, "Digital ID is not under way (application is %s)", s.Phase)
	}
	switch c := cmd.(type) {
	case ChooseDocument:
		if _, ok := documentPurposes[c.Kind]; !ok {
			return nil, refuse(CodeBadDocumentKind, "document must be id_card or passport, not %q", c.Kind)
		}
		if c.Kind == s.Document {
			return nil, nil
		}
		return []Event{DocumentChosen{Kind: c.Kind, At: now}}, nil

	case RecordUpload:
		if err := checkUpload(s, c.Upload, r); err != nil {
			return nil, err
		}
		return []Event{UploadRecorded{Upload: c.Upload, At: now}}, nil

	case RecordLiveness:
		v, ok := s.Uploads[PurposeLiveness]
		if !ok {
			return nil, refuse(CodeMissingUpload, "no liveness video yet")
		}
		if err := checkText("detail", c.Detail, false); err != nil {
			return nil, err
		}
		return []Event{LivenessChecked{Passed: c.Passed, Detail: c.Detail, Video: v.SHA256, At: now}}, nil

	case RecordRecognition:
		if err := needDocument(s); err != nil {
			return nil, err
		}
		if c.Fields.Kind != s.Document {
			return nil, refuse(CodeBadDocumentKind, "recognised a %q, the applicant chose %q", c.Fields.Kind, s.Document)
		}
		if c.Fields.IIN != s.IIN {
			return nil, refuse(CodeIdentityMismatch, "the document belongs to another IIN")
		}
		return []Event{DocumentRecognised{Fields: c.Fields, At: now}}, nil

	case ConfirmFields:
		if s.Recognised == nil {
			return nil, refuse(CodeNotAllowedInState, "nothing is recognised yet")
		}
		if c.Fields != *s.Recognised {
			return nil, refuse(CodeFieldsMismatch, "the confirmed fields are not the recognised ones")
		}
		if s.Confirmed {
			return nil, nil
		}
		return []Event{FieldsConfirmed{At: now}}, nil

	case RecordFaceMatch:
		selfie, ok := s.Uploads[PurposeSelfie]
		if !ok {
			return nil, refuse(CodeMissingUpload, "no selfie yet")
		}
		if s.Liveness == nil {
			return nil, refuse(CodeNotAllowedInState, "the liveness check comes before the face match")
		}
		if !s.Confirmed {
			return nil, refuse(CodeNotAllowedInState, "the document fields must be confirmed before the face match")
		}
		if err := checkText("detail", c.Detail, false); err != nil {
			return nil, err
		}
		evs := []Event{FaceMatched{Match: c.Match, Detail: c.Detail, Selfie: selfie.SHA256, At: now}}
		switch {
		case !s.Liveness.Passed:
			evs = append(evs, ModerationRequested{Reason: "liveness_failed", At: now})
		case !c.Match:
			evs = append(evs, ModerationRequested{Reason: "face_mismatch", At: now})
		default:
			evs = append(evs, IdentityVerified{Via: "digital_id", Subject: BuildSubject(s, *s.Recognised), At: now})
		}
		return evs, nil
	}
	return nil, refuse(CodeUnknownCommand, "unknown command %q", cmd.CommandName())
}

func needDocument(s *State) error {
	need, ok := documentPurposes[s.Document]
	if !ok {
		return refuse(CodeNotAllowedInState, "choose the identity document first")
	}
	for _, p := range need {
		if _, ok := s.Uploads[p]; !ok {
			return refuse(CodeMissingUpload, "no %s photo yet", p)
		}
	}
	return nil
}

func checkUpload(s *State, u Upload, r Rules) error {
	var video bool
	switch u.Purpose {
	case PurposeSelfie:
	case PurposeLiveness:
		video = true
	case PurposeDocumentFront, PurposeDocumentBack, PurposePassportPage:
		if !hasPurpose(documentPurposes[s.Document], u.Purpose) {
			return refuse(CodeBadDocumentKind, "a %s photo does not belong to the chosen document %q", u.Purpose, s.Document)
		}
	default:
		return refuse(CodeBadUpload, "unknown upload purpose %q", u.Purpose)
	}
	if u.Name == "" || len(u.Name) > MaxNameLen || strings.ContainsAny(u.Name, "/\\\x00") || strings.HasPrefix(u.Name, ".") {
		return refuse(CodeBadUpload, "an upload's stored name must be a plain file name")
	}
	if !isHex64(u.SHA256) {
		return refuse(CodeBadUpload, "an upload's SHA-256 must be 64 lower-case hex digits")
	}
	if u.Size <= 0 {
		return refuse(CodeBadUpload, "an upload's size must be positive")
	}
	limit := r.MaxImageBytes
	if video {
		if u.Type != TypeWebM {
			return refuse(CodeUploadType, "a liveness video must be WebM, not %q", u.Type)
		}
		limit = r.MaxVideoBytes
	} else if u.Type != TypeJPEG && u.Type != TypePNG {
		return refuse(CodeUploadType, "a photo must be JPEG or PNG, not %q", u.Type)
	}
	if u.Size > limit {
		return refuse(CodeUploadTooLarge, "a %s may be at most %d bytes", u.Purpose, limit)
	}
	if s.Attempts[u.Purpose] >= r.MaxUploadsPerPurpose {
		return refuse(CodeTooManyUploads, "at most %d attempts at the %s", r.MaxUploadsPerPurpose, u.Purpose)
	}
	return nil
}

func hasPurpose(ps []Purpose, p Purpose) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

func isHex64(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func decideModeration(s *State, by Actor, cmd Command, now time.Time) ([]Event, error) {
	if s.Phase != PhaseModeration {
		return nil, refuse(CodeNotAllowedInState, "the application is not in moderation (it is %s)", s.Phase)
	}
	switch c := cmd.(type) {
	case TakeModeration:
		switch s.Moderator.ID {
		case "":
			return []Event{ModerationTaken{Moderator: by, At: now}}, nil
		case by.ID:
			return nil, nil
		}
		return nil, refuse(CodeWrongOperator, "the case is another moderator's")
	case Moderate:
		if s.Moderator.ID == "" {
			return nil, refuse(CodeNotAllowedInState, "take the case first")
		}
		if s.Moderator.ID != by.ID {
			return nil, refuse(CodeWrongOperator, "the case is another moderator's")
		}
		if err := checkText("reason", c.Reason, true); err != nil {
			return nil, err
		}
		evs := []Event{ModerationDecided{Moderator: by, Approve: c.Approve, Reason: c.Reason, At: now}}
		if !c.Approve {
			return append(evs, ApplicationRejected{By: by.String(), Reason: c.Reason, At: now}), nil
		}
		if s.Recognised == nil {
			return nil, refuse(CodeNotAllowedInState, "no confirmed document to build the subject from")
		}
		return append(evs, IdentityVerified{Via: "moderator", Subject: BuildSubject(s, *s.Recognised), At: now}), nil
	}
	return nil, refuse(CodeUnknownCommand, "unknown command %q", cmd.CommandName())
}

func decideRequests(s *State, c SubmitRequests, now time.Time, r Rules) ([]Event, error) {
	if s.Phase != PhaseApplication {
		return nil, refuse(CodeNotAllowedInState, "requests are sent once the identity is verified (application is %s)", s.Phase)
	}
	if c.Email != "" && !validEmail(c.Email) {
		return nil, refuse(CodeBadEmail, "the e-mail address is malformed")
	}
	if len(c.CSRs) != 2 {
		return nil, refuse(CodeBadCSR, "one AUTH and one SIGN request are needed, got %d requests", len(c.CSRs))
	}
	seen := map[string]bool{}
	purposes := map[KeyPurpose]bool{}
	for _, q := range c.CSRs {
		if q.Purpose != KeyAUTH && q.Purpose != KeySIGN {
			return nil, refuse(CodeBadCSR, "key purpose must be AUTH or SIGN, not %q", q.Purpose)
		}
		if purposes[q.Purpose] {
			return nil, refuse(CodeBadCSR, "two %s requests", q.Purpose)
		}
		purposes[q.Purpose] = true
		if q.Algorithm == "" || !isHex64(q.Fingerprint) || !isHex64(q.SHA256) {
			return nil, refuse(CodeBadCSR, "a request needs its algorithm, public-key fingerprint and SHA-256")
		}
		if q.KeyBits < r.MinKeyBits {
			return nil, refuse(CodeWeakKey, "a %d-bit key is too short; at least %d bits", q.KeyBits, r.MinKeyBits)
		}
		if q.SeenBefore || seen[q.Fingerprint] {
			return nil, refuse(CodeKeyReused, "the %s public key was used before; make a new key pair", q.Purpose)
		}
		seen[q.Fingerprint] = true
		if q.SubjectIIN != s.IIN || q.SubjectBIN != s.BIN {
			return nil, refuse(CodeSubjectMismatch, "the %s request names another person or organisation than the verified one", q.Purpose)
		}
	}
	evs := []Event{RequestsSubmitted{Email: c.Email, CSRs: append([]CSR(nil), c.CSRs...), At: now}}
	if !s.NeedsApprovals() {
		evs = append(evs, ApplicationIdentified{At: now})
	}
	return evs, nil
}

// validEmail is a shape check, not RFC 5322: one @, a local part, a domain
// with a dot, no spaces or control characters. The CA mails the
// certificates there, so a typo is what it guards against.
func validEmail(e string) bool {
	if len(e) > MaxEmailLen || !utf8.ValidString(e) {
		return false
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || strings.Contains(domain, "@") {
		return false
	}
	if i := strings.LastIndexByte(domain, '.'); i <= 0 || i == len(domain)-1 {
		return false
	}
	for _, r := range e {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

func decideApproval(s *State, by Actor, a Approval, now time.Time) ([]Event, error) {
	if s.Phase != PhaseApprovals {
		return nil, refuse(CodeNotAllowedInState, "no approval is awaited (application is %s)", s.Phase)
	}
	step := s.NextApproval()
	if step == "" {
		return nil, refuse(CodeNotAllowedInState, "no approval is awaited")
	}
	if len(a.CMS) == 0 || a.SignerIIN == "" {
		return nil, refuse(CodeBadRequest, "an approval needs its CMS and signer")
	}
	if a.SignerIIN != by.IIN {
		return nil, refuse(CodeSignerMismatch, "the approval is signed by someone else than the approver")
	}
	if a.SignerIIN == s.IIN {
		return nil, refuse(CodeSelfApproval, "the applicant cannot approve their own application")
	}
	switch a.KeyUsage {
	case KeySIGN:
	case KeyAUTH:
		return nil, refuse(CodeAuthKey, "an approval must be signed with a signing (RSA/GOST) key, not an authentication key")
	default:
		return nil, refuse(CodeBadRequest, "unknown key usage %q", a.KeyUsage)
	}
	if a.SignerBIN != s.BIN {
		return nil, refuse(CodeOtherBIN, "the approver works for another organisation")
	}
	switch step {
	case StepHR:
		if !a.hasRole(OIDHR) {
			if a.hasRole(OIDFirstHead) {
				return nil, refuse(CodeApprovalOrder, "the HR employee approves before the first head")
			}
			return nil, refuse(CodeWrongRole, "the approver is not an HR employee of the organisation")
		}
	case StepFirstHead:
		if !a.hasRole(OIDFirstHead) {
			return nil, refuse(CodeWrongRole, "the approver is not the organisation's first head")
		}
	}
	if a.ContentSHA256 != SHA256Hex(ApprovalBytes(s, step)) {
		return nil, refuse(CodeContentMismatch, "the approval is over other content than this application's %s approval", step)
	}
	evs := []Event{ApprovalRecorded{Step: step, Approval: a, At: now}}
	if step == StepFirstHead {
		evs = append(evs, ApplicationIdentified{At: now})
	}
	return evs, nil
}

func decideCertificates(s *State, c RecordCertificates, now time.Time) ([]Event, error) {
	if s.Phase != PhaseSigning {
		return nil, refuse(CodeNotAllowedInState, "no request is at the CA (application is %s)", s.Phase)
	}
	if len(c.Certificates) != len(s.CSRs) {
		return nil, refuse(CodeCertificateMismatch, "%d certificates for %d requests", len(c.Certificates), len(s.CSRs))
	}
	for _, q := range s.CSRs {
		found := false
		for _, crt := range c.Certificates {
			if crt.Purpose == q.Purpose && crt.Fingerprint == q.Fingerprint {
				found = true
				if crt.Serial == "" || len(crt.DER) == 0 {
					return nil, refuse(CodeBadRequest, "a certificate needs its serial and DER")
				}
			}
		}
		if !found {
			return nil, refuse(CodeCertificateMismatch, "no %s certificate for the requested key", q.Purpose)
		}
	}
	return []Event{CertificatesIssued{Certificates: append([]Certificate(nil), c.Certificates...), At: now}}, nil
}

func decideReject(s *State, by Actor, c Reject, now time.Time) ([]Event, error) {
	switch by.Role {
	case RoleOperator:
		if s.Phase != PhaseRegistrationCall || s.Operator.ID != by.ID {
			return nil, refuse(CodeWrongOperator, "an operator rejects only in their own registration call")
		}
	case RoleModerator:
		if s.Phase != PhaseModeration || s.Moderator.ID != by.ID {
			return nil, refuse(CodeWrongOperator, "a moderator rejects only a case they took")
		}
	}
	if err := checkText("reason", c.Reason, true); err != nil {
		return nil, err
	}
	return []Event{ApplicationRejected{By: by.String(), Reason: c.Reason, At: now}}, nil
}

func checkText(field, v string, required bool) error {
	if strings.TrimSpace(v) == "" {
		if required {
			return refuse(CodeReasonRequired, "a %s is required", field)
		}
		return nil
	}
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > MaxTextLen {
		return refuse(CodeBadRequest, "the %s must be valid text of at most %d characters", field, MaxTextLen)
	}
	return nil
}
