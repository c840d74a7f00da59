package gateway

import (
	"syscall"
	"unsafe"
)

// The websocket's sockets are non-blocking (the runtime's poller keeps
// them so), and the reads and writes below never wait: they are made as
// raw system calls, without the runtime's bookkeeping for a call that
// might block (entersyscall). That bookkeeping is not only its own cost:
// on a server that goes idle between requests, the first such call after
// the idle spell wakes the runtime's monitor thread (sysmon) and sets it
// polling every 20 µs for the next millisecond or more, on the bet that a
// blocking call needs its processor taken back. A read of a socket the
// poller said is readable is no such call; nor is a write that does not
// wait. Under `senim load acts` the monitor's sleeps were a tenth of the
// server's CPU.

// rawRead is read(2) of a non-blocking descriptor.
func rawRead(fd int, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// rawWrite is write(2) to a non-blocking descriptor.
func rawWrite(fd int, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}
