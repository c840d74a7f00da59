package actors

import (
	"strconv"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/act"
)

// Act ids follow the time they were made (the event log's flushes then
// cover its newest keys), and are still valid, distinct and random after
// the time.
func TestActIDsFollowTime(t *testing.T) {
	at := time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC)
	prev := actIDAt(at)
	seen := map[string]bool{prev: true}
	for i := 1; i <= 200; i++ {
		next := actIDAt(at.Add(time.Duration(i) * time.Millisecond))
		if !act.ValidActID(next) {
			t.Fatalf("%q is not a valid act id", next)
		}
		if next <= prev {
			t.Fatalf("an id made 1 ms later sorts before or with the one before: %q, then %q", prev, next)
		}
		ms, err := strconv.ParseUint(next[:12], 16, 64)
		if err != nil || int64(ms) != at.UnixMilli()+int64(i) {
			t.Fatalf("%q does not begin with its milliseconds (%d): %d, %v", next, at.UnixMilli()+int64(i), ms, err)
		}
		same := actIDAt(at.Add(time.Duration(i) * time.Millisecond))
		if same == next || same[12:] == next[12:] || seen[same] || seen[next] {
			t.Fatalf("two ids made in the same millisecond share their random part: %q, %q", next, same)
		}
		seen[next], seen[same] = true, true
		prev = next
	}
	if id := newActID(); !act.ValidActID(id) || id[:12] < actIDAt(at)[:12] {
		t.Fatalf("newActID made %q", id)
	}
}
