package eventlog

import (
	"fmt"
	"testing"
)

// The store's block cache is the size Options.BlockCache gives it
// (DefaultBlockCache when unset), and /metrics sees its capacity.
func TestBlockCacheSize(t *testing.T) {
	for _, c := range []struct {
		opt, want int64
	}{{0, DefaultBlockCache}, {16 << 20, 16 << 20}} {
		l, err := Open(t.TempDir(), Options{BlockCache: c.opt})
		if err != nil {
			t.Fatal(err)
		}
		if got := l.StoreStats().CacheCapacity; got != c.want {
			t.Errorf("BlockCache %d: the store's cache holds up to %d bytes, want %d", c.opt, got, c.want)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Reading streams from the store's tables goes to the files once; reading
// them again is answered by the block cache, and StoreStats counts both.
func TestBlockCacheCountsHitsAndMisses(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const streams = 200
	for s := range streams {
		for i := range 3 {
			mustAppend(t, l, AppendRequest{Stream: fmt.Sprintf("ACT-%03d", s), ExpectedSeq: uint64(i),
				Events: []Draft{ev("call_ended", i)}})
		}
	}
	if err := l.Flush(); err != nil { // into a table: reads now go through the cache
		t.Fatal(err)
	}
	readAll := func() {
		t.Helper()
		for s := range streams {
			n := 0
			if err := l.Read(fmt.Sprintf("ACT-%03d", s), 1, func(Record) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			if n != 3 {
				t.Fatalf("ACT-%03d: %d records read back, want 3", s, n)
			}
		}
	}
	before := l.StoreStats()
	readAll()
	first := l.StoreStats()
	readAll()
	second := l.StoreStats()
	if first.CacheMisses == before.CacheMisses {
		t.Fatalf("the first read of a flushed table counted no miss: %+v → %+v", before, first)
	}
	if first.CacheBytes == 0 {
		t.Fatalf("the cache holds nothing after reading a table: %+v", first)
	}
	if second.CacheMisses != first.CacheMisses {
		t.Errorf("reading the same streams again missed the cache %d times", second.CacheMisses-first.CacheMisses)
	}
	if second.CacheHits-first.CacheHits < streams {
		t.Errorf("reading %d streams again hit the cache %d times, want at least one a stream", streams, second.CacheHits-first.CacheHits)
	}
}
