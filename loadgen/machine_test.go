package loadgen

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// The machine's busy time is read from /proc/stat's first line (idle and
// iowait left out), and a report of a server on the loopback says the
// machine's CPU less the tool's per act: a server whose fsyncs run on a
// kernel worker is still charged for them there.
func TestMachineCPULessTheTool(t *testing.T) {
	stat := []byte("cpu  1000 20 300 9000 50 7 8 5 0 0\ncpu0 500 10 150 4500 25 3 4 2 0 0\n")
	busy, ok := parseProcStat(stat)
	if !ok || busy != (1000+20+300+7+8+5)/100.0 {
		t.Fatalf("busy %v s (%v), want %v", busy, ok, (1000+20+300+7+8+5)/100.0)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 3", "cpu x 2 3 4 5 6 7 8"} {
		if _, ok := parseProcStat([]byte(bad)); ok {
			t.Errorf("%q read as a busy time", bad)
		}
	}
	if b, ok := machineCPU(); !ok || b <= 0 {
		t.Skipf("no /proc/stat here (%v, %v)", b, ok)
	}
	r := &Report{Scenario: "acts", ActsCompleted: 100, Seconds: 10, ServerCPUSeconds: 0.8, ToolCPUSeconds: 0.9, MachineCPUSeconds: 2.0}
	r.perAct()
	if math.Abs(r.MachineLessToolPerActMs-11) > 1e-9 {
		t.Fatalf("machine less tool %v ms per act, want 11", r.MachineLessToolPerActMs)
	}
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "the machine's CPU less the tool's: 11.0 ms per act") {
		t.Fatalf("the table does not say the machine's CPU:\n%s", b.String())
	}
}
