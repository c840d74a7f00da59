package issuance

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Event is a fact about an application. Each event type has a stable name;
// the event log stores the name and the JSON of the struct.
type Event interface{ EventType() string }

// Started opens the application.
type Started struct {
	ApplicationID string    `json:"application_id"`
	Kind          Kind      `json:"kind"`
	Template      Template  `json:"template,omitempty"`
	BIN           string    `json:"bin,omitempty"`
	IIN           string    `json:"iin"`
	Applicant     Actor     `json:"applicant"`
	At            time.Time `json:"at"`
}

// PhoneFound: БМГ knows a phone for the IIN.
type PhoneFound struct {
	Phone string    `json:"phone"`
	At    time.Time `json:"at"`
}

// PhoneNotFound: БМГ has no phone for the IIN; registration is the way on.
type PhoneNotFound struct {
	At time.Time `json:"at"`
}

// CodeIssued: a one-time code was sent. Only its keyed hash is kept.
type CodeIssued struct {
	Hash      []byte    `json:"hash"`
	At        time.Time `json:"at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CodeRejected: a wrong code was entered; Tries counts them for this code.
type CodeRejected struct {
	Tries int       `json:"tries"`
	At    time.Time `json:"at"`
}

// PhoneVerified: the phone is confirmed, by a code ("code") or by a
// registration operator ("operator").
type PhoneVerified struct {
	Phone string    `json:"phone"`
	Via   string    `json:"via"`
	At    time.Time `json:"at"`
}

// RegistrationRequested puts the application in the registration desk's queue.
type RegistrationRequested struct {
	At time.Time `json:"at"`
}

// RegistrationTaken binds the call to an operator.
type RegistrationTaken struct {
	Operator Actor     `json:"operator"`
	At       time.Time `json:"at"`
}

// RegistrationRecorded is the operator's outcome.
type RegistrationRecorded struct {
	Operator Actor     `json:"operator"`
	Success  bool      `json:"success"`
	Phone    string    `json:"phone,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
}

// DocumentChosen: the identity document for Digital ID.
type DocumentChosen struct {
	Kind DocumentKind `json:"kind"`
	At   time.Time    `json:"at"`
}

// UploadRecorded: a file was received. A later upload for the same purpose
// replaces the earlier one for the checks; both stay in the log.
type UploadRecorded struct {
	Upload Upload    `json:"upload"`
	At     time.Time `json:"at"`
}

// LivenessChecked is the liveness result of the latest liveness video.
type LivenessChecked struct {
	Passed bool      `json:"passed"`
	Detail string    `json:"detail,omitempty"`
	Video  string    `json:"video_sha256"`
	At     time.Time `json:"at"`
}

// DocumentRecognised: the fields read from the document photos.
type DocumentRecognised struct {
	Fields DocumentFields `json:"fields"`
	At     time.Time      `json:"at"`
}

// FieldsConfirmed: the applicant confirmed the recognised fields.
type FieldsConfirmed struct {
	At time.Time `json:"at"`
}

// FaceMatched is the face match's result.
type FaceMatched struct {
	Match  bool      `json:"match"`
	Detail string    `json:"detail,omitempty"`
	Selfie string    `json:"selfie_sha256"`
	At     time.Time `json:"at"`
}

// ModerationRequested puts the case in the moderation queue. Reason is
// "liveness_failed" or "face_mismatch".
type ModerationRequested struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// ModerationTaken binds the case to a moderator.
type ModerationTaken struct {
	Moderator Actor     `json:"moderator"`
	At        time.Time `json:"at"`
}

