package issuance

import (
	"fmt"

	"github.com/senim-kz/senim/domain/iin"
)

// Code is a stable reason for refusing a command. Codes reach the protocol,
// the apps and the logs unchanged.
type Code string

// Refusal codes of the issuance core.
const (
	// CodeNotAllowedInState: the command does not fit the application's phase.
	CodeNotAllowedInState Code = "not_allowed_in_state"
	// CodeForbidden: the actor has no part in this application, or not this part.
	CodeForbidden Code = "forbidden"
	// CodeUnknownCommand: a command type the core does not know.
	CodeUnknownCommand Code = "unknown_command"
	// CodeBadRequest: a field the shell should have filled is missing or malformed.
	CodeBadRequest Code = "bad_request"
	// CodeNoSuchApplication: a command for an application that was never started.
	CodeNoSuchApplication Code = "no_such_application"
	// CodeBadApplicationID: an application id the server did not make.
	CodeBadApplicationID Code = "bad_application_id"
	// CodeBadIIN: the applicant's IIN fails its format or check digit.
	CodeBadIIN Code = "bad_iin"
	// CodeBadBIN: the organisation's BIN fails its format or check digit.
	CodeBadBIN Code = "bad_bin"
	// CodeBadIINChecksum: the applicant's IIN has twelve digits whose
	// check digit does not match (a digit mistyped).
	CodeBadIINChecksum Code = iin.CodeBadIINChecksum
	// CodeBadBINChecksum: the organisation's BIN has twelve digits whose
	// check digit does not match.
	CodeBadBINChecksum Code = iin.CodeBadBINChecksum
	// CodeBadKind: neither an individual nor a legal entity.
	CodeBadKind Code = "bad_kind"
	// CodeBadTemplate: a legal entity's template is missing or unknown, or
	// an individual named one.
	CodeBadTemplate Code = "bad_template"
	// CodeNotFirstHead: the first-head template for someone the register of
	// legal entities does not name as the BIN's first head.
	CodeNotFirstHead Code = "not_first_head"
	// CodeBadPhone: the phone is not a Kazakh mobile number (+7 7XX XXX XX XX).
	CodeBadPhone Code = "bad_phone"
	// CodePhoneUnknown: the applicant's IIN has no phone in the mobile-citizen
	// database (БМГ); registration by a video call is the way on.
	CodePhoneUnknown Code = "phone_unknown"
	// CodeResendTooEarly: a new code before the current one's countdown ended.
	CodeResendTooEarly Code = "resend_too_early"
	// CodeOTPLocked: too many codes for this IIN in the window; try later.
	CodeOTPLocked Code = "otp_locked"
	// CodeNoCode: a code is entered but none is outstanding (none sent, or
	// the last one used up its tries).
	CodeNoCode Code = "no_code"
	// CodeCodeExpired: the code's lifetime is over; ask for a new one.
	CodeCodeExpired Code = "code_expired"
	// CodeWrongCode: the code does not match. The attempt is recorded.
	CodeWrongCode Code = "wrong_code"
	// CodeReasonRequired: a decision that needs a reason came without one.
	CodeReasonRequired Code = "reason_required"
	// CodeWrongOperator: the registration call or moderation case belongs
	// to another operator or moderator.
	CodeWrongOperator Code = "wrong_operator"
	// CodeBadDocumentKind: neither an ID card nor a passport, or an upload
	// or field set for the other kind.
	CodeBadDocumentKind Code = "bad_document_kind"
	// CodeBadUpload: an upload whose name, SHA-256, size or purpose is malformed.
	CodeBadUpload Code = "bad_upload"
	// CodeUploadType: a file type the step does not take (JPEG/PNG photos,
	// WebM liveness video).
	CodeUploadType Code = "upload_type"
	// CodeUploadTooLarge: a file beyond the step's size limit.
	CodeUploadTooLarge Code = "upload_too_large"
	// CodeTooManyUploads: the step's attempts are used up.
	CodeTooManyUploads Code = "too_many_uploads"
	// CodeMissingUpload: a check or recognition before the files it reads.
	CodeMissingUpload Code = "missing_upload"
	// CodeFieldsMismatch: the confirmed fields differ from the recognised ones.
	CodeFieldsMismatch Code = "fields_mismatch"
	// CodeIdentityMismatch: the recognised document belongs to another IIN.
	CodeIdentityMismatch Code = "identity_mismatch"
	// CodeBadEmail: the e-mail address is malformed.
	CodeBadEmail Code = "bad_email"
	// CodeBadCSR: a certificate request is malformed, or the set of
	// purposes is not one AUTH and one SIGN.
	CodeBadCSR Code = "bad_csr"
	// CodeWeakKey: a key shorter than Rules.MinKeyBits.
	CodeWeakKey Code = "weak_key"
	// CodeKeyReused: a public key that was certified before, or used twice.
	CodeKeyReused Code = "key_reused"
	// CodeSubjectMismatch: a request's subject IIN or BIN is not the
	// verified identity's.
	CodeSubjectMismatch Code = "subject_mismatch"
	// CodeSignerMismatch: an approval signed by someone other than the actor.
	CodeSignerMismatch Code = "signer_mismatch"
	// CodeContentMismatch: an approval over other bytes than ApprovalBytes.
	CodeContentMismatch Code = "content_mismatch"
	// CodeOtherBIN: an approver whose certificate names another BIN.
	CodeOtherBIN Code = "other_bin"
	// CodeWrongRole: an approver without the role the step needs (HR, then first head).
	CodeWrongRole Code = "wrong_role"
	// CodeApprovalOrder: the first head approving before the HR employee.
	CodeApprovalOrder Code = "approval_order"
	// CodeAuthKey: an approval signed with an authentication (AUTH) key.
	CodeAuthKey Code = "auth_key"
	// CodeSelfApproval: the applicant approving their own application.
	CodeSelfApproval Code = "self_approval"
	// CodeCertificateMismatch: issued certificates that do not answer the
	// application's requests.
	CodeCertificateMismatch Code = "certificate_mismatch"
	// CodeNotDue: an expiry before the application's time is up.
	CodeNotDue Code = "not_due"
	// CodeBadRecording: a call's recording that is malformed, or one too
	// many (MaxRecordings).
	CodeBadRecording Code = "bad_recording"
)

