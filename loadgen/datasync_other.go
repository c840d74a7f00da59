//go:build !linux

package loadgen

import "golang.org/x/sys/unix"

// dataSync is fsync(2), the data sync every Unix has.
func dataSync(fd int) error { return unix.Fsync(fd) }
