package nowake

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// connPair is a loopback TCP connection: a's end wrapped by NewConn, and b's.
func connPair(t *testing.T) (a *Conn, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		t.FailNow()
	}
	t.Cleanup(func() { c.Close(); b.Close() })
	w, ok := NewConn(c).(*Conn)
	if !ok {
		t.Fatalf("NewConn of a TCP socket is a %T", NewConn(c))
	}
	return w, b
}

// A Conn reads and writes as the socket it wraps: a megabyte both ways
// (the socket fills, and the writer waits in the poller), a read deadline,
// the peer's close (EOF), and its own close under a waiting read.
func TestConnReadsAndWritesAsTheSocket(t *testing.T) {
	a, b := connPair(t)
	big := make([]byte, 1<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	// a → b: a's write must wait for b to read.
	go func() {
		if n, err := a.Write(big); n != len(big) || err != nil {
			t.Errorf("Write: %d, %v", n, err)
		}
	}()
	got := make([]byte, len(big))
	if _, err := io.ReadFull(b, got); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("the peer read %d bytes (%v), not what was written", len(got), err)
	}
	// b → a, read in small pieces.
	go func() { _, _ = b.Write(big) }()
	got = got[:0]
	buf := make([]byte, 1000)
	for len(got) < len(big) {
		n, err := a.Read(buf)
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("read bytes differ from those written")
	}
	if n, err := a.Read(nil); n != 0 || err != nil {
		t.Fatalf("an empty read: %d, %v", n, err)
	}

	if err := a.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a read past its deadline: %v", err)
	}
	_ = a.SetReadDeadline(time.Time{})

	_ = b.Close()
	if _, err := a.Read(buf); err != io.EOF {
		t.Fatalf("a read after the peer closed: %v, want EOF", err)
	}

	a2, _ := connPair(t)
	done := make(chan error, 1)
	go func() { _, err := a2.Read(buf); done <- err }()
	time.Sleep(10 * time.Millisecond) // let it wait (the outcome is the same if it has not yet)
	_ = a2.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("a read waiting when its Conn closed: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a waiting read did not end on Close")
	}
	if _, err := a2.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a write after Close: %v", err)
	}
}

// What has no descriptor of its own is returned as it is.
func TestNewConnLeavesOtherConns(t *testing.T) {
	p, q := net.Pipe()
	defer p.Close()
	defer q.Close()
	if c := NewConn(p); c != p {
		t.Fatalf("NewConn(net.Pipe()) = %T", c)
	}
}
