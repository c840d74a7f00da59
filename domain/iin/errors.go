package iin

import (
	"errors"
	"strconv"
)

// Stable codes of refused numbers, as shown to users and clients.
const (
	// CodeBadIIN is the Code of every error returned by ParseIIN but a
	// wrong check digit.
	CodeBadIIN = "bad_iin"
	// CodeBadBIN is the Code of every error returned by ParseBIN but a
	// wrong check digit.
	CodeBadBIN = "bad_bin"
	// CodeBadIINChecksum is the Code of ParseIIN's refusal of twelve
	// digits whose check digit does not match (ErrCheckDigit): most often
	// one digit mistyped, which a person is told apart from a wrong shape.
	CodeBadIINChecksum = "bad_iin_checksum"
	// CodeBadBINChecksum is CodeBadIINChecksum for ParseBIN.
	CodeBadBINChecksum = "bad_bin_checksum"
)

// Error is a refused IIN or BIN. Code is the stable code shown to users
// (CodeBadIIN or CodeBadBIN, CodeBadIINChecksum or CodeBadBINChecksum when
// the Reason is ErrCheckDigit); Reason is one of the sentinel errors of this
// package and tells why; Message is a human-readable explanation that quotes
// the refused input.
type Error struct {
	Code    string
	Reason  error
	Message string
}

// Error returns the code followed by the message.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the reason, so that errors.Is(err, ErrCheckDigit) and the
// like work on an *Error.
func (e *Error) Unwrap() error { return e.Reason }

// Reasons a number is refused; one of these is the Reason of every *Error.
var (
	// ErrLength means the input is not exactly 12 characters (runes) long.
	ErrLength = errors.New("must be exactly 12 digits")

	// ErrNotDigits means a character is not an ASCII digit 0-9. Other
	// Unicode digits, signs and whitespace are refused with this reason.
	ErrNotDigits = errors.New("must contain only the digits 0-9")

	// ErrCheckDigit means the 12th digit does not match CheckDigit of the
	// first 11, or the first 11 have no check digit at all (both weight
	// passes give 10).
	ErrCheckDigit = errors.New("check digit does not match")

	// ErrCenturySex means an IIN's 7th digit, the century and sex of its
	// holder, is not 1-6.
	ErrCenturySex = errors.New("7th digit (century and sex) must be 1-6")

	// ErrBirthDate means an IIN's first six digits are not a calendar date
	// in the century its 7th digit names (for example 29 February of a
	// year that is not a leap year).
	ErrBirthDate = errors.New("first six digits are not a valid birth date")

	// ErrRegistrationDate means a BIN's registration month (digits 3-4) is
	// not 01-12.
	ErrRegistrationDate = errors.New("digits 3-4 must be a registration month 01-12")

	// ErrEntityType means a BIN's 5th digit is not an entity type 4, 5 or
	// 6, or its 6th digit is not an attribute 0-4.
	ErrEntityType = errors.New("5th digit must be an entity type 4-6 and the 6th an attribute 0-4")
)

// refuse builds the *Error for input s refused with reason.
func refuse(code string, reason error, s string) *Error {
	what := "IIN"
	if code == CodeBadBIN {
		what = "BIN"
	}
	if reason == ErrCheckDigit {
		code = checksumCode(code)
	}
	return &Error{Code: code, Reason: reason, Message: what + " " + quote(s) + ": " + reason.Error()}
}

// quote quotes s for a message, cutting overlong input so that a hostile
// caller cannot make messages arbitrarily large.
func quote(s string) string {
	const max = 32
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

// checksumCode is the check-digit code of a number's kind (CodeBadIIN or
// CodeBadBIN).
func checksumCode(code string) string {
	if code == CodeBadBIN {
		return CodeBadBINChecksum
	}
	return CodeBadIINChecksum
}

// CodeOf is the stable code of a refusal of ParseIIN or ParseBIN (an
// *Error in err's chain), or "" for any other error.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
