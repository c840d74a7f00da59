package gateway

import (
	"net"
	"sync"
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

// cork starts a batch: writes are held until uncork.
func (c *corkConn) cork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked, c.err = true, nil
	c.buf = corkBufs.Get().(*[]byte)
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
	c.corked, c.err = false, nil
	if cap(*c.buf) <= corkLimit {
		*c.buf = (*c.buf)[:0]
		corkBufs.Put(c.buf)
	}
	c.buf = nil
	return err
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
