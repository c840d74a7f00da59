package eventlog

import (
	"bytes"
	"errors"
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

// Every append stores the stream's head twice: in the head key and just
// before the stream's first event, where a verified read finds it with
// the records. The reads check the records against the second; a stream
// whose head is only in the head key (written before) still reads, and
// gains the second with its next append; VerifyChain checks that the two
// agree.
func TestVerifiedReadsFindTheHeadBeforeTheRecords(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	for _, s := range []string{"act/x", "act/y", "act/z"} {
		mustAppend(t, l, AppendRequest{Stream: s, Events: []Draft{ev("e", 1), ev("e", 2), ev("e", 3)}})
	}
	l.Close()

	db := rawStore(t, dir)
	inRange, hk := storedAt(t, db, eventKey("act/x", 0)), storedAt(t, db, headKey("act/x"))
	if inRange == nil || !bytes.Equal(inRange, hk) {
		t.Fatalf("the head before the first event is %x, the head key's %x", inRange, hk)
	}
	// act/x: the head before its records names record 2 (as if record 3
	// had been cut off), the head key still record 3.
	two := storedAt(t, db, eventKey("act/x", 2))
	storeAt(t, db, eventKey("act/x", 0), append([]byte{0, 0, 0, 0, 0, 0, 0, 2}, encodeHex(two[1:1+hashLen])...))
	// act/y: written before heads were kept beside the records.
	if err := db.Delete(eventKey("act/y", 0), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	// act/z: the head key names record 2, the head the reads use record 3.
	storeAt(t, db, headKey("act/z"), append([]byte{0, 0, 0, 0, 0, 0, 0, 2}, encodeHex(storedAt(t, db, eventKey("act/z", 2))[1:1+hashLen])...))
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

	readsWhole := func(stream string) {
		t.Helper()
		if recs, err := l.ReadVerified(stream); err != nil || len(recs) != 3 {
			t.Fatalf("%s: ReadVerified: %d records, %v", stream, len(recs), err)
		}
		if err := l.ReplayVerified(stream, func(Record) error { return nil }); err != nil {
			t.Fatalf("%s: ReplayVerified: %v", stream, err)
		}
		if _, recs, err := l.ReadVerifiedAfter(stream, 1); err != nil || len(recs) != 2 {
			t.Fatalf("%s: ReadVerifiedAfter: %d records, %v", stream, len(recs), err)
		}
	}
	readsWhole("act/y")
	if err := l.VerifyChain("act/y"); err != nil {
		t.Fatalf("act/y: VerifyChain: %v", err)
	}
	mustAppend(t, l, AppendRequest{Stream: "act/y", ExpectedSeq: 3, Events: []Draft{ev("e", 4)}})
	if recs, err := l.ReadVerified("act/y"); err != nil || len(recs) != 4 {
		t.Fatalf("act/y appended to: %d records, %v", len(recs), err)
	}

	// The reads of an act trust the head beside its records; `senim
	// check` finds the head key that disagrees.
	readsWhole("act/z")
	wantHeadBroken("VerifyChain, the head key behind", l.VerifyChain("act/z"))
	l.Close()
	db = rawStore(t, dir)
	defer db.Close()
	if v := storedAt(t, db, eventKey("act/y", 0)); !bytes.Equal(v, storedAt(t, db, headKey("act/y"))) || v[7] != 4 {
		t.Fatalf("act/y's head after an append: %x", v)
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
