//go:build linux

package sfu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// countingRaw counts the calls made through a socket's syscall.RawConn.
type countingRaw struct {
	syscall.RawConn
	reads, writes int
}

func (r *countingRaw) Read(f func(uintptr) bool) error {
	r.reads++
	return r.RawConn.Read(f)
}

func (r *countingRaw) Write(f func(uintptr) bool) error {
	r.writes++
	return r.RawConn.Write(f)
}

// The SFU's sockets read and write through their raw connections (a raw
// system call each, waiting in Go's netpoller when the socket has nothing
// or no room), not through net.UDPConn's calls, which enter the runtime's
// system call path and wake its monitor thread (rawio_linux.go). What
// comes and goes is as before: each datagram whole, its source as
// net.UDPConn gives it, over IPv4 and IPv6; audio, a frame's packets
// (held, then segmented) and RTCP alike; and nothing is allocated per
// datagram.
func TestSocketsReadAndWriteRaw(t *testing.T) {
	for _, tc := range []struct{ network, ip string }{{"udp4", "127.0.0.1"}, {"udp6", "::1"}} {
		t.Run(tc.network, func(t *testing.T) {
			c, peer := gsoPair(t, tc.network, tc.ip)
			cr := &countingRaw{RawConn: c.raw}
			c.raw = cr
			_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
			paddr := peer.LocalAddr().(*net.UDPAddr).AddrPort()
			caddr := c.LocalAddr().(*net.UDPAddr).AddrPort()

			// In: three datagrams from the peer, each read whole with its
			// source.
			in := [][]byte{rtpPacket(7, 1, 1200, false), []byte("stun-ish"), rtpPacket(8, 2, 160, true)}
			for _, b := range in {
				if _, err := peer.WriteToUDPAddrPort(b, caddr); err != nil {
					t.Fatal(err)
				}
			}
			buf := make([]byte, 1500)
			for i, w := range in {
				k, from, err := c.ReadFromAddrPort(buf)
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				if !bytes.Equal(buf[:k], w) || from != paddr {
					t.Fatalf("read %d: %d bytes from %v, want %d from %v", i, k, from, len(w), paddr)
				}
			}
			if cr.reads != len(in) {
				t.Fatalf("%d reads through the raw connection, want %d", cr.reads, len(in))
			}

			// Out: audio, a whole frame, RTCP.
			out := [][]byte{rtpPacket(9, 1, 120, true)}
			for i := range 4 {
				out = append(out, rtpPacket(10, uint16(i), 1200, i == 3))
			}
			out = append(out, []byte{0x80, 200, 0, 1, 0, 0, 0, 9}) // an RTCP sender report's header
			for _, b := range out {
				if k, err := c.WriteToAddrPort(b, paddr); err != nil || k != len(b) {
					t.Fatalf("write: %d, %v", k, err)
				}
			}
			for i, w := range out {
				k, from, err := peer.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatalf("received %d of %d: %v", i, len(out), err)
				}
				if !bytes.Equal(buf[:k], w) || from != caddr {
					t.Fatalf("datagram %d: %d bytes from %v, want %d from %v", i, k, from, len(w), caddr)
				}
			}
			if cr.writes == 0 {
				t.Fatal("nothing was written through the raw connection")
			}

			// No allocation per datagram, either way.
			audio := rtpPacket(11, 1, 120, true)
			if a := testing.AllocsPerRun(100, func() {
				if _, err := c.WriteToAddrPort(audio, paddr); err != nil {
					t.Fatal(err)
				}
				if _, _, err := peer.ReadFromUDPAddrPort(buf); err != nil {
					t.Fatal(err)
				}
				if _, err := peer.WriteToUDPAddrPort(audio, caddr); err != nil {
					t.Fatal(err)
				}
				if _, _, err := c.ReadFromAddrPort(buf); err != nil {
					t.Fatal(err)
				}
			}); a != 0 {
				t.Fatalf("%v allocations per datagram sent and received, want 0", a)
			}
		})
	}
}

// A read waiting for a datagram ends with net.ErrClosed when the socket
// closes (what ICE's reader takes as the end, quietly); a write after
// closing fails.
func TestRawReadEndsOnClose(t *testing.T) {
	c, _ := gsoPair(t, "udp4", "127.0.0.1")
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFromAddrPort(make([]byte, 1500))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it wait (it ends on Close either way)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("the read ended with %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not end when the socket closed")
	}
	if _, err := c.WriteToAddrPort([]byte("late"), netip.MustParseAddrPort("127.0.0.1:9")); err == nil {
		t.Fatal("a write after close succeeded")
	}
}

// A datagram's source is decoded as net.UDPConn gives it: IPv4, IPv6, an
// IPv4 peer of an IPv6 socket mapped, and a link-local peer with its
// interface's name as the zone.
func TestRawSourceAddresses(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	v4 := func(a [4]byte, port uint16) *unix.RawSockaddrAny {
		var sa unix.RawSockaddrAny
		s := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa))
		*s = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s.Port))[:], port)
		return &sa
	}
	v6 := func(a netip.Addr, scope uint32, port uint16) *unix.RawSockaddrAny {
		var sa unix.RawSockaddrAny
		s := (*unix.RawSockaddrInet6)(unsafe.Pointer(&sa))
		*s = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16(), Scope_id: scope}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s.Port))[:], port)
		return &sa
	}
	var r rawIO // one socket's reader: the zone is looked up once per interface
	for _, tc := range []struct {
		sa   *unix.RawSockaddrAny
		want string
	}{
		{v4([4]byte{192, 0, 2, 7}, 50000), "192.0.2.7:50000"},
		{v6(netip.MustParseAddr("2001:db8::9"), 0, 443), "[2001:db8::9]:443"},
		{v6(netip.MustParseAddr("::ffff:192.0.2.7"), 0, 3478), "[::ffff:192.0.2.7]:3478"},
		{v6(netip.MustParseAddr("fe80::1"), uint32(lo.Index), 9), "[fe80::1%" + lo.Name + "]:9"},
		{v6(netip.MustParseAddr("fe80::2"), uint32(lo.Index), 10), "[fe80::2%" + lo.Name + "]:10"}, // the zone kept from the last
		{v6(netip.MustParseAddr("fe80::3"), 999999, 11), "[fe80::3%999999]:11"},                    // no such interface: its index
	} {
		r.rname = *tc.sa
		if got := r.source().String(); got != tc.want {
			t.Errorf("decoded %s, want %s", got, tc.want)
		}
	}
}
