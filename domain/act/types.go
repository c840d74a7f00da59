package act

import (
	"time"
)

// Role is the part an actor plays.
type Role string

// The roles that send commands to an act.
const (
	RoleClient   Role = "client"   // the principal (доверитель), signed in with an EDS
	RoleAttorney Role = "attorney" // the attorney-in-fact (поверенный), signed in with an EDS
	RoleNotary   Role = "notary"   // a notary in operator mode, signed in with login and password
	RoleBank     Role = "bank"     // the bank's payment callback
	RoleSystem   Role = "system"   // Senim itself (the desk, timers)
	// RoleStaff is a registrar or moderator of remote EDS issuance whose
	// account is not also a notary's: it has no part in any act, and
	// authorize refuses it every command.
	RoleStaff Role = "staff"
)

// Actor is who sends a command. For clients and attorneys IIN is taken from
// the sign-in certificate; for a notary ID is the login and IIN the one in
// the notary's account (their EDS must carry it).
type Actor struct {
	Role Role   `json:"role"`
	ID   string `json:"id"`
	IIN  string `json:"iin,omitempty"`
	Name string `json:"name,omitempty"`
}

// String is the actor as the event log records it: "client:871008401427",
// "notary:aliya", "bank", "system".
func (a Actor) String() string {
	if a.ID == "" {
		return string(a.Role)
	}
	return string(a.Role) + ":" + a.ID
}

// Signature is a verified EDS signature as the core sees it: the shell has
// checked the CMS against the trust store with the right key usage.
type Signature struct {
	CMS           []byte    `json:"cms"`            // DER, kept as evidence
	SignerIIN     string    `json:"signer_iin"`     // from serialNumber=IIN…
	SignerName    string    `json:"signer_name"`    // surname, name, patronymic
	Fingerprint   string    `json:"fingerprint"`    // SHA-256 of the signer's certificate
	ContentSHA256 string    `json:"content_sha256"` // hex SHA-256 of the signed content
	SignedAt      time.Time `json:"signed_at"`      // the CMS signing time
}

// DocumentInputs are what the document's text depends on besides the act's
// own facts: the office's place, the public address its QR code and check
// link name, and the version of the template. The shell records them when
// the document code is issued, from its configuration, so that the signed
// text renders the same whatever the configuration or the template become.
// The zero value (Format 0) is an act whose code was issued before the
// inputs were recorded.
type DocumentInputs struct {
	Place     string `json:"place,omitempty"`
	PublicURL string `json:"public_url,omitempty"`
	Format    int    `json:"format,omitempty"` // the template version
}

// Money is an amount in tiyn (1/100 tenge).
type Money int64

// Rules are the parameters of the core that come from configuration.
type Rules struct {
	// MRP is the monthly calculation index in tiyn (2026: 4,325 ₸ = 432500).
	MRP Money
	// StateDutyMRP and ServicesMRP are the default state duty and the fee for
	// legal and technical services (УПТХ) of a power of attorney, in MRP.
	StateDutyMRP float64
	ServicesMRP  float64
	// MaxTermMonths is the longest term of a power of attorney (Civil Code: 36).
	MaxTermMonths int
	// DefaultTermMonths applies when the draft states no term (Civil Code: 12).
	DefaultTermMonths int
	// DocumentText renders the document the notary signs (package document
	// does, from a template); nil means DocumentBytes. It must be a pure
	// function of the state.
	DocumentText func(*State) []byte

	// Bounds in time (0: none). InvoiceTTL is how long an invoice can be
	// paid; ExpireAfter how long an unfinished act may go without an event
	// before it expires; CallMaxWait how long a call waits for a notary;
	// CallMaxLength how long a call lasts.
	InvoiceTTL    time.Duration
	ExpireAfter   time.Duration
	CallMaxWait   time.Duration
	CallMaxLength time.Duration
}

// Document is the bytes the notary signs for the act in s.
func (r Rules) Document(s *State) []byte {
	if r.DocumentText != nil {
		return r.DocumentText(s)
	}
	return DocumentBytes(s)
}

// DefaultRules are the rules as of 2026-01-01.
func DefaultRules() Rules {
	return Rules{MRP: 432500, StateDutyMRP: 0.5, ServicesMRP: 3, MaxTermMonths: 36, DefaultTermMonths: 12}
}

