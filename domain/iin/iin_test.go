package iin

import (
	"errors"
	"testing"
	"time"
)

// withCheck appends the check digit to 11 digits (test helper).
func withCheck(t *testing.T, first11 string) string {
	t.Helper()
	d, ok := CheckDigit(first11)
	if !ok {
		t.Fatalf("%s has no check digit", first11)
	}
	return first11 + string(rune('0'+d))
}

func TestParseIIN(t *testing.T) {
	cases := []struct {
		in   string
		want error // nil: valid
	}{
		{"871008401427", nil},
		{"760212350620", nil},
		{"061211600012", nil},
		{"791028302728", nil},
		{"940140000380", ErrCheckDigit},
		{"821214240092", ErrCheckDigit},
		{"87100840142", ErrLength},
		{"8710084014270", ErrLength},
		{"", ErrLength},
		{"87100840142a", ErrNotDigits},
		{" 87100840142", ErrNotDigits},
		{"8710084014٢7", ErrLength}, // an Arabic-Indic digit is two bytes
		{"871008401428", ErrCheckDigit},
		{withCheck(t, "87100800142"), ErrCenturySex},
		{withCheck(t, "87100870142"), ErrCenturySex},
		{withCheck(t, "87100890142"), ErrCenturySex},
		{withCheck(t, "87130840142"), ErrBirthDate},
		{withCheck(t, "87103240142"), ErrBirthDate},
		{withCheck(t, "00022950142"), nil},          // 2000-02-29: leap year
		{withCheck(t, "01022950142"), ErrBirthDate}, // 2001-02-29
		{withCheck(t, "00022930142"), ErrBirthDate}, // 1900-02-29: not a leap year
	}
	for _, c := range cases {
		got, err := ParseIIN(c.in)
		if c.want == nil {
			if err != nil || got.String() != c.in {
				t.Errorf("%q: %v", c.in, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%q: err %v, want %v", c.in, err, c.want)
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeBadIIN {
			t.Errorf("%q: want *Error with code bad_iin, got %#v", c.in, err)
		}
	}
}

func TestSecondWeightPass(t *testing.T) {
	// Find 11 digits whose first pass gives 10 but whose second pass does not,
	// and 11 digits where both give 10, by walking serial numbers.
	var second, neither string
	for serial := 0; serial < 10000 && (second == "" || neither == ""); serial++ {
		first11 := "871008" + "4" + pad4(serial)
		sum := 0
		for i := 0; i < 11; i++ {
			sum += int(first11[i]-'0') * weights1[i]
		}
		if sum%11 != 10 {
			continue
		}
		if _, ok := CheckDigit(first11); ok && second == "" {
			second = first11
		} else if !ok && neither == "" {
			neither = first11
		}
	}
	if second == "" || neither == "" {
		t.Fatal("no sample numbers found")
	}
	if _, err := ParseIIN(withCheck(t, second)); err != nil {
		t.Errorf("second-pass IIN %s refused: %v", withCheck(t, second), err)
	}
	for d := '0'; d <= '9'; d++ {
		if _, err := ParseIIN(neither + string(d)); !errors.Is(err, ErrCheckDigit) {
			t.Errorf("%s%c: both passes give 10, want ErrCheckDigit, got %v", neither, d, err)
		}
	}
}

func pad4(n int) string {
	s := []byte{'0', '0', '0', '0'}
	for i := 3; i >= 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}

func TestIINFields(t *testing.T) {
	cases := []struct {
		in   IIN
		born string
		sex  Sex
	}{
		{"871008401427", "1987-10-08", Female},
		{"760212350620", "1976-02-12", Male},
		{"061211600012", "2006-12-11", Female},
		{"791028302728", "1979-10-28", Male},
	}
	for _, c := range cases {
		if got := c.in.BirthDate().Format(time.DateOnly); got != c.born {
			t.Errorf("%s born %s, want %s", c.in, got, c.born)
		}
		if c.in.Sex() != c.sex {
			t.Errorf("%s sex %s, want %s", c.in, c.in.Sex(), c.sex)
		}
	}
	if m := IIN("871008401427").Masked(); m != "8710******27" {
		t.Errorf("masked %q", m)
	}
}

func TestParseBIN(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{"940140000385", nil},
		{"070941024691", nil},
		{"940140000380", ErrCheckDigit},
		{"94014000038", ErrLength},
		{"9401400003x5", ErrNotDigits},
		{withCheck(t, "94134000038"), ErrRegistrationDate},
		{withCheck(t, "94004000038"), ErrRegistrationDate},
		{withCheck(t, "94013000038"), ErrEntityType},
		{withCheck(t, "94017000038"), ErrEntityType},
		{withCheck(t, "94014500038"), ErrEntityType},
	}
	for _, c := range cases {
		got, err := ParseBIN(c.in)
		if c.want == nil {
			if err != nil || got.String() != c.in {
				t.Errorf("%q: %v", c.in, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%q: err %v, want %v", c.in, err, c.want)
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeBadBIN {
			t.Errorf("%q: want code bad_bin, got %v", c.in, err)
		}
	}
	b := BIN("940140000385")
	if y, m := b.Registered(); y != 1994 || m != time.January || b.EntityType() != Resident {
		t.Errorf("%s: %d-%d %s", b, y, m, b.EntityType())
	}
	if y, m := BIN("070941024691").Registered(); y != 2007 || m != time.September {
		t.Errorf("070941024691 registered %d-%d", y, m)
	}
}

func FuzzParseIIN(f *testing.F) {
	for _, s := range []string{"871008401427", "760212350620", "061211600012", "791028302728", "940140000380", "821214240092", "", "00000000000٢"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseIIN(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeBadIIN || e.Reason == nil {
				t.Fatalf("%q: refusal without code or reason: %v", s, err)
			}
			return
		}
		if n.String() != s || len(n.Masked()) != 12 || n.BirthDate().IsZero() || n.Sex() == 0 {
			t.Fatalf("%q parsed inconsistently", s)
		}
		if d, ok := CheckDigit(s[:11]); !ok || d != int(s[11]-'0') {
			t.Fatalf("%q accepted with a wrong check digit", s)
		}
	})
}

func FuzzParseBIN(f *testing.F) {
	for _, s := range []string{"940140000385", "070941024691", "940140000380", "123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBIN(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeBadBIN || e.Reason == nil {
				t.Fatalf("%q: refusal without code or reason: %v", s, err)
			}
			return
		}
		if b.String() != s || len(b.Masked()) != 12 || b.EntityType() < Resident || b.EntityType() > SoleTrader {
			t.Fatalf("%q parsed inconsistently", s)
		}
		if d, ok := CheckDigit(s[:11]); !ok || d != int(s[11]-'0') {
			t.Fatalf("%q accepted with a wrong check digit", s)
		}
	})
}
