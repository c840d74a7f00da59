//go:build !linux

package nowake

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// Read is read(2) of a non-blocking descriptor.
func Read(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	return errnoOf(n, err)
}

// Write is write(2) to a non-blocking descriptor.
func Write(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	return errnoOf(n, err)
}

func errnoOf(n int, err error) (int, syscall.Errno) {
	if err == nil {
		return n, 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return 0, e
	}
	return 0, syscall.EIO
}

// WriteFile writes all of p to a regular file.
func WriteFile(fd uintptr, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := syscall.Write(int(fd), p[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, os.NewSyscallError("write", err)
		}
		n += k
	}
	return n, nil
}

// StatFile is the size and modification time of the file at path.
func StatFile(path string) (int64, time.Time, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, time.Time{}, err
	}
	return st.Size(), st.ModTime(), nil
}

// ErrClosed is Fdatasync's error after Close.
var ErrClosed = errors.New("nowake: syncer closed")

// Syncer is Linux's only.
type Syncer struct{}

// NewSyncer fails here: callers sync as usual.
func NewSyncer() (*Syncer, error) { return nil, errors.ErrUnsupported }

// Fdatasync is never reached (NewSyncer fails).
func (*Syncer) Fdatasync(uintptr) error { return errors.ErrUnsupported }

// Close does nothing.
func (*Syncer) Close() error { return nil }

// Stats is zero here.
func (*Syncer) Stats() (aio, usual int64) { return 0, 0 }
