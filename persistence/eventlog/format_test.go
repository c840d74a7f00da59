package eventlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// writeLegacy stores recs as the log stored records before the binary
// format (json.Marshal of the Record, hashes as ComputeHash gives them),
// with their head, through pebble directly: a data dir from before.
func writeLegacy(t *testing.T, dir string, recs []Record) []Record {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prev := ZeroHash
	for i := range recs {
		recs[i].PrevHash = prev
		if recs[i].Hash, err = recs[i].ComputeHash(); err != nil {
			t.Fatal(err)
		}
		prev = recs[i].Hash
		v, _ := json.Marshal(recs[i])
		if err := db.Set(eventKey(recs[i].Stream, recs[i].Seq), v, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	last := recs[len(recs)-1]
	head := append(binary.BigEndian.AppendUint64(nil, last.Seq), last.Hash...)
	if err := db.Set(headKey(last.Stream), head, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	return recs
}

func storedValue(t *testing.T, dir, stream string, seq uint64) []byte {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, closer, err := db.Get(eventKey(stream, seq))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return bytes.Clone(v)
}

// A data dir written before the binary format keeps reading and verifying,
// its stream goes on in the new format, and the JSON of every record (what
// evidence's events.jsonl holds) is what it was: byte for byte the stored
// JSON for an old record, and JSON that verifies for a new one.
func TestOldRecordsReadAndChainIntoNewOnes(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 22, 10, 0, 0, 120000000, time.UTC)
	old := writeLegacy(t, dir, []Record{
		{Stream: "act/x", Seq: 1, Type: "application_submitted", Actor: "client:871008401427", At: at, CommandID: "c1", Payload: json.RawMessage(`{"n":1,"text":"сенім"}`)},
		{Stream: "act/x", Seq: 2, Type: "draft_presented", Actor: "notary:aliya", At: at.Add(time.Second), Payload: json.RawMessage(`{"n":2}`)},
	})
	oldJSON := [][]byte{storedValue(t, dir, "act/x", 1), storedValue(t, dir, "act/x", 2)}

	l := open(t, dir)
	mustAppend(t, l, AppendRequest{Stream: "act/x", ExpectedSeq: 2, CommandID: "c3", CommandActor: "client:871008401427",
		Events: []Draft{ev("draft_approved", 3), ev("invoice_issued", 4)}})
	l.Close()
	if v := storedValue(t, dir, "act/x", 3); v[0] != formatV1 {
		t.Fatalf("a new record is stored as %q, not in the binary format", v[:1])
	}

	l = open(t, dir)
	defer l.Close()
	recs, err := l.ReadVerified("act/x")
	if err != nil || len(recs) != 4 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if recs[2].PrevHash != old[1].Hash {
		t.Fatal("the first new record does not chain to the last old one")
	}
	var jsonl []Record
	for i, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 && !bytes.Equal(b, oldJSON[i]) {
			t.Fatalf("old record %d exports as\n%s\nnot as stored\n%s", i+1, b, oldJSON[i])
		}
		var back Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		jsonl = append(jsonl, back)
	}
	if err := VerifyRecords(jsonl); err != nil {
		t.Fatalf("the exported JSON does not verify: %v", err)
	}
	if recs[2].CommandID != "c3" || string(recs[2].Payload) != `{"n":3,"text":"сенім"}` || !recs[3].At.Equal(ev("", 4).At) {
		t.Fatalf("new record read back as %+v", recs[2])
	}
	// Idempotency answers from either format.
	res := mustAppend(t, l, AppendRequest{Stream: "act/x", ExpectedSeq: 0, CommandID: "c3", CommandActor: "client:871008401427", Events: []Draft{ev("draft_approved", 3)}})
	if !res.Duplicate || len(res.Records) != 2 || res.Records[1].Hash != recs[3].Hash {
		t.Fatalf("duplicate: %+v", res)
	}
}

// The payload is stored as hashed. Before, the stored JSON escaped <, > and
// & in the payload while the hash covered them unescaped, so an act whose
// payload held one failed its chain on the next load.
func TestPayloadWithHTMLCharactersVerifies(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	p := `{"powers":"buy & sell <cars>"}`
	mustAppend(t, l, AppendRequest{Stream: "act/x", Events: []Draft{{Type: "t", Actor: "a", At: time.Now(), Payload: json.RawMessage(p)}}})
	l.Close()
	l = open(t, dir)
	defer l.Close()
	recs, err := l.ReadVerified("act/x")
	if err != nil {
		t.Fatal(err)
	}
	if string(recs[0].Payload) != p {
		t.Fatalf("payload %s", recs[0].Payload)
	}
}

// v1 builds a binary record whose stored hash is right for its bytes,
// whatever the fields say: only the decoder's strictness can refuse it.
func v1(prev [hashLen]byte, fields ...string) []byte {
	canon := []byte{}
	for _, f := range fields {
		canon = appendNetstring(canon, f)
	}
	v := append([]byte{formatV1}, make([]byte, hashLen)...)
	v = append(append(v, prev[:]...), canon...)
	sum := sha256.Sum256(v[1+hashLen:])
	copy(v[1:], sum[:])
	return v
}

// One record has one encoding: a stored record whose hash matches its
// bytes but whose fields are not spelled as Append spells them is refused
// as a broken chain, so that what verifies on disk is what verifies in an
// export.
func TestNonCanonicalRecordsAreRefused(t *testing.T) {
	var zero [hashLen]byte
	good := []string{canonTag, "act/x", "1", "t", "a", "2026-11-22T10:00:00.5Z", "", `{}`}
	with := func(i int, s string) []string { f := append([]string{}, good...); f[i] = s; return f }
	cases := map[string][]byte{
		"unknown version":     append([]byte{0x02}, v1(zero, good...)[1:]...),
		"short":               {formatV1, 1, 2},
		"another tag":         v1(zero, with(0, "senim.event.v2")...),
		"seq with a zero":     v1(zero, with(2, "01")...),
		"seq not a number":    v1(zero, with(2, "1a")...),
		"offset not Z":        v1(zero, with(5, "2026-11-22T15:00:00.5+05:00")...),
		"fraction with zeros": v1(zero, with(5, "2026-11-22T10:00:00.50Z")...),
		"30 February":         v1(zero, with(5, "2026-02-30T10:00:00Z")...),
		"a field missing":     v1(zero, good[:7]...),
		"a field more":        v1(zero, append(good, "x")...),
		"length with a zero":  bytes.Replace(v1(zero, good...), []byte("1:1,"), []byte("01:1,"), 1),
	}
	if _, err := DecodeRecord(v1(zero, good...)); err != nil {
		t.Fatalf("the canonical record: %v", err)
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeRecord(v); err == nil {
				t.Fatal("decoded")
			}
			dir := t.TempDir()
			db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{}})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Set(eventKey("act/x", 1), v, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			db.Close()
			l := open(t, dir)
			defer l.Close()
			var ce *ChainError
			if _, err := l.ReadVerified("act/x"); !errors.As(err, &ce) || ce.Seq != 1 {
				t.Fatalf("ReadVerified: %v", err)
			}
		})
	}
}

