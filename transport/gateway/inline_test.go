package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/senim-kz/senim/internal/nowake"
	"github.com/senim-kz/senim/internal/testtool"
)

// inlineServer accepts one websocket as the gateway does (its own
// buffers, the cork over a socket it can write without waiting) and hands
// over the wsConn and the client's end.
func inlineServer(t testing.TB, max int) (*wsConn, *websocket.Conn) {
	t.Helper()
	conns := make(chan *wsConn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sb := &smallBuffers{ResponseWriter: w}
		c, err := websocket.Accept(sb, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			t.Error(err)
			return
		}
		conns <- &wsConn{c: c, nc: sb.conn, cork: sb.cork, max: max}
	}))
	t.Cleanup(srv.Close)
	client, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	client.SetReadLimit(1 << 20)
	t.Cleanup(func() { client.CloseNow() })
	w := <-conns
	if w.cork == nil || w.cork.raw == nil {
		t.Fatal("the cork has no socket to write to without waiting")
	}
	return w, client
}

// A frame sent while nothing else is being written goes out from the
// caller: no writer goroutine is started for it (one was, per frame), and
// the cork holds nothing afterwards.
func TestAnIdleConnectionsFrameIsWrittenByItsSender(t *testing.T) {
	w, client := inlineServer(t, 256)
	ctx := context.Background()
	before := writersStarted.Load()
	for i := range 20 {
		frame := fmt.Appendf(nil, `{"type":"event","seq":%d}`, i)
		if !w.Send(frame) {
			t.Fatal("Send refused")
		}
		_, msg, err := client.Read(ctx)
		if err != nil || string(msg) != string(frame) {
			t.Fatalf("frame %d: %s %v", i, msg, err)
		}
	}
	if n := writersStarted.Load() - before; n != 0 {
		t.Fatalf("%d writer goroutines started for 20 frames sent one at a time, want 0", n)
	}
	if w.cork.pending() {
		t.Fatal("the cork holds a batch after its frames went out")
	}
}

// A client that does not read fills its socket: Send still never waits
// for it. The first frame the socket does not take whole is handed to a
// writer goroutine, which finishes it (with the deadline) once the client
// reads: every frame reaches the client whole and in order, the last one
// too, though nothing was sent after it.
func TestSendNeverWaitsForAClientThatDoesNotRead(t *testing.T) {
	const most = 2000
	w, client := inlineServer(t, most+1)
	// A small send buffer, so that the socket is soon full.
	if err := w.nc.(*net.TCPConn).SetWriteBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 12<<10)
	frame := func(i int) []byte { return fmt.Appendf(nil, `{"type":"event","seq":%d,"pad":%q}`, i, pad) }
	sent := make(chan int, 1)
	go func() {
		for i := range most {
			if !w.Send(frame(i)) {
				t.Errorf("Send %d refused", i)
				sent <- i
				return
			}
			w.mu.Lock()
			handed := w.writing // Send returned with a writer still at work
			w.mu.Unlock()
			if handed {
				sent <- i + 1
				return
			}
		}
		sent <- most
	}()
	var n int
	select {
	case n = <-sent:
	case <-time.After(20 * time.Second):
		t.Fatal("Send waited for a client that does not read")
	}
	if n == most {
		t.Fatalf("the socket took %d frames of 12 KiB without the client reading", most)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range n {
		_, msg, err := client.Read(ctx)
		if err != nil {
			t.Fatalf("frame %d of %d: %v", i, n, err)
		}
		if string(msg) != string(frame(i)) {
			t.Fatalf("frame %d: %.40s… (%d bytes)", i, msg, len(msg))
		}
	}
	testtool.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.writing || w.cork.pending() {
			return errors.New("the writer did not finish once the client read")
		}
		return nil
	})
}

// BenchmarkSendToAnIdleConnection sends one frame at a time to a
// connection whose client reads it before the next is sent, as a session
// sends events: by a writer goroutine started for each frame (the cork
// without its socket, as before) and by the sender itself. cpu-µs/op is
// the process's CPU (server side and the client's read) per frame.
func BenchmarkSendToAnIdleConnection(b *testing.B) {
	for _, mode := range []string{"writer-goroutine", "sender-writes"} {
		b.Run(mode, func(b *testing.B) {
			w, client := inlineServer(b, 256)
			if mode == "writer-goroutine" {
				w.cork.raw = nil
			}
			ctx := context.Background()
			frame := []byte(`{"type":"event","act":"0123456789abcdef0123456789abcdef","seq":7,"name":"draft_approved","actor":"client","at":"2026-11-30T21:00:00Z","data":{}}`)
			cpu0 := processCPU()
			b.ResetTimer()
			for range b.N {
				w.Send(frame)
				if _, _, err := client.Read(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
		})
	}
}

// processCPU is the process's CPU time, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Frames sent together go to the socket together: one write(2) for a batch
// that fits in inlineMax, and a longer batch in as few as fit, every frame
// whole and in order, a frame past inlineMax by the writer goroutine.
func TestFramesSentTogetherGoOutInOneWrite(t *testing.T) {
	var writes atomic.Int32
	sockWrite = func(fd uintptr, p []byte) (int, syscall.Errno) { writes.Add(1); return nowake.Write(fd, p) }
	t.Cleanup(func() { sockWrite = nowake.Write })
	w, client := inlineServer(t, 256)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	read := func(want [][]byte) {
		t.Helper()
		for i, f := range want {
			_, msg, err := client.Read(ctx)
			if err != nil || string(msg) != string(f) {
				t.Fatalf("frame %d: %.60s (%d bytes), %v; want %.60s (%d bytes)", i, msg, len(msg), err, f, len(f))
			}
		}
	}
	frame := func(i, size int) []byte {
		return fmt.Appendf(nil, `{"type":"event","seq":%d,"pad":%q}`, i, strings.Repeat("x", size))
	}

	small := [][]byte{frame(1, 10), frame(2, 100), []byte(`{"type":"ack","id":"c1"}`)}
	if !w.SendAll(small) {
		t.Fatal("SendAll refused")
	}
	read(small)
	if n := writes.Load(); n != 1 {
		t.Fatalf("%d writes for 3 small frames sent together, want 1", n)
	}

	writes.Store(0)
	before := writersStarted.Load()
	long := [][]byte{frame(3, 6<<10), frame(4, 6<<10), frame(5, 6<<10), frame(6, 6<<10)} // 2 × 12 KiB
	if !w.SendAll(long) {
		t.Fatal("SendAll refused")
	}
	read(long)
	if n := writes.Load(); n != 2 {
		t.Fatalf("%d writes for 24 KiB sent together, want 2 (%d KiB at most each)", n, inlineMax>>10)
	}
	if n := writersStarted.Load() - before; n != 0 {
		t.Fatalf("%d writer goroutines started for a batch the socket took", n)
	}

	huge := [][]byte{frame(7, 10), frame(8, inlineMax), frame(9, 10)}
	if !w.SendAll(huge) {
		t.Fatal("SendAll refused")
	}
	read(huge)
	testtool.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.writing || w.cork.pending() {
			return errors.New("the writer did not finish")
		}
		return nil
	})
}
