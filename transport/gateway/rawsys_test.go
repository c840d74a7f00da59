package gateway

import (
	"bytes"
	"io"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/senim-kz/senim/internal/nowake"
)

// The socket's reads (a small one into a borrowed buffer, a large one
// straight into the frame) and Send's write that never waits are raw
// system calls (internal/nowake), not the runtime's, whose entry woke its
// monitor thread after every idle spell; what is read and written is as
// before.
func TestSocketCallsAreRaw(t *testing.T) {
	var reads, writes atomic.Int32
	sockRead = func(fd uintptr, p []byte) (int, syscall.Errno) { reads.Add(1); return nowake.Read(fd, p) }
	sockWrite = func(fd uintptr, p []byte) (int, syscall.Errno) { writes.Add(1); return nowake.Write(fd, p) }
	t.Cleanup(func() { sockRead, sockWrite = nowake.Read, nowake.Write })

	server, client := tcpPair(t)
	rc := newReadConn(server, nil)
	small := []byte("a small frame")
	large := bytes.Repeat([]byte("сенім"), readChunk) // read with a buffer past readChunk
	if _, err := client.Write(small); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(small))
	if _, err := io.ReadFull(rc, got); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("small read: %q, %v", got, err)
	}
	if reads.Load() == 0 {
		t.Fatal("a small read did not go through a raw read")
	}
	before := reads.Load()
	go func() { _, _ = client.Write(large) }()
	got = make([]byte, len(large))
	if _, err := io.ReadFull(rc, got); err != nil || !bytes.Equal(got, large) {
		t.Fatalf("large read: %d bytes, %v", len(got), err)
	}
	if reads.Load() == before {
		t.Fatal("a large read did not go through a raw read")
	}

	cc := &corkConn{Conn: rc, raw: rc.raw}
	cc.cork()
	if _, err := cc.Write([]byte("a frame")); err != nil {
		t.Fatal(err)
	}
	if pending, err := cc.tryUncork(); err != nil || pending {
		t.Fatalf("tryUncork: pending %v, %v", pending, err)
	}
	if writes.Load() != 1 {
		t.Fatalf("%d raw writes, want 1", writes.Load())
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "a frame" {
		t.Fatalf("the peer read %q, %v", buf, err)
	}
}
