package document

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/senim-kz/senim/domain/act"
)

// Kazakhstan has one time zone since 2024-03-01: UTC+5. Before, Almaty
// was UTC+6. The offsets are fixed here rather than read from a zoneinfo
// database, because a signed document's text shows its time: the same act
// must render to the same bytes on every host, whatever its tzdata says.
// A future change of the country's time is a new threshold here, never a
// change to an old one.
var (
	utc5Since = time.Date(2024, 2, 29, 18, 0, 0, 0, time.UTC) // 2024-03-01 00:00 UTC+6 became 2024-02-29 23:00 UTC+5
	zoneUTC5  = time.FixedZone("+05", 5*60*60)
	zoneUTC6  = time.FixedZone("+06", 6*60*60)
)

// InAlmaty is t in Kazakhstan's time as it was at t: the one time zone
// every date and time Senim shows is in.
func InAlmaty(t time.Time) time.Time {
	if t.Before(utc5Since) {
		return t.In(zoneUTC6)
	}
	return t.In(zoneUTC5)
}

// Date is t's day in Almaty time, dd.mm.yyyy: the one date format of the
// documents, the pages and the lists.
func Date(t time.Time) string { return InAlmaty(t).Format("02.01.2006") }

// DateTime is t in Almaty time, dd.mm.yyyy hh:mm.
func DateTime(t time.Time) string { return InAlmaty(t).Format("02.01.2006 15:04") }

// ParseDay reads yyyy-mm-dd as the start of that day in Almaty time.
func ParseDay(s string) (time.Time, error) {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, err
	}
	// The start of a day after the switch is UTC+5; before it, UTC+6.
	if t := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, zoneUTC5); !t.Before(utc5Since) {
		return t, nil
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, zoneUTC6), nil
}

// Tenge writes an amount in tiyn as Kazakhstan writes money: groups of
// three digits apart, a decimal comma, the tenge sign (15 137,50 ₸). The
// spaces are no-break spaces, so that an amount never splits across lines.
func Tenge(m act.Money) string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	digits := strconv.FormatInt(int64(m/100), 10)
	var b strings.Builder
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteRune('\u00a0')
		}
		b.WriteRune(r)
	}
	return fmt.Sprintf("%s%s,%02d\u00a0₸", sign, b.String(), int64(m%100))
}

// MonthsRU is a number of months in Russian, the noun agreeing with the
// number: 1 месяц, 2 месяца, 5 месяцев, 21 месяц, 11 месяцев.
func MonthsRU(n int) string {
	word := "месяцев"
	switch n10, n100 := n%10, n%100; {
	case n100 >= 11 && n100 <= 14:
	case n10 == 1:
		word = "месяц"
	case n10 >= 2 && n10 <= 4:
		word = "месяца"
	}
	return strconv.Itoa(n) + " " + word
}
