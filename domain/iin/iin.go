package iin

import (
	"time"
	"unicode/utf8"
)

// Weights of the two passes of the check-digit rule.
var (
	weights1 = [11]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	weights2 = [11]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2}
)

// CheckDigit computes the check digit of the first 11 digits of an IIN or
// BIN: the sum of the digits times the weights 1..11, mod 11; if that is 10,
// the sum with the weights 3,4,5,6,7,8,9,10,11,1,2 instead, mod 11. It
// reports false when that is 10 again, so that no valid number begins with
// these digits, and when first11 is not exactly 11 ASCII digits.
func CheckDigit(first11 string) (int, bool) {
	if len(first11) != 11 {
		return 0, false
	}
	for i := 0; i < len(first11); i++ {
		if !isDigit(first11[i]) {
			return 0, false
		}
	}
	for _, w := range [...][11]int{weights1, weights2} {
		sum := 0
		for i := range w {
			sum += int(first11[i]-'0') * w[i]
		}
		if d := sum % 11; d != 10 {
			return d, true
		}
	}
	return 0, false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// checkShape checks what IINs and BINs share: exactly 12 characters (runes,
// so that a non-ASCII digit is reported as such), all ASCII digits, and the
// check digit.
func checkShape(s string) error {
	if utf8.RuneCountInString(s) != 12 {
		return ErrLength
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return ErrNotDigits
		}
	}
	// All bytes are ASCII digits, so len(s) == 12 here.
	if d, ok := CheckDigit(s[:11]); !ok || d != int(s[11]-'0') {
		return ErrCheckDigit
	}
	return nil
}

// num2 reads the two ASCII digits at s[i:i+2].
func num2(s string, i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }

// mask keeps the first four and last two digits of a 12-digit number.
func mask(s string) string {
	if len(s) != 12 {
		return "************"
	}
	return s[:4] + "******" + s[10:]
}

// IIN is an individual identification number (ИИН) of a person. Values
// returned by ParseIIN are valid; the methods return zero values for other
// values, such as the empty IIN.
type IIN string

// Sex is a person's sex as an IIN encodes it.
type Sex int

// The sexes an IIN encodes. The zero Sex is unknown.
const (
	// Male is encoded by the odd century digits 1, 3, 5.
	Male Sex = iota + 1
	// Female is encoded by the even century digits 2, 4, 6.
	Female
)

// String returns "male", "female" or "unknown".
func (s Sex) String() string {
	switch s {
	case Male:
		return "male"
	case Female:
		return "female"
	}
	return "unknown"
}

// ParseIIN validates s as an IIN: exactly 12 ASCII digits, with no
// surrounding whitespace, forming a birth date YYMMDD, a century and sex
// digit 1-6, four serial digits and the check digit. A refusal is an *Error
// with Code CodeBadIIN whose Reason is ErrLength, ErrNotDigits,
// ErrCheckDigit (Code CodeBadIINChecksum), ErrCenturySex or ErrBirthDate,
// checked in that order.
func ParseIIN(s string) (IIN, error) {
	if err := checkShape(s); err != nil {
		return "", refuse(CodeBadIIN, err, s)
	}
	if _, err := birthDate(s); err != nil {
		return "", refuse(CodeBadIIN, err, s)
	}
	return IIN(s), nil
}

// birthDate decodes the birth date of the 12 ASCII digits s.
func birthDate(s string) (time.Time, error) {
	cs := int(s[6] - '0')
	if cs < 1 || cs > 6 {
		return time.Time{}, ErrCenturySex
	}
	year := 1800 + 100*((cs-1)/2) + num2(s, 0)
	month, day := time.Month(num2(s, 2)), num2(s, 4)
	t := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	// time.Date normalises 30 February to 2 March; a date that does not
	// survive the round trip is not a calendar date.
	if month < time.January || month > time.December || t.Month() != month || t.Day() != day {
		return time.Time{}, ErrBirthDate
	}
	return t, nil
}

// valid reports whether n is a well-formed IIN, so that methods on an
// unchecked value neither panic nor report nonsense.
func (n IIN) valid() bool {
	_, err := ParseIIN(string(n))
	return err == nil
}

// String returns the 12 digits.
func (n IIN) String() string { return string(n) }

// BirthDate returns the birth date the IIN encodes, at midnight UTC, or the
// zero time if n is not a valid IIN.
func (n IIN) BirthDate() time.Time {
	if !n.valid() {
		return time.Time{}
	}
	t, _ := birthDate(string(n))
	return t
}

// Sex returns the sex the IIN's 7th digit encodes, or the zero Sex if n is
// not a valid IIN.
func (n IIN) Sex() Sex {
	if !n.valid() {
		return 0
	}
	if (n[6]-'0')%2 == 1 {
		return Male
	}
	return Female
}

// Masked returns the IIN for public display, with only the first four and
// the last two digits visible ("8710******27"). It is twelve asterisks if n
// is not 12 characters long.
func (n IIN) Masked() string { return mask(string(n)) }
