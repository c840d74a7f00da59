package eventlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/senim-kz/senim/internal/testtool"
)

// collect reads a stream through each, copying every payload (a borrowed
// one is valid only during the call).
func collect(t *testing.T, each func(fn func(Record) error) error) []Record {
	t.Helper()
	var out []Record
	if err := each(func(r Record) error {
		r.Payload = bytes.Clone(r.Payload)
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Replay and ReplayVerified hand out the same records as Read and
// ReadVerified, legacy JSON records and binary ones alike, from any seq.
func TestReplayMatchesRead(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 22, 10, 0, 0, 120000000, time.UTC)
	writeLegacy(t, dir, []Record{
		{Stream: "act/x", Seq: 1, Type: "application_submitted", Actor: "client:871008401427", At: at, CommandID: "c1", Payload: json.RawMessage(`{"n":1,"text":"сенім"}`)},
	})
	l := open(t, dir)
	defer l.Close()
	for i := 2; i <= 9; i++ {
		d := ev(fmt.Sprintf("type%d", i%3), i)
		if i%2 == 0 {
			d.Actor = "notary:aliya"
		}
		mustAppend(t, l, AppendRequest{Stream: "act/x", ExpectedSeq: uint64(i - 1), CommandID: fmt.Sprint("c", i), CommandActor: d.Actor, Events: []Draft{d}})
	}
	mustAppend(t, l, AppendRequest{Stream: "act/y", Events: []Draft{ev("other", 1)}})

	want, err := l.ReadVerified("act/x")
	if err != nil || len(want) != 9 {
		t.Fatalf("%d records, %v", len(want), err)
	}
	got := collect(t, func(fn func(Record) error) error { return l.ReplayVerified("act/x", fn) })
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReplayVerified:\n%+v\nReadVerified:\n%+v", got, want)
	}
	for _, from := range []uint64{0, 1, 2, 5, 9, 10} {
		read := collect(t, func(fn func(Record) error) error { return l.Read("act/x", from, fn) })
		replay := collect(t, func(fn func(Record) error) error { return l.Replay("act/x", from, fn) })
		if !reflect.DeepEqual(replay, read) {
			t.Fatalf("from %d: Replay\n%+v\nRead\n%+v", from, replay, read)
		}
	}
	// A stream never written: no records, no error.
	if recs := collect(t, func(fn func(Record) error) error { return l.ReplayVerified("act/none", fn) }); len(recs) != 0 {
		t.Fatalf("unknown stream: %+v", recs)
	}
	// fn's error ends the read and is returned.
	stop := errors.New("stop")
	n := 0
	if err := l.Replay("act/x", 1, func(Record) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Replay after fn's error: %d calls, %v", n, err)
	}
	if err := l.ReplayVerified("act/x", func(Record) error { n++; return stop }); err != stop || n != 2 {
		t.Fatalf("ReplayVerified after fn's error: %d calls, %v", n, err)
	}
}

// ReplayVerified finds what ReadVerified finds: an altered record, and a
// head that does not name the last record.
func TestReplayVerifiedChecksTheChain(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	for i := 1; i <= 4; i++ {
		mustAppend(t, l, AppendRequest{Stream: "act/x", ExpectedSeq: uint64(i - 1), Events: []Draft{ev("e", i)}})
	}
	l.Close()
	tamper(t, dir, "act/x", 3, func(r *Record) { r.Payload = json.RawMessage(`{"n":3,"text":"сенiм"}`) })
	l = open(t, dir)
	var ce *ChainError
	if err := l.ReplayVerified("act/x", func(Record) error { return nil }); !errors.As(err, &ce) || ce.Seq != 3 {
		t.Fatalf("altered payload: %v", err)
	}
	defer l.Close()
	// The last record of another stream gone: the records left chain, the
	// head names seq 3.
	for i := 1; i <= 3; i++ {
		mustAppend(t, l, AppendRequest{Stream: "act/y", ExpectedSeq: uint64(i - 1), Events: []Draft{ev("e", i)}})
	}
	if err := l.db.Delete(eventKey("act/y", 3), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := l.ReplayVerified("act/y", func(Record) error { n++; return nil }); !errors.As(err, &ce) || ce.Seq != 3 || n != 2 {
		t.Fatalf("a head past the last record: %d records, %v", n, err)
	}
}

// allocated returns the bytes the process allocated while f ran.
// allocated is the fewest bytes the process allocated over five runs of f:
// the count is process-wide, so pebble's background work (a flush, a
// compaction) or another test can add to one run, never take away.
func allocated(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 5 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// Replay does not copy the payloads: reading 100 records of 4 KB
// allocates far less than their 400 KB (Read copies each one).
func TestReplayBorrowsThePayloads(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	big := json.RawMessage(`{"text":"` + strings.Repeat("сенім ", 400) + `"}`)
	const n = 100
	events := make([]Draft, n)
	for i := range events {
		events[i] = Draft{Type: "e", Actor: "notary:aliya", At: time.Date(2026, 11, 22, 10, 0, i, 0, time.UTC), Payload: big}
	}
	mustAppend(t, l, AppendRequest{Stream: "act/x", Events: events})
	total := uint64(n * len(big))
	count := func(read func(string, uint64, func(Record) error) error) func() {
		return func() {
			k := 0
			if err := read("act/x", 1, func(r Record) error {
				if !bytes.Equal(r.Payload, big) {
					return fmt.Errorf("record %d: payload %.40s…", r.Seq, r.Payload)
				}
				k++
				return nil
			}); err != nil || k != n {
				t.Fatalf("%d records, %v", k, err)
			}
		}
	}
	// Warm the block cache and the decoder pool first.
	count(l.Replay)()
	if a := allocated(count(l.Read)); a < total {
		t.Fatalf("Read allocated %d bytes for %d of payloads: does it still copy them?", a, total)
	}
	if a := allocated(count(l.Replay)); a > total/8 {
		t.Fatalf("Replay allocated %d bytes for %d of payloads", a, total)
	}
	verified := func() {
		if err := l.ReplayVerified("act/x", func(r Record) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if a := allocated(verified); a > total/8 {
		t.Fatalf("ReplayVerified allocated %d bytes for %d of payloads", a, total)
	}
}

// mallocs is the fewest heap allocations the process made over five runs
// of f (as allocated: the count is process-wide, other work only adds).
func mallocs(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 5 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.Mallocs-before.Mallocs)
	}
	return least
}

// An append of one event with a trusted payload allocates little: its
// records and what they keep (the hashes' hex, in one buffer), its group
// (one object when it is alone in it); its writes go to a reused scratch;
// no slice of payloads, no hex string of its own per hash.
func TestAppendAllocations(t *testing.T) {
	if testtool.Race {
		t.Skip("the race detector changes what allocates")
	}
	l := open(t, t.TempDir())
	defer l.Close()
	p := json.RawMessage(`{"revision":2,"draft":{"registry_number":"1-2026-0001","term_months":24}}`)
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	seq := uint64(0)
	const n = 50
	appendN := func() {
		for range n {
			if _, err := l.Append(ctx, AppendRequest{Stream: "act/x", ExpectedSeq: seq, TrustedPayloads: true,
				Events: []Draft{{Type: "draft_presented", Actor: "notary:aliya", At: at, Payload: p}}}); err != nil {
				t.Fatal(err)
			}
			seq++
		}
	}
	appendN() // the head cached, pebble's pools warm
	per := float64(mallocs(appendN)) / n
	t.Logf("%.1f allocations per append", per)
	if per > 5.5 {
		t.Fatalf("%.1f allocations per append", per)
	}
}

// A verified read of a stream longer than a chunk checks its hashes
// beside the read (verify.go), on one processor or two: an altered record
// is found wherever it is, and it is the error even when a later record,
// or fn at a later record, fails too, as when the records were checked one
// by one.
func TestVerifiedReadOfALongStream(t *testing.T) {
	for _, procs := range []int{2, 1} {
		t.Run(fmt.Sprint("procs=", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			dir := t.TempDir()
			l := open(t, dir)
			const n = 400 // about 25 chunks
			text := strings.Repeat("сенім ", 30)
			for _, s := range []string{"act/x", "act/y", "act/z"} {
				events := make([]Draft, n)
				for i := range events {
					events[i] = Draft{Type: "e", Actor: "notary:aliya", At: time.Date(2026, 11, 22, 10, 0, i, 0, time.UTC),
						Payload: json.RawMessage(fmt.Sprintf(`{"n":%d,"text":%q}`, i+1, text))}
				}
				mustAppend(t, l, AppendRequest{Stream: s, Events: events})
			}
			// Records too large for a chunk, checked by the reader.
			big := json.RawMessage(`{"text":"` + strings.Repeat("сенім ", 400) + `"}`)
			for i := range 3 {
				mustAppend(t, l, AppendRequest{Stream: "act/big", ExpectedSeq: uint64(i), Events: []Draft{{Type: "e", At: time.Now(), Payload: big}}})
			}
			k := 0
			if err := l.ReplayVerified("act/x", func(r Record) error {
				k++
				if r.Seq != uint64(k) {
					return fmt.Errorf("record %d came as %d", r.Seq, k)
				}
				return nil
			}); err != nil || k != n {
				t.Fatalf("intact stream: %d records, %v", k, err)
			}
			l.Close()
			alter := func(r *Record) { r.Payload = json.RawMessage(`{"n":0}`) }
			tamper(t, dir, "act/x", 37, alter) // in a chunk the helper checks
			tamper(t, dir, "act/y", n-1, alter)
			tamper(t, dir, "act/z", 37, alter)
			tamper(t, dir, "act/z", n, alter) // in the last chunk, the reader's
			tamper(t, dir, "act/big", 2, alter)
			db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{}})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Delete(eventKey("act/x", 200), pebble.Sync); err != nil {
				t.Fatal(err)
			}
			db.Close()
			l = open(t, dir)
			defer l.Close()
			wantAltered := func(what string, err error, seq uint64) {
				t.Helper()
				var ce *ChainError
				if !errors.As(err, &ce) || ce.Seq != seq || !strings.Contains(ce.Reason, "hash mismatch") {
					t.Fatalf("%s: %v, want record %d altered", what, err, seq)
				}
			}
			stop := errors.New("stop")
			wantAltered("ReplayVerified", l.ReplayVerified("act/x", func(Record) error { return nil }), 37)
			wantAltered("ReplayVerified, fn failing at 150", l.ReplayVerified("act/x", func(r Record) error {
				if r.Seq == 150 {
					return stop
				}
				return nil
			}), 37)
			_, err = l.ReadVerified("act/x")
			wantAltered("ReadVerified", err, 37)
			wantAltered("VerifyChain", l.VerifyChain("act/x"), 37)
			wantAltered("VerifyChain, a record missing after the altered one", l.VerifyChain("act/x"), 37)
			wantAltered("VerifyChain, the last record altered", l.VerifyChain("act/y"), n-1)
			wantAltered("VerifyChain, two records altered", l.VerifyChain("act/z"), 37)
			wantAltered("VerifyChain, a large record altered", l.VerifyChain("act/big"), 2)
			for _, after := range []uint64{0, 100, 300, n} {
				_, _, err := l.ReadVerifiedAfter("act/z", after)
				wantAltered(fmt.Sprint("ReadVerifiedAfter ", after), err, 37)
				_, _, err = l.ReadVerifiedAfter("act/y", after)
				wantAltered(fmt.Sprint("ReadVerifiedAfter ", after, ", the last record altered"), err, n-1)
				_, _, err = l.ReadVerifiedAfter("act/x", after)
				wantAltered(fmt.Sprint("ReadVerifiedAfter ", after, ", a record missing after the altered one"), err, 37)
			}
			// fn's error at a record before the altered one is fn's.
			if err := l.ReplayVerified("act/y", func(r Record) error {
				if r.Seq == 10 {
					return stop
				}
				return nil
			}); err != stop {
				t.Fatalf("fn failing before the altered record: %v", err)
			}
		})
	}
}

// The records an append hands back keep nothing of its scratch, which the
// next appends write over: every one kept equals what was stored, trusted
// payload or checked.
func TestAppendedRecordsOutliveTheScratch(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	var kept []Record
	for i := range 60 {
		p := json.RawMessage(fmt.Sprintf(`{"n": %d, "text": %q}`, i, strings.Repeat("с", i)))
		if i%2 == 0 {
			p, _ = json.Marshal(map[string]any{"n": i, "text": strings.Repeat("с", i)})
		}
		res := mustAppend(t, l, AppendRequest{Stream: fmt.Sprint("act/", i%3), ExpectedSeq: uint64(i / 3), TrustedPayloads: i%2 == 0,
			Events: []Draft{{Type: fmt.Sprint("t", i), Actor: "notary:aliya", At: time.Date(2026, 11, 22, 10, 0, i, 0, time.UTC), Payload: p}}})
		kept = append(kept, res.Records...)
	}
	for _, r := range kept {
		stored, err := l.ReadAll(r.Stream)
		if err != nil || len(stored) < int(r.Seq) {
			t.Fatalf("%s: %d records, %v", r.Stream, len(stored), err)
		}
		if !reflect.DeepEqual(stored[r.Seq-1], r) {
			t.Fatalf("%s %d: handed back\n%+v\nstored\n%+v", r.Stream, r.Seq, r, stored[r.Seq-1])
		}
	}
}

// A verified read does not wait for a helper that is not running (the
// other processor busy with other work): it checks the records itself and
// calls back with every one of them, and the first altered record is
// still the error.
func TestVerifiedReadDoesNotWaitForTheHelper(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	dir := t.TempDir()
	l := open(t, dir)
	const n = 400 // about 25 chunks
	text := strings.Repeat("сенім ", 30)
	for _, s := range []string{"act/x", "act/y"} {
		events := make([]Draft, n)
		for i := range events {
			events[i] = Draft{Type: "e", Actor: "notary:aliya", At: time.Date(2026, 11, 22, 10, 0, i, 0, time.UTC),
				Payload: json.RawMessage(fmt.Sprintf(`{"n":%d,"text":%q}`, i+1, text))}
		}
		mustAppend(t, l, AppendRequest{Stream: s, Events: events})
	}
	l.Close()
	alter := func(r *Record) { r.Payload = json.RawMessage(`{"n":0}`) }
	tamper(t, dir, "act/y", 37, alter)
	tamper(t, dir, "act/y", 300, alter)
	l = open(t, dir)
	t.Cleanup(func() { l.Close() })

	// The helper stalls on every chunk it claims until released; each
	// read gets a hold of its own.
	var hold atomic.Pointer[chan struct{}]
	var once sync.Once
	newHold := func() { c := make(chan struct{}); hold.Store(&c); once = sync.Once{} }
	release := func() { c := hold.Load(); once.Do(func() { close(*c) }) }
	newHold()
	hook := func() { <-*hold.Load() }
	helperClaimed.Store(&hook)
	var reading sync.WaitGroup
	// Cleanups run last first: the read under way ends before the log
	// closes, even when the test fails.
	t.Cleanup(func() { helperClaimed.Store(nil); release(); reading.Wait() })
	for stream, want := range map[string]uint64{"act/x": 0, "act/y": 37} {
		var seen atomic.Int64
		done := make(chan error, 1)
		reading.Add(1)
		go func() {
			defer reading.Done()
			done <- l.ReplayVerified(stream, func(Record) error { seen.Add(1); return nil })
		}()
		// The read ends, every record called back, while the helper is
		// still held.
		var err error
		testtool.Eventually(t, 10*time.Second, time.Millisecond, func() error {
			select {
			case err = <-done:
				return nil
			default:
				return fmt.Errorf("%s: %d records called back, the read not over while the helper is held", stream, seen.Load())
			}
		})
		if k := seen.Load(); k != n && want == 0 {
			t.Fatalf("%s: %d records called back", stream, k)
		}
		release()
		var ce *ChainError
		switch {
		case want == 0 && err != nil:
			t.Fatalf("%s: %v", stream, err)
		case want != 0 && (!errors.As(err, &ce) || ce.Seq != want):
			t.Fatalf("%s: %v, want record %d altered", stream, err, want)
		}
		newHold()
	}
}

// The records a read keeps (ReadVerified's, decoded in place in the slice
// it returns, ReadVerifiedAfter's, Read's) share blocks of bytes with each
// other, their hashes' hex beside their payloads: none may reach into
// another's bytes, nor into a later read's. A caller that writes over a
// payload, or appends to it, changes nothing else.
func TestKeptRecordsDoNotAlias(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	const n = 60
	events := make([]Draft, n)
	for i := range events {
		events[i] = Draft{Type: []string{"a", "b", "c"}[i%3], Actor: "notary:aliya", At: time.Date(2026, 11, 22, 10, 0, i, 0, time.UTC),
			Payload: json.RawMessage(fmt.Sprintf(`{"n":%d,"text":"%s"}`, i, strings.Repeat("ы", i)))}
	}
	mustAppend(t, l, AppendRequest{Stream: "act/x", Events: events})
	want, err := l.ReadVerified("act/x")
	if err != nil || len(want) != n {
		t.Fatalf("%d records, %v", len(want), err)
	}
	// What every read must still give: deep copies.
	payloads, hashes := make([]string, n), make([]string, n)
	for i, r := range want {
		payloads[i], hashes[i] = string(r.Payload), strings.Clone(r.Hash)
		if !bytes.Equal(r.Payload, events[i].Payload) {
			t.Fatalf("record %d: payload %s, want %s", i+1, r.Payload, events[i].Payload)
		}
	}
	check := func(what string, recs []Record, from int) {
		t.Helper()
		for i, r := range recs {
			if k := from + i; string(r.Payload) != payloads[k] || r.Hash != hashes[k] || r.Seq != uint64(k+1) {
				t.Fatalf("%s: record %d changed: seq %d, payload %s, hash %s", what, k+1, r.Seq, r.Payload, r.Hash)
			}
		}
	}
	scribble := func(recs []Record) {
		for i := range recs {
			p := recs[i].Payload
			for j := range p {
				p[j] = 'X'
			}
			// An append beyond the payload's length must not land in the
			// bytes after it (the next record's hash).
			_ = append(p, bytes.Repeat([]byte{'Y'}, 80)...)
		}
	}
	for round := range 3 {
		first, err := l.ReadVerified("act/x")
		if err != nil {
			t.Fatal(err)
		}
		second, err := l.ReadVerified("act/x")
		if err != nil {
			t.Fatal(err)
		}
		_, after, err := l.ReadVerifiedAfter("act/x", 10)
		if err != nil {
			t.Fatal(err)
		}
		all, err := l.ReadAll("act/x")
		if err != nil {
			t.Fatal(err)
		}
		check("ReadVerified", first, 0)
		// Every record of the first read written over, one after another:
		// the first read's own hashes, and every other read, stay.
		scribble(first)
		for i, r := range first {
			if r.Hash != hashes[i] {
				t.Fatalf("round %d: record %d's hash changed with its neighbour's payload: %s", round, i+1, r.Hash)
			}
			if want := strings.Repeat("X", len(payloads[i])); string(r.Payload) != want {
				t.Fatalf("round %d: record %d's payload is %s after its own and its neighbours' were written over", round, i+1, r.Payload)
			}
		}
		check("a second ReadVerified", second, 0)
		check("ReadVerifiedAfter", after, 10)
		check("ReadAll", all, 0)
		scribble(after)
		scribble(all)
		check("a second ReadVerified", second, 0)
		// And a read after all of that.
		again, err := l.ReadVerified("act/x")
		if err != nil {
			t.Fatal(err)
		}
		check("a later ReadVerified", again, 0)
	}
}
