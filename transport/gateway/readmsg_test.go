package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/senim-kz/senim/internal/testtool"
)

// readMessage gives each message back whole and at its own size (an empty
// one, and one past the pooled buffers' size, too), and allocates about
// the message's size per message, not the growing slices of io.ReadAll
// (c.Read), which were over twice that.
func TestReadMessageAllocatesItsSize(t *testing.T) {
	const size, n = 12 << 10, 200
	msgs := make([][]byte, 3+10+n) // made before: the writer allocates nothing for them
	for i := range msgs {
		switch i {
		case 1:
			msgs[i] = []byte{}
		case 2:
			msgs[i] = bytes.Repeat([]byte("b"), 2*maxPooledMsg)
		default:
			msgs[i] = bytes.Repeat([]byte{byte('c' + i%20)}, size)
		}
	}
	msg := func(i int) []byte { return msgs[i] }
	type result struct {
		perMsg uint64
		err    error
	}
	done := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(4 * maxPooledMsg)
		check := func(i int) error {
			typ, data, err := readMessage(c)
			if err != nil {
				return fmt.Errorf("message %d: %w", i, err)
			}
			if want := msg(i); typ != websocket.MessageText || !bytes.Equal(data, want) || data == nil || cap(data) != len(want) {
				return fmt.Errorf("message %d: %d bytes (cap %d), want %d", i, len(data), cap(data), len(want))
			}
			return nil
		}
		for i := range 3 + 10 { // the odd sizes, then warm-up
			if err := check(i); err != nil {
				done <- result{err: err}
				return
			}
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for i := 3 + 10; i < 3+10+n; i++ {
			if err := check(i); err != nil {
				done <- result{err: err}
				return
			}
		}
		runtime.ReadMemStats(&m1)
		done <- result{perMsg: (m1.TotalAlloc - m0.TotalAlloc) / n}
	}))
	defer srv.Close()
	client, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	for i := range 3 + 10 + n {
		if err := client.Write(context.Background(), websocket.MessageText, msg(i)); err != nil {
			t.Fatal(err)
		}
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("%d bytes allocated per %d-byte message (both ends)", r.perMsg, size)
	if testtool.Race {
		return // sync.Pool drops buffers at random under the race detector
	}
	if r.perMsg > size*3/2 { // c.Read: 26 KB here
		t.Fatalf("%d bytes allocated per %d-byte message read, want under %d", r.perMsg, size, size*3/2)
	}
}
