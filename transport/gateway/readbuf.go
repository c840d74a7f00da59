package gateway

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/senim-kz/senim/internal/nowake"
	"golang.org/x/sys/unix"
)

// readChunk is the size of the buffers reads borrow: a frame of the
// protocol, or several, in one system call.
const readChunk = 4 << 10

// The socket's reads, and Send's write that never waits, are raw system
// calls (internal/nowake): the runtime's entry for a call that may block
// woke its monitor thread into 20 µs polling after every idle spell, and
// these calls never block (the descriptor is non-blocking; the poller
// waits). Variables for the tests, which count them.
var (
	sockRead  = nowake.Read
	sockWrite = nowake.Write
)

// readBufs are the buffers of reads in progress, shared by every
// connection.
var readBufs = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// readConn is a socket whose reads borrow a buffer from readBufs only
// while received bytes wait in it. It waits for the socket to be readable
// with no buffer at all (syscall.RawConn: the runtime's poller calls
// back), then reads what arrived into a borrowed buffer in one system
// call, and gives the buffer back once the websocket has taken every
// byte. An idle connection (nearly all of them, nearly all the time)
// holds no read buffer; the websocket's own bufio.Reader over it is the
// smallest bufio allows.
type readConn struct {
	net.Conn
	raw     syscall.RawConn
	buf     *[]byte // borrowed while pending is in it; nil otherwise
	pending []byte  // received, not yet read
	readFn  func(fd uintptr) bool
	err     error // the last readFD's error
	// into and intoFn: a large read's destination, and readInto.
	into   []byte
	intoN  int
	intoFn func(fd uintptr) bool
}

// newReadConn wraps conn, with the bytes net/http had already read past
// the upgrade request (copied); nil if conn is no socket (TLS).
func newReadConn(conn net.Conn, pending []byte) *readConn {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &readConn{Conn: conn, raw: raw}
	if len(pending) > 0 {
		r.pending = append([]byte(nil), pending...)
	}
	r.readFn, r.intoFn = r.readFD, r.readInto
	return r
}

// Read hands out what is pending, reading more first if nothing is.
func (r *readConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(r.pending) == 0 {
		if len(p) >= readChunk {
			// A large frame's payload goes straight in.
			r.err, r.into = nil, p
			err := r.raw.Read(r.intoFn)
			r.into = nil
			if err != nil {
				return 0, err
			}
			return r.intoN, r.err
		}
		r.err = nil
		if err := r.raw.Read(r.readFn); err != nil {
			return 0, err
		}
		if r.err != nil {
			return 0, r.err
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	if len(r.pending) == 0 {
		r.pending = nil
		if r.buf != nil {
			readBufs.Put(r.buf)
			r.buf = nil
		}
	}
	return n, nil
}

// readFD reads once from the socket into a borrowed buffer; false (the
// socket has nothing yet) makes the poller wait and call again, with the
// buffer given back meanwhile.
func (r *readConn) readFD(fd uintptr) bool {
	bp := readBufs.Get().(*[]byte)
	for {
		n, errno := sockRead(fd, *bp)
		switch {
		case errno == unix.EINTR:
			continue
		case errno == unix.EAGAIN:
			readBufs.Put(bp)
			return false
		case errno != 0:
			readBufs.Put(bp)
			r.err = r.readErr(errno)
			return true
		case n == 0:
			readBufs.Put(bp)
			r.err = io.EOF
			return true
		}
		r.buf, r.pending = bp, (*bp)[:n]
		return true
	}
}

// readInto reads once from the socket into r.into (a large read).
func (r *readConn) readInto(fd uintptr) bool {
	for {
		n, errno := sockRead(fd, r.into)
		switch {
		case errno == unix.EINTR:
			continue
		case errno == unix.EAGAIN:
			return false
		case errno != 0:
			r.intoN, r.err = 0, r.readErr(errno)
		case n == 0:
			r.intoN, r.err = 0, io.EOF
		default:
			r.intoN = n
		}
		return true
	}
}

func (r *readConn) readErr(err error) error {
	return &net.OpError{Op: "read", Net: "tcp", Source: r.LocalAddr(), Addr: r.RemoteAddr(), Err: os.NewSyscallError("read", err)}
}