// InMRP converts an amount in MRP to tiyn, rounding to the nearest tiyn.
func (r Rules) InMRP(units float64) Money {
	v := units * float64(r.MRP)
	if v < 0 {
		return Money(v - 0.5)
	}
	return Money(v + 0.5)
}

// Phase is where an act stands.
type Phase string

// The phases of an act. Signed, Refused, Cancelled and ConsentRefused are final.
const (
	PhaseNone            Phase = ""                 // no application yet
	PhaseAwaitingConsent Phase = "awaiting_consent" // application accepted, the attorney is asked
	PhaseConsentRefused  Phase = "consent_refused"  // the attorney said no: final
	PhaseReady           Phase = "ready"            // consent given: the client may call a notary
	PhaseWithNotary      Phase = "with_notary"      // a notary accepted the call and leads the act
	PhaseSigned          Phase = "signed"           // the notary signed: final
	PhaseRefused         Phase = "refused"          // the notary refused: final
	PhaseCancelled       Phase = "cancelled"        // the client cancelled: final
	PhaseRevoked         Phase = "revoked"          // the principal revoked the signed power of attorney: final
)

// Final reports whether no command can change the act any more.
func (p Phase) Final() bool {
	switch p {
	case PhaseConsentRefused, PhaseSigned, PhaseRefused, PhaseCancelled, PhaseRevoked, PhaseExpired:
		return true
	}
	return false
}

// CallStatus is the state of the video call with the notary.
type CallStatus string

// The states of the call.
const (
	CallNone    CallStatus = ""
	CallWaiting CallStatus = "waiting" // in the desk's queue
	CallActive  CallStatus = "active"  // a notary accepted
	CallOver    CallStatus = "ended"
)

// Check is one of the identity checks a notary records in the call.
type Check string

// The identity checks (DOMAIN.md step 6, seed 001 §6).
const (
	CheckDocumentShown   Check = "document_shown"   // ID document shown on camera
	CheckRegistryLookup  Check = "registry_lookup"  // looked up in the individuals registry (optional)
	CheckLegalCapacity   Check = "legal_capacity"   // legal capacity confirmed
	CheckRightsExplained Check = "rights_explained" // rights, duties and consequences explained
)

// RequiredChecks must all have passed before signing.
var RequiredChecks = []Check{CheckDocumentShown, CheckLegalCapacity, CheckRightsExplained}

func (c Check) valid() bool {
	switch c {
	case CheckDocumentShown, CheckRegistryLookup, CheckLegalCapacity, CheckRightsExplained:
		return true
	}
	return false
}

// CheckResult is the latest outcome of one check.
type CheckResult struct {
	Passed bool      `json:"passed"`
	Note   string    `json:"note,omitempty"`
	At     time.Time `json:"at"`
}

// Draft is the content of one revision of the power of attorney.
type Draft struct {
	RegistryNumber string `json:"registry_number"`
	Powers         string `json:"powers"`
	// PowersKK are the powers in Kazakh. Left out of the JSON when empty,
	// so a draft without them keeps the bytes of the first draft format.
	PowersKK    string `json:"powers_kk,omitempty"`
	TermMonths  int    `json:"term_months"`
	StateDuty   Money  `json:"state_duty"`
	ServicesFee Money  `json:"services_fee"`
}

// Total is what the client pays.
func (d Draft) Total() Money { return d.StateDuty + d.ServicesFee }

// Revision is a draft as presented to the client.
type Revision struct {
	Number int       `json:"number"`
	Draft  Draft     `json:"draft"`
	At     time.Time `json:"at"`
	// Comments are the client's change requests on this revision.
	Comments []string `json:"comments,omitempty"`
}

// Party is a person in the act.
type Party struct {
	IIN   string `json:"iin"`
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Invoice is what the client is asked to pay.
type Invoice struct {
	ID     string `json:"id"`
	Amount Money  `json:"amount"`
	// Revision is the revision whose fees it bills.
	Revision int `json:"revision"`
	// ExpiresAt ends the time it can be paid (absent: invoices issued
	// before invoices expired, payable for ever).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Payment is a bank's confirmed payment.
type Payment struct {
	ID        string    `json:"id"`
	InvoiceID string    `json:"invoice_id"`
	Amount    Money     `json:"amount"`
	At        time.Time `json:"at"`
}
