package loadgen

import (
	"fmt"
	"os"
	"slices"
	"time"

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

// floorTimes are the median costs of one unit of the floor.
type floorTimes struct {
	verify, fsync time.Duration
}

// floorRounds is how many of each are timed; the median is kept.
const floorRounds = 31

// measureFloor times a CMS verification as the server makes it (a live
// signature of a sign key, chain and CRLs of the server's development CA)
// and a small write with fsync in dir, the server's data directory.
func measureFloor(ca *devca.CA, key *pki.Key, dir string) (floorTimes, error) {
	ts, err := ca.TrustStore()
	if err != nil {
		return floorTimes{}, err
	}
	der, err := key.Sign([]byte("the floor of an act: one CMS verification"), pki.SignOptions{})
	if err != nil {
		return floorTimes{}, err
	}
	verify := make([]time.Duration, 0, floorRounds)
	for range floorRounds {
		t0 := time.Now()
		if _, err := ts.Verify(der, pki.VerifyOptions{Purpose: pki.PurposeSign, Live: true}); err != nil {
			return floorTimes{}, fmt.Errorf("loadgen: verifying the floor's CMS: %w", err)
		}
		verify = append(verify, time.Since(t0))
	}
	fsync, err := timeFsync(dir)
	if err != nil {
		return floorTimes{}, err
	}
	return floorTimes{verify: median(verify), fsync: fsync}, nil
}

// timeFsync appends a record-sized write to a scratch file in dir and
// fsyncs it, floorRounds times, and returns the median.
func timeFsync(dir string) (time.Duration, error) {
	f, err := os.CreateTemp(dir, ".load-floor-*")
	if err != nil {
		return 0, fmt.Errorf("loadgen: the fsync floor: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rec := make([]byte, 512)
	for i := range rec {
		rec[i] = byte(i * 7)
	}
	out := make([]time.Duration, 0, floorRounds)
	for range floorRounds {
		t0 := time.Now()
		if _, err := f.Write(rec); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		out = append(out, time.Since(t0))
	}
	return median(out), nil
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
	r.FloorCMSVerifies = cms
	r.FloorFsyncs = appends
	r.FloorVerifyMs = float64(t.verify) / float64(time.Millisecond)
	r.FloorFsyncMs = float64(t.fsync) / float64(time.Millisecond)
	if r.ActsCompleted == 0 {
		return
	}
	n := float64(r.ActsCompleted)
	r.FloorPerActMs = (float64(cms)*r.FloorVerifyMs + appends*r.FloorFsyncMs) / n
	if r.FloorPerActMs > 0 && r.ServerCPUPerActMs > 0 {
		r.ServerCPUOverFloor = r.ServerCPUPerActMs / r.FloorPerActMs
	}
}
