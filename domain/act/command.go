package act

// Command is a request to change an act. Every command type is listed in
// Commands, with the name the protocol uses.
type Command interface{ CommandName() string }

// ActionPowerOfAttorney is the only notarial action type so far.
const ActionPowerOfAttorney = "power_of_attorney"

// SubmitApplication opens an act: the client's application, signed with their
// EDS over ApplicationBytes. ActID is chosen by the server.
type SubmitApplication struct {
	ActID       string    `json:"act_id"`
	ActionType  string    `json:"action_type"`
	Phone       string    `json:"phone"`
	AttorneyIIN string    `json:"attorney_iin"`
	Consent     bool      `json:"consent"` // personal-data processing consent
	Signature   Signature `json:"signature"`
	// PrincipalName and AttorneyName come from the individuals registry.
	PrincipalName string `json:"principal_name,omitempty"`
	AttorneyName  string `json:"attorney_name,omitempty"`
}

// GiveConsent is the attorney's signed consent to processing their data,
// over ConsentBytes.
type GiveConsent struct {
	Signature Signature `json:"signature"`
}

// RefuseConsent is the attorney's refusal; it ends the act.
type RefuseConsent struct {
	Reason string `json:"reason"`
}

// RequestCall puts the client in the desk's queue for a notary.
type RequestCall struct{}

// AcceptCall is a notary in operator mode taking the call.
type AcceptCall struct{}

// EndCall hangs up (client or assigned notary).
type EndCall struct{}

// RecordCheck records an identity check and its outcome.
type RecordCheck struct {
	Check  Check  `json:"check"`
	Passed bool   `json:"passed"`
	Note   string `json:"note,omitempty"`
}

// PresentDraft is the notary's "preview (draft)": a new revision shown to
// the client. Nil amounts take the rate table's; TermMonths 0 takes the
// default term.
type PresentDraft struct {
	RegistryNumber string `json:"registry_number"`
	Powers         string `json:"powers"`
	// PowersKK are the powers in Kazakh (optional).
	PowersKK    string `json:"powers_kk,omitempty"`
	TermMonths  int    `json:"term_months,omitempty"`
	StateDuty   *Money `json:"state_duty,omitempty"`
	ServicesFee *Money `json:"services_fee,omitempty"`
}

// ApproveDraft is the client's signed approval of one revision, over DraftBytes.
type ApproveDraft struct {
	Revision  int       `json:"revision"`
	Signature Signature `json:"signature"`
}

// RequestChanges sends a revision back to the notary with comments.
type RequestChanges struct {
	Revision int    `json:"revision"`
	Comments string `json:"comments"`
}

// IssueInvoice bills the approved revision. InvoiceID is chosen by the server.
type IssueInvoice struct {
	InvoiceID string `json:"invoice_id"`
}

// RecordPayment is the bank's callback.
type RecordPayment struct {
	InvoiceID string `json:"invoice_id"`
	PaymentID string `json:"payment_id"`
	Amount    Money  `json:"amount"`
}

// IssueDocumentCode assigns the document's unique identification code, the
// last step before signing. Code is chosen by the server and unique;
// HistoryHead is the hash of the act's approval event in the log, which the
// document names, so that signing it seals the history up to the approval.
// The rendering inputs are the server's too: the shell sets them from its
// configuration, never from the client.
type IssueDocumentCode struct {
	Code        string `json:"code"`
	HistoryHead string `json:"history_head"`
	DocumentInputs
}

// SignAct is the notary's EDS signature over DocumentBytes.
type SignAct struct {
	Signature Signature `json:"signature"`
}

// RefuseAct is the notary's refusal, with a reason, at any step before signing.
type RefuseAct struct {
	Reason string `json:"reason"`
}

// RevokePOA is the principal revoking a signed power of attorney (Civil
// Code: at any time), with an EDS signature over RevocationBytes.
type RevokePOA struct {
	Reason    string    `json:"reason"`
	Signature Signature `json:"signature"`
}

// CancelAct is the client's cancellation before signing.
type CancelAct struct {
	Reason string `json:"reason"`
}

func (SubmitApplication) CommandName() string { return "submit_application" }
func (GiveConsent) CommandName() string       { return "give_consent" }
func (RefuseConsent) CommandName() string     { return "refuse_consent" }
func (RequestCall) CommandName() string       { return "request_call" }
func (AcceptCall) CommandName() string        { return "accept_call" }
func (EndCall) CommandName() string           { return "end_call" }
func (RecordCheck) CommandName() string       { return "record_check" }
func (PresentDraft) CommandName() string      { return "present_draft" }
func (ApproveDraft) CommandName() string      { return "approve_draft" }
func (RequestChanges) CommandName() string    { return "request_changes" }
func (IssueInvoice) CommandName() string      { return "issue_invoice" }
func (RecordPayment) CommandName() string     { return "record_payment" }
func (IssueDocumentCode) CommandName() string { return "issue_document_code" }
func (SignAct) CommandName() string           { return "sign_act" }
func (RefuseAct) CommandName() string         { return "refuse_act" }
func (CancelAct) CommandName() string         { return "cancel_act" }
func (RevokePOA) CommandName() string         { return "revoke_poa" }

// Commands returns a zero value of every command type, keyed by name. The
// protocol decodes a command body into a copy of the matching value.
func Commands() map[string]Command {
	out := make(map[string]Command, len(commandsByName))
	for k, v := range commandsByName {
		out[k] = v
	}
	return out
}

// CommandByName is the zero value of the command with this wire name, for
// decoding one (Commands without building a map for each command).
func CommandByName(name string) (Command, bool) {
	c, ok := commandsByName[name]
	return c, ok
}

// commandsByName is every command by its wire name; it is never written
// after start.
var commandsByName = func() map[string]Command {
	out := map[string]Command{}
	for _, c := range []Command{
		SubmitApplication{}, GiveConsent{}, RefuseConsent{}, RequestCall{}, AcceptCall{}, EndCall{},
		StartRecording{}, FinishRecording{},
		RecordCheck{}, RecordRegistryCheck{}, PresentDraft{}, ApproveDraft{}, RequestChanges{}, IssueInvoice{}, RecordPayment{},
		IssueDocumentCode{}, SignAct{}, RefuseAct{}, CancelAct{}, RevokePOA{},
		ExpireAct{}, GiveUpCall{}, LimitCall{}, StopRecording{}, SaveDocument{},
	} {
		out[c.CommandName()] = c
	}
	return out
}()
