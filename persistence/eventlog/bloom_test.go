package eventlog

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// noFilters writes sstables without bloom filters, as stores were written
// before them.
func noFilters(po *pebble.Options) {
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = nil
	}
}

// noCompactions keeps every flushed sstable in L0, so that a point get
// meets all of them (and lets L0 grow past the 12 sublevels at which
// pebble stalls writes for a compaction that would never come).
func noCompactions(po *pebble.Options) {
	po.DisableAutomaticCompactions = true
	po.L0StopWritesThreshold = 1 << 20
}

// fillCommands appends perFlush commands to each of streams streams (one
// writer a stream, so that their appends share syncs), flushes, and does
// that flushes times; it returns the number of commands per stream, whose
// ids are cmd-000000 on.
func fillCommands(tb testing.TB, l *Log, streams, perFlush, flushes int) int {
	tb.Helper()
	ctx := context.Background()
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	errs := make(chan error, streams)
	for f := 0; f < flushes; f++ {
		for s := 0; s < streams; s++ {
			go func(s int) {
				for i := f * perFlush; i < (f+1)*perFlush; i++ {
					_, err := l.Append(ctx, AppendRequest{Stream: benchStream(s), ExpectedSeq: uint64(i),
						CommandID: fmt.Sprintf("cmd-%06d", i), CommandActor: "client:871008401427",
						Events: []Draft{{Type: "draft_presented", Actor: "client:871008401427", At: at, Payload: benchPayload}}, TrustedPayloads: true})
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}(s)
		}
		for range streams {
			if err := <-errs; err != nil {
				tb.Fatal(err)
			}
		}
		if err := l.Flush(); err != nil {
			tb.Fatal(err)
		}
	}
	return flushes * perFlush
}

// The sstables a log writes carry bloom filters, and a command look-up
// that misses is answered by them.
func TestCommandLookupUsesBloomFilter(t *testing.T) {
	l, err := Open(t.TempDir(), Options{tune: noCompactions})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fillCommands(t, l, 4, 8, 4)
	for i := 0; i < 50; i++ {
		if _, found, err := l.Command(benchStream(1), "client:871008401427", fmt.Sprintf("new-%d", i)); err != nil || found {
			t.Fatalf("Command(new-%d) = found %v, %v", i, found, err)
		}
	}
	if m := l.db.Metrics(); m.Filter.Hits == 0 {
		t.Fatalf("no filter hits after 50 missed look-ups: %+v", m.Filter)
	}
}

// A store written without filters stays readable with them, and one
// written with them reads the same without them (an older binary).
func TestBloomFilterStoresCompatible(t *testing.T) {
	dir := t.TempDir()
	opts := []Options{{tune: noFilters}, {}, {tune: noFilters}}
	total := 0
	for round, o := range opts {
		l, err := Open(dir, o)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		// Every command written so far is still found, each stream's
		// chain still verifies.
		for i := 0; i < total; i++ {
			cmd, found, err := l.Command(benchStream(i%2), "client:871008401427", fmt.Sprintf("r%d-%d", i/4, i%4))
			if err != nil || !found || cmd.First == 0 {
				t.Fatalf("round %d: command %d: %+v found %v, %v", round, i, cmd, found, err)
			}
		}
		for s := 0; s < 2; s++ {
			recs, err := l.ReadVerified(benchStream(s))
			if err != nil || len(recs) != total/2 {
				t.Fatalf("round %d: stream %d: %d records, %v", round, s, len(recs), err)
			}
		}
		ctx := context.Background()
		for i := total; i < total+8; i++ {
			s := benchStream(i % 2)
			head, _, err := l.Head(s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Append(ctx, AppendRequest{Stream: s, ExpectedSeq: head,
				CommandID: fmt.Sprintf("r%d-%d", i/4, i%4), CommandActor: "client:871008401427",
				Events: []Draft{{Type: "draft_presented", Actor: "client:871008401427", At: time.Now(), Payload: benchPayload}}}); err != nil {
				t.Fatalf("round %d: append %d: %v", round, i, err)
			}
		}
		total += 8
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkCommandLookup: the command look-up of an append (Log.Command,
// a point get on the command key, and on the legacy key when that misses)
// with and without bloom filters, in the same run, on a store of 64
// streams with 256 commands each written in 64 flushes: layout=l0 keeps
// the 64 sstables in L0 (automatic compactions off, the worst case),
// layout=compacted lets pebble compact them as it does in service.
//
//	go test ./persistence/eventlog -run '^$' -bench CommandLookup -count 3
//
// miss: a new command id (every fresh command, the common case); hit: a
// retried one (which also reads the command's events); append-miss: what
// an append asks for a new id since the streams keep a filter of their
// command keys (cmdfilter.go): the stripe lock, the cached head, the
// filter.
func BenchmarkCommandLookup(b *testing.B) {
	for _, layout := range []string{"l0", "compacted"} {
		for _, filter := range []bool{false, true} {
			o := Options{tune: func(po *pebble.Options) {
				if layout == "l0" {
					noCompactions(po)
				}
				if !filter {
					noFilters(po)
				}
			}}
			l, err := Open(b.TempDir(), o)
			if err != nil {
				b.Fatal(err)
			}
			n := fillCommands(b, l, 64, 4, 64)
			for _, kind := range []string{"miss", "hit", "append-miss"} {
				b.Run(fmt.Sprintf("layout=%s/filter=%v/%s", layout, filter, kind), func(b *testing.B) {
					for i := 0; b.Loop(); i++ {
						id := fmt.Sprintf("cmd-%06d", i%n)
						if kind != "hit" {
							id = fmt.Sprintf("new-%06d", i)
						}
						if kind == "append-miss" {
							// What an append asks now: the stream's
							// filter of command keys (cmdfilter.go).
							st := l.stripe(benchStream(i % 64))
							st.Lock()
							h, err := l.cachedHead(st, benchStream(i%64))
							if err == nil {
								_, err = l.mayHold(h, benchStream(i%64), "client:871008401427", id)
							}
							st.Unlock()
							if err != nil {
								b.Fatal(err)
							}
							continue
						}
						_, found, err := l.Command(benchStream(i%64), "client:871008401427", id)
						if err != nil || found != (kind == "hit") {
							b.Fatalf("Command(%s) = %v, %v", id, found, err)
						}
					}
				})
			}
			l.Close()
		}
	}
}

// A verified read of a stream whose head is under 'h' only (last appended
// to before heads were kept beside the records) finds it through the
// sstables' bloom filters, as a Get does, not by reading a block of every
// sstable whose range covers it.
func TestVerifiedReadFindsTheHeadThroughFilters(t *testing.T) {
	l, err := Open(t.TempDir(), Options{tune: noCompactions})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// 8 sstables in L0, one a stream: each one's key range, from its
	// stream's command keys to its head, covers the heads before it.
	for s := range 8 {
		mustAppend(t, l, AppendRequest{Stream: benchStream(s), CommandID: "c", CommandActor: "system", Events: []Draft{ev("e", s)}})
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// As before heads moved: the head under 'h', none before the events.
	head, closer, err := l.db.Get(eventKey(benchStream(0), 0))
	if err != nil {
		t.Fatal(err)
	}
	err = l.db.Set(headKey(benchStream(0)), head, pebble.Sync)
	closer.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.db.Delete(eventKey(benchStream(0), 0), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	before := l.db.Metrics().Filter.Hits
	if err := l.VerifyChain(benchStream(0)); err != nil {
		t.Fatal(err)
	}
	if hits := l.db.Metrics().Filter.Hits - before; hits == 0 {
		t.Fatal("no filter hits: the heads were sought in every sstable")
	}
}
