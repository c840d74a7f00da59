package issuance

import "time"

// Role is the part an actor plays in an application.
type Role string

// The roles that send commands to an application.
const (
	// RoleApplicant is the person getting keys. They have no EDS yet, so
	// they are known by the session that started the application.
	RoleApplicant Role = "applicant"
	// RoleOperator is a registration-centre operator who takes the video
	// call that registers a phone in the mobile-citizen database.
	RoleOperator Role = "operator"
	// RoleModerator reviews a Digital ID that failed liveness or face match.
	RoleModerator Role = "moderator"
	// RoleApprover is an employee of the applicant's organisation (HR, then
	// the first head), signed in with their own EDS.
	RoleApprover Role = "approver"
	// RoleSystem is Senim itself: the shell that talks to the outside
	// systems (БМГ, SMS, face match, recognition, the CA) and the timers.
	RoleSystem Role = "system"
)

// Actor is who sends a command. For an applicant ID is the session id; for
// operators and moderators their login; for an approver IIN comes from the
// sign-in certificate.
type Actor struct {
	Role Role   `json:"role"`
	ID   string `json:"id"`
	IIN  string `json:"iin,omitempty"`
}

// String is the actor as the event log records it: "operator:aliya", "system".
func (a Actor) String() string {
	if a.ID == "" {
		return string(a.Role)
	}
	return string(a.Role) + ":" + a.ID
}

// Kind is who the keys are for.
type Kind string

// The kinds of applicant.
const (
	KindIndividual  Kind = "individual"
	KindLegalEntity Kind = "legal_entity"
)

// Template is the NUC registration-certificate template of a legal entity's
// employee (seed 002, step 2).
type Template string

// The templates of a legal entity.
const (
	TemplateFirstHead      Template = "first_head"
	TemplateSigningRights  Template = "signing_rights"
	TemplateFinancial      Template = "financial"
	TemplateHR             Template = "hr"
	TemplateEmployee       Template = "employee"
	TemplateTreasuryClient Template = "treasury_client"
)

func (t Template) valid() bool {
	switch t {
	case TemplateFirstHead, TemplateSigningRights, TemplateFinancial, TemplateHR, TemplateEmployee, TemplateTreasuryClient:
		return true
	}
	return false
}

// Role OIDs of NUC certificates (DOMAIN.md) that approvals depend on.
const (
	OIDFirstHead = "1.2.398.3.3.4.1.2.1"
	OIDHR        = "1.2.398.3.3.4.1.2.4"
)

// Phase is where an application stands.
type Phase string

// The phases, in the order of the flow.
const (
	PhaseNone Phase = ""
	// PhasePhone: started; the phone is looked up in БМГ and confirmed by a
	// one-time code.
	PhasePhone Phase = "phone"
	// PhaseRegistrationWaiting: in the registration desk's queue for a video call.
	PhaseRegistrationWaiting Phase = "registration_waiting"
	// PhaseRegistrationCall: an operator has taken the call.
	PhaseRegistrationCall Phase = "registration_call"
	// PhaseIdentity: Digital ID (selfie, liveness, document, face match).
	PhaseIdentity Phase = "identity"
	// PhaseModeration: waiting for a moderator after a failed check.
	PhaseModeration Phase = "moderation"
	// PhaseApplication: identity verified; the applicant sends the requests.
	PhaseApplication Phase = "application"
	// PhaseApprovals: a legal entity's employee waits for HR, then the first head.
	PhaseApprovals Phase = "approvals"
	// PhaseIdentified: status "identified by the registration centre".
	PhaseIdentified Phase = "identified"
	// PhaseSigning: status "on signing at the CA".
	PhaseSigning Phase = "signing"
	// PhaseIssued: certificates issued. Final.
	PhaseIssued Phase = "issued"
	// PhaseRejected: refused, with a reason. Final.
	PhaseRejected Phase = "rejected"
	// PhaseExpired: not finished in time. Final.
	PhaseExpired Phase = "expired"
)

// Final reports whether no command but none changes the application any more.
func (p Phase) Final() bool { return p == PhaseIssued || p == PhaseRejected || p == PhaseExpired }

// Status is the application's status as the CA's register shows it (seed 003).
type Status string

// The statuses.
const (
	StatusNew        Status = "new"
	StatusIdentified Status = "identified"
	StatusSigning    Status = "signing"
	StatusIssued     Status = "issued"
	StatusRejected   Status = "rejected"
	StatusExpired    Status = "expired"
)

// DocumentKind is the identity document chosen for Digital ID.
type DocumentKind string

// The identity documents.
const (
	DocumentIDCard   DocumentKind = "id_card"
	DocumentPassport DocumentKind = "passport"
)

// Purpose is what an uploaded file is for.
type Purpose string

// The uploads of Digital ID. An ID card needs both sides, a passport its
// photo page.
const (
	PurposeSelfie        Purpose = "selfie"
	PurposeLiveness      Purpose = "liveness"
	PurposeDocumentFront Purpose = "document_front"
	PurposeDocumentBack  Purpose = "document_back"
	PurposePassportPage  Purpose = "passport_page"
)

// FileType is an upload's content type, as the shell sniffed it.
type FileType string

// The file types uploads may have.
const (
	TypeJPEG FileType = "image/jpeg"
	TypePNG  FileType = "image/png"
	TypeWebM FileType = "video/webm"
)

// Upload is a file the shell received and stored: a fact, never the bytes.
type Upload struct {
	Purpose Purpose  `json:"purpose"`
	Name    string   `json:"name"`   // the stored file's name, chosen by the shell
	SHA256  string   `json:"sha256"` // hex
	Size    int64    `json:"size"`
	Type    FileType `json:"type"`
}

