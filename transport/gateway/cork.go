package gateway

import (
	"errors"
	"net"
	"sync"
	"syscall"
)

// corkLimit is the most a corked connection holds before it writes what it
// has: a batch of many frames still goes out in a few system calls, and no
// one batch holds much memory.
const corkLimit = 64 << 10

// corkBufs are the buffers of batches being written, shared by every
// connection: an idle connection holds none.
var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// corkConn is the socket under a websocket whose writes can be held back
// while a batch of frames is written, then sent in one system call (each
// frame was a write(2) of its own: an eighth of the server's CPU under
// load went to them). Outside a batch a write goes straight through. The
// websocket writes frames one at a time under its own lock; a control
// frame (a ping, a pong) written during a batch simply joins it.
type corkConn struct {
	net.Conn
	// raw is the socket's own descriptor, for a write that must not wait
	// (tryUncork); nil (TLS): none is tried.
	raw    syscall.RawConn
	mu     sync.Mutex
	corked bool
	buf    *[]byte // while corked: the batch so far (from corkBufs)
	err    error   // a write of the batch that failed: every later write fails
}

// Write holds p while corked, and writes it through otherwise.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	if c.err != nil {
		return 0, c.err
	}
	if len(*c.buf)+len(p) > corkLimit {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > corkLimit {
			return c.Conn.Write(p)
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

// cork starts a batch: writes are held until uncork. A batch that
// tryUncork could not send whole is still held: it goes on, in order.
func (c *corkConn) cork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		return
	}
	c.corked, c.err = true, nil
	c.buf = corkBufs.Get().(*[]byte)
}

// tryUncork sends the batch if the socket takes all of it at once, in one
// write(2) that never waits (the descriptor is non-blocking, as the
// runtime's poller keeps it), and ends the batch. If the socket takes only
// part, or nothing, the rest stays held and corked (pending is true): the
// caller hands it to a writer that may wait, which ends it with uncork.
// Writes meanwhile (a ping) join the held batch, so order is kept.
func (c *corkConn) tryUncork() (pending bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && len(*c.buf) > 0 {
		var n int
		var werr error
		if rerr := c.raw.Write(func(fd uintptr) bool {
			var errno syscall.Errno
			if n, errno = sockWrite(fd, *c.buf); errno != 0 {
				werr = errno
			}
			return true // done whatever happened: never wait for the socket
		}); rerr != nil {
			werr = rerr
		}
		if n > 0 {
			*c.buf = (*c.buf)[:copy(*c.buf, (*c.buf)[n:])]
		}
		if werr != nil && !errors.Is(werr, syscall.EAGAIN) && !errors.Is(werr, syscall.EINTR) {
			c.err = werr
		}
	}
	if err := c.err; err != nil {
		c.releaseLocked()
		return false, err
	}
	if len(*c.buf) > 0 {
		return true, nil
	}
	c.releaseLocked()
	return false, nil
}

// pending reports whether a batch is held (tryUncork left some of it).
func (c *corkConn) pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.corked
}

// uncork ends the batch: what it holds goes out in one write, and the
// buffer goes back to the pool. The error is the batch's first.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.flushLocked()
	if c.err != nil {
		err = c.err
	}
	c.releaseLocked()
	return err
}

// releaseLocked ends a batch: the buffer goes back to the pool.
func (c *corkConn) releaseLocked() {
	c.corked, c.err = false, nil
	if cap(*c.buf) <= corkLimit {
		*c.buf = (*c.buf)[:0]
		corkBufs.Put(c.buf)
	}
	c.buf = nil
}

func (c *corkConn) flushLocked() error {
	if c.err != nil {
		return c.err
	}
	if len(*c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
	if err != nil {
		c.err = err
	}
	return err
}
