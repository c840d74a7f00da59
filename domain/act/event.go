package act

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Event is a fact about an act. Each event type has a stable name; the
// event log stores the name and the JSON of the struct.
type Event interface{ EventType() string }

// ApplicationSubmitted opens the act.
type ApplicationSubmitted struct {
	ActID      string    `json:"act_id"`
	ActionType string    `json:"action_type"`
	Principal  Party     `json:"principal"`
	Attorney   Party     `json:"attorney"`
	Signature  Signature `json:"signature"`
	At         time.Time `json:"at"`
}

// ConsentRequested: the attorney is asked for consent through the consent service.
type ConsentRequested struct {
	AttorneyIIN string `json:"attorney_iin"`
}

// ConsentGiven carries the attorney's signed consent.
type ConsentGiven struct {
	Signature Signature `json:"signature"`
}

// ConsentRefused ends the act.
type ConsentRefused struct {
	Reason string `json:"reason"`
}

// CallRequested puts the act in the desk's queue.
type CallRequested struct {
	At time.Time `json:"at"`
}

// CallAccepted binds the act to the notary who took the call.
type CallAccepted struct {
	Notary Actor `json:"notary"`
}

// CallEnded: the call is over (the act goes on).
type CallEnded struct {
	By string `json:"by"`
	// Reason is set when Senim ended the call: max_length.
	Reason string `json:"reason,omitempty"`
}

// CheckRecorded is an identity check with its outcome.
type CheckRecorded struct {
	Check  Check     `json:"check"`
	Passed bool      `json:"passed"`
	Note   string    `json:"note,omitempty"`
	At     time.Time `json:"at"`
}

// DraftPresented is a new revision shown to the client. It voids any
// approval of an earlier revision.
type DraftPresented struct {
	Revision int       `json:"revision"`
	Draft    Draft     `json:"draft"`
	At       time.Time `json:"at"`
}

// DraftApproved binds the client's approval to one revision.
type DraftApproved struct {
	Revision  int       `json:"revision"`
	Signature Signature `json:"signature"`
}

// ChangesRequested sends a revision back with comments.
type ChangesRequested struct {
	Revision int    `json:"revision"`
	Comments string `json:"comments"`
}

// InvoiceIssued bills an approved revision.
type InvoiceIssued struct {
	Invoice Invoice `json:"invoice"`
}

// InvoiceVoided: a new revision changed the amount of an unpaid invoice.
type InvoiceVoided struct {
	InvoiceID string `json:"invoice_id"`
}

// PaymentReceived is the bank's confirmation.
type PaymentReceived struct {
	Payment Payment `json:"payment"`
}

// DocumentCodeIssued assigns the unique identification code and fixes the
// document's date, the history it seals and what renders its text (absent
// from the events of acts coded before the inputs were recorded).
type DocumentCodeIssued struct {
	Code        string    `json:"code"`
	HistoryHead string    `json:"history_head"`
	At          time.Time `json:"at"`
	DocumentInputs
}

// ActSigned: the notary signed the document. Final.
type ActSigned struct {
	Signature   Signature `json:"signature"`
	DocumentSHA string    `json:"document_sha256"`
	At          time.Time `json:"at"`
}

// ActRefused: the notary refused. Final.
type ActRefused struct {
	Reason string `json:"reason"`
}

// POARevoked: the principal revoked the signed power of attorney. Final.
type POARevoked struct {
	Reason    string    `json:"reason"`
	Signature Signature `json:"signature"`
	At        time.Time `json:"at"`
}

// ActCancelled: the client cancelled. Final.
type ActCancelled struct {
	Reason string `json:"reason"`
}

func (ApplicationSubmitted) EventType() string { return "application_submitted" }
func (ConsentRequested) EventType() string     { return "consent_requested" }
func (ConsentGiven) EventType() string         { return "consent_given" }
func (ConsentRefused) EventType() string       { return "consent_refused" }
func (CallRequested) EventType() string        { return "call_requested" }
func (CallAccepted) EventType() string         { return "call_accepted" }
func (CallEnded) EventType() string            { return "call_ended" }
func (CheckRecorded) EventType() string        { return "check_recorded" }
func (DraftPresented) EventType() string       { return "draft_presented" }
func (DraftApproved) EventType() string        { return "draft_approved" }
func (ChangesRequested) EventType() string     { return "changes_requested" }
func (InvoiceIssued) EventType() string        { return "invoice_issued" }
func (InvoiceVoided) EventType() string        { return "invoice_voided" }
func (PaymentReceived) EventType() string      { return "payment_received" }
func (DocumentCodeIssued) EventType() string   { return "document_code_issued" }
func (ActSigned) EventType() string            { return "act_signed" }
func (ActRefused) EventType() string           { return "act_refused" }
func (ActCancelled) EventType() string         { return "act_cancelled" }
func (POARevoked) EventType() string           { return "poa_revoked" }

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
	register[ApplicationSubmitted]()
	register[ConsentRequested]()
	register[ConsentGiven]()
	register[ConsentRefused]()
	register[CallRequested]()
	register[CallAccepted]()
	register[CallEnded]()
	register[CheckRecorded]()
	register[DraftPresented]()
	register[DraftApproved]()
	register[ChangesRequested]()
	register[InvoiceIssued]()
	register[InvoiceVoided]()
	register[PaymentReceived]()
	register[DocumentCodeIssued]()
	register[ActSigned]()
	register[ActRefused]()
	register[ActCancelled]()
	register[POARevoked]()
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
		return nil, fmt.Errorf("act: unknown event type %q", typ)
	}
	e, err := dec(payload)
	if err != nil {
		return nil, fmt.Errorf("act: event %s: %w", typ, err)
	}
	return e, nil
}
