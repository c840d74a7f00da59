package iin

import (
	"errors"
	"fmt"
	"time"
)

// Error is a refused IIN or BIN. Code is the stable code shown to users
// ("bad_iin" or "bad_bin"); Reason is one of the sentinel errors below and
// tells why.
type Error struct {
	Code    string
	Reason  error
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the reason, so that errors.Is(err, ErrCheckDigit) works.
func (e *Error) Unwrap() error { return e.Reason }

// Stable codes of refused numbers.
const (
	CodeBadIIN = "bad_iin"
	CodeBadBIN = "bad_bin"
)

// Reasons a number is refused.
var (
	// ErrLength: the number is not exactly 12 characters.
	ErrLength = errors.New("must be exactly 12 digits")
	// ErrNotDigits: a character is not an ASCII digit 0-9.
	ErrNotDigits = errors.New("must contain only the digits 0-9")
	// ErrCheckDigit: the 12th digit does not match the check-digit rule, or
	// the rule gives 10 on both passes.
	ErrCheckDigit = errors.New("check digit does not match")
	// ErrCenturySex: an IIN's 7th digit is not 1-6.
	ErrCenturySex = errors.New("7th digit (century and sex) must be 1-6")
	// ErrBirthDate: an IIN's first six digits are not a calendar date.
	ErrBirthDate = errors.New("first six digits are not a valid birth date")
	// ErrRegistrationDate: a BIN's month (digits 3-4) is not 01-12.
	ErrRegistrationDate = errors.New("digits 3-4 must be a registration month 01-12")
	// ErrEntityType: a BIN's 5th digit is not 4, 5 or 6, or its 6th digit not 0-4.
	ErrEntityType = errors.New("5th digit must be the entity type 4, 5 or 6 and the 6th an attribute 0-4")
)

var (
	weights1 = [11]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	weights2 = [11]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2}
)

// CheckDigit computes the check digit of the first 11 digits: the weighted
// sum with weights 1..11 mod 11, and if that is 10, with weights
// 3,4,5,6,7,8,9,10,11,1,2 mod 11. It reports false when the input is not 11
// ASCII digits or both passes give 10 (no valid number has these 11 digits).
func CheckDigit(first11 string) (int, bool) {
	if len(first11) != 11 {
		return 0, false
	}
	for i := 0; i < 11; i++ {
		if first11[i] < '0' || first11[i] > '9' {
			return 0, false
		}
	}
	for _, w := range [][11]int{weights1, weights2} {
		sum := 0
		for i := 0; i < 11; i++ {
			sum += int(first11[i]-'0') * w[i]
		}
		if d := sum % 11; d != 10 {
			return d, true
		}
	}
	return 0, false
}

// checkShape validates length, digits and the check digit common to both
// kinds of number.
func checkShape(s string) error {
	if len(s) != 12 {
		return ErrLength
	}
	for i := 0; i < 12; i++ {
		if s[i] < '0' || s[i] > '9' {
			return ErrNotDigits
		}
	}
	d, ok := CheckDigit(s[:11])
	if !ok || d != int(s[11]-'0') {
		return ErrCheckDigit
	}
	return nil
}

func refuse(code string, reason error, s string) *Error {
	what := "IIN"
	if code == CodeBadBIN {
		what = "BIN"
	}
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf("%s %q: %v", what, s, reason)}
}

func digits2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

// IIN is a validated individual identification number.
type IIN string

// Sex is a person's sex as the IIN encodes it.
type Sex int

// The sexes an IIN encodes.
const (
	Male Sex = iota + 1
	Female
)

func (s Sex) String() string {
	switch s {
	case Male:
		return "male"
	case Female:
		return "female"
	}
	return "unknown"
}

