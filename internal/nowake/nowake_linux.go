package nowake

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read is read(2) of a non-blocking descriptor: EAGAIN when it has nothing.
func Read(fd uintptr, p []byte) (int, syscall.Errno) { return once(syscall.SYS_READ, fd, p) }

// Write is write(2) to a non-blocking descriptor: what it took, or EAGAIN
// when it has no room.
func Write(fd uintptr, p []byte) (int, syscall.Errno) { return once(syscall.SYS_WRITE, fd, p) }

// once is one raw read(2) or write(2) (trap) of p.
func once(trap, fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// WriteFile writes all of p to a regular file (into its page cache;
// write(2) of a regular file does not wait for the disk).
func WriteFile(fd uintptr, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, e := once(syscall.SYS_WRITE, fd, p[n:])
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0:
			return n, os.NewSyscallError("write", e)
		case k == 0:
			return n, os.NewSyscallError("write", syscall.EIO)
		}
		n += k
	}
	return n, nil
}

// StatFile is the size and modification time of the file at path
// (statx(2), following symbolic links).
func StatFile(path string) (size int64, mtime time.Time, err error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return 0, time.Time{}, err
	}
	var st unix.Statx_t
	dirfd := unix.AT_FDCWD
	_, _, e := syscall.RawSyscall6(unix.SYS_STATX, uintptr(dirfd), uintptr(unsafe.Pointer(p)), 0,
		unix.STATX_SIZE|unix.STATX_MTIME, uintptr(unsafe.Pointer(&st)), 0)
	if e != 0 {
		return 0, time.Time{}, &os.PathError{Op: "statx", Path: path, Err: e}
	}
	return int64(st.Size), time.Unix(st.Mtime.Sec, int64(st.Mtime.Nsec)), nil //nolint:gosec // a file's size
}

// iocb is the kernel's struct iocb (linux/aio_abi.h): 64 bytes. Only
// the fields a data sync sets are named; the kernel refuses one whose
// buffer, size, offset or read/write flags are not zero, and the blank
// fields (aio_data, aio_key and aio_rw_flags, aio_reqprio, aio_buf,
// aio_nbytes, aio_offset, aio_reserved2) are.
type iocb struct {
	_      uint64
	_      [2]uint32
	opcode uint16
	_      int16
	fildes uint32
	_      [4]uint64
	flags  uint32
	resfd  uint32
}

// ioEvent is the kernel's struct io_event (32 bytes): res is the
// operation's result, a negative errno on failure.
type ioEvent struct {
	_   [2]uint64
	res int64
	_   int64
}

const (
	iocbCmdFdsync = 3 // IOCB_CMD_FDSYNC
	iocbFlagResfd = 1 // IOCB_FLAG_RESFD: signal an eventfd on completion
)

// ErrClosed is Fdatasync's error after Close.
var ErrClosed = errors.New("nowake: syncer closed")

// Syncer syncs files' data through the kernel's asynchronous I/O, one
// sync at a time. Its zero value is not usable: NewSyncer.
type Syncer struct {
	mu     sync.Mutex
	ctx    uint64 // aio_context_t
	efd    *os.File
	raw    syscall.RawConn
	closed bool

	cb     iocb
	cbp    [1]*iocb
	ev     [1]ioEvent
	cnt    [8]byte
	zero   unix.Timespec
	waitFn func(uintptr) bool

	// syncs counts the syncs completed through the kernel's AIO,
	// fallbacks those made as usual because io_submit refused them.
	syncs, fallbacks atomic.Int64
}

// NewSyncer sets up a context of the kernel's asynchronous I/O and an
// eventfd for its completions. It fails where the kernel refuses AIO; the
// caller then syncs as usual.
func NewSyncer() (*Syncer, error) {
	s := &Syncer{}
	if _, _, e := syscall.RawSyscall(unix.SYS_IO_SETUP, 1, uintptr(unsafe.Pointer(&s.ctx)), 0); e != 0 {
		return nil, os.NewSyscallError("io_setup", e)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		s.destroy()
		return nil, os.NewSyscallError("eventfd", err)
	}
	// A non-blocking descriptor given to os.NewFile joins the poller.
	s.efd = os.NewFile(uintptr(efd), "aio-eventfd")
	if s.raw, err = s.efd.SyscallConn(); err != nil {
		s.destroy()
		_ = s.efd.Close()
		return nil, err
	}
	s.waitFn = s.readEventfd
	s.cbp[0] = &s.cb
	return s, nil
}

// destroy releases the context. io_destroy waits for a grace period of
// the kernel's RCU (20-50 ms measured on this project's box): it is made
// through the runtime's entry, so that the processor is not held meanwhile.
func (s *Syncer) destroy() {
	_, _, _ = syscall.Syscall(unix.SYS_IO_DESTROY, uintptr(s.ctx), 0, 0)
}

// Close releases the context. A sync under way is finished first.
func (s *Syncer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.destroy()
	return s.efd.Close()
}

// Fdatasync is fdatasync(2) of fd, run by a kernel worker; the calling
// goroutine waits in the runtime's poller. Its error is the sync's own.
func (s *Syncer) Fdatasync(fd uintptr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.cb = iocb{opcode: iocbCmdFdsync, fildes: uint32(fd), flags: iocbFlagResfd, resfd: uint32(s.efd.Fd())} //nolint:gosec // descriptors are small
	for {
		_, _, e := syscall.RawSyscall(unix.SYS_IO_SUBMIT, uintptr(s.ctx), 1, uintptr(unsafe.Pointer(&s.cbp[0])))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			// Not taken (a file without an fsync the kernel's AIO can
			// run, no room in the context): synced as usual.
			s.fallbacks.Add(1)
			return os.NewSyscallError("fdatasync", unix.Fdatasync(int(fd))) //nolint:gosec // a descriptor
		}
		break
	}
	for {
		if err := s.raw.Read(s.waitFn); err != nil {
			return err
		}
		n, _, e := syscall.RawSyscall6(unix.SYS_IO_GETEVENTS, uintptr(s.ctx), 1, 1,
			uintptr(unsafe.Pointer(&s.ev[0])), uintptr(unsafe.Pointer(&s.zero)), 0)
		if e == 0 && n == 1 {
			s.syncs.Add(1)
			if r := s.ev[0].res; r < 0 {
				return os.NewSyscallError("fdatasync", syscall.Errno(-r))
			}
			return nil
		}
		if e != 0 && e != syscall.EINTR {
			return os.NewSyscallError("io_getevents", e)
		}
	}
}

// Stats is how many syncs completed through the kernel's AIO, and how
// many were made as usual because io_submit refused them.
func (s *Syncer) Stats() (aio, usual int64) { return s.syncs.Load(), s.fallbacks.Load() }

// readEventfd takes the eventfd's count; false (nothing completed yet)
// makes the poller wait for it.
func (s *Syncer) readEventfd(fd uintptr) bool {
	_, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&s.cnt[0])), uintptr(len(s.cnt)))
	return e != syscall.EAGAIN
}
