package iin

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// withCheck appends the check digit to 11 digits.
func withCheck(t testing.TB, first11 string) string {
	t.Helper()
	d, ok := CheckDigit(first11)
	if !ok {
		t.Fatalf("%s has no check digit", first11)
	}
	return fmt.Sprintf("%s%d", first11, d)
}

// wrongCheck appends a digit other than the check digit to 11 digits.
func wrongCheck(t testing.TB, first11 string) string {
	t.Helper()
	d, ok := CheckDigit(first11)
	if !ok {
		t.Fatalf("%s has no check digit", first11)
	}
	return fmt.Sprintf("%s%d", first11, (d+1)%10)
}

// firstPass is the weighted sum with weights 1..11 mod 11, computed
// independently of CheckDigit.
func firstPass(first11 string) int {
	sum := 0
	for i := 0; i < 11; i++ {
		sum += int(first11[i]-'0') * (i + 1)
	}
	return sum % 11
}

// checkRefusal asserts that err is an *Error with the given code and reason.
func checkRefusal(t *testing.T, in string, err error, code string, reason error) {
	t.Helper()
	if !errors.Is(err, reason) {
		t.Errorf("%q: err %v, want reason %v", in, err, reason)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%q: err %#v is not an *Error", in, err)
	}
	if reason == ErrCheckDigit { // a mistyped digit has its own code
		code = map[string]string{CodeBadIIN: CodeBadIINChecksum, CodeBadBIN: CodeBadBINChecksum}[code]
	}
	if e.Code != code || e.Reason != reason {
		t.Errorf("%q: code %q reason %v, want %q %v", in, e.Code, e.Reason, code, reason)
	}
}

var reasons = []error{ErrLength, ErrNotDigits, ErrCheckDigit, ErrCenturySex, ErrBirthDate, ErrRegistrationDate, ErrEntityType}

func TestParseIIN(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want error // nil: valid
	}{
		// Public vectors.
		{"vector", "871008401427", nil},
		{"vector", "760212350620", nil},
		{"vector first pass 10", "061211600012", nil},
		{"vector", "791028302728", nil},
		// 94-01-40 with century digit 0 and a wrong check digit: the check
		// digit is tested first.
		{"vector", "940140000380", ErrCheckDigit},
		{"vector both passes 10", "821214240092", ErrCheckDigit},
		// A valid BIN is not an IIN: century digit 0 (and day 40).
		{"BIN as IIN", "940140000385", ErrCenturySex},

		{"empty", "", ErrLength},
		{"11 digits", "87100840142", ErrLength},
		{"13 digits", "8710084014270", ErrLength},
		{"leading space", " 871008401427", ErrLength},
		{"trailing newline", "871008401427\n", ErrLength},
		{"space inside", "87100840142 ", ErrNotDigits},
		{"letter", "87100840142a", ErrNotDigits},
		{"sign", "+87100840142", ErrNotDigits},
		{"Arabic-Indic digit", "8710084014٢7", ErrNotDigits},
		{"fullwidth digits", "８７１００８４０１４２７", ErrNotDigits},
		{"Arabic-Indic, 12 bytes", "871008401٢7", ErrLength},
		{"invalid UTF-8", "87100840142\xff", ErrNotDigits},
		{"check digit wrong", "871008401428", ErrCheckDigit},
		{"check digit wrong", wrongCheck(t, "76021235062"), ErrCheckDigit},

		{"century 0", withCheck(t, "87100800142"), ErrCenturySex},
		{"century 7", withCheck(t, "87100870142"), ErrCenturySex},
		{"century 8", withCheck(t, "87100880142"), ErrCenturySex},
		{"century 9", withCheck(t, "87100890142"), ErrCenturySex},
		{"century 1", withCheck(t, "87100810142"), nil},
		{"century 2", withCheck(t, "87100820142"), nil},
		{"century 5", withCheck(t, "87100850142"), nil},

		{"month 00", withCheck(t, "87000840142"), ErrBirthDate},
		{"month 13", withCheck(t, "87130840142"), ErrBirthDate},
		{"day 00", withCheck(t, "87100040142"), ErrBirthDate},
		{"day 32", withCheck(t, "87103240142"), ErrBirthDate},
		{"day 40", withCheck(t, "94014040003"), ErrBirthDate},
		{"31 April", withCheck(t, "87043140142"), ErrBirthDate},
		{"30 April", withCheck(t, "87043040142"), nil},
		{"29 Feb 1988 leap", withCheck(t, "88022940142"), nil},
		{"29 Feb 1987 not leap", withCheck(t, "87022940142"), ErrBirthDate},
		{"29 Feb 2000 leap", withCheck(t, "00022950142"), nil},
		{"29 Feb 1900 not leap", withCheck(t, "00022930142"), ErrBirthDate},
		{"29 Feb 2001 not leap", withCheck(t, "01022960142"), ErrBirthDate},
		{"29 Feb 1896 leap", withCheck(t, "96022910142"), nil},
		{"29 Feb 1800 not leap", withCheck(t, "00022920142"), ErrBirthDate},
	}
	for _, c := range cases {
		t.Run(c.name+"/"+c.in, func(t *testing.T) {
			got, err := ParseIIN(c.in)
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got.String() != c.in {
					t.Fatalf("String() = %q", got.String())
				}
				return
			}
			if got != "" {
				t.Errorf("refused but returned %q", got)
			}
			checkRefusal(t, c.in, err, CodeBadIIN, c.want)
		})
	}
}