// DocumentFields are what recognition read from the identity document.
type DocumentFields struct {
	Kind       DocumentKind `json:"kind"`
	IIN        string       `json:"iin"`
	Surname    string       `json:"surname"`
	Name       string       `json:"name"`
	Patronymic string       `json:"patronymic,omitempty"`
	BirthDate  string       `json:"birth_date"` // YYYY-MM-DD
	Number     string       `json:"number"`
	ValidUntil string       `json:"valid_until"` // YYYY-MM-DD
}

// KeyPurpose is what a key will do: authenticate or sign.
type KeyPurpose string

// The key purposes.
const (
	KeyAUTH KeyPurpose = "AUTH"
	KeySIGN KeyPurpose = "SIGN"
)

// CSR is a PKCS#10 request as the shell found it after parsing it and
// checking its self-signature. The key pair was made on the applicant's
// side; the server only ever sees the public half.
type CSR struct {
	Purpose     KeyPurpose `json:"purpose"`
	Algorithm   string     `json:"algorithm"`   // "RSA", "GOST"…
	KeyBits     int        `json:"key_bits"`    // modulus or curve size
	Fingerprint string     `json:"fingerprint"` // hex SHA-256 of the SubjectPublicKeyInfo
	SubjectIIN  string     `json:"subject_iin"`
	SubjectBIN  string     `json:"subject_bin,omitempty"`
	// SeenBefore: the key registry has certified this public key before.
	SeenBefore bool `json:"seen_before,omitempty"`
	// SHA256 of the request's DER, kept as evidence of what was asked.
	SHA256 string `json:"sha256"`
}

// Subject is the certificate subject the server builds from the verified
// identity; nothing of it comes from the request.
type Subject struct {
	SerialNumber string `json:"serial_number"` // "IIN" + 12 digits
	CommonName   string `json:"common_name"`   // surname and name
	Surname      string `json:"surname"`
	GivenName    string `json:"given_name,omitempty"` // patronymic, as NUC writes it
	OrgUnit      string `json:"org_unit,omitempty"`   // "BIN" + 12 digits
}

// Approval is a verified CMS approval: the shell checked the signature and
// chain (pki) and reads the signer's certificate.
type Approval struct {
	CMS           []byte     `json:"cms"` // DER, kept as evidence
	SignerIIN     string     `json:"signer_iin"`
	SignerBIN     string     `json:"signer_bin"` // OU=BIN…
	RoleOIDs      []string   `json:"role_oids"`  // extended key usage
	KeyUsage      KeyPurpose `json:"key_usage"`
	Fingerprint   string     `json:"fingerprint"`    // SHA-256 of the signer's certificate
	ContentSHA256 string     `json:"content_sha256"` // hex SHA-256 of the signed content
	SignedAt      time.Time  `json:"signed_at"`
}

func (a Approval) hasRole(oid string) bool {
	for _, r := range a.RoleOIDs {
		if r == oid {
			return true
		}
	}
	return false
}

// ApprovalStep is one of the two approvals, in order.
type ApprovalStep string

// The approval steps.
const (
	StepHR        ApprovalStep = "hr"
	StepFirstHead ApprovalStep = "first_head"
)

// Certificate is one issued certificate, as the CA returned it.
type Certificate struct {
	Purpose     KeyPurpose `json:"purpose"`
	Serial      string     `json:"serial"`
	Fingerprint string     `json:"fingerprint"` // of the public key: the CSR's
	NotAfter    time.Time  `json:"not_after"`
	DER         []byte     `json:"der"`
}

// Rules are the parameters of the core that come from configuration.
type Rules struct {
	// OTPTTL is a code's lifetime, and the countdown before a resend.
	OTPTTL time.Duration
	// OTPMaxTries wrong entries void a code.
	OTPMaxTries int
	// OTPPerWindow codes per IIN in OTPWindow, then a lockout until the
	// oldest of them leaves the window.
	OTPPerWindow int
	OTPWindow    time.Duration
	// MaxImageBytes and MaxVideoBytes bound uploads; MaxUploadsPerPurpose
	// bounds attempts at each.
	MaxImageBytes        int64
	MaxVideoBytes        int64
	MaxUploadsPerPurpose int
	// MinKeyBits is the shortest key the CA certifies.
	MinKeyBits int
	// ExpireAfter is how long after its start an unfinished application
	// expires (not while it is at the CA).
	ExpireAfter time.Duration
	// UnverifiedExpireAfter is how long after its start an application
	// whose phone is not verified expires (0: only ExpireAfter), while it
	// is not in a registration call: an IIN cannot be held for long by
	// someone who does not hold its phone.
	UnverifiedExpireAfter time.Duration
}

// ExpiresAfter is how long after its start s expires under r (0: never).
func (r Rules) ExpiresAfter(s *State) time.Duration {
	after := r.ExpireAfter
	if !s.PhoneVerified && s.Phase != PhaseRegistrationCall && r.UnverifiedExpireAfter > 0 &&
		(after <= 0 || r.UnverifiedExpireAfter < after) {
		after = r.UnverifiedExpireAfter
	}
	return after
}

// DefaultRules are the rules of seeds 002 and 003.
func DefaultRules() Rules {
	return Rules{
		OTPTTL:                120 * time.Second,
		OTPMaxTries:           3,
		OTPPerWindow:          5,
		OTPWindow:             time.Hour,
		MaxImageBytes:         10 << 20,
		MaxVideoBytes:         50 << 20,
		MaxUploadsPerPurpose:  5,
		MinKeyBits:            2048,
		ExpireAfter:           30 * 24 * time.Hour,
		UnverifiedExpireAfter: time.Hour,
	}
}
