package gateway

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
)

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// countingHijacker hands the websocket a socket whose writes are counted.
type countingHijacker struct {
	http.ResponseWriter
	writes *atomic.Int64
}

func (h countingHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return countingConn{conn, h.writes}, brw, nil
}

// Frames queued while the writer was busy go out together: one write to
// the socket for the whole batch (a write per frame before), in order,
// each its own websocket message.
func TestQueuedFramesGoOutInOneWrite(t *testing.T) {
	var writes atomic.Int64
	conns := make(chan *wsConn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sb := &smallBuffers{ResponseWriter: countingHijacker{w, &writes}}
		c, err := websocket.Accept(sb, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			t.Error(err)
			return
		}
		conns <- &wsConn{c: c, nc: sb.conn, cork: sb.cork, max: 256}
	}))
	defer srv.Close()
	ctx := context.Background()
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	w := <-conns
	const n = 5
	w.mu.Lock()
	for i := range n {
		w.queue = append(w.queue, fmt.Appendf(nil, `{"type":"event","seq":%d,"pad":%q}`, i, strings.Repeat("x", 300*i)))
	}
	w.writing = true // as Send does before it starts the writer
	w.mu.Unlock()
	before := writes.Load()
	w.drain()
	if got := writes.Load() - before; got != 1 {
		t.Fatalf("%d frames took %d writes to the socket, want 1", n, got)
	}
	for i := range n {
		_, msg, err := client.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"type":"event","seq":%d,`, i); !strings.HasPrefix(string(msg), want) {
			t.Fatalf("message %d: %.40s", i, msg)
		}
	}
	// A single frame is written through as before, and the cork holds no
	// buffer between batches.
	if !w.Send([]byte(`{"type":"event","seq":5}`)) {
		t.Fatal("Send refused")
	}
	if _, msg, err := client.Read(ctx); err != nil || string(msg) != `{"type":"event","seq":5}` {
		t.Fatalf("%s %v", msg, err)
	}
	w.cork.mu.Lock()
	defer w.cork.mu.Unlock()
	if w.cork.buf != nil || w.cork.corked {
		t.Fatal("the cork holds a buffer after its batch")
	}
}