func TestParseBIN(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"vector", "940140000385", nil},
		{"vector", "070941024691", nil},
		{"IIN vector check digit", "940140000380", ErrCheckDigit},
		{"both passes 10", "821214240092", ErrCheckDigit},
		// An IIN is not a BIN: its 5th digit is part of the birth day.
		{"IIN as BIN", "871008401427", ErrEntityType},

		{"11 digits", "94014000038", ErrLength},
		{"leading space", " 940140000385", ErrLength},
		{"letter", "9401400003x5", ErrNotDigits},
		{"Arabic-Indic digit", "94014000038٥", ErrNotDigits},
		{"check digit wrong", wrongCheck(t, "07094102469"), ErrCheckDigit},

		{"month 00", withCheck(t, "94004000038"), ErrRegistrationDate},
		{"month 13", withCheck(t, "94134000038"), ErrRegistrationDate},
		{"month 12", withCheck(t, "94124000038"), nil},
		{"entity 3", withCheck(t, "94013000038"), ErrEntityType},
		{"entity 7", withCheck(t, "94017000038"), ErrEntityType},
		{"entity 5", withCheck(t, "94015000038"), nil},
		{"entity 6", withCheck(t, "94016000038"), nil},
		{"attribute 4", withCheck(t, "94014400038"), nil},
		{"attribute 5", withCheck(t, "94014500038"), ErrEntityType},
		{"attribute 9", withCheck(t, "94014900038"), ErrEntityType},
	}
	for _, c := range cases {
		t.Run(c.name+"/"+c.in, func(t *testing.T) {
			got, err := ParseBIN(c.in)
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got.String() != c.in {
					t.Fatalf("String() = %q", got.String())
				}
				return
			}
			if got != "" {
				t.Errorf("refused but returned %q", got)
			}
			checkRefusal(t, c.in, err, CodeBadBIN, c.want)
		})
	}
}

func TestCheckDigit(t *testing.T) {
	cases := []struct {
		first11 string
		want    int
		ok      bool
	}{
		{"87100840142", 7, true},
		{"76021235062", 0, true},
		{"06121160001", 2, true}, // first pass 10, second pass 2
		{"79102830272", 8, true},
		{"94014000038", 5, true},
		{"07094102469", 1, true},
		{"82121424009", 0, false}, // both passes 10
		{"", 0, false},
		{"8710084014", 0, false},
		{"871008401427", 0, false},
		{"8710084014a", 0, false},
		{"871008401٢", 0, false},
	}
	for _, c := range cases {
		d, ok := CheckDigit(c.first11)
		if d != c.want || ok != c.ok {
			t.Errorf("CheckDigit(%q) = %d, %v; want %d, %v", c.first11, d, ok, c.want, c.ok)
		}
	}
	if firstPass("06121160001") != 10 || firstPass("82121424009") != 10 {
		t.Error("vectors no longer exercise the second pass")
	}
}

// TestSecondPass searches serial numbers for an IIN whose first pass gives
// 10 and second pass succeeds, and for 11 digits where both passes give 10.
func TestSecondPass(t *testing.T) {
	var second, neither string
	for serial := 0; serial < 10000 && (second == "" || neither == ""); serial++ {
		first11 := fmt.Sprintf("8710084%04d", serial)
		if firstPass(first11) != 10 {
			continue
		}
		if _, ok := CheckDigit(first11); ok {
			if second == "" {
				second = first11
			}
		} else if neither == "" {
			neither = first11
		}
	}
	if second == "" || neither == "" {
		t.Fatalf("no samples found: second %q, neither %q", second, neither)
	}
	// The second pass, computed independently.
	sum := 0
	for i, w := range []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2} {
		sum += int(second[i]-'0') * w
	}
	in := fmt.Sprintf("%s%d", second, sum%11)
	n, err := ParseIIN(in)
	if err != nil || n.String() != in {
		t.Errorf("second-pass IIN %s refused: %v", in, err)
	}
	for d := 0; d <= 9; d++ {
		in := fmt.Sprintf("%s%d", neither, d)
		_, err := ParseIIN(in)
		checkRefusal(t, in, err, CodeBadIIN, ErrCheckDigit)
	}
}