// ParseIIN validates s: 12 ASCII digits, a birth date YYMMDD, a century and
// sex digit 1-6, four serial digits and the check digit.
func ParseIIN(s string) (IIN, error) {
	if err := checkShape(s); err != nil {
		return "", refuse(CodeBadIIN, err, s)
	}
	cs := s[6] - '0'
	if cs < 1 || cs > 6 {
		return "", refuse(CodeBadIIN, ErrCenturySex, s)
	}
	year := 1800 + 100*int((cs-1)/2) + digits2(s[0:2])
	month, day := digits2(s[2:4]), digits2(s[4:6])
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if month < 1 || month > 12 || t.Day() != day || t.Month() != time.Month(month) {
		return "", refuse(CodeBadIIN, ErrBirthDate, s)
	}
	return IIN(s), nil
}

// String returns the 12 digits.
func (n IIN) String() string { return string(n) }

// BirthDate is the birth date the IIN encodes, at midnight UTC.
func (n IIN) BirthDate() time.Time {
	if len(n) != 12 {
		return time.Time{}
	}
	cs := n[6] - '0'
	year := 1800 + 100*int((cs-1)/2) + digits2(string(n[0:2]))
	return time.Date(year, time.Month(digits2(string(n[2:4]))), digits2(string(n[4:6])), 0, 0, 0, 0, time.UTC)
}

// Sex is the sex the IIN encodes: odd century digits are male, even female.
func (n IIN) Sex() Sex {
	if len(n) != 12 {
		return 0
	}
	if (n[6]-'0')%2 == 1 {
		return Male
	}
	return Female
}

// Masked shows the first four and last two digits, as public pages do
// ("8710******27").
func (n IIN) Masked() string { return mask(string(n)) }

func mask(s string) string {
	if len(s) != 12 {
		return "************"
	}
	return s[:4] + "******" + s[10:]
}

// BIN is a validated business identification number.
type BIN string

// EntityType is the kind of legal entity a BIN's 5th digit names.
type EntityType int

// The entity types of a BIN.
const (
	Resident    EntityType = 4 // legal entity, resident
	NonResident EntityType = 5 // legal entity, non-resident
	SoleTrader  EntityType = 6 // individual entrepreneur with a joint venture (ИП(С))
)

func (t EntityType) String() string {
	switch t {
	case Resident:
		return "resident legal entity"
	case NonResident:
		return "non-resident legal entity"
	case SoleTrader:
		return "sole trader (joint)"
	}
	return "unknown"
}

// ParseBIN validates s: 12 ASCII digits, a registration YYMM, the entity
// type 4-6, an attribute digit 0-4 (0 head office, 1 branch, 2
// representative office, 3 peasant farm, 4 other), five serial digits and
// the check digit.
func ParseBIN(s string) (BIN, error) {
	if err := checkShape(s); err != nil {
		return "", refuse(CodeBadBIN, err, s)
	}
	if m := digits2(s[2:4]); m < 1 || m > 12 {
		return "", refuse(CodeBadBIN, ErrRegistrationDate, s)
	}
	if t := s[4] - '0'; t < 4 || t > 6 || s[5] > '4' {
		return "", refuse(CodeBadBIN, ErrEntityType, s)
	}
	return BIN(s), nil
}

// String returns the 12 digits, or "" for the zero BIN.
func (b BIN) String() string { return string(b) }

// EntityType is the entity type the BIN's 5th digit names.
func (b BIN) EntityType() EntityType {
	if len(b) != 12 {
		return 0
	}
	return EntityType(b[4] - '0')
}

// Registered is the registration year and month the BIN encodes. The
// two-digit year is read as 19YY from 90 up, 20YY below (BINs began in the
// 1990s).
func (b BIN) Registered() (int, time.Month) {
	if len(b) != 12 {
		return 0, 0
	}
	yy := digits2(string(b[0:2]))
	year := 2000 + yy
	if yy >= 90 {
		year = 1900 + yy
	}
	return year, time.Month(digits2(string(b[2:4])))
}

// Masked shows the first four and last two digits.
func (b BIN) Masked() string { return mask(string(b)) }
