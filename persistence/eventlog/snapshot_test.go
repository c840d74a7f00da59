package eventlog

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

func TestSnapshotRoundTripAndDamage(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	res := mustAppend(t, l, AppendRequest{Stream: "act/x", Events: []Draft{ev("e", 1), ev("e", 2)}})
	if _, found, err := l.Snapshot("act/x"); found || err != nil {
		t.Fatalf("a snapshot before any was put: %v %v", found, err)
	}
	want := Snapshot{Seq: 2, Hash: res.Records[1].Hash, Body: []byte(`{"state":"сенім"}`)}
	if err := l.PutSnapshot("act/x", want); err != nil {
		t.Fatal(err)
	}
	got, found, err := l.Snapshot("act/x")
	if err != nil || !found || got.Seq != want.Seq || got.Hash != want.Hash || string(got.Body) != string(want.Body) {
		t.Fatalf("read back %+v %v %v", got, found, err)
	}
	for _, bad := range []Snapshot{{Seq: 0, Hash: want.Hash}, {Seq: 1, Hash: "nothex"}} {
		if err := l.PutSnapshot("act/x", bad); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("put %+v: %v", bad, err)
		}
	}
	l.Close()

	// A flipped body byte, and an unknown version, are bad snapshots.
	for _, damage := range []func(v []byte){func(v []byte) { v[len(v)-2] ^= 1 }, func(v []byte) { v[0] = 2 }} {
		db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{}})
		if err != nil {
			t.Fatal(err)
		}
		v, closer, err := db.Get(snapshotKey("act/x"))
		if err != nil {
			t.Fatal(err)
		}
		v = append([]byte(nil), v...)
		closer.Close()
		damage(v)
		if err := db.Set(snapshotKey("act/x"), v, pebble.Sync); err != nil {
			t.Fatal(err)
		}
		db.Close()
		l = open(t, dir)
		if _, found, err := l.Snapshot("act/x"); found || !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("damaged snapshot: found %v, %v", found, err)
		}
		// It is a cache: the stream itself is untouched.
		if err := l.VerifyChain("act/x"); err != nil {
			t.Fatal(err)
		}
		if err := l.PutSnapshot("act/x", want); err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
	l = open(t, dir)
	defer l.Close()
	if err := l.DeleteSnapshot("act/x"); err != nil {
		t.Fatal(err)
	}
	if _, found, err := l.Snapshot("act/x"); found || err != nil {
		t.Fatalf("deleted: %v %v", found, err)
	}
}

// ReadVerifiedAfter returns what ReadVerified does after the given seq,
// and the hash at it, over old (JSON) and new records alike.
func TestReadVerifiedAfter(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	writeLegacy(t, dir, []Record{
		{Stream: "act/x", Seq: 1, Type: "a", Actor: "client:1", At: at, Payload: json.RawMessage(`{"n":1}`)},
		{Stream: "act/x", Seq: 2, Type: "b", Actor: "client:1", At: at, Payload: json.RawMessage(`{"n":2}`)},
	})
	l := open(t, dir)
	for i := 2; i < 6; i++ {
		mustAppend(t, l, AppendRequest{Stream: "act/x", ExpectedSeq: uint64(i), Events: []Draft{ev("e", i)}})
	}
	all, err := l.ReadVerified("act/x")
	if err != nil || len(all) != 6 {
		t.Fatalf("%d records, %v", len(all), err)
	}
	for after := 0; after <= 7; after++ {
		anchor, recs, err := l.ReadVerifiedAfter("act/x", uint64(after))
		if err != nil {
			t.Fatalf("after %d: %v", after, err)
		}
		wantAnchor, wantRecs := "", all[min(after, len(all)):]
		if after > 0 && after <= len(all) {
			wantAnchor = all[after-1].Hash
		}
		if anchor != wantAnchor || len(recs) != len(wantRecs) {
			t.Fatalf("after %d: anchor %q, %d records; want %q, %d", after, anchor, len(recs), wantAnchor, len(wantRecs))
		}
		for i := range recs {
			if recs[i].Hash != wantRecs[i].Hash || string(recs[i].Payload) != string(wantRecs[i].Payload) {
				t.Fatalf("after %d: record %d differs", after, recs[i].Seq)
			}
		}
	}
	l.Close()

	// A record altered before the seq asked for is found all the same,
	// undecoded; so is a head that does not name the last record.
	tamper(t, dir, "act/x", 4, func(r *Record) { r.Payload = json.RawMessage(`{"n":40}`) })
	l = open(t, dir)
	var ce *ChainError
	for _, after := range []uint64{0, 3, 4, 5, 6} {
		if _, _, err := l.ReadVerifiedAfter("act/x", after); !errors.As(err, &ce) || ce.Seq != 4 {
			t.Fatalf("after %d, record 4 altered: %v", after, err)
		}
	}
	l.Close()
	tamper(t, dir, "act/x", 4, func(r *Record) { r.Payload = all[3].Payload })
	tamper(t, dir, "act/x", 1, func(r *Record) { r.Actor = "client:2" })
	l = open(t, dir)
	defer l.Close()
	if _, _, err := l.ReadVerifiedAfter("act/x", 5); !errors.As(err, &ce) || ce.Seq != 1 {
		t.Fatalf("old record 1 altered: %v", err)
	}
}

// A record of another stream copied in, chain and all, does not pass for
// this stream's.
func TestReadVerifiedAfterNamesTheStream(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	mustAppend(t, l, AppendRequest{Stream: "act/y", Events: []Draft{ev("e", 1), ev("e", 2)}})
	mustAppend(t, l, AppendRequest{Stream: "act/x", Events: []Draft{ev("e", 1), ev("e", 2)}})
	l.Close()
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range [][]byte{eventKey("act/y", 0), eventKey("act/y", 1), eventKey("act/y", 2), headKey("act/y")} {
		v, closer, err := db.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		nk := append([]byte{k[0]}, "act/x"...)
		nk = append(nk, k[1+len("act/y"):]...)
		if err := db.Set(nk, append([]byte(nil), v...), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		closer.Close()
	}
	db.Close()
	l = open(t, dir)
	defer l.Close()
	var ce *ChainError
	if _, _, err := l.ReadVerifiedAfter("act/x", 2); !errors.As(err, &ce) || ce.Seq != 1 {
		t.Fatalf("records of act/y under act/x: %v", err)
	}
	if _, err := l.ReadVerified("act/x"); !errors.As(err, &ce) || ce.Seq != 1 {
		t.Fatalf("records of act/y under act/x, read verified: %v", err)
	}
}
