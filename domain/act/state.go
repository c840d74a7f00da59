package act

import "time"

// State is everything the rules need to know about one act. It is built
// only by Apply; the zero value is an act that does not exist yet.
type State struct {
	ID      string `json:"id"`
	Phase   Phase  `json:"phase"`
	Version uint64 `json:"version"` // events applied

	CreatedAt  time.Time `json:"created_at"`
	ActionType string    `json:"action_type"`
	Principal  Party     `json:"principal"`
	Attorney   Party     `json:"attorney"`

	Application      Signature  `json:"application"`
	ConsentRequested bool       `json:"consent_requested"`
	Consent          *Signature `json:"consent,omitempty"`
	ConsentRefusal   string     `json:"consent_refusal,omitempty"`

	Call            CallStatus `json:"call"`
	CallRequestedAt time.Time  `json:"call_requested_at,omitempty"`
	Notary          Actor      `json:"notary"` // assigned when a notary accepts the first call

	Checks map[Check]CheckResult `json:"checks,omitempty"`
	// Recordings of the calls, oldest first.
	Recordings []Recording `json:"recordings,omitempty"`

	Revisions []Revision `json:"revisions,omitempty"`
	// Approved is the number of the approved revision (0: none). The
	// approval counts only while it is the current revision.
	Approved        int        `json:"approved"`
	ApprovalSig     *Signature `json:"approval_sig,omitempty"`
	ApprovedHistory []int      `json:"approved_history,omitempty"`

	Invoice  *Invoice  `json:"invoice,omitempty"`
	Payments []Payment `json:"payments,omitempty"`

	DocumentCode string     `json:"document_code,omitempty"`
	DocumentDate time.Time  `json:"document_date,omitempty"`
	HistoryHead  string     `json:"history_head,omitempty"`
	NotarySig    *Signature `json:"notary_sig,omitempty"`
	SignedAt     time.Time  `json:"signed_at,omitempty"`
	// DocumentInputs render the document's text; recorded with the code.
	DocumentInputs DocumentInputs `json:"document_inputs"`

	EndReason string `json:"end_reason,omitempty"` // refusal, cancellation or revocation reason
	// Revocation is the principal's signed revocation, if any.
	Revocation *Signature `json:"revocation,omitempty"`
	RevokedAt  time.Time  `json:"revoked_at,omitempty"`
}

// Current is the latest revision, or nil before the first draft.
func (s *State) Current() *Revision {
	if len(s.Revisions) == 0 {
		return nil
	}
	return &s.Revisions[len(s.Revisions)-1]
}

// CurrentApproved reports whether the client approved the current revision.
func (s *State) CurrentApproved() bool {
	c := s.Current()
	return c != nil && s.Approved == c.Number
}

// Paid reports whether the current invoice has been paid in full.
func (s *State) Paid() bool {
	if s.Invoice == nil {
		return false
	}
	for _, p := range s.Payments {
		if p.InvoiceID == s.Invoice.ID && p.Amount == s.Invoice.Amount {
			return true
		}
	}
	return false
}

// ChecksPassed reports whether every required identity check passed and no
// recorded check failed.
func (s *State) ChecksPassed() bool {
	for _, c := range RequiredChecks {
		if r, ok := s.Checks[c]; !ok || !r.Passed {
			return false
		}
	}
	for _, r := range s.Checks {
		if !r.Passed {
			return false
		}
	}
	return true
}

// Participant reports whether a reads this act: its principal, its attorney
// or its assigned notary.
func (s *State) Participant(a Actor) bool {
	switch a.Role {
	case RoleClient:
		return a.IIN != "" && a.IIN == s.Principal.IIN
	case RoleAttorney:
		return a.IIN != "" && a.IIN == s.Attorney.IIN
	case RoleNotary:
		return s.Notary.ID != "" && a.ID == s.Notary.ID
	}
	return false
}

func (s *State) hasPayment(id string) bool {
	for _, p := range s.Payments {
		if id != "" && p.ID == id {
			return true
		}
	}
	return false
}
