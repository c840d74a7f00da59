package document

import (
	"time"
	_ "time/tzdata" // Asia/Almaty on hosts without a zoneinfo database
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
