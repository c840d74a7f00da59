package protocol

import "time"

// TypeIssuance is an app's request about a remote EDS application (PROTOCOL.md,
// "Remote EDS issuance"): Name says which, Act is the application id. The
// applicant sends it without signing in (they have no EDS yet); staff and
// approvers after their sign-in. It is answered by ack (commands), result
// (queries), subscribed, or error; the application's events come as event
// messages with the application id in act.
const TypeIssuance = "issuance"

// IssuanceStart is the body of start.
type IssuanceStart struct {
	Kind     string `json:"kind"`               // individual | legal_entity
	Template string `json:"template,omitempty"` // a legal entity's template
	BIN      string `json:"bin,omitempty"`
	IIN      string `json:"iin"`
}

// IssuanceStarted answers start: the application id and the token that
// identifies its applicant from now on (resume, uploads). The token is
// shown once; Senim keeps only its hash.
type IssuanceStarted struct {
	Application string `json:"application"`
	Token       string `json:"token"`
}

// IssuanceResume is the body of resume: the token of start.
type IssuanceResume struct {
	Token string `json:"token"`
}

// IssuanceCode is the body of verify_code.
type IssuanceCode struct {
	Code string `json:"code"`
}

// IssuanceCSR is one certificate request of submit_requests.
type IssuanceCSR struct {
	Purpose string `json:"purpose"` // AUTH | SIGN
	DER     string `json:"der"`     // base64 of the PKCS#10 DER
}

// IssuanceRequests is the body of submit_requests.
type IssuanceRequests struct {
	Email string        `json:"email,omitempty"`
	CSRs  []IssuanceCSR `json:"csrs"`
}

// IssuanceStatus answers status (and resume): the application as its
// reader may see it.
type IssuanceStatus struct {
	Application string    `json:"application"`
	Phase       string    `json:"phase"`
	Status      string    `json:"status"` // the CA's: new, identified, signing, issued, rejected, expired
	Kind        string    `json:"kind"`
	Template    string    `json:"template,omitempty"`
	BIN         string    `json:"bin,omitempty"`
	IIN         string    `json:"iin"`
	Seq         uint64    `json:"seq"`
	CreatedAt   time.Time `json:"created_at"`
	// Phone is masked but for its last four digits.
	Phone         string `json:"phone,omitempty"`
	PhoneVerified bool   `json:"phone_verified"`
	// CodeExpiresAt is when the outstanding code expires (and a resend is allowed).
	CodeExpiresAt *time.Time `json:"code_expires_at,omitempty"`
	CodeTriesLeft int        `json:"code_tries_left,omitempty"`
	Document      string     `json:"document,omitempty"`
	Uploads       []string   `json:"uploads,omitempty"` // purposes received
	// Recognised are the document's fields to confirm (confirm_fields).
	Recognised   any    `json:"recognised,omitempty"`
	Confirmed    bool   `json:"confirmed"`
	NextApproval string `json:"next_approval,omitempty"`
	Rejection    string `json:"rejection,omitempty"`
	Certificates int    `json:"certificates,omitempty"`
	// Waiting names the outside services being retried ("try again
	// later" is shown while any is); Problem is a refusal to act on
	// (document_unreadable: retake the photos).
	Waiting []string `json:"waiting,omitempty"`
	Problem string   `json:"problem,omitempty"`
	// Registry is the individuals registry's record of the IIN, shown to
	// the moderator beside the recognised document.
	Registry any `json:"registry,omitempty"`
}

// IssuanceCertificate is one issued certificate (certificates query).
type IssuanceCertificate struct {
	Purpose  string    `json:"purpose"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
	DER      string    `json:"der"` // base64
	// Chain is the certificates that make DER trusted, base64 DER: its
	// issuing CA first, the root last. The key store built from DER
	// carries them.
	Chain []string `json:"chain"`
}

// IssuanceCase is one line of a staff queue or of an approver's list.
type IssuanceCase struct {
	Application  string    `json:"application"`
	Phase        string    `json:"phase"`
	IIN          string    `json:"iin"`
	BIN          string    `json:"bin,omitempty"`
	Template     string    `json:"template,omitempty"`
	Reason       string    `json:"reason,omitempty"` // moderation: liveness_failed | face_mismatch
	WaitingSince time.Time `json:"waiting_since"`
}

// IssuanceDecision is the body of record_registration, moderate and reject.
type IssuanceDecision struct {
	Success bool   `json:"success,omitempty"` // record_registration
	Approve bool   `json:"approve,omitempty"` // moderate
	Phone   string `json:"phone,omitempty"`   // record_registration
	Reason  string `json:"reason,omitempty"`
}