// ModerationDecided is the moderator's decision.
type ModerationDecided struct {
	Moderator Actor     `json:"moderator"`
	Approve   bool      `json:"approve"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
}

// IdentityVerified: Digital ID is done ("digital_id" or "moderator"); the
// subject of the certificates is fixed here, from the confirmed fields.
type IdentityVerified struct {
	Via     string    `json:"via"`
	Subject Subject   `json:"subject"`
	At      time.Time `json:"at"`
}

// RequestsSubmitted: the certificate requests and e-mail.
type RequestsSubmitted struct {
	Email string    `json:"email,omitempty"`
	CSRs  []CSR     `json:"csrs"`
	At    time.Time `json:"at"`
}

// ApprovalRecorded: one approval of a legal entity's employee.
type ApprovalRecorded struct {
	Step     ApprovalStep `json:"step"`
	Approval Approval     `json:"approval"`
	At       time.Time    `json:"at"`
}

// ApplicationIdentified: status "identified by the registration centre".
type ApplicationIdentified struct {
	At time.Time `json:"at"`
}

// SentToCA: status "on signing at the CA".
type SentToCA struct {
	Reference string    `json:"reference,omitempty"`
	At        time.Time `json:"at"`
}

// CertificatesIssued: status "certificates issued". Final.
type CertificatesIssued struct {
	Certificates []Certificate `json:"certificates"`
	At           time.Time     `json:"at"`
}

// ApplicationRejected: refused. Final.
type ApplicationRejected struct {
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// ApplicationExpired: not finished in time. Final.
type ApplicationExpired struct {
	At time.Time `json:"at"`
}

// EventType implements Event.
func (Started) EventType() string               { return "issuance_started" }
func (PhoneFound) EventType() string            { return "phone_found" }
func (PhoneNotFound) EventType() string         { return "phone_not_found" }
func (CodeIssued) EventType() string            { return "code_issued" }
func (CodeRejected) EventType() string          { return "code_rejected" }
func (PhoneVerified) EventType() string         { return "phone_verified" }
func (RegistrationRequested) EventType() string { return "registration_requested" }
func (RegistrationTaken) EventType() string     { return "registration_taken" }
func (RegistrationRecorded) EventType() string  { return "registration_recorded" }
func (DocumentChosen) EventType() string        { return "document_chosen" }
func (UploadRecorded) EventType() string        { return "upload_recorded" }
func (LivenessChecked) EventType() string       { return "liveness_checked" }
func (DocumentRecognised) EventType() string    { return "document_recognised" }
func (FieldsConfirmed) EventType() string       { return "fields_confirmed" }
func (FaceMatched) EventType() string           { return "face_matched" }
func (ModerationRequested) EventType() string   { return "moderation_requested" }
func (ModerationTaken) EventType() string       { return "moderation_taken" }
func (ModerationDecided) EventType() string     { return "moderation_decided" }
func (IdentityVerified) EventType() string      { return "identity_verified" }
func (RequestsSubmitted) EventType() string     { return "requests_submitted" }
func (ApprovalRecorded) EventType() string      { return "approval_recorded" }
func (ApplicationIdentified) EventType() string { return "application_identified" }
func (SentToCA) EventType() string              { return "sent_to_ca" }
func (CertificatesIssued) EventType() string    { return "certificates_issued" }
func (ApplicationRejected) EventType() string   { return "application_rejected" }
func (ApplicationExpired) EventType() string    { return "application_expired" }

// decoders turns a stored payload back into its event, by type name.
var decoders = map[string]func([]byte) (Event, error){}

func register[T Event]() {
	var zero T
	decoders[zero.EventType()] = func(b []byte) (Event, error) {
		var v T
		err := json.Unmarshal(b, &v)
		return v, err
	}
}

func init() {
	register[Started]()
	register[PhoneFound]()
	register[PhoneNotFound]()
	register[CodeIssued]()
	register[CodeRejected]()
	register[PhoneVerified]()
	register[RegistrationRequested]()
	register[RegistrationTaken]()
	register[RegistrationRecorded]()
	register[DocumentChosen]()
	register[UploadRecorded]()
	register[LivenessChecked]()
	register[DocumentRecognised]()
	register[FieldsConfirmed]()
	register[FaceMatched]()
	register[ModerationRequested]()
	register[ModerationTaken]()
	register[ModerationDecided]()
	register[IdentityVerified]()
	register[RequestsSubmitted]()
	register[ApprovalRecorded]()
	register[ApplicationIdentified]()
	register[SentToCA]()
	register[CertificatesIssued]()
	register[ApplicationRejected]()
	register[ApplicationExpired]()
}

// EventTypes lists every event type name, sorted.
func EventTypes() []string {
	out := make([]string, 0, len(decoders))
	for k := range decoders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DecodeEvent turns a stored event back into its struct.
func DecodeEvent(typ string, payload []byte) (Event, error) {
	dec, ok := decoders[typ]
	if !ok {
		return nil, fmt.Errorf("issuance: unknown event type %q", typ)
	}
	e, err := dec(payload)
	if err != nil {
		return nil, fmt.Errorf("issuance: event %s: %w", typ, err)
	}
	return e, nil
}
