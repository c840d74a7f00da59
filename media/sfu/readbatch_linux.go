//go:build linux && (amd64 || arm64)

package sfu

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of 64-bit Linux.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// batchConn is a UDP socket read with recvmmsg: each system call takes up
// to readBatch packets that have queued (it waits for the first, as a read
// does), and the reads that follow are served from them, in order.
type batchConn struct {
	*net.UDPConn
	raw syscall.RawConn

	mu    sync.Mutex // reads; pion's ICE reads from one goroutine
	hdrs  [readBatch]mmsghdr
	iovs  [readBatch]unix.Iovec
	names [readBatch]unix.RawSockaddrAny
	bufs  [readBatch][]byte
	have  int // packets read by the last call
	next  int // the next one to serve
	calls atomic.Int64
	recv  func(fd uintptr) bool // recvmmsg, as a func value made once
	got   int                   // what the last recvmmsg returned
	errno syscall.Errno
}

func newBatchConn(c *net.UDPConn) *batchConn {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	b := &batchConn{UDPConn: c, raw: raw}
	b.recv = b.recvmmsg
	for i := range b.bufs {
		b.bufs[i] = make([]byte, readSlot)
	}
	return b
}

// ReadFromAddrPort is a read of one packet: the next one of the batch in
// hand, or of a new batch.
func (c *batchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.next == c.have {
		if err := c.fill(); err != nil {
			return 0, netip.AddrPort{}, err
		}
	}
	i := c.next
	c.next++
	h := &c.hdrs[i]
	n := copy(b, c.bufs[i][:h.n])
	return n, sockaddrPort(&c.names[i]), nil
}

func (c *batchConn) fill() error {
	c.have, c.next = 0, 0
	for i := range c.hdrs {
		c.iovs[i].Base = &c.bufs[i][0]
		c.iovs[i].SetLen(readSlot)
		c.hdrs[i] = mmsghdr{}
		c.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&c.names[i]))
		c.hdrs[i].hdr.Namelen = unix.SizeofSockaddrAny
		c.hdrs[i].hdr.Iov = &c.iovs[i]
		c.hdrs[i].hdr.SetIovlen(1)
	}
	err := c.raw.Read(c.recv)
	c.calls.Add(1)
	if err != nil {
		return err
	}
	if c.errno != 0 {
		return &net.OpError{Op: "read", Net: "udp", Source: c.LocalAddr(), Err: c.errno}
	}
	c.have = c.got
	return nil
}

// recvmmsg is the system call, for raw.Read (made once: a closure made
// per read would be an allocation per read).
func (c *batchConn) recvmmsg(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.hdrs[0])), readBatch, unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false // wait until the socket is readable
	}
	c.got, c.errno = int(r), e
	return true
}

// sockaddrPort is the address of a received packet.
func sockaddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		in := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&in.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		in := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&in.Port))
		a := netip.AddrFrom16(in.Addr)
		if in.Scope_id != 0 && a.IsLinkLocalUnicast() {
			a = a.WithZone(strconv.FormatUint(uint64(in.Scope_id), 10))
		}
		return netip.AddrPortFrom(a, uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}
