package eventlog

import "github.com/senim-kz/senim/metrics"

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
	t := m.Total()
	return metrics.StoreStats{
		FlushedBytes:   t.TableBytesFlushed + t.BlobBytesFlushed,
		CompactedBytes: t.TableBytesCompacted + t.BlobBytesCompacted,
		Compactions:    m.Compact.Count,
		L0Sublevels:    m.Levels[0].Sublevels,
		ReadAmp:        m.ReadAmp(),
		DiskBytes:      m.DiskSpaceUsage(),
	}
}
