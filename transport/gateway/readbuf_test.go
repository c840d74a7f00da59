package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
)

// tcpPair is a connected pair of loopback sockets.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// A readConn hands out what net/http had buffered, then what arrives, in
// order, through a small bufio.Reader as the websocket reads; it holds a
// borrowed buffer only while received bytes wait in it, never while it
// waits for more; and it ends with io.EOF when the peer closes.
func TestReadConnBorrowsOnlyWhileBytesWait(t *testing.T) {
	server, client := tcpPair(t)
	rc := newReadConn(server, []byte("upgrade-tail:"))
	if rc == nil {
		t.Fatal("a TCP connection is not wrapped")
	}
	br := bufio.NewReaderSize(rc, 16)
	msg := make([]byte, 3000)
	for i := range msg {
		msg[i] = byte('a' + i%26)
	}
	if _, err := client.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("upgrade-tail:")+len(msg))
	if _, err := io.ReadFull(br, got[:20]); err != nil { // small reads: bufio's 16 bytes at a time
		t.Fatal(err)
	}
	if _, err := io.ReadFull(br, got[20:]); err != nil {
		t.Fatal(err)
	}
	if string(got) != "upgrade-tail:"+string(msg) {
		t.Fatalf("read %q…", got[:40])
	}
	if rc.buf != nil || len(rc.pending) != 0 {
		t.Fatalf("every byte was read, yet a buffer is held (%d bytes pending)", len(rc.pending))
	}

	// While it waits, nothing is borrowed: the wait is the poller's.
	done := make(chan error, 1)
	one := make([]byte, 1)
	go func() { _, err := br.Read(one); done <- err }()
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || one[0] != 'x' {
		t.Fatalf("read %q, %v", one, err)
	}
	if rc.buf != nil {
		t.Fatal("a buffer is held after its bytes were read")
	}

	client.Close()
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the peer closed: %v, want EOF", err)
	}
}

// A connection that is no socket (TLS) is not wrapped: its reads go
// through a buffer of its own.
func TestReadConnNeedsASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if newReadConn(a, nil) != nil {
		t.Fatal("a pipe was wrapped")
	}
}