func TestIINFields(t *testing.T) {
	cases := []struct {
		in   string
		born string
		sex  Sex
	}{
		{"871008401427", "1987-10-08", Female},
		{"760212350620", "1976-02-12", Male},
		{"061211600012", "2006-12-11", Female},
		{"791028302728", "1979-10-28", Male},
		{withCheck(t, "96022910142"), "1896-02-29", Male},
		{withCheck(t, "00022950142"), "2000-02-29", Male},
	}
	for _, c := range cases {
		n, err := ParseIIN(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		b := n.BirthDate()
		if got := b.Format(time.DateOnly); got != c.born {
			t.Errorf("%s born %s, want %s", c.in, got, c.born)
		}
		if b.Location() != time.UTC || b.Hour() != 0 || b.Minute() != 0 || b.Second() != 0 || b.Nanosecond() != 0 {
			t.Errorf("%s born %v, want midnight UTC", c.in, b)
		}
		if n.Sex() != c.sex {
			t.Errorf("%s sex %s, want %s", c.in, n.Sex(), c.sex)
		}
	}
}

func TestBINFields(t *testing.T) {
	cases := []struct {
		in     string
		entity EntityType
		year   int
		month  time.Month
	}{
		{"940140000385", Resident, 1994, time.January},
		{"070941024691", Resident, 2007, time.September},
		{withCheck(t, "12055000038"), NonResident, 2012, time.May},
		{withCheck(t, "99126300038"), SoleTrader, 1999, time.December},
	}
	for _, c := range cases {
		b, err := ParseBIN(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if b.EntityType() != c.entity {
			t.Errorf("%s entity %s, want %s", c.in, b.EntityType(), c.entity)
		}
		if y, m := b.Registered(); y != c.year || m != c.month {
			t.Errorf("%s registered %d-%s, want %d-%s", c.in, y, m, c.year, c.month)
		}
	}
}

func TestStrings(t *testing.T) {
	cases := []struct {
		got  fmt.Stringer
		want string
	}{
		{Male, "male"},
		{Female, "female"},
		{Sex(0), "unknown"},
		{Resident, "resident legal entity"},
		{NonResident, "non-resident legal entity"},
		{SoleTrader, "sole trader (joint business)"},
		{EntityType(0), "unknown"},
		{IIN("871008401427"), "871008401427"},
		{BIN("940140000385"), "940140000385"},
	}
	for _, c := range cases {
		if s := c.got.String(); s != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.got, s, c.want)
		}
	}
}

