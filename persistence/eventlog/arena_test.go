package eventlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/senim-kz/senim/internal/testtool"
)

// arenaStream appends n records of varied payload sizes to stream.
func arenaStream(t *testing.T, l *Log, stream string, n int) {
	t.Helper()
	events := make([]Draft, n)
	for i := range events {
		events[i] = Draft{Type: []string{"draft_presented", "signed", "payment_confirmed"}[i%3], Actor: "notary:aliya",
			At:      time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
			Payload: json.RawMessage(fmt.Sprintf(`{"n":%d,"text":"%s"}`, i, strings.Repeat("ы", i%23)))}
	}
	mustAppend(t, l, AppendRequest{Stream: stream, Events: events})
}

// The bytes a kept record owns share the read's arena blocks with its
// neighbours': appending to any payload, and writing over what the append
// returns, changes no other record's payload nor any hash; each record's
// PrevHash is the record before's Hash, the same string.
func TestArenaRecordsDoNotAlias(t *testing.T) {
	l := open(t, t.TempDir())
	defer l.Close()
	const n = 300
	arenaStream(t, l, "act/arena", n)
	recs, err := l.ReadVerified("act/arena")
	if err != nil || len(recs) != n {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	payloads := make([][]byte, n)
	hashes, prevs := make([]string, n), make([]string, n)
	adjacent := 0
	for i, r := range recs {
		payloads[i], hashes[i], prevs[i] = bytes.Clone(r.Payload), strings.Clone(r.Hash), strings.Clone(r.PrevHash)
		if cap(r.Payload) != len(r.Payload) {
			t.Fatalf("record %d: payload of length %d has capacity %d: an append would write over what follows", i+1, len(r.Payload), cap(r.Payload))
		}
		if i > 0 && unsafe.StringData(r.PrevHash) != unsafe.StringData(recs[i-1].Hash) {
			t.Fatalf("record %d: its PrevHash is a string of its own, not record %d's Hash", i+1, i)
		}
		if i+1 < n && unsafe.Add(unsafe.Pointer(unsafe.SliceData(r.Payload)), len(r.Payload)) == unsafe.Pointer(unsafe.StringData(recs[i+1].Hash)) {
			adjacent++
		}
	}
	// The test means something only if records do share blocks: the
	// next record's hash right after a payload, for most.
	if adjacent < n*9/10 {
		t.Fatalf("only %d of %d payloads are followed by the next record's hash: the records do not share an arena", adjacent, n-1)
	}
	stored := make([][]byte, n)
	for i := range recs {
		grown := append(recs[i].Payload, bytes.Repeat([]byte{'Y'}, 200)...)
		for j := range grown {
			grown[j] = 'X'
		}
		for j, r := range recs {
			if r.Hash != hashes[j] || r.PrevHash != prevs[j] {
				t.Fatalf("after an append to record %d's payload: record %d's hashes changed: %s, %s", i+1, j+1, r.Hash, r.PrevHash)
			}
			if j != i && !bytes.Equal(r.Payload, payloads[j]) {
				t.Fatalf("after an append to record %d's payload: record %d's payload is %s, was %s", i+1, j+1, r.Payload, payloads[j])
			}
		}
		// The record's own payload is the caller's to change: write over
		// it too, then check the others again at the next round.
		for j := range recs[i].Payload {
			recs[i].Payload[j] = 'Z'
		}
		stored[i], payloads[i] = payloads[i], bytes.Clone(recs[i].Payload)
	}
	// A second read gives every record as stored.
	again, err := l.ReadVerified("act/arena")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range again {
		if !bytes.Equal(r.Payload, stored[i]) || r.Hash != hashes[i] {
			t.Fatalf("a second read: record %d is %s %s", i+1, r.Payload, r.Hash)
		}
	}
}

// A verified read of an act's hundred records allocates a few times per
// read, not per record: the records' slice, one block of the arena for
// their hashes and payloads, the iterator's bounds (the helper's chunks
// are pooled; AllocsPerRun runs on one processor, where there is no
// helper).
func TestReadVerifiedAllocations(t *testing.T) {
	if testtool.Race {
		t.Skip("the race detector changes what allocates")
	}
	l := open(t, t.TempDir())
	defer l.Close()
	const n = 100
	arenaStream(t, l, "act/allocs", n)
	read := func() {
		recs, err := l.ReadVerified("act/allocs")
		if err != nil || len(recs) != n {
			t.Fatalf("%d records, %v", len(recs), err)
		}
	}
	read()
	// The records' slice, an arena block, the bounds: 3; one more for
	// what pebble's pools may have to make again after a collection.
	got := testing.AllocsPerRun(50, read)
	t.Logf("%v allocations per read of %d records", got, n)
	if got > 4 {
		t.Errorf("a verified read of %d records makes %v allocations, want 4 at most", n, got)
	}
}
