package loadgen

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/internal/nowake"
	"github.com/senim-kz/senim/pki/devca"
)

// The floor's fsync is the server WAL's data sync made as the server makes
// it: through the kernel's asynchronous I/O where the kernel takes it, so
// the kernel worker's CPU is out of the floor as it is out of the server's
// process. The same sync made in the thread is timed too, and the machine's
// CPU less the tool's is divided by the floor counted with it.
func TestFloorSyncsAsTheServer(t *testing.T) {
	now := time.Now()
	ca, err := devca.Open(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	id := iins(0, 1)[0]
	p, err := ca.IssuePair(devca.Request{IIN: iin.IIN(id), Surname: "Нагрузка", Name: "Пол"}, now)
	if err != nil {
		t.Fatal(err)
	}
	ft, err := measureFloor(ca, p.Sign, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if ft.verify <= 0 || ft.fsync <= 0 || ft.fsyncWhole <= 0 || ft.fsyncWall <= 0 {
		t.Fatalf("floor times %+v", ft)
	}
	s, err := nowake.NewSyncer()
	if err == nil {
		s.Close()
	}
	if ft.aio != (err == nil) {
		t.Fatalf("the floor synced through AIO: %v; this kernel's AIO: %v", ft.aio, err)
	}

	r := &Report{Scenario: "acts", ActsCompleted: 10, Seconds: 1, ServerCPUSeconds: 0.05, ToolCPUSeconds: 0.1, MachineCPUSeconds: 0.2}
	r.perAct()
	r.floor(60, 150, floorTimes{verify: 100 * time.Microsecond, fsync: 20 * time.Microsecond, fsyncWhole: 60 * time.Microsecond, fsyncWall: time.Millisecond, aio: true})
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s %v, want %v", name, got, want)
		}
	}
	// 6 verifies × 0.1 ms + 15 syncs × 0.02 / 0.06 ms per act.
	near("floor", r.FloorPerActMs, 0.9)
	near("whole floor", r.FloorWholePerActMs, 1.5)
	near("server ÷ floor", r.ServerCPUOverFloor, 5/0.9)
	near("machine less tool ÷ whole floor", r.MachineLessToolOverFloor, 10/1.5)
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"the fsyncs through the kernel's asynchronous I/O", "the machine's CPU less the tool's ÷ floor 6.67×"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the table does not say %q:\n%s", want, b.String())
		}
	}
}
