package eventlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// appendTime spells every time as time.RFC3339Nano does in UTC.
func TestAppendTimeIsRFC3339Nano(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 11, 22, 15, 0, 0, 120000000, time.FixedZone("Almaty", 5*3600)),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 1, time.UTC),
	}
	for range 10000 {
		times = append(times, time.Unix(rng.Int64N(253402300800), rng.Int64N(1e9)).UTC())
		times = append(times, time.Unix(rng.Int64N(2e9), int64(rng.IntN(1000))*1e6))
	}
	for _, at := range times {
		if got, want := string(appendTime(nil, at)), at.UTC().Format(time.RFC3339Nano); got != want {
			t.Fatalf("%v: %s, want %s", at, got, want)
		}
	}
}

// A trusted payload is stored as given (it is json.Marshal's output, so
// compact already), chained and verified like any other; an untrusted one
// is still checked.
func TestTrustedPayloads(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	p, _ := json.Marshal(map[string]any{"n": 1, "text": "сенім <b>"})
	res := mustAppend(t, l, AppendRequest{Stream: "s", TrustedPayloads: true,
		Events: []Draft{{Type: "t", At: time.Now(), Payload: p}}})
	if string(res.Records[0].Payload) != string(p) {
		t.Fatalf("stored %s, gave %s", res.Records[0].Payload, p)
	}
	recs, err := l.ReadVerified("s")
	if err != nil || len(recs) != 1 || string(recs[0].Payload) != string(p) {
		t.Fatalf("read back %v, %v", recs, err)
	}
	if _, err := l.Append(ctx, AppendRequest{Stream: "s", ExpectedSeq: 1, TrustedPayloads: true,
		Events: []Draft{{Type: "t", At: time.Now()}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an empty trusted payload: %v", err)
	}
	if _, err := l.Append(ctx, AppendRequest{Stream: "s", ExpectedSeq: 1,
		Events: []Draft{{Type: "t", At: time.Now(), Payload: json.RawMessage(`{`)}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an untrusted payload that is not JSON: %v", err)
	}
}

// Appends of many streams at once are committed in groups (fewer synced
// commits than appends), and every one is stored, chained, with its index
// entries, once.
func TestConcurrentAppendsAreGrouped(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	var commits countingObserver
	defer commits.install()()
	const writers, each = 64, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := fmt.Sprintf("act/%02d", w)
			for i := range each {
				_, err := l.Append(ctx, AppendRequest{Stream: s, ExpectedSeq: uint64(2 * i), CommandID: fmt.Sprint("c", i),
					Events: []Draft{ev("e", i), ev("f", i)}, Index: []IndexOp{{Index: "w", Value: fmt.Sprint(w)},
						{Index: "step", Value: fmt.Sprint(i - 1), Delete: true}, {Index: "step", Value: fmt.Sprint(i)}}})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		s := fmt.Sprintf("act/%02d", w)
		recs, err := l.ReadVerified(s)
		if err != nil || len(recs) != 2*each {
			t.Fatalf("%s: %d records, %v", s, len(recs), err)
		}
		if got, _ := l.Lookup("w", fmt.Sprint(w)); len(got) != 1 || got[0] != s {
			t.Fatalf("index of %s: %v", s, got)
		}
		if got, _ := l.Lookup("step", fmt.Sprint(each-1)); len(got) != writers {
			t.Fatalf("the last step indexes %d streams, want %d", len(got), writers)
		}
		if got, _ := l.Lookup("step", fmt.Sprint(each-2)); len(got) != 0 {
			t.Fatalf("the step before the last still indexes %v", got)
		}
		if _, found, _ := l.Command(s, "", fmt.Sprint("c", each-1)); !found {
			t.Fatalf("%s: the last command is not recorded", s)
		}
	}
	if n, appends := commits.n(); appends != writers*each || n >= appends {
		t.Fatalf("%d group commits of %d appends, for %d appends: not grouped", n, appends, writers*each)
	}
}

// countingObserver counts the group commits and the appends in them, and
// keeps the largest group's bytes.
type countingObserver struct {
	mu                      sync.Mutex
	count, appends, maxSize int
}

func (c *countingObserver) install() func() {
	groupCommitted = func(n, size int) {
		c.mu.Lock()
		c.count++
		c.appends += n
		c.maxSize = max(c.maxSize, size)
		c.mu.Unlock()
	}
	return func() { groupCommitted = nil }
}

func (c *countingObserver) n() (commits, appends int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count, c.appends
}

// A group stops gathering at maxGroupBytes: the appends past it go into
// the next group, all of them stored.
func TestGroupsAreBounded(t *testing.T) {
	defer func(orig int) { maxGroupBytes = orig }(maxGroupBytes)
	maxGroupBytes = 2000 // about three appends of two events
	l := open(t, t.TempDir())
	defer l.Close()
	var commits countingObserver
	defer commits.install()()
	const writers, each = 32, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := l.Append(ctx, AppendRequest{Stream: fmt.Sprintf("act/%02d", w), ExpectedSeq: uint64(2 * i),
					Events: []Draft{ev("e", i), ev("f", i)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		if recs, err := l.ReadVerified(fmt.Sprintf("act/%02d", w)); err != nil || len(recs) != 2*each {
			t.Fatalf("act/%02d: %d records, %v", w, len(recs), err)
		}
	}
	n, appends := commits.n()
	if appends != writers*each || commits.maxSize >= maxGroupBytes+1000 {
		t.Fatalf("%d groups of %d appends, the largest %d bytes (bound %d)", n, appends, commits.maxSize, maxGroupBytes)
	}
}
