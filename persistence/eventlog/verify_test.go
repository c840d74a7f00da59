package eventlog

import (
	"encoding/json"
	"fmt"
	"runtime"
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
