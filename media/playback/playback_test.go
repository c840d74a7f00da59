package playback

import (
	"testing"
	"time"
)

// A link resolves to what it was issued for until it expires; a token
// that was never issued, or a changed one, does not; past the cap the
// expired go first, then the one that expires soonest.
func TestLinks(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	l := New(time.Hour, 2)
	a, exp := l.Issue("act-a", "rec-1", now)
	if !exp.Equal(now.Add(time.Hour)) || len(a) != 43 {
		t.Fatalf("token %q expires %v", a, exp)
	}
	if got, ok := l.Resolve(a, now.Add(59*time.Minute)); !ok || got.Act != "act-a" || got.Recording != "rec-1" {
		t.Fatalf("resolve: %+v %v", got, ok)
	}
	changed := []byte(a)
	changed[0] ^= 1
	for _, bad := range []string{"", "x", string(changed), a + "A"} {
		if _, ok := l.Resolve(bad, now); ok {
			t.Errorf("%q resolved", bad)
		}
	}
	if _, ok := l.Resolve(a, now.Add(time.Hour)); ok {
		t.Fatal("an expired link resolved")
	}
	b, _ := l.Issue("act-b", "rec-1", now)
	c, _ := l.Issue("act-c", "rec-1", now.Add(time.Minute))
	d, _ := l.Issue("act-d", "rec-1", now.Add(2*time.Minute)) // past the cap: b, the soonest, goes
	if _, ok := l.Resolve(b, now.Add(2*time.Minute)); ok {
		t.Error("the cap kept the link that expires soonest")
	}
	for _, tok := range []string{c, d} {
		if _, ok := l.Resolve(tok, now.Add(2*time.Minute)); !ok {
			t.Error("the cap dropped a newer link")
		}
	}
}
