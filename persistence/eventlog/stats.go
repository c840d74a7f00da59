package eventlog

import (
	"github.com/cockroachdb/pebble/v2"

	"github.com/senim-kz/senim/metrics"
)

// StoreStats is what the store has written since it opened and the shape
// of its levels, for /metrics (metrics.SetStore). A closed log reports
// nothing (zeros).
func (l *Log) StoreStats() metrics.StoreStats {
	l.inflight.Add(1) // as an append: Close waits for it
	defer l.inflight.Done()
	if l.closed.Load() {
		return metrics.StoreStats{}
	}
	m := l.db.Metrics()
	flushed, compacted := written(m)
	return metrics.StoreStats{
		FlushedBytes:   flushed,
		CompactedBytes: compacted,
		Compactions:    m.Compact.Count,
		L0Sublevels:    m.Levels[0].Sublevels,
		ReadAmp:        m.ReadAmp(),
		DiskBytes:      m.DiskSpaceUsage(),
		CacheHits:      m.BlockCache.Hits,
		CacheMisses:    m.BlockCache.Misses,
		CacheBytes:     m.BlockCache.Size,
		CacheCapacity:  l.cache.MaxSize(),
	}
}

// written is what the store's flushes and compactions wrote into its
// tables and blob files, summed over the levels. (pebble's Total adds the
// WAL's bytes to the flushed ones, for its write amplification: not here.)
func written(m *pebble.Metrics) (flushed, compacted uint64) {
	for _, lm := range m.Levels {
		flushed += lm.TableBytesFlushed + lm.BlobBytesFlushed
		compacted += lm.TableBytesCompacted + lm.BlobBytesCompacted
	}
	return flushed, compacted
}
