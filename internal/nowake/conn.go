package nowake

import (
	"io"
	"net"
	"os"
	"syscall"
)

// Conn is a socket whose reads and writes are raw system calls (Read,
// Write), made only once the runtime's poller says the socket is ready:
// the same reads and writes as net.Conn's, deadlines and Close included,
// without the entry that wakes the runtime's monitor thread. A client that
// exchanges small frames with a server, over and over, between idle
// spells (senim load's simulated people) spent a fifth of its CPU in that
// thread's 20 µs polls.
type Conn struct {
	net.Conn
	raw syscall.RawConn
}

// NewConn wraps c, or returns c itself if it is not a socket with a
// descriptor of its own.
func NewConn(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return &Conn{Conn: c, raw: raw}
}

// Read reads what the socket has, waiting in the poller if it has nothing.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	if err := c.raw.Read(func(fd uintptr) bool {
		for {
			n, errno = Read(fd, p)
			if errno != syscall.EINTR {
				return errno != syscall.EAGAIN
			}
		}
	}); err != nil {
		return 0, err // closed, or past the deadline: net's own errors
	}
	switch {
	case errno != 0:
		return 0, c.opError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p, waiting in the poller while the socket is full.
func (c *Conn) Write(p []byte) (int, error) {
	var done int
	var errno syscall.Errno
	if err := c.raw.Write(func(fd uintptr) bool {
		for done < len(p) {
			n, e := Write(fd, p[done:])
			switch e {
			case 0:
				done += n
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
		return true
	}); err != nil {
		return done, err
	}
	if errno != 0 {
		return done, c.opError("write", errno)
	}
	return done, nil
}

func (c *Conn) opError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}
