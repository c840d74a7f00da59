package document

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Almaty on hosts without a zoneinfo database

	"github.com/senim-kz/senim/domain/act"
)

// almaty is Kazakhstan's single time zone, Asia/Almaty: UTC+5 since
// 2024-03-01, UTC+6 before. Embedded tzdata knows both, so a document of
// 2023 still shows the time its people saw; a build without it falls back
// to today's offset.
var almaty = func() *time.Location {
	if l, err := time.LoadLocation("Asia/Almaty"); err == nil {
		return l
	}
	return time.FixedZone("+05", 5*60*60)
}()

// Almaty is the time zone every date and time Senim shows is in.
func Almaty() *time.Location { return almaty }

// Date is t's day in Almaty time, dd.mm.yyyy: the one date format of the
// documents, the pages and the lists.
func Date(t time.Time) string { return t.In(almaty).Format("02.01.2006") }

// DateTime is t in Almaty time, dd.mm.yyyy hh:mm.
func DateTime(t time.Time) string { return t.In(almaty).Format("02.01.2006 15:04") }

// ParseDay reads yyyy-mm-dd as the start of that day in Almaty time.
func ParseDay(s string) (time.Time, error) { return time.ParseInLocation("2006-01-02", s, almaty) }

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
