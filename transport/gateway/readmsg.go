package gateway

import (
	"bytes"
	"context"
	"sync"

	"github.com/coder/websocket"
)

// msgBufs are the scratch buffers a message is read into before it is
// copied out at its own size; shared by every connection.
var msgBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledMsg is the largest scratch buffer put back: a rare large
// message does not keep its buffer.
const maxPooledMsg = 64 << 10

// readMessage reads the next message of c, as c.Read does, into a buffer
// of exactly its size. c.Read reads with io.ReadAll, which grows its
// slice from 512 bytes: for a message carrying a CMS (10 KiB or so) over
// twice its size in allocations (7% of all the server allocated at 30
// acts/s). Here the message is read into a pooled scratch
// buffer, borrowed only once the message has begun (an idle connection
// holds none), and copied out once. The connection's read limit holds as
// with c.Read: the reader c gives fails past it.
func readMessage(c *websocket.Conn) (websocket.MessageType, []byte, error) {
	typ, r, err := c.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	buf := msgBufs.Get().(*bytes.Buffer)
	buf.Reset()
	_, err = buf.ReadFrom(r)
	data := bytes.Clone(buf.Bytes())
	if buf.Cap() <= maxPooledMsg {
		msgBufs.Put(buf)
	}
	if data == nil {
		data = []byte{}
	}
	return typ, data, err
}
