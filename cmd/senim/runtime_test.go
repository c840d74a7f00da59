package main

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
	"testing"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
)

func gcSettings() (gogc, limit uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// serve's runtime section reaches the collector: GOGC, and the memory limit
// as a size, as a share of the memory available, or none.
func TestApplyRuntime(t *testing.T) {
	oldGC := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(oldGC); debug.SetMemoryLimit(oldLimit) })

	applyRuntime(config.Runtime{GOGC: 50, MemoryLimit: "1GiB"}, zerolog.Nop())
	if gogc, limit := gcSettings(); gogc != 50 || limit != 1<<30 {
		t.Fatalf("gogc %d, limit %d; want 50 and 1 GiB", gogc, limit)
	}
	avail := availableMemory()
	if avail <= 0 {
		t.Fatal("no memory size found for this machine")
	}
	applyRuntime(config.Runtime{GOGC: 100, MemoryLimit: "50%"}, zerolog.Nop())
	if gogc, limit := gcSettings(); gogc != 100 || int64(limit) != avail/2 {
		t.Fatalf("gogc %d, limit %d; want 100 and %d (half of %d)", gogc, limit, avail/2, avail)
	}
	applyRuntime(config.Runtime{GOGC: 100, MemoryLimit: "off"}, zerolog.Nop())
	if _, limit := gcSettings(); limit != math.MaxInt64 {
		t.Fatalf("limit %d with memory_limit off", limit)
	}
}
