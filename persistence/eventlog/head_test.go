package eventlog

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// rawStore opens the closed log at dir through pebble itself, for a test
// to change what it stores.
func rawStore(t *testing.T, dir string) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// Every append stores the stream's head just before the stream's first
// event, where a verified read finds it with the records; the head key
// ('h') lists the streams and holds no head (movedHead), so that a version
// from before, which reads heads from 'h' alone, refuses the stream rather
// than append onto a head behind. A stream whose head is only under 'h'
// (last appended to before) still reads, and its next append moves the
// head and marks 'h'. Head and Heads give the head the reads check.
func TestVerifiedReadsFindTheHeadBeforeTheRecords(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	for _, s := range []string{"act/x", "act/y", "act/z"} {
		mustAppend(t, l, AppendRequest{Stream: s, Events: []Draft{ev("e", 1), ev("e", 2), ev("e", 3)}})
	}
	mustAppend(t, l, AppendRequest{Stream: "act/z", ExpectedSeq: 3, Events: []Draft{ev("e", 4)}})
	l.Close()

	db := rawStore(t, dir)
	headOf := func(stream string, seq uint64) []byte {
		t.Helper()
		rec := storedAt(t, db, eventKey(stream, seq))
		return append([]byte{0, 0, 0, 0, 0, 0, 0, byte(seq)}, encodeHex(rec[1:1+hashLen])...)
	}
	if v := storedAt(t, db, eventKey("act/z", 0)); !bytes.Equal(v, headOf("act/z", 4)) {
		t.Fatalf("act/z: the head before the first event is %x, want record 4's", v)
	}
	oldVersionRefuses := func(stream string) {
		t.Helper()
		// As a version from before heads moved reads a head: 'h' alone,
		// at least 8 bytes or "corrupt head".
		if v := storedAt(t, db, headKey(stream)); len(v) >= 8 {
			t.Fatalf("%s: the head key holds a head an older version would append onto: %x", stream, v)
		}
	}
	oldVersionRefuses("act/z")
	// act/x: the head before its records names record 2, as if record 3
	// had been cut off.
	storeAt(t, db, eventKey("act/x", 0), headOf("act/x", 2))
	// act/y: as last appended to before heads were kept beside the records.
	storeAt(t, db, headKey("act/y"), headOf("act/y", 3))
	if err := db.Delete(eventKey("act/y", 0), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()

	l = open(t, dir)
	defer l.Close()
	wantHeadBroken := func(what string, err error) {
		t.Helper()
		var ce *ChainError
		if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "head") {
			t.Fatalf("%s: %v, want the head not naming the last record", what, err)
		}
	}
	_, err := l.ReadVerified("act/x")
	wantHeadBroken("ReadVerified", err)
	wantHeadBroken("ReplayVerified", l.ReplayVerified("act/x", func(Record) error { return nil }))
	wantHeadBroken("VerifyChain", l.VerifyChain("act/x"))
	_, _, err = l.ReadVerifiedAfter("act/x", 1)
	wantHeadBroken("ReadVerifiedAfter", err)

	readsWhole := func(stream string, n int) {
		t.Helper()
		if recs, err := l.ReadVerified(stream); err != nil || len(recs) != n {
			t.Fatalf("%s: ReadVerified: %d records, %v", stream, len(recs), err)
		}
		if err := l.VerifyChain(stream); err != nil {
			t.Fatalf("%s: VerifyChain: %v", stream, err)
		}
		if _, recs, err := l.ReadVerifiedAfter(stream, 1); err != nil || len(recs) != n-1 {
			t.Fatalf("%s: ReadVerifiedAfter: %d records, %v", stream, len(recs), err)
		}
	}
	readsWhole("act/y", 3)
	readsWhole("act/z", 4)
	mustAppend(t, l, AppendRequest{Stream: "act/y", ExpectedSeq: 3, Events: []Draft{ev("e", 4)}})
	readsWhole("act/y", 4)
	mustAppend(t, l, AppendRequest{Stream: "act/y", ExpectedSeq: 4, Events: []Draft{ev("e", 5)}})
	readsWhole("act/y", 5)
	l.Close()
	db = rawStore(t, dir)
	oldVersionRefuses("act/y")
	db.Close()
	l = open(t, dir)
	defer l.Close()
	heads := map[string]uint64{}
	if err := l.Heads(func(s string, seq uint64, _ string) error { heads[s] = seq; return nil }); err != nil {
		t.Fatal(err)
	}
	if heads["act/x"] != 2 || heads["act/y"] != 5 || heads["act/z"] != 4 || len(heads) != 3 {
		t.Fatalf("Heads: %v", heads)
	}
	if seq, _, err := l.Head("act/z"); seq != 4 || err != nil {
		t.Fatalf("Head of act/z: %d, %v", seq, err)
	}
}

func storedAt(t *testing.T, db *pebble.DB, k []byte) []byte {
	t.Helper()
	v, closer, err := db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return bytes.Clone(v)
}

func storeAt(t *testing.T, db *pebble.DB, k, v []byte) {
	t.Helper()
	if err := db.Set(k, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func encodeHex(h []byte) []byte {
	b := make([]byte, 2*hashLen)
	encodeHash(b, h)
	return b
}

// headBehind is a store whose first read of key misses it: as Head sees a
// stream whose first append lands between its read of the head (before
// the events) and its read of 'h'.
type headBehind struct {
	pebble.Reader
	key    []byte
	missed bool
}

func (h *headBehind) Get(k []byte) ([]byte, io.Closer, error) {
	if !h.missed && bytes.Equal(k, h.key) {
		h.missed = true
		return nil, nil, pebble.ErrNotFound
	}
	return h.Reader.Get(k)
}

// Head reads the head before the events, then 'h': two views of the
// store. A stream's first append landing between them shows 'h' as moved
// and no head: the head was written with it, and is read again, not
// reported as corrupt.
func TestHeadReadAsTheFirstAppendLands(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	res := mustAppend(t, l, AppendRequest{Stream: "act/x", Events: []Draft{ev("e", 1), ev("e", 2)}})
	seq, hash, err := headFrom(&headBehind{Reader: l.db, key: eventKey("act/x", 0)}, "act/x")
	if err != nil || seq != 2 || hash != res.Records[1].Hash {
		t.Fatalf("head %d %q, %v; want 2 %q", seq, hash, err, res.Records[1].Hash)
	}
	// A view that shows 'h' moved and never the head is corrupt.
	b := l.db.NewBatch()
	_ = b.Delete(eventKey("act/x", 0), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Head("act/x"); err == nil || !strings.Contains(err.Error(), "corrupt head") {
		t.Fatalf("a moved 'h' without the head: %v", err)
	}
}
