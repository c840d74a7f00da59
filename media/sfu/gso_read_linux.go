package sfu

import (
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Batched reads (recvmmsg): a publisher's frame arrives as a burst of
// packets, and one system call takes what the socket holds of it, up to
// readBatch datagrams, instead of one call a packet and a last one that
// finds the socket empty. ICE's receive loop reads one packet at a time
// (ReadFromAddrPort); the first datagram of a batch lands in its buffer,
// the rest wait in the socket's slots for its next reads.
//
// A socket batches once it has carried readBatchAfter datagrams: the
// sockets ICE opens on every interface, and those of connections that
// carry no media, keep one read a packet and no slots.

const (
	// readBatch datagrams at most in one system call.
	readBatch = 8
	// readSlot bytes hold each datagram after a batch's first. WebRTC's
	// datagrams are far smaller (pion's and browsers' MTU is about 1200);
	// a larger one that lands in a slot is cut, and dropped (readCut).
	readSlot = 2048
	// readBatchAfter datagrams read one at a time before the socket
	// batches.
	readBatchAfter = 64
)

// mmsghdr is Linux's struct mmsghdr: a message header and the length
// received into it (the size is padded to the header's alignment).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// readBatcher is a socket's batched reads: the headers, addresses and
// slots of one recvmmsg, and the datagrams it queued.
type readBatcher struct {
	hdrs  [readBatch]mmsghdr
	iovs  [readBatch]unix.Iovec
	names [readBatch]unix.RawSockaddrAny
	slots [readBatch - 1][readSlot]byte
	// next..got-1: the queued datagrams (indexes into hdrs, from 1).
	next, got int
}

// readStats counts, for tests and measurements, the system calls of
// batched reads and the datagrams they returned.
type readStats struct {
	calls, datagrams, cut atomic.Int64
}

// ReadFromAddrPort is what ICE reads with (pion's AddrPortReaderWriter).
// ICE reads a socket from one goroutine; rmu keeps a second one safe.
func (c *gsoConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rb == nil {
		if c.reads < readBatchAfter || c.raw == nil {
			c.reads++
			return c.UDPConn.ReadFromUDPAddrPort(b)
		}
		c.rb = new(readBatcher)
	}
	rb := c.rb
	for rb.next < rb.got {
		i := rb.next
		rb.next++
		h := &rb.hdrs[i]
		if h.hdr.Flags&unix.MSG_TRUNC != 0 {
			c.rstats.cut.Add(1)
			continue
		}
		n := copy(b, rb.slots[i-1][:h.n])
		return n, sockaddrPort(&rb.names[i]), nil
	}
	got, err := c.readBatch(b)
	if err != nil || got == 0 {
		return 0, netip.AddrPort{}, err
	}
	rb.next, rb.got = 1, got
	h := &rb.hdrs[0]
	return int(min(h.n, uint32(len(b)))), sockaddrPort(&rb.names[0]), nil //nolint:gosec // h.n ≤ len(b)
}

// readBatch waits for the socket to hold a datagram and takes up to
// readBatch of them: the first into b, the others into the slots.
func (c *gsoConn) readBatch(b []byte) (int, error) {
	rb := c.rb
	if len(b) == 0 {
		return c.UDPConn.Read(b) // nothing to read into: as the socket does
	}
	for i := range rb.hdrs {
		if i == 0 {
			rb.iovs[0].Base = &b[0]
			rb.iovs[0].SetLen(len(b))
		} else {
			rb.iovs[i].Base = &rb.slots[i-1][0]
			rb.iovs[i].SetLen(readSlot)
		}
		h := &rb.hdrs[i].hdr
		h.Iov = &rb.iovs[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&rb.names[i]))
		h.Namelen = unix.SizeofSockaddrAny
		h.Control, h.Controllen, h.Flags = nil, 0, 0
		rb.hdrs[i].n = 0
	}
	var got int
	var errno unix.Errno
	err := c.raw.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&rb.hdrs[0])), readBatch, unix.MSG_DONTWAIT, 0, 0)
		for e == unix.EINTR {
			r, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&rb.hdrs[0])), readBatch, unix.MSG_DONTWAIT, 0, 0)
		}
		if e == unix.EAGAIN {
			return false // the poller waits for the socket to hold one
		}
		got, errno = int(r), e
		return true
	})
	runtime.KeepAlive(b)
	rb.iovs[0].Base = nil // not kept past the call
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	c.rstats.calls.Add(1)
	c.rstats.datagrams.Add(int64(got))
	return got, nil
}

// sockaddrPort is the address of a datagram's sender.
func sockaddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), portOf(a.Port))
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		// The socket's own form, as ReadFromUDPAddrPort gives it: an
		// IPv4 sender of a dual-stack socket stays IPv4-mapped.
		addr := netip.AddrFrom16(a.Addr)
		if a.Scope_id != 0 { // link-local: its interface, as the socket's own reads name it
			if ifi, err := net.InterfaceByIndex(int(a.Scope_id)); err == nil {
				addr = addr.WithZone(ifi.Name)
			}
		}
		return netip.AddrPortFrom(addr, portOf(a.Port))
	}
	return netip.AddrPort{}
}

// portOf turns a sockaddr's port (network order in memory) into a number.
func portOf(p uint16) uint16 {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], p)
	return binary.BigEndian.Uint16(b[:])
}
