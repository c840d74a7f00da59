package issuance

// Command is a request to change an application. Every command type is
// listed in Commands, with the name the protocol uses.
type Command interface{ CommandName() string }

// Start opens an application (applicant). ApplicationID is chosen by the
// server; BIN and Template are for a legal entity only.
type Start struct {
	ApplicationID string   `json:"application_id"`
	Kind          Kind     `json:"kind"`
	Template      Template `json:"template,omitempty"`
	BIN           string   `json:"bin,omitempty"`
	IIN           string   `json:"iin"`
	// HeadIIN is the BIN's first head as the register of legal entities
	// names them, filled by the shell (never by the applicant) for the
	// first-head template: nobody takes a first head's keys by saying so.
	HeadIIN string `json:"head_iin,omitempty"`
}

// RecordPhoneLookup is the mobile-citizen database's answer for the
// applicant's IIN (system): the phone registered to it, if any.
type RecordPhoneLookup struct {
	Found bool   `json:"found"`
	Phone string `json:"phone,omitempty"`
}

// IssueCode records a one-time code the shell drew and sent by SMS
// (system). Only the code's keyed hash enters the core. SentForIIN is the
// number of codes the shell sent to this IIN, for any application, within
// Rules.OTPWindow before now: the limit is per person, and one application
// does not see the others.
type IssueCode struct {
	Hash       []byte `json:"hash"`
	SentForIIN int    `json:"sent_for_iin,omitempty"`
}

// VerifyCode is the applicant entering the code, as its keyed hash
// computed by the shell with the same key.
type VerifyCode struct {
	Hash []byte `json:"hash"`
}

// RequestRegistration asks for a video call with a registration operator
// (applicant): the phone is not in БМГ, or the SMS does not arrive.
type RequestRegistration struct{}

// TakeRegistration is an operator taking the registration call.
type TakeRegistration struct{}

// RecordRegistration is the operator's outcome of the call: on success the
// phone the applicant named, confirmed by the code they read aloud, is
// registered; otherwise a reason.
type RecordRegistration struct {
	Success bool   `json:"success"`
	Phone   string `json:"phone,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// ChooseDocument picks the identity document for Digital ID (applicant).
type ChooseDocument struct {
	Kind DocumentKind `json:"kind"`
}

// RecordUpload records a file the shell received (system).
type RecordUpload struct {
	Upload Upload `json:"upload"`
}

// RecordLiveness is the liveness check's result for the latest liveness
// video (system).
type RecordLiveness struct {
	Passed bool   `json:"passed"`
	Detail string `json:"detail,omitempty"`
}

// RecordRecognition is what recognition read from the latest document
// photos (system).
type RecordRecognition struct {
	Fields DocumentFields `json:"fields"`
}

// ConfirmFields is the applicant confirming the recognised fields, sent
// back as they were shown.
type ConfirmFields struct {
	Fields DocumentFields `json:"fields"`
}

// RecordFaceMatch is the face match of the selfie against the state
// registry's photo (system).
type RecordFaceMatch struct {
	Match  bool   `json:"match"`
	Detail string `json:"detail,omitempty"`
}

// TakeModeration is a moderator taking the case from the queue.
type TakeModeration struct{}

// Moderate is the moderator's decision, with a reason. The shell sends the
// applicant an SMS on the event.
type Moderate struct {
	Approve bool   `json:"approve"`
	Reason  string `json:"reason"`
}

// SubmitRequests sends the certificate requests and an optional e-mail
// (applicant).
type SubmitRequests struct {
	Email string `json:"email,omitempty"`
	CSRs  []CSR  `json:"csrs"`
}

// Approve is an approver's signed approval over ApprovalBytes.
type Approve struct {
	Approval Approval `json:"approval"`
}

// SendToCA records that the shell handed the requests to the CA (system).
type SendToCA struct {
	Reference string `json:"reference,omitempty"` // the CA's request id
}

// RecordCertificates records the CA's certificates (system).
type RecordCertificates struct {
	Certificates []Certificate `json:"certificates"`
}

// Reject ends an application with a reason (operator, moderator, or the
// system when the CA refuses).
type Reject struct {
	Reason string `json:"reason"`
}

// Expire ends an application idle for Rules.ExpireAfter (system timer).
type Expire struct{}

// CommandName implements Command.
func (Start) CommandName() string               { return "start" }
func (RecordPhoneLookup) CommandName() string   { return "record_phone_lookup" }
func (IssueCode) CommandName() string           { return "issue_code" }
func (VerifyCode) CommandName() string          { return "verify_code" }
func (RequestRegistration) CommandName() string { return "request_registration" }
func (TakeRegistration) CommandName() string    { return "take_registration" }
func (RecordRegistration) CommandName() string  { return "record_registration" }
func (ChooseDocument) CommandName() string      { return "choose_document" }
func (RecordUpload) CommandName() string        { return "record_upload" }
func (RecordLiveness) CommandName() string      { return "record_liveness" }
func (RecordRecognition) CommandName() string   { return "record_recognition" }
func (ConfirmFields) CommandName() string       { return "confirm_fields" }
func (RecordFaceMatch) CommandName() string     { return "record_face_match" }
func (TakeModeration) CommandName() string      { return "take_moderation" }
func (Moderate) CommandName() string            { return "moderate" }
func (SubmitRequests) CommandName() string      { return "submit_requests" }
func (Approve) CommandName() string             { return "approve" }
func (SendToCA) CommandName() string            { return "send_to_ca" }
func (RecordCertificates) CommandName() string  { return "record_certificates" }
func (Reject) CommandName() string              { return "reject" }
func (Expire) CommandName() string              { return "expire" }

// Commands returns a zero value of every command type, keyed by name.
func Commands() map[string]Command {
	out := map[string]Command{}
	for _, c := range []Command{
		Start{}, RecordPhoneLookup{}, IssueCode{}, VerifyCode{}, RequestRegistration{}, TakeRegistration{},
		RecordRegistration{}, ChooseDocument{}, RecordUpload{}, RecordLiveness{}, RecordRecognition{},
		ConfirmFields{}, RecordFaceMatch{}, TakeModeration{}, Moderate{}, SubmitRequests{}, Approve{},
		SendToCA{}, RecordCertificates{}, Reject{}, Expire{}, RecordCall{}, RecordEmail{},
	} {
		out[c.CommandName()] = c
	}
	return out
}

// roles says who may send each command.
var roles = map[string][]Role{
	"start":                {RoleApplicant},
	"record_phone_lookup":  {RoleSystem},
	"issue_code":           {RoleSystem},
	"verify_code":          {RoleApplicant},
	"request_registration": {RoleApplicant},
	"take_registration":    {RoleOperator},
	"record_registration":  {RoleOperator},
	"choose_document":      {RoleApplicant},
	"record_upload":        {RoleSystem},
	"record_liveness":      {RoleSystem},
	"record_recognition":   {RoleSystem},
	"confirm_fields":       {RoleApplicant},
	"record_face_match":    {RoleSystem},
	"take_moderation":      {RoleModerator},
	"moderate":             {RoleModerator},
	"submit_requests":      {RoleApplicant},
	"approve":              {RoleApprover},
	"send_to_ca":           {RoleSystem},
	"record_certificates":  {RoleSystem},
	"reject":               {RoleOperator, RoleModerator, RoleSystem},
	"expire":               {RoleSystem},
}