func TestMasked(t *testing.T) {
	cases := []struct {
		got, want string
	}{
		{IIN("871008401427").Masked(), "8710******27"},
		{IIN("061211600012").Masked(), "0612******12"},
		{BIN("940140000385").Masked(), "9401******85"},
		{BIN("070941024691").Masked(), "0709******91"},
		{IIN("").Masked(), "************"},
		{BIN("123").Masked(), "************"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("masked %q, want %q", c.got, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	_, err := ParseIIN("871008401428")
	if !errors.Is(err, ErrCheckDigit) {
		t.Errorf("errors.Is(%v, ErrCheckDigit) = false", err)
	}
	for _, r := range reasons {
		if r != ErrCheckDigit && errors.Is(err, r) {
			t.Errorf("errors.Is(%v, %v) = true", err, r)
		}
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != "bad_iin_checksum" || CodeOf(err) != "bad_iin_checksum" {
		t.Fatalf("errors.As(%v): %#v", err, e)
	}
	if !strings.Contains(e.Message, "871008401428") || !strings.HasPrefix(err.Error(), "bad_iin_checksum: ") {
		t.Errorf("Error() = %q", err.Error())
	}

	// A wrapped refusal still matches.
	_, err = ParseBIN("940140000380")
	err = fmt.Errorf("subject OU: %w", err)
	if !errors.Is(err, ErrCheckDigit) || !errors.As(err, &e) || e.Code != "bad_bin_checksum" || CodeOf(err) != "bad_bin_checksum" {
		t.Errorf("wrapped: %v, code %q", err, e.Code)
	}
	// Any other refusal keeps the general code.
	if _, err := ParseIIN("87100840142"); CodeOf(err) != "bad_iin" {
		t.Errorf("a short IIN: %v", err)
	}
	if _, err := ParseBIN("941340000385"); CodeOf(err) != "bad_bin" {
		t.Errorf("a BIN of month 13: %v", err)
	}
	if CodeOf(errors.New("other")) != "" {
		t.Error("CodeOf of another error")
	}

	// Messages stay short however long the input.
	_, err = ParseIIN(strings.Repeat("9", 1<<20))
	if len(err.Error()) > 200 {
		t.Errorf("message of %d bytes", len(err.Error()))
	}
}

// TestUncheckedValues calls the methods on values that did not come from a
// parse: they must not panic and must report zero values.
func TestUncheckedValues(t *testing.T) {
	for _, n := range []IIN{"", "1", "abcdefghijkl", "871008001427", "871008701427", "871008401428"} {
		if !n.BirthDate().IsZero() || n.Sex() != 0 {
			t.Errorf("IIN(%q): born %v, sex %s", n, n.BirthDate(), n.Sex())
		}
	}
	for _, b := range []BIN{"", "1", "abcdefghijkl", "940140000380", "871008401427"} {
		if y, m := b.Registered(); y != 0 || m != 0 || b.EntityType() != 0 {
			t.Errorf("BIN(%q): registered %d-%d, entity %s", b, y, m, b.EntityType())
		}
	}
}

var seeds = []string{
	"871008401427", "760212350620", "061211600012", "791028302728",
	"940140000380", "821214240092", "940140000385", "070941024691",
	"", "87100840142", "8710084014٢7", "８７１００８４０１４２７", " 871008401427",
}

// checkFuzzRefusal asserts that a refusal is well-formed.
func checkFuzzRefusal(t *testing.T, s string, err error, code string) {
	var e *Error
	if errors.Is(err, ErrCheckDigit) {
		code = map[string]string{CodeBadIIN: CodeBadIINChecksum, CodeBadBIN: CodeBadBINChecksum}[code]
	}
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%q: refusal %v has no code %s", s, err, code)
	}
	for _, r := range reasons {
		if e.Reason == r {
			return
		}
	}
	t.Fatalf("%q: refusal with unknown reason %v", s, e.Reason)
}

// checkFuzzAccepted asserts what every accepted number satisfies.
func checkFuzzAccepted(t *testing.T, s, str, masked string) {
	if str != s {
		t.Fatalf("%q parsed as %q", s, str)
	}
	if d, ok := CheckDigit(s[:11]); !ok || d != int(s[11]-'0') {
		t.Fatalf("%q accepted with check digit %d, %v", s, d, ok)
	}
	if len(masked) != 12 || masked[:4] != s[:4] || masked[10:] != s[10:] || masked[4:10] != "******" {
		t.Fatalf("%q masked as %q", s, masked)
	}
}

func FuzzParseIIN(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseIIN(s)
		if err != nil {
			checkFuzzRefusal(t, s, err, CodeBadIIN)
			return
		}
		checkFuzzAccepted(t, s, n.String(), n.Masked())
		b := n.BirthDate()
		if b.IsZero() || b.Format("060102") != s[:6] || b.Year()/100 != 18+int(s[6]-'1')/2 {
			t.Fatalf("%q born %v", s, b)
		}
		if want := Sex(2 - int(s[6]-'0')%2); n.Sex() != want {
			t.Fatalf("%q sex %s", s, n.Sex())
		}
	})
}

func FuzzParseBIN(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBIN(s)
		if err != nil {
			checkFuzzRefusal(t, s, err, CodeBadBIN)
			return
		}
		checkFuzzAccepted(t, s, b.String(), b.Masked())
		if e := b.EntityType(); e < Resident || e > SoleTrader || int(e) != int(s[4]-'0') {
			t.Fatalf("%q entity %d", s, e)
		}
		if y, m := b.Registered(); y%100 != int(s[0]-'0')*10+int(s[1]-'0') || y < 1990 || y > 2089 ||
			m < time.January || m > time.December || fmt.Sprintf("%02d", int(m)) != s[2:4] {
			t.Fatalf("%q registered %d-%d", s, y, m)
		}
		if s[5] > '4' {
			t.Fatalf("%q accepted with attribute %c", s, s[5])
		}
	})
}
