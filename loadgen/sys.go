package loadgen

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// raiseNoFile lifts the soft limit on open files to the hard one: every
// simulated session is a socket.
func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// noFileLimit is the soft limit on open files.
func noFileLimit() uint64 {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 0
	}
	return l.Cur
}

// ProcessCPU is the CPU time this process has used, user and system, in
// seconds: the load tool's own (and, in tests, an in-process server's).
func ProcessCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return (time.Duration(ru.Utime.Nano()) + time.Duration(ru.Stime.Nano())).Seconds()
}

// toolMaxRSS is this process's peak resident memory in bytes.
func toolMaxRSS() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Maxrss * 1024 // Linux reports kilobytes
}

// machineCPU is the busy time of every CPU of this machine since boot, in
// seconds (/proc/stat: user, nice, system, irq, softirq, steal); false
// where there is none.
func machineCPU() (float64, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	return parseProcStat(data)
}

// parseProcStat reads the busy time from /proc/stat's first line, in
// USER_HZ (100 a second on Linux).
func parseProcStat(data []byte) (float64, bool) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, false
	}
	var busy float64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		v, err := strconv.ParseUint(string(f[i]), 10, 64)
		if err != nil {
			return 0, false
		}
		busy += float64(v)
	}
	return busy / 100, true
}