// Times round-trip through the binary format exactly, at the edges of
// what the fast parser takes and beyond.
func TestTimesRoundTrip(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 22, 10, 0, 0, 1, time.UTC),
		time.Date(2026, 11, 22, 10, 0, 0, 100000000, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 11, 22, 15, 0, 0, 0, time.FixedZone("Almaty", 5*3600)),
	} {
		r := Record{Stream: "s", Seq: 7, Type: "t", At: at, Payload: json.RawMessage(`{}`), PrevHash: ZeroHash}
		var err error
		if r.Hash, err = r.ComputeHash(); err != nil {
			t.Fatal(err)
		}
		v, err := EncodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeRecord(v)
		if err != nil {
			t.Fatalf("%s: %v", at, err)
		}
		if !back.At.Equal(at) || back.At.Location() != time.UTC || back.Hash != r.Hash {
			t.Fatalf("%s came back as %s", at, back.At)
		}
		if err := VerifyRecords([]Record{back}); err != nil {
			t.Fatal(err)
		}
	}
}

// A time RFC 3339 cannot spell is refused before anything is stored.
func TestYearOutOfRangeIsInvalid(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	_, err := l.Append(ctx, AppendRequest{Stream: "s", Events: []Draft{{Type: "t", At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Payload: json.RawMessage(`{}`)}}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("year 10000: %v", err)
	}
}

func TestIsCompact(t *testing.T) {
	for p, want := range map[string]bool{
		`{"a":1}`: true, `{"a": 1}`: false, `{"a b":1}`: true, `{"a\" b":1}`: true, `{"a\\" :1}`: false,
		`{"a\\\" b":[1,2]}`: true, "[1,\n2]": false, `"x"`: true, `""`: true,
	} {
		if got := isCompact([]byte(p)); got != want {
			t.Errorf("isCompact(%s) = %v", p, got)
		}
	}
}

func FuzzIsCompact(f *testing.F) {
	f.Add(`{"a":"b c","d":[1, 2]}`)
	f.Add(`{"a\\":"\" "}`)
	f.Fuzz(func(t *testing.T, p string) {
		if !json.Valid([]byte(p)) {
			return
		}
		var b bytes.Buffer
		_ = json.Compact(&b, []byte(p))
		if got, want := isCompact([]byte(p)), b.String() == p; got != want {
			t.Fatalf("isCompact(%q) = %v, Compact says %v", p, got, want)
		}
	})
}

// A record survives encoding and decoding field for field, and its stored
// bytes are its canonical bytes.
func FuzzRecordRoundTrip(f *testing.F) {
	f.Add("act/x", uint64(1), "t", "a", int64(1764000000123456789), "c", `{"a":1}`)
	f.Fuzz(func(t *testing.T, stream string, seq uint64, typ, actor string, ns int64, cmd, payload string) {
		r := Record{Stream: stream, Seq: seq, Type: typ, Actor: actor, At: time.Unix(0, ns).UTC(), CommandID: cmd,
			Payload: json.RawMessage(payload), PrevHash: ZeroHash}
		var err error
		if r.Hash, err = r.ComputeHash(); err != nil {
			t.Fatal(err)
		}
		v, err := EncodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(v[v1Header:], r.CanonicalBytes()) {
			t.Fatal("stored bytes are not the canonical bytes")
		}
		back, err := DecodeRecord(v)
		if err != nil {
			t.Fatal(err)
		}
		if back.Stream != r.Stream || back.Seq != r.Seq || back.Type != r.Type || back.Actor != r.Actor || !back.At.Equal(r.At) ||
			back.CommandID != r.CommandID || string(back.Payload) != payload || back.PrevHash != r.PrevHash || back.Hash != r.Hash {
			t.Fatalf("%+v came back as %+v", r, back)
		}
	})
}

// A read reuses the midnight of the day before; times across midnight,
// months and years still come back exactly.
func TestTimesAcrossDaysReadBack(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	base := time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC)
	var evs []Draft
	for _, d := range []time.Duration{0, 1, time.Second, 24 * time.Hour, -48 * time.Hour, 24*time.Hour + 5} {
		evs = append(evs, Draft{Type: "t", Actor: "a", At: base.Add(d), Payload: json.RawMessage(`{}`)})
	}
	mustAppend(t, l, AppendRequest{Stream: "s", Events: evs})
	recs, err := l.ReadVerified("s")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if !r.At.Equal(evs[i].At) {
			t.Fatalf("event %d: %s, not %s", i, r.At, evs[i].At)
		}
	}
}

