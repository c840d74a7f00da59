package main

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strings"
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

// The process's own cgroup is where a systemd unit's or a container's
// memory limit is found, under cgroup v2 and v1.
func TestCgroupLimitFiles(t *testing.T) {
	roots := "/sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes"
	for _, tc := range []struct{ self, want string }{
		{"0::/system.slice/senim.service\n", roots + " /sys/fs/cgroup/system.slice/senim.service/memory.max"},
		{"0::/\n", roots},
		{"12:cpu,cpuacct:/x\n4:memory:/process_api/b7\n0::/\n", roots + " /sys/fs/cgroup/memory/process_api/b7/memory.limit_in_bytes"},
		{"4:memory:/../../etc\n", roots},
		{"", roots},
	} {
		if got := strings.Join(cgroupLimitFiles(tc.self), " "); got != tc.want {
			t.Errorf("%q: %s\nwant %s", tc.self, got, tc.want)
		}
	}
}
