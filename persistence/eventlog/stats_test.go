package eventlog

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/senim-kz/senim/metrics"
)

// StoreStats reports what the store wrote: nothing on a new store, the
// flushed bytes after a flush, the compacted bytes after a compaction, and
// zeros once the log is closed.
func TestStoreStats(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := l.StoreStats(); s.FlushedBytes != 0 || s.CompactedBytes != 0 || s.Compactions != 0 {
		t.Fatalf("a new store: %+v", s)
	}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	appendSome := func(prefix string) {
		for i := range 50 {
			if _, err := l.Append(context.Background(), AppendRequest{Stream: fmt.Sprintf("%s%04d", prefix, i),
				Events: []Draft{{Type: "draft_presented", Actor: "notary:aliya", At: at, Payload: benchPayload}}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	appendSome("a")
	flushed := l.StoreStats()
	if flushed.FlushedBytes == 0 || flushed.DiskBytes == 0 || flushed.ReadAmp == 0 || flushed.L0Sublevels == 0 {
		t.Fatalf("after a flush: %+v", flushed)
	}
	appendSome("b")
	if err := l.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	compacted := l.StoreStats()
	if compacted.CompactedBytes == 0 || compacted.Compactions == 0 || compacted.FlushedBytes <= flushed.FlushedBytes || compacted.L0Sublevels != 0 {
		t.Fatalf("after a compaction: %+v (before: %+v)", compacted, flushed)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if s := l.StoreStats(); s != (metrics.StoreStats{}) {
		t.Fatalf("a closed log: %+v", s)
	}
}