// Error is a refused command.
type Error struct {
	Code    Code
	Message string
}

// Error returns the code followed by the message.
func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Is matches any *Error with the same code, so errors.Is(err, &Error{Code: c}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

func refuse(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Codes lists every refusal code, for the protocol's table and the catalogs.
func Codes() []Code {
	return []Code{
		CodeNotAllowedInState, CodeForbidden, CodeUnknownCommand, CodeBadRequest, CodeNoSuchApplication,
		CodeBadApplicationID, CodeBadIIN, CodeBadBIN, CodeBadIINChecksum, CodeBadBINChecksum, CodeBadKind, CodeBadTemplate, CodeNotFirstHead, CodeBadPhone,
		CodePhoneUnknown, CodeResendTooEarly, CodeOTPLocked, CodeNoCode, CodeCodeExpired, CodeWrongCode,
		CodeReasonRequired, CodeWrongOperator, CodeBadDocumentKind, CodeBadUpload, CodeUploadType,
		CodeUploadTooLarge, CodeTooManyUploads, CodeMissingUpload, CodeFieldsMismatch, CodeIdentityMismatch,
		CodeBadEmail, CodeBadCSR, CodeWeakKey, CodeKeyReused, CodeSubjectMismatch, CodeSignerMismatch,
		CodeContentMismatch, CodeOtherBIN, CodeWrongRole, CodeApprovalOrder, CodeAuthKey, CodeSelfApproval,
		CodeCertificateMismatch, CodeNotDue, CodeBadRecording,
	}
}

// ValidApplicationID reports whether id has the form of the ids the server
// makes: 32 lower-case hex digits (the milliseconds it was made at, then 80
// random bits; ids made before that were wholly random). An id names the log
// stream issuance/<id>, so nothing else may open an application.
func ValidApplicationID(id string) bool {
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

// numberCode is the refusal code of an IIN or BIN that domain/iin refused:
// its check-digit code for a mistyped digit, else general.
func numberCode(err error, general Code) Code {
	switch c := iin.CodeOf(err); c {
	case iin.CodeBadIINChecksum, iin.CodeBadBINChecksum:
		return Code(c)
	}
	return general
}
