package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

var ctx = context.Background()

func open(t *testing.T, dir string) *Log {
	t.Helper()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ev(typ string, n int) Draft {
	return Draft{Type: typ, Actor: "client:871008401427", At: time.Date(2026, 11, 22, 10, 0, n, 0, time.UTC),
		Payload: json.RawMessage(fmt.Sprintf(`{ "n" : %d, "text": "сенім" }`, n))}
}

func mustAppend(t *testing.T, l *Log, req AppendRequest) AppendResult {
	t.Helper()
	res, err := l.Append(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAppendReadHead(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	res := mustAppend(t, l, AppendRequest{Stream: "act/a", Events: []Draft{ev("opened", 1), ev("asked", 2)}})
	if len(res.Records) != 2 || res.Records[0].Seq != 1 || res.Records[1].Seq != 2 || res.Duplicate {
		t.Fatalf("result %+v", res)
	}
	if string(res.Records[0].Payload) != `{"n":1,"text":"сенім"}` {
		t.Errorf("payload not compacted: %s", res.Records[0].Payload)
	}
	if res.Records[0].PrevHash != ZeroHash || res.Records[1].PrevHash != res.Records[0].Hash {
		t.Error("records are not chained")
	}
	mustAppend(t, l, AppendRequest{Stream: "act/a", ExpectedSeq: 2, Events: []Draft{ev("third", 3)}})
	seq, hash, err := l.Head("act/a")
	if err != nil || seq != 3 {
		t.Fatalf("head %d %v", seq, err)
	}
	recs, err := l.ReadAll("act/a")
	if err != nil || len(recs) != 3 || recs[2].Hash != hash {
		t.Fatalf("read %d records, %v", len(recs), err)
	}
	var from2 []uint64
	_ = l.Read("act/a", 2, func(r Record) error { from2 = append(from2, r.Seq); return nil })
	if fmt.Sprint(from2) != "[2 3]" {
		t.Fatalf("read from 2: %v", from2)
	}
	if seq, hash, _ := l.Head("act/none"); seq != 0 || hash != "" {
		t.Fatal("unknown stream has a head")
	}
	// A stream whose name is a prefix of another does not see its events.
	mustAppend(t, l, AppendRequest{Stream: "act/ab", Events: []Draft{ev("x", 1)}})
	if recs, _ := l.ReadAll("act/a"); len(recs) != 3 {
		t.Fatalf("act/a sees %d records", len(recs))
	}
}

func TestWriteCloseReopen(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	first := mustAppend(t, l, AppendRequest{Stream: "act/a", CommandID: "cmd-1", Events: []Draft{ev("opened", 1)},
		Index: []IndexOp{{Index: "principal", Value: "871008401427"}}})
	mustAppend(t, l, AppendRequest{Stream: "act/b", CommandID: "cmd-1", Events: []Draft{ev("opened", 1)}})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, AppendRequest{Stream: "act/a", Events: []Draft{ev("x", 1)}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	l = open(t, dir)
	defer l.Close()
	recs, err := l.ReadAll("act/a")
	if err != nil || len(recs) != 1 || recs[0].Hash != first.Records[0].Hash {
		t.Fatalf("after reopen: %v %v", recs, err)
	}
	if got, _ := l.Lookup("principal", "871008401427"); len(got) != 1 || got[0] != "act/a" {
		t.Fatalf("index after reopen: %v", got)
	}
	dup := mustAppend(t, l, AppendRequest{Stream: "act/a", ExpectedSeq: 99, CommandID: "cmd-1", Events: []Draft{ev("again", 2)}})
	if !dup.Duplicate || dup.Records[0].Hash != first.Records[0].Hash {
		t.Fatal("a retry after reopen was not recognised")
	}
	var streams []string
	_ = l.Streams("act/", func(s string) error { streams = append(streams, s); return nil })
	if fmt.Sprint(streams) != "[act/a act/b]" {
		t.Fatalf("streams %v", streams)
	}
}

func TestConflict(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	mustAppend(t, l, AppendRequest{Stream: "s", Events: []Draft{ev("a", 1)}})
	_, err := l.Append(ctx, AppendRequest{Stream: "s", ExpectedSeq: 0, Events: []Draft{ev("b", 2)}, Index: []IndexOp{{Index: "x", Value: "y"}}})
	var ce *ConflictError
	if !errors.Is(err, ErrConflict) || !errors.As(err, &ce) || ce.Actual != 1 {
		t.Fatalf("want conflict at 1, got %v", err)
	}
	if seq, _, _ := l.Head("s"); seq != 1 {
		t.Fatal("a conflicting append wrote")
	}
	if got, _ := l.Lookup("x", "y"); len(got) != 0 {
		t.Fatal("a conflicting append's index op was applied")
	}
}

func TestIdempotency(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	a := mustAppend(t, l, AppendRequest{Stream: "s", CommandID: "c1", Events: []Draft{ev("a", 1), ev("b", 2)}})
	b := mustAppend(t, l, AppendRequest{Stream: "s", ExpectedSeq: 2, CommandID: "c1", Events: []Draft{ev("z", 9)}})
	if !b.Duplicate || len(b.Records) != 2 || b.Records[1].Hash != a.Records[1].Hash {
		t.Fatalf("duplicate %+v", b)
	}
	if seq, _, _ := l.Head("s"); seq != 2 {
		t.Fatal("a duplicate wrote")
	}
	other := mustAppend(t, l, AppendRequest{Stream: "t", CommandID: "c1", Events: []Draft{ev("a", 1)}})
	if other.Duplicate {
		t.Fatal("a command id is per stream")
	}
}

// evBy is an event made by actor.
func evBy(actor, typ string, n int) Draft {
	d := ev(typ, n)
	d.Actor = actor
	return d
}

// A command id is its actor's own: the same id from two actors names two
// commands, and neither answers for the other.
func TestCommandIDsArePerActor(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	client := mustAppend(t, l, AppendRequest{Stream: "s", CommandID: "finish-r1", CommandActor: "client:871008401427", CommandDigest: "d1",
		Events: []Draft{evBy("client:871008401427", "call_ended", 1)}})
	system := mustAppend(t, l, AppendRequest{Stream: "s", ExpectedSeq: 1, CommandID: "finish-r1", CommandActor: "system", CommandDigest: "d2",
		Events: []Draft{evBy("system", "recording_finished", 2)}})
	if system.Duplicate || len(system.Records) != 1 || system.Records[0].Seq != 2 || system.Records[0].Type != "recording_finished" {
		t.Fatalf("the system's command under the client's id: %+v", system)
	}
	// Each retry gets its own command's events back.
	for _, r := range []struct {
		who, digest string
		want        AppendResult
	}{{"client:871008401427", "d1", client}, {"system", "d2", system}} {
		again := mustAppend(t, l, AppendRequest{Stream: "s", ExpectedSeq: 2, CommandID: "finish-r1", CommandActor: r.who,
			CommandDigest: r.digest, Events: []Draft{evBy(r.who, "x", 9)}})
		if !again.Duplicate || len(again.Records) != 1 || again.Records[0].Hash != r.want.Records[0].Hash {
			t.Fatalf("%s retry: %+v", r.who, again)
		}
	}
	if seq, _, _ := l.Head("s"); seq != 2 {
		t.Fatalf("head %d, want 2", seq)
	}
}

// The same actor's id with another command (digest) is refused, also
// after a restart; the same digest is the original outcome.
func TestCommandIDReusedForAnotherCommand(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	first := mustAppend(t, l, AppendRequest{Stream: "s", CommandID: "c1", CommandActor: "notary:aliya", CommandDigest: "draft-1", Events: []Draft{ev("a", 1)}})
	l.Close()
	l = open(t, dir)
	defer l.Close()
	_, err := l.Append(ctx, AppendRequest{Stream: "s", ExpectedSeq: 1, CommandID: "c1", CommandActor: "notary:aliya", CommandDigest: "draft-2", Events: []Draft{ev("b", 2)}})
	var reused *IDReusedError
	if !errors.Is(err, ErrIDReused) || !errors.As(err, &reused) || reused.ID != "c1" || reused.Actor != "notary:aliya" {
		t.Fatalf("reused id: %v", err)
	}
	same := mustAppend(t, l, AppendRequest{Stream: "s", ExpectedSeq: 1, CommandID: "c1", CommandActor: "notary:aliya", CommandDigest: "draft-1", Events: []Draft{ev("b", 2)}})
	if !same.Duplicate || same.Records[0].Hash != first.Records[0].Hash {
		t.Fatalf("same command: %+v", same)
	}
	cmd, found, err := l.Command("s", "notary:aliya", "c1")
	if err != nil || !found || cmd.Digest != "draft-1" || cmd.First != 1 || cmd.Last != 1 {
		t.Fatalf("command record: %+v %v %v", cmd, found, err)
	}
	if _, found, _ := l.Command("s", "client:871008401427", "c1"); found {
		t.Fatal("another actor's id found")
	}
	if seq, _, _ := l.Head("s"); seq != 1 {
		t.Fatalf("head %d, want 1", seq)
	}
}

// A log written before ids were scoped by actor holds command records
// keyed by stream and id alone. They still answer their own actor's
// retries, and do not block another actor's command under the same id.
func TestLegacyCommandRecordsStillAnswer(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	old := mustAppend(t, l, AppendRequest{Stream: "s", Events: []Draft{evBy("client:871008401427", "call_ended", 1)}})
	l.Close()
	// What the old code wrote for that command: 'c' stream 0x00 id → seqs.
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(legacyCommandKey("s", "finish-r1"), []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	l = open(t, dir)
	defer l.Close()
	retry := mustAppend(t, l, AppendRequest{Stream: "s", ExpectedSeq: 1, CommandID: "finish-r1", CommandActor: "client:871008401427", CommandDigest: "d",
		Events: []Draft{evBy("client:871008401427", "call_ended", 9)}})
	if !retry.Duplicate || retry.Records[0].Hash != old.Records[0].Hash {
		t.Fatalf("legacy retry: %+v", retry)
	}
	sys := mustAppend(t, l, AppendRequest{Stream: "s", ExpectedSeq: 1, CommandID: "finish-r1", CommandActor: "system", CommandDigest: "d",
		Events: []Draft{evBy("system", "recording_finished", 2)}})
	if sys.Duplicate || sys.Records[0].Seq != 2 {
		t.Fatalf("the system's command was taken for the client's: %+v", sys)
	}
}

func TestValidation(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	for name, req := range map[string]AppendRequest{
		"no stream":      {Events: []Draft{ev("a", 1)}},
		"no events":      {Stream: "s"},
		"no type":        {Stream: "s", Events: []Draft{{Payload: json.RawMessage(`{}`)}}},
		"bad payload":    {Stream: "s", Events: []Draft{{Type: "a", Payload: json.RawMessage(`{`)}}},
		"nul in stream":  {Stream: "s\x00t", Events: []Draft{ev("a", 1)}},
		"nul in command": {Stream: "s", CommandID: "c\x00", Events: []Draft{ev("a", 1)}},
		"nul in actor":   {Stream: "s", CommandID: "c", CommandActor: "a\x00", Events: []Draft{ev("a", 1)}},
		"empty index":    {Stream: "s", Events: []Draft{ev("a", 1)}, Index: []IndexOp{{Index: "x"}}},
	} {
		if _, err := l.Append(ctx, req); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestConcurrentWritersOneStream(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	const writers, rounds = 32, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := map[uint64]int{}
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				seq, _, err := l.Head("s")
				if err != nil {
					t.Error(err)
					return
				}
				res, err := l.Append(ctx, AppendRequest{Stream: "s", ExpectedSeq: seq, Events: []Draft{ev("w", w)}})
				if errors.Is(err, ErrConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				won[res.Records[0].Seq]++
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	seq, _, _ := l.Head("s")
	if uint64(len(won)) != seq {
		t.Fatalf("%d winners for %d seqs", len(won), seq)
	}
	for s, n := range won {
		if n != 1 {
			t.Fatalf("seq %d won %d times", s, n)
		}
	}
	if err := l.VerifyChain("s"); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentStreams(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := fmt.Sprintf("act/%02d", w)
			for i := 0; i < 5; i++ {
				if _, err := l.Append(ctx, AppendRequest{Stream: s, ExpectedSeq: uint64(i), Events: []Draft{ev("e", i)}}); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	n := 0
	_ = l.Streams("act/", func(s string) error {
		n++
		if seq, _, _ := l.Head(s); seq != 5 {
			t.Errorf("%s at %d", s, seq)
		}
		return l.VerifyChain(s)
	})
	if n != 64 {
		t.Fatalf("%d streams", n)
	}
}

func TestIndex(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	mustAppend(t, l, AppendRequest{Stream: "act/1", Events: []Draft{ev("a", 1)}, Index: []IndexOp{
		{Index: "phase", Value: "awaiting_consent"}, {Index: "principal", Value: "871008401427"}}})
	mustAppend(t, l, AppendRequest{Stream: "act/2", Events: []Draft{ev("a", 1)}, Index: []IndexOp{
		{Index: "phase", Value: "awaiting"}, {Index: "principal", Value: "871008401427"}}})
	mustAppend(t, l, AppendRequest{Stream: "act/1", ExpectedSeq: 1, Events: []Draft{ev("b", 2)}, Index: []IndexOp{
		{Index: "phase", Value: "awaiting_consent", Delete: true}, {Index: "phase", Value: "signed"}}})
	if got, _ := l.Lookup("principal", "871008401427"); fmt.Sprint(got) != "[act/1 act/2]" {
		t.Fatalf("principal %v", got)
	}
	if got, _ := l.Lookup("phase", "awaiting_consent"); len(got) != 0 {
		t.Fatalf("deleted entry still there: %v", got)
	}
	// "awaiting" must not match "awaiting_consent" in Lookup…
	if got, _ := l.Lookup("phase", "awaiting"); fmt.Sprint(got) != "[act/2]" {
		t.Fatalf("lookup awaiting: %v", got)
	}
	// …but Scan is by prefix.
	var seen []string
	_ = l.Scan("phase", "", func(v, s string) error { seen = append(seen, v+"="+s); return nil })
	if fmt.Sprint(seen) != "[awaiting=act/2 signed=act/1]" {
		t.Fatalf("scan %v", seen)
	}
}

// tamper rewrites one stored record through pebble directly, as an
// attacker with the disk would.
func tamper(t *testing.T, dir, stream string, seq uint64, edit func(*Record)) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := eventKey(stream, seq)
	v, closer, err := db.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeRecord(v)
	closer.Close()
	if err != nil {
		t.Fatal(err)
	}
	edit(&r)
	nv, err := EncodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(k, nv, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func TestHashChainDetectsTampering(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	for i := 1; i <= 4; i++ {
		mustAppend(t, l, AppendRequest{Stream: "act/x", ExpectedSeq: uint64(i - 1), Events: []Draft{ev("e", i)}})
	}
	if err := l.VerifyChain("act/x"); err != nil {
		t.Fatal(err)
	}
	recs, _ := l.ReadAll("act/x")
	l.Close()
	tamper(t, dir, "act/x", 3, func(r *Record) { r.Payload = json.RawMessage(`{"n":3,"text":"сенiм"}`) })
	l = open(t, dir)
	defer l.Close()
	var ce *ChainError
	if err := l.VerifyChain("act/x"); !errors.As(err, &ce) || ce.Seq != 3 {
		t.Fatalf("altered payload: %v", err)
	}
	// In memory: a removed middle record, a swapped pair, a changed actor.
	removed := append(append([]Record{}, recs[:1]...), recs[2:]...)
	if err := VerifyRecords(removed); !errors.As(err, &ce) || ce.Seq != 2 {
		t.Fatalf("removed record: %v", err)
	}
	swapped := []Record{recs[0], recs[2], recs[1], recs[3]}
	if err := VerifyRecords(swapped); !errors.Is(err, ErrBrokenChain) {
		t.Fatalf("swapped records: %v", err)
	}
	changed := append([]Record{}, recs...)
	changed[1].Actor = "notary:evil"
	if err := VerifyRecords(changed); !errors.As(err, &ce) || ce.Seq != 2 {
		t.Fatalf("changed actor: %v", err)
	}
	if err := VerifyRecords(recs); err != nil {
		t.Fatal(err)
	}
}

// Crash test: appends run from several goroutines on pebble's crashable
// in-memory filesystem; at a random moment the filesystem is cloned keeping
// only what was synced (plus a random part of what was not). Every append
// acknowledged before the clone must be in the clone, intact.
func TestCrashKeepsEveryAcknowledgedAppend(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			l, err := Open("db", Options{FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			crashAfter := 50 + rng.IntN(150)
			var (
				mu      sync.Mutex
				acked   = map[string][]Record{}
				nAcked  int
				crashed *vfs.MemFS
				wg      sync.WaitGroup
			)
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					stream := fmt.Sprintf("act/%d", w)
					for i := 0; i < 60; i++ {
						res, err := l.Append(ctx, AppendRequest{Stream: stream, ExpectedSeq: uint64(i), CommandID: fmt.Sprint("c", i),
							Events: []Draft{ev("e", i)}})
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						if crashed == nil {
							acked[stream] = append(acked[stream], res.Records...)
							nAcked++
							if nAcked == crashAfter {
								crashed = fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rng})
							}
						}
						mu.Unlock()
					}
				}(w)
			}
			wg.Wait()
			l.Close()
			if crashed == nil {
				t.Fatal("no crash taken")
			}
			l2, err := Open("db", Options{FS: crashed})
			if err != nil {
				t.Fatal(err)
			}
			defer l2.Close()
			for stream, want := range acked {
				got, err := l2.ReadAll(stream)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) < len(want) {
					t.Fatalf("%s: %d acknowledged records, %d survived", stream, len(want), len(got))
				}
				for i := range want {
					if got[i].Hash != want[i].Hash {
						t.Fatalf("%s seq %d differs after the crash", stream, want[i].Seq)
					}
				}
				if err := l2.VerifyChain(stream); err != nil {
					t.Fatal(err)
				}
				// The clone may hold more than was acknowledged (synced by a
				// neighbour's group commit): never less, never a gap.
				res, err := l2.Append(ctx, AppendRequest{Stream: stream, ExpectedSeq: uint64(len(got)), Events: []Draft{ev("after", 0)}})
				if err != nil || res.Records[0].Seq != uint64(len(got))+1 {
					t.Fatalf("%s: append after the crash: %v", stream, err)
				}
			}
		})
	}
}

func FuzzVerifyRecords(f *testing.F) {
	f.Add("act/x", uint64(1), "t", "a", `{"a":1}`, "", "")
	f.Fuzz(func(t *testing.T, stream string, seq uint64, typ, actor, payload, prev, hash string) {
		r := Record{Stream: stream, Seq: seq, Type: typ, Actor: actor, Payload: json.RawMessage(payload), PrevHash: prev, Hash: hash}
		_ = r.CanonicalBytes()
		_ = VerifyRecords([]Record{r, r})
	})
}

// Each log tells its own observer of its own appends, and of nothing
// refused: two logs open in one process (two servers in a test, or a
// server and a tool) do not share one. A duplicate is answered from the
// store without a commit, and is not an append that waited.
func TestAppendObserverIsTheLogs(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	openObserved := func(name string) *Log {
		l, err := Open(t.TempDir(), Options{AppendObserver: func(d time.Duration) {
			if d < 0 {
				t.Errorf("%s: a wait of %v", name, d)
			}
			mu.Lock()
			seen[name]++
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	a, b := openObserved("a"), openObserved("b")
	for i := 1; i <= 3; i++ {
		mustAppend(t, a, AppendRequest{Stream: "act/x", ExpectedSeq: uint64(i - 1), Events: []Draft{ev("step", i)}})
	}
	mustAppend(t, b, AppendRequest{Stream: "act/y", CommandActor: "client:871008401427", CommandID: "c1", Events: []Draft{ev("step", 1)}})
	if res := mustAppend(t, b, AppendRequest{Stream: "act/y", CommandActor: "client:871008401427", CommandID: "c1", Events: []Draft{ev("step", 1)}}); !res.Duplicate {
		t.Fatalf("the repeated command is not a duplicate: %+v", res)
	}
	if _, err := a.Append(ctx, AppendRequest{Stream: "act/x", ExpectedSeq: 1, Events: []Draft{ev("late", 9)}}); err == nil {
		t.Fatal("a stale expected seq was taken")
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["a"] != 3 || seen["b"] != 1 {
		t.Fatalf("observed %v, want a:3 b:1", seen)
	}
}