// encodeHash spells what hex.Encode does, every byte value in every place.
func TestEncodeHash(t *testing.T) {
	var h [hashLen]byte
	dst := make([]byte, 2*hashLen)
	for v := range 256 {
		for i := range h {
			h[i] = byte(v + i*7)
		}
		encodeHash(dst, h[:])
		if want := hex.EncodeToString(h[:]); string(dst) != want {
			t.Fatalf("encodeHash(%x) = %s", h, dst)
		}
	}
}

// A decoder's recent strings give back exactly the string asked for,
// whichever strings share their slots and in whatever order they come.
func TestInternGivesTheSameBytes(t *testing.T) {
	var d decoder
	words := []string{"a", "b", "ab", "ba", "call_started", "invoice_issued", "draft_approved", "draft_presented",
		"application_submitted", "notary:aliya", "client:871008401427", "client:871008401428", "system", "bank"}
	for i := range 200 {
		words = append(words, fmt.Sprintf("type_%d", i))
	}
	for round := range 5 {
		for i := range words {
			w := words[(i*7+round)%len(words)]
			if got := d.intern([]byte(w)); got != w {
				t.Fatalf("intern(%q) = %q", w, got)
			}
			// Its neighbour in the list, at once: pairs take turns.
			v := words[(i*7+round+1)%len(words)]
			if got := d.intern([]byte(v)); got != v {
				t.Fatalf("intern(%q) = %q", v, got)
			}
		}
	}
	if d.intern(nil) != "" {
		t.Fatal("an empty field is not the empty string")
	}
}

