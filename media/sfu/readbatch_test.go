package sfu

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/senim-kz/senim/internal/testtool"
)

// A batched socket hands out every packet, in order, with its sender's
// address, and takes the ones that queued in one system call per
// readBatch of them; it reads with a deadline and closes like a socket.
func TestBatchConnReadsQueuedPacketsTogether(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("recvmmsg: Linux")
	}
	n, err := newBatchNet()
	if err != nil {
		t.Fatal(err)
	}
	c, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bc, ok := c.(*batchConn)
	if !ok {
		t.Skipf("no batched reads on %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	send, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	const packets = 26
	for i := 0; i < packets; i++ {
		// Loopback queues each datagram on the receiving socket before
		// the send returns.
		if _, err := send.WriteToUDP([]byte(fmt.Sprintf("packet %d %s", i, make([]byte, 10*i))), bc.LocalAddr().(*net.UDPAddr)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, readSlot)
	from := send.LocalAddr().(*net.UDPAddr).AddrPort()
	for i := 0; i < packets; i++ {
		m, ap, err := bc.ReadFromAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("packet %d %s", i, make([]byte, 10*i))
		if string(buf[:m]) != want || ap != from {
			t.Fatalf("read %d: %q from %s; want %q from %s", i, buf[:m], ap, want, from)
		}
	}
	if calls := bc.calls.Load(); calls > (packets+readBatch-1)/readBatch || calls > packets/4 {
		t.Fatalf("%d packets read in %d system calls", packets, calls)
	}

	// The net.PacketConn reads too, and a deadline ends a read that waits.
	if _, err := send.WriteToUDP([]byte("last"), bc.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	m, addr, err := c.ReadFrom(buf)
	if err != nil || string(buf[:m]) != "last" || addr.String() != from.String() {
		t.Fatalf("ReadFrom: %q from %v, %v", buf[:m], addr, err)
	}
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadFrom(buf); err == nil {
		t.Fatal("a read past its deadline returned no error")
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFrom(buf)
		done <- err
	}()
	_ = c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a read on a closed socket returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a waiting read")
	}
}

// Reading a packet through the batch allocates nothing.
func TestBatchConnAllocations(t *testing.T) {
	if testtool.Race || runtime.GOOS != "linux" {
		t.Skip("the race detector changes what allocates; recvmmsg: Linux")
	}
	n, _ := newBatchNet()
	c, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bc, ok := c.(*batchConn)
	if !ok {
		t.Skip("no batched reads here")
	}
	send, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer send.Close()
	to := bc.LocalAddr().(*net.UDPAddr).AddrPort()
	pkt, buf := make([]byte, 1200), make([]byte, readSlot)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := send.WriteToUDPAddrPort(pkt, to); err != nil {
			t.Fatal(err)
		}
		if _, _, err := bc.ReadFromAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per packet", n)
	}
}
