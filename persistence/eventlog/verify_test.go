package eventlog

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

// A read whose helper lags (here: held on the first chunk it claims)
// stops copying records for it after a chunk or two and checks the rest
// itself, in place; what it queued is still checked, and the first bad
// record is still the answer.
func TestALaggingHelperIsGivenNoMoreChunks(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const n = 400
	vals := make([][]byte, n)
	var prev [hashLen]byte
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for i := range vals {
		r := Record{Stream: "act/x", Seq: uint64(i + 1), Type: "e", Actor: "notary:aliya", At: at,
			Payload: json.RawMessage(fmt.Sprintf(`{"n":%d,"text":"сенім сенім сенім сенім сенім"}`, i))}
		vals[i], prev = encodeV1(&r, &prev)
	}
	vals[300] = append([]byte(nil), vals[300]...)
	vals[300][len(vals[300])-3] ^= 1 // record 301 altered

	hold := make(chan struct{})
	hook := func() { <-hold }
	helperClaimed.Store(&hook)
	t.Cleanup(func() { helperClaimed.Store(nil); close(hold) })

	var hc hashChecker
	hc.start(n)
	most := 0
	for i, v := range vals {
		if !hc.add(uint64(i+1), v) {
			t.Fatalf("record %d (%d bytes) not taken", i+1, len(v))
		}
		most = max(most, len(hc.sent))
	}
	if most > 3 {
		t.Fatalf("%d chunks queued for a helper that took none back", most)
	}
	if bad := hc.finish(); bad != 301 {
		t.Fatalf("first bad record %d, want 301", bad)
	}
}

// A read's last chunk is shared: its first half queued for the helper,
// the second hashed by the reader meanwhile; a bad record in either half
// is still the answer. (A read of 20 short records: one chunk, the last.)
func TestTheLastChunkIsShared(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const n = 20
	vals := make([][]byte, n)
	var prev [hashLen]byte
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for i := range vals {
		r := Record{Stream: "act/x", Seq: uint64(i + 1), Type: "e", Actor: "notary:aliya", At: at,
			Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
		vals[i], prev = encodeV1(&r, &prev)
	}
	for _, bad := range []int{0, 1, n/2 - 1, n/2 + 1, n} {
		vs := slices.Clone(vals)
		if bad > 0 {
			vs[bad-1] = slices.Clone(vs[bad-1])
			vs[bad-1][len(vs[bad-1])-3] ^= 1
		}
		var hc hashChecker
		hc.start(n)
		for i, v := range vs {
			if !hc.add(uint64(i+1), v) {
				t.Fatalf("record %d not taken", i+1)
			}
		}
		tail := hc.cur
		if tail == nil || len(tail.seqs) != n {
			t.Fatal("the read's records are not one chunk being filled")
		}
		k, first := len(tail.seqs), tail.seqs[0]
		queued := len(hc.sent)
		hc.splitTail(tail)
		hc.cur = nil
		if len(hc.sent) != queued+1 || hc.sent[queued] != tail || len(tail.seqs) != k/2 || tail.seqs[0] != first {
			t.Fatalf("bad %d: the first half of the last chunk (%d of %d records) is not queued for the helper", bad, len(tail.seqs), k)
		}
		if got := hc.finish(); got != uint64(bad) {
			t.Fatalf("first bad record %d, want %d", got, bad)
		}
	}
}
