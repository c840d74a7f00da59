package pki

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable reason for refusing a signature, a
// certificate or a key store. Codes appear in protocol errors, CLI output and
// audit reports; they never change meaning once published.
type Code string

// The refusal codes of this package.
const (
	// CodeMalformed: the input is not a well-formed CMS SignedData with exactly
	// one signer whose certificate is included, or a certificate lacks the NUC
	// subject fields Senim needs.
	CodeMalformed Code = "malformed"
	// CodeBadSignature: the signature does not match the content or the signed
	// attributes (tampering, or the wrong document).
	CodeBadSignature Code = "bad_signature"
	// CodeUntrustedChain: the signer's certificate does not chain to a root in
	// the trust store.
	CodeUntrustedChain Code = "untrusted_chain"
	// CodeExpired: a certificate in the chain was not valid at the time the
	// signature is judged at (expired or not yet valid).
	CodeExpired Code = "expired"
	// CodeWrongKeyUsage: the certificate's key usage does not fit the purpose
	// (an authentication key used to sign a document, or the reverse).
	CodeWrongKeyUsage Code = "wrong_key_usage"
	// CodeWrongRole: the certificate lacks the role OID the caller requires.
	CodeWrongRole Code = "wrong_role"
	// CodeRevoked: a certificate in the chain is listed in a CRL of its issuer.
	CodeRevoked Code = "revoked"
	// CodeRevocationUnknown: whether a certificate in the chain is revoked
	// cannot be told: its issuer's CRL is past its next update, or there is
	// none while CRLs are required. Senim fails closed rather than guess.
	CodeRevocationUnknown Code = "revocation_unknown"
	// CodeWeakAlgorithm: the CMS or a certificate of the chain uses MD5 or
	// SHA-1 (digest or signature algorithm), which can be forged.
	CodeWeakAlgorithm Code = "weak_algorithm"
	// CodeBadSigningTime: a live signature (sign-in, approval) carries a
	// signing time too far from the verifier's clock.
	CodeBadSigningTime Code = "bad_signing_time"
	// CodeWeakPassword: a new key-store password breaks the NUC rule.
	CodeWeakPassword Code = "weak_password"
	// CodeWrongPassword: a key store could not be opened with the password.
	CodeWrongPassword Code = "wrong_password"
	// CodeBadKeyStore: a key store is unreadable or holds an unsupported key.
	CodeBadKeyStore Code = "bad_keystore"
)

// Error is a refusal with a stable code and a human-readable message. Err,
// when set, is the underlying cause from a library.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Code: c}) match any *Error with code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// CodeOf returns the code of the first *Error in err's chain, or "" if none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func refuse(code Code, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}
