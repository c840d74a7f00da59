package loadgen

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/senim-kz/senim/internal/nowake"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

// The floor of an act is the work the server cannot avoid: verifying the
// act's CMS signatures (each sign-in, the application, the consent, the
// approval, the notary's signature) and the fsyncs of its durable appends.
// The tool counts the CMS it sends and reads the appends from the server's
// metrics; it times one verification and one fsync itself, on the same box
// and in the same run, so that server CPU per act ÷ floor compares like with
// like whatever else the box is doing.

// floorTimes are the costs of one unit of the floor: the CPU time of a
// verification and of an fsync (the calling thread's, which is what the
// server's CPU counts), and the median wall time of an fsync (which the
// server's CPU does not count: the disk works, the core waits).
//
// The fsync is timed twice. fsync is the data sync as the server's WAL
// makes it: through the kernel's asynchronous I/O when the kernel takes it
// (internal/nowake), so a kernel worker does the sync's work, outside the
// process, as it does the server's. fsyncWhole is the same sync made in
// the thread itself (fdatasync(2)), which counts that work: the unit of a
// floor compared with the machine's CPU rather than the process's.
type floorTimes struct {
	verify, fsync, fsyncWhole, fsyncWall time.Duration
	// aio says the server's way was the kernel's asynchronous I/O.
	aio bool
}

// floorRounds is how many of each are timed.
const floorRounds = 64

// measureFloor times a CMS verification as the server makes it (a live
// signature of a sign key, chain and CRLs of the server's development CA)
// and a small write with a data sync in dir, the server's data directory.
// CPU times are the thread's own (getrusage RUSAGE_THREAD), so that other
// work on the box does not count.
func measureFloor(ca *devca.CA, key *pki.Key, dir string) (floorTimes, error) {
	ts, err := ca.TrustStore()
	if err != nil {
		return floorTimes{}, err
	}
	der, err := key.Sign([]byte("the floor of an act: one CMS verification"), pki.SignOptions{})
	if err != nil {
		return floorTimes{}, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	for range floorRounds {
		if _, err := ts.Verify(der, pki.VerifyOptions{Purpose: pki.PurposeSign, Live: true}); err != nil {
			return floorTimes{}, fmt.Errorf("loadgen: verifying the floor's CMS: %w", err)
		}
	}
	ft := floorTimes{verify: (threadCPU() - cpu0) / floorRounds}
	ft.fsyncWhole, ft.fsyncWall, err = timeFsync(dir, dataSync)
	if err != nil {
		return floorTimes{}, err
	}
	ft.fsync = ft.fsyncWhole
	if s, err := nowake.NewSyncer(); err == nil {
		defer s.Close()
		cpu, _, err := timeFsync(dir, func(fd int) error { return s.Fdatasync(uintptr(fd)) })
		if err != nil {
			return floorTimes{}, err
		}
		if aio, _ := s.Stats(); aio > 0 {
			ft.fsync, ft.aio = cpu, true
		}
	}
	return ft, nil
}

// timeFsync appends a record-sized write to a scratch file in dir and
// syncs its data with sync, floorRounds times, and returns the thread's
// CPU per round and the median wall time of a round. The caller has
// locked its OS thread.
func timeFsync(dir string, sync func(fd int) error) (cpu, wall time.Duration, err error) {
	f, err := os.CreateTemp(dir, ".load-floor-*")
	if err != nil {
		return 0, 0, fmt.Errorf("loadgen: the fsync floor: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	fd := int(f.Fd())
	rec := make([]byte, 512)
	for i := range rec {
		rec[i] = byte(i * 7)
	}
	walls := make([]time.Duration, 0, floorRounds)
	cpu0 := threadCPU()
	for range floorRounds {
		t0 := time.Now()
		if _, err := nowake.WriteFile(uintptr(fd), rec); err != nil {
			return 0, 0, err
		}
		if err := sync(fd); err != nil {
			return 0, 0, fmt.Errorf("loadgen: the fsync floor: %w", err)
		}
		walls = append(walls, time.Since(t0))
	}
	return (threadCPU() - cpu0) / floorRounds, median(walls), nil
}

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's usage.
const rusageThread = 1

// threadCPU is the CPU time, user and system, of the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// floor fills the report's floor from the CMS the tool sent, the appends
// the server made, and the measured unit costs.
func (r *Report) floor(cms int64, appends float64, t floorTimes) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	r.FloorCMSVerifies = cms
	r.FloorFsyncs = appends
	r.FloorVerifyMs, r.FloorFsyncMs, r.FloorFsyncWallMs = ms(t.verify), ms(t.fsync), ms(t.fsyncWall)
	r.FloorFsyncWholeMs, r.FloorFsyncAIO = ms(t.fsyncWhole), t.aio
	if r.ActsCompleted == 0 {
		return
	}
	n := float64(r.ActsCompleted)
	per := func(fsyncMs float64) float64 { return (float64(cms)*r.FloorVerifyMs + appends*fsyncMs) / n }
	ratio := func(a, b float64) float64 {
		if a <= 0 || b <= 0 {
			return 0
		}
		return a / b
	}
	r.FloorPerActMs = per(r.FloorFsyncMs)
	r.FloorWallPerActMs = per(r.FloorFsyncWallMs)
	r.FloorWholePerActMs = per(r.FloorFsyncWholeMs)
	r.ServerCPUOverFloor = ratio(r.ServerCPUPerActMs, r.FloorPerActMs)
	r.ServerCPUOverWallFloor = ratio(r.ServerCPUPerActMs, r.FloorWallPerActMs)
	r.MachineLessToolOverFloor = ratio(r.MachineLessToolPerActMs, r.FloorWholePerActMs)
}
