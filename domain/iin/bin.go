package iin

import "time"

// BIN is a business identification number (БИН) of a legal entity, branch,
// representative office or joint business. Values returned by ParseBIN are
// valid; the methods return zero values for other values, such as the empty
// BIN.
type BIN string

// EntityType is the kind of entity a BIN's 5th digit names. Its value is
// that digit.
type EntityType int

// The entity types of a BIN. The zero EntityType is unknown.
const (
	// Resident is a legal entity resident in Kazakhstan (5th digit 4).
	Resident EntityType = 4
	// NonResident is a non-resident legal entity (5th digit 5).
	NonResident EntityType = 5
	// SoleTrader is a joint business of individual entrepreneurs, ИП(С)
	// (5th digit 6).
	SoleTrader EntityType = 6
)

// String returns a short English name of the entity type, or "unknown".
func (t EntityType) String() string {
	switch t {
	case Resident:
		return "resident legal entity"
	case NonResident:
		return "non-resident legal entity"
	case SoleTrader:
		return "sole trader (joint business)"
	}
	return "unknown"
}

// ParseBIN validates s as a BIN: exactly 12 ASCII digits, with no
// surrounding whitespace, forming a registration year and month YYMM (month
// 01-12), an entity type digit 4-6 (see EntityType), an attribute digit 0-4
// (0 head unit, 1 branch, 2 representative office, 3 peasant farm, 4 other),
// five serial digits and the check digit. A refusal is an *Error with Code
// CodeBadBIN whose Reason is ErrLength, ErrNotDigits, ErrCheckDigit (Code
// CodeBadBINChecksum), ErrRegistrationDate or ErrEntityType, checked in
// that order.
func ParseBIN(s string) (BIN, error) {
	if err := checkShape(s); err != nil {
		return "", refuse(CodeBadBIN, err, s)
	}
	if m := num2(s, 2); m < 1 || m > 12 {
		return "", refuse(CodeBadBIN, ErrRegistrationDate, s)
	}
	if t := EntityType(s[4] - '0'); t < Resident || t > SoleTrader || s[5] > '4' {
		return "", refuse(CodeBadBIN, ErrEntityType, s)
	}
	return BIN(s), nil
}

// valid reports whether b is a well-formed BIN.
func (b BIN) valid() bool {
	_, err := ParseBIN(string(b))
	return err == nil
}

// String returns the 12 digits.
func (b BIN) String() string { return string(b) }

// EntityType returns the entity type the BIN's 5th digit names, or the zero
// EntityType if b is not a valid BIN.
func (b BIN) EntityType() EntityType {
	if !b.valid() {
		return 0
	}
	return EntityType(b[4] - '0')
}

// Registered returns the registration year and month the BIN's first four
// digits encode, or zeros if b is not a valid BIN. The two-digit year YY is
// read as 19YY from 90 up and as 20YY below: Kazakhstan's registers of legal
// entities begin in the 1990s.
func (b BIN) Registered() (year int, month time.Month) {
	if !b.valid() {
		return 0, 0
	}
	yy := num2(string(b), 0)
	year = 2000 + yy
	if yy >= 90 {
		year = 1900 + yy
	}
	return year, time.Month(num2(string(b), 2))
}

// Masked returns the BIN for public display, with only the first four and
// the last two digits visible ("9401******85"). It is twelve asterisks if b
// is not 12 characters long.
func (b BIN) Masked() string { return mask(string(b)) }