// checkSplitFast fails t if the fast split accepts canonical bytes b that
// splitFields refuses, or splits them otherwise.
func checkSplitFast(t *testing.T, stream string, b []byte) (fast bool) {
	t.Helper()
	d := getDecoder(stream, false)
	defer decoders.Put(d)
	var ff, fs fieldSpans
	if !d.splitFast(b, &ff) {
		return false
	}
	if err := splitFields(b, &fs); err != nil {
		t.Fatalf("%q (stream %q): the fast split takes what splitFields refuses: %v", b, stream, err)
	}
	if ff != fs {
		t.Fatalf("%q (stream %q): the fast split gives %v, splitFields %v", b, stream, ff, fs)
	}
	return true
}

// The fast split refuses every malformed spelling splitFields refuses:
// every byte of a record's canonical bytes changed to each byte that
// matters to a netstring, every byte dropped, every length cut short.
func TestSplitFastRefusesWhatSplitFieldsRefuses(t *testing.T) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC)
	for _, r := range []Record{
		{Stream: "act/0001", Seq: 1, Type: "draft_presented", Actor: "notary:aliya", At: at, Payload: json.RawMessage(`{"n":1}`)},
		{Stream: "act/0001", Seq: 12345, Type: "application_submitted_with_a_long_type_name", Actor: "client:871008401427", At: at, CommandID: "c-1", Payload: json.RawMessage(`{}`)},
		{Stream: "", Seq: 9, Type: "", Actor: "", At: at, Payload: json.RawMessage(`1`)},
	} {
		good := r.CanonicalBytes()
		for _, stream := range []string{r.Stream, "act/0002", ""} {
			if !checkSplitFast(t, stream, good) && stream == r.Stream && len(r.Type) < 100 && len(r.Actor) < 100 {
				t.Fatalf("%q: the fast split does not take a record as Append writes it", good)
			}
			for i := range good {
				for _, c := range []byte{'0', '1', '9', ':', ',', 'a', 0, '0' - 1, '9' + 1, 0xff} {
					b := bytes.Clone(good)
					b[i] = c
					checkSplitFast(t, stream, b)
				}
				checkSplitFast(t, stream, append(bytes.Clone(good[:i]), good[i+1:]...))
				checkSplitFast(t, stream, good[:i])
				checkSplitFast(t, stream, append(append(bytes.Clone(good[:i]), '0'), good[i:]...))
			}
			checkSplitFast(t, stream, append(bytes.Clone(good), ','))
		}
	}
}

// The fast split agrees with splitFields on any bytes.
func FuzzSplitFast(f *testing.F) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC)
	good := Record{Stream: "act/0001", Seq: 7, Type: "draft_presented", Actor: "notary:aliya", At: at, Payload: json.RawMessage(`{"n":1}`)}.CanonicalBytes()
	f.Add("act/0001", good)
	f.Add("act/0002", good)
	f.Add("", []byte("14:senim.event.v1,0:,1:1,0:,0:,20:2026-11-30T10:00:00Z,0:,2:{},"))
	f.Fuzz(func(t *testing.T, stream string, b []byte) {
		checkSplitFast(t, stream, b)
	})
}

// A decoder that has the day of the record before skips parsing the date,
// never the check of the rest: a time on the same day spelled otherwise
// than Append spells it is refused all the same.
func TestTimesOnTheDayBeforeAreStillChecked(t *testing.T) {
	var zero [hashLen]byte
	rec := func(at string) []byte { return v1(zero, canonTag, "act/x", "1", "t", "a", at, "", `{}`) }
	for _, at := range []string{
		"2026-11-22T24:00:00Z", "2026-11-22T10:60:00Z", "2026-11-22T10:00:60Z", "2026-11-22T1a:00:00Z",
		"2026-11-22T10:00:00.50Z", "2026-11-22T10:00:00.Z", "2026-11-22T10:00:00.1234567891Z", "2026-11-22T10:00:00.5",
		"2026-11-22 10:00:00Z", "2026-11-22T10-00:00Z", "2026-11-22T10:00:00.5x",
	} {
		d := getDecoder("act/x", false)
		var r Record
		if _, err := d.decodeInto(&r, rec("2026-11-22T09:00:00Z")); err != nil {
			t.Fatal(err)
		}
		if _, err := d.decodeInto(&r, rec(at)); err == nil {
			t.Errorf("%s decoded after a record of the same day", at)
		}
		if _, err := DecodeRecord(rec(at)); err == nil {
			t.Errorf("%s decoded", at)
		}
		decoders.Put(d)
	}
}
