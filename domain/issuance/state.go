package issuance

import "time"

// State is an application as its events made it. The zero State is an
// application not started.
type State struct {
	ID        string    `json:"id"`
	Kind      Kind      `json:"kind"`
	Template  Template  `json:"template,omitempty"`
	BIN       string    `json:"bin,omitempty"`
	IIN       string    `json:"iin"`
	Applicant Actor     `json:"applicant"`
	Phase     Phase     `json:"phase"`
	CreatedAt time.Time `json:"created_at"`
	// LastEventAt is when the last event happened (queues show waiting times from it).
	LastEventAt time.Time `json:"last_event_at"`
	Version     int       `json:"version"` // events applied

	// The phone: from БМГ (Phone, PhoneLooked) and confirmed (PhoneVerified).
	PhoneLooked   bool   `json:"phone_looked"`
	Phone         string `json:"phone,omitempty"`
	PhoneVerified bool   `json:"phone_verified"`
	// The outstanding one-time code, as a keyed hash, and its wrong tries.
	Code *OTP `json:"code,omitempty"`
	// CodesSent are the times codes were sent, for the hourly limit.
	CodesSent []time.Time `json:"codes_sent,omitempty"`

	// Registration by a video call.
	Operator           Actor  `json:"operator"`
	RegistrationReason string `json:"registration_reason,omitempty"` // of the last failed call
	// CallsTaken counts the registration calls; Recordings are their
	// recordings, in the order recorded.
	CallsTaken int            `json:"calls_taken,omitempty"`
	Recordings []CallRecorded `json:"recordings,omitempty"`

	// Digital ID.
	Document   DocumentKind         `json:"document,omitempty"`
	Uploads    map[Purpose]Upload   `json:"uploads,omitempty"` // the latest per purpose
	Attempts   map[Purpose]int      `json:"attempts,omitempty"`
	Liveness   *LivenessChecked     `json:"liveness,omitempty"`
	Recognised *DocumentFields      `json:"recognised,omitempty"`
	Confirmed  bool                 `json:"confirmed"`
	FaceMatch  *FaceMatched         `json:"face_match,omitempty"`
	Moderation *ModerationRequested `json:"moderation,omitempty"`
	Moderator  Actor                `json:"moderator"`
	Subject    *Subject             `json:"subject,omitempty"`

	// The application to the CA.
	Email        string                    `json:"email,omitempty"`
	EmailedAt    time.Time                 `json:"emailed_at,omitzero"` // email_sent: the applicant was told the certificates are issued
	CSRs         []CSR                     `json:"csrs,omitempty"`
	Approvals    map[ApprovalStep]Approval `json:"approvals,omitempty"`
	CAReference  string                    `json:"ca_reference,omitempty"`
	Certificates []Certificate             `json:"certificates,omitempty"`
	Rejection    string                    `json:"rejection,omitempty"`
}

// OTP is an outstanding one-time code.
type OTP struct {
	Hash      []byte    `json:"hash"`
	ExpiresAt time.Time `json:"expires_at"`
	Tries     int       `json:"tries"`
}

// Status is the application's status in the CA's terms.
func (s *State) Status() Status {
	switch s.Phase {
	case PhaseIdentified:
		return StatusIdentified
	case PhaseSigning:
		return StatusSigning
	case PhaseIssued:
		return StatusIssued
	case PhaseRejected:
		return StatusRejected
	case PhaseExpired:
		return StatusExpired
	}
	return StatusNew
}

// NeedsApprovals reports whether the application needs the HR employee's
// and the first head's approval: a legal entity's employee who is not the
// first head.
func (s *State) NeedsApprovals() bool {
	return s.Kind == KindLegalEntity && s.Template != TemplateFirstHead
}

// NextApproval is the approval step awaited, or "" if none.
func (s *State) NextApproval() ApprovalStep {
	if !s.NeedsApprovals() {
		return ""
	}
	if _, ok := s.Approvals[StepHR]; !ok {
		return StepHR
	}
	if _, ok := s.Approvals[StepFirstHead]; !ok {
		return StepFirstHead
	}
	return ""
}
