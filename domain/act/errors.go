package act

import (
	"fmt"

	"github.com/senim-kz/senim/domain/iin"
)

// Code is a stable reason for refusing a command. Codes reach the protocol,
// the apps and the logs unchanged.
type Code string

// Refusal codes of the act core.
const (
	// CodeNotAllowedInState: the command does not fit the act's phase.
	CodeNotAllowedInState Code = "not_allowed_in_state"
	// CodeForbidden: the actor has no part in this act, or not this part.
	CodeForbidden Code = "forbidden"
	// CodeBadIIN: an IIN fails its format (or its birth date).
	CodeBadIIN Code = "bad_iin"
	// CodeBadIINChecksum: an IIN of twelve digits whose check digit does
	// not match (a digit mistyped).
	CodeBadIINChecksum Code = iin.CodeBadIINChecksum
	// CodeBadPhone: the phone is not a Kazakh mobile number (+7 7XX XXX XX XX).
	CodeBadPhone Code = "bad_phone"
	// CodeBadAttorney: the attorney is the principal.
	CodeBadAttorney Code = "bad_attorney"
	// CodeConsentRequired: the personal-data consent box was not ticked.
	CodeConsentRequired Code = "consent_required"
	// CodeUnsupportedAction: an action type other than a power of attorney.
	CodeUnsupportedAction Code = "unsupported_action"
	// CodeSignerMismatch: the signature was made by someone other than the actor.
	CodeSignerMismatch Code = "signer_mismatch"
	// CodeContentMismatch: the signature is over other bytes than the ones
	// the step requires (another application, revision or document).
	CodeContentMismatch Code = "content_mismatch"
	// CodeWrongNotary: the act is assigned to another notary.
	CodeWrongNotary Code = "wrong_notary"
	// CodeBadCheck: an unknown identity check or outcome.
	CodeBadCheck Code = "bad_check"
	// CodeBadDraft: a draft field is missing or out of range (powers, registry number, amounts).
	CodeBadDraft Code = "bad_draft"
	// CodeTermTooLong: a term beyond the Civil Code's three years.
	CodeTermTooLong Code = "term_too_long"
	// CodeStaleRevision: an approval or a change request for a revision that
	// is not the current one.
	CodeStaleRevision Code = "stale_revision"
	// CodeAlreadyApproved: changes requested on a revision already approved.
	CodeAlreadyApproved Code = "already_approved"
	// CodeDraftNotApproved: the current revision is not approved by the client.
	CodeDraftNotApproved Code = "draft_not_approved"
	// CodeFeesLocked: a revision would change the amount after payment.
	CodeFeesLocked Code = "fees_locked"
	// CodeUnknownInvoice: a payment for an invoice the act did not issue, or a voided one.
	CodeUnknownInvoice Code = "unknown_invoice"
	// CodeAmountMismatch: a payment whose amount differs from the invoice.
	CodeAmountMismatch Code = "amount_mismatch"
	// CodeAlreadyPaid: a second, different payment for a paid invoice.
	CodeAlreadyPaid Code = "already_paid"
	// CodeNotPaid: signing, or issuing the document code, before payment.
	CodeNotPaid Code = "not_paid"
	// CodeChecksIncomplete: signing before the identity checks passed.
	CodeChecksIncomplete Code = "checks_incomplete"
	// CodeNoDocumentCode: signing before the document code was issued.
	CodeNoDocumentCode Code = "no_document_code"
	// CodeReasonRequired: a refusal or cancellation without a reason.
	CodeReasonRequired Code = "reason_required"
	// CodeUnknownDocumentFormat: the act's recorded template version does not
	// render here (a log from a newer Senim), so there is nothing to sign.
	CodeUnknownDocumentFormat Code = "unknown_document_format"
	// CodeNotAParty: a registry look-up of someone who is neither the act's
	// principal nor its attorney.
	CodeNotAParty Code = "not_a_party"
	// CodeUnknownCommand: a command type the core does not know.
	// CodeBadRecording: the media server named a recording the act does not know, or a malformed file.
	CodeBadRecording   Code = "bad_recording"
	CodeUnknownCommand Code = "unknown_command"
)

// Error is a refused command.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Is matches any *Error with the same code, so errors.Is(err, &Error{Code: c}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

func refuse(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Codes for malformed commands and unknown acts.
const (
	// CodeBadRequest: a command field the shell should have filled is missing.
	CodeBadRequest Code = "bad_request"
	// CodeNoSuchAct: a command for an act that has no application yet.
	CodeNoSuchAct Code = "no_such_act"
	// CodeBadActID: an act id the server did not make (see ValidActID).
	CodeBadActID Code = "bad_act_id"
)

// ValidActID reports whether id has the form of the act ids the server
// makes: 32 lower-case hex digits (the milliseconds it was made at, then 80
// random bits; ids made before that were wholly random). An act id names a log
// stream and a recordings directory, so nothing else may open an act.
func ValidActID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// IINCode is the refusal code of an IIN that iin.ParseIIN refused:
// CodeBadIINChecksum for a mistyped digit, else CodeBadIIN.
func IINCode(err error) Code {
	if iin.CodeOf(err) == iin.CodeBadIINChecksum {
		return CodeBadIINChecksum
	}
	return CodeBadIIN
}
