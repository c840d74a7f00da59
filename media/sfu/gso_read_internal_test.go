//go:build linux

package sfu

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// readAll reads n datagrams from c through ICE's read, each with its
// sender.
func readAll(t *testing.T, c *gsoConn, n int) ([][]byte, []string) {
	t.Helper()
	var got [][]byte
	var from []string
	buf := make([]byte, 8192)
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for len(got) < n {
		k, addr, err := c.ReadFromAddrPort(buf)
		if err != nil {
			t.Fatalf("read %d of %d: %v", len(got)+1, n, err)
		}
		got = append(got, append([]byte(nil), buf[:k]...))
		from = append(from, addr.String())
	}
	return got, from
}

// Once a socket has carried readBatchAfter datagrams, ICE's reads take
// bursts in one system call each: every datagram still comes, as it was
// sent, in order, from its sender; with a burst queued, fewer calls than
// datagrams. A datagram too big for a slot is dropped and counted; one
// that comes first takes the reader's own buffer whole.
func testBatchedReads(t *testing.T, network, loopback string) {
	n, err := newGSONet()
	if err != nil {
		t.Fatal(err)
	}
	uc, err := n.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(loopback)})
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	defer uc.Close()
	c := uc.(*gsoConn)
	tx, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(loopback)})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	dst := c.LocalAddr().(*net.UDPAddr)
	sender := tx.LocalAddr().(*net.UDPAddr).AddrPort().String()

	seq := uint16(0)
	burst := func(k, size int) [][]byte {
		var sent [][]byte
		for range k {
			b := rtpPacket(7, seq, size, false)
			seq++
			if _, err := tx.WriteToUDP(b, dst); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, b)
		}
		return sent
	}
	check := func(sent, got [][]byte, from []string) {
		t.Helper()
		for i := range sent {
			if !bytes.Equal(got[i], sent[i]) {
				t.Fatalf("datagram %d: %d bytes, want %d as sent", i, len(got[i]), len(sent[i]))
			}
			if from[i] != sender {
				t.Fatalf("datagram %d from %s, want %s", i, from[i], sender)
			}
		}
	}
	// One at a time at first, no slots.
	sent := burst(readBatchAfter, 1200)
	got, from := readAll(t, c, len(sent))
	check(sent, got, from)
	if c.rb != nil || c.rstats.calls.Load() != 0 {
		t.Fatalf("batched before %d datagrams", readBatchAfter)
	}
	// Then bursts, each queued whole before it is read: in batches.
	for range 5 {
		sent = burst(3*readBatch+1, 1200)
		got, from = readAll(t, c, len(sent))
		check(sent, got, from)
	}
	calls, dgrams := c.rstats.calls.Load(), c.rstats.datagrams.Load()
	if dgrams != 5*(3*readBatch+1) || calls >= dgrams {
		t.Fatalf("%d datagrams in %d batched reads, want %d in fewer", dgrams, calls, 5*(3*readBatch+1))
	}
	// A datagram bigger than a slot: first in its batch it comes whole,
	// later in one it is dropped (the one after it still comes).
	big := rtpPacket(7, seq, readSlot+100, false)
	seq++
	sent = burst(1, 1200)
	if _, err := tx.WriteToUDP(big, dst); err != nil {
		t.Fatal(err)
	}
	after := burst(1, 1200)
	got, from = readAll(t, c, 2)
	check(sent, got[:1], from)
	if !bytes.Equal(got[1], after[0]) || c.rstats.cut.Load() != 1 {
		t.Fatalf("after a datagram cut in a slot: %d bytes, %d cut; want the next datagram and 1 cut", len(got[1]), c.rstats.cut.Load())
	}
	if _, err := tx.WriteToUDP(big, dst); err != nil {
		t.Fatal(err)
	}
	got, _ = readAll(t, c, 1)
	if !bytes.Equal(got[0], big) {
		t.Fatalf("a big datagram first in its batch: %d bytes, want %d", len(got[0]), len(big))
	}
	// Deadlines hold as on the socket's own reads.
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadFromAddrPort(make([]byte, 1500)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
}

func TestBatchedReads(t *testing.T) {
	t.Run("udp4", func(t *testing.T) { testBatchedReads(t, "udp4", "127.0.0.1") })
	t.Run("udp6", func(t *testing.T) { testBatchedReads(t, "udp6", "::1") })
}
