package sfu

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reads and writes on the SFU's sockets without the runtime's system call
// entry.
//
// Go's own socket calls go through the runtime's system call entry, and
// that entry wakes the runtime's monitor thread (sysmon) whenever it is in
// its deep sleep, which is whenever the process was idle: at a few hundred
// bursts of packets a second, each one woke it, and it then polled every
// 20 µs (a nanosleep, a context switch each) until the process was idle
// again. In a profile of 10 rooms of 1→1 with the kernel in view (perf),
// sysmon was 18% of the server's CPU. A receive or send on a non-blocking
// UDP socket does not block, so it needs none of what the entry is for
// (handing the processor to other goroutines while the thread waits in the
// kernel): these go as raw system calls, and wait, when the socket has
// nothing to read or no room to send, in Go's netpoller as before (through
// syscall.RawConn). What the socket's calls return is as net.UDPConn's.

// rawIO is a gsoConn's raw reading and writing. Reads are one reader's at
// a time (rmu; ICE reads a socket from one goroutine); writes are under
// gsoConn.mu.
type rawIO struct {
	rmu     sync.Mutex
	rbuf    []byte
	rname   unix.RawSockaddrAny
	rn      int
	rerr    unix.Errno
	readFn  func(uintptr) bool
	zoneID  uint32 // the last link-local source's interface, and its name
	zone    string
	whdr    unix.Msghdr
	wiov    unix.Iovec
	wsa4    unix.RawSockaddrInet4
	wsa6    unix.RawSockaddrInet6
	werr    unix.Errno
	writeFn func(uintptr) bool
}

// initRaw makes the calls' closures once: a closure made per call would be
// an allocation per packet.
func (c *gsoConn) initRaw() {
	c.rio.readFn = c.recvOnce
	c.rio.writeFn = c.sendOnce
}

// recvOnce is one recvfrom that does not wait; false asks the netpoller to
// wait for the socket.
func (c *gsoConn) recvOnce(fd uintptr) bool {
	r := &c.rio
	for {
		namelen := uint32(unix.SizeofSockaddrAny)
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&r.rbuf[0])), uintptr(len(r.rbuf)),
			unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&r.rname)), uintptr(unsafe.Pointer(&namelen)))
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		r.rn, r.rerr = int(n), errno
		return true
	}
}

// recv reads a datagram into b.
func (c *gsoConn) recv(b []byte) (int, netip.AddrPort, error) {
	if c.raw == nil || len(b) == 0 {
		return c.UDPConn.ReadFromUDPAddrPort(b)
	}
	r := &c.rio
	r.rmu.Lock()
	defer r.rmu.Unlock()
	r.rbuf = b
	err := c.raw.Read(r.readFn)
	r.rbuf = nil
	if err != nil {
		return 0, netip.AddrPort{}, err // the socket closed: net.ErrClosed, as ICE expects
	}
	if r.rerr != 0 {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Addr: c.LocalAddr(), Err: os.NewSyscallError("recvfrom", r.rerr)}
	}
	return r.rn, r.source(), nil
}

// sendOnce is one sendmsg that does not wait.
func (c *gsoConn) sendOnce(fd uintptr) bool {
	r := &c.rio
	for {
		_, _, errno := unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&r.whdr)), unix.MSG_DONTWAIT)
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		r.werr = errno
		return true
	}
}

// send sends b, with the control message oob if any, to dst; the caller
// holds c.mu.
func (c *gsoConn) send(b, oob []byte, dst netip.AddrPort) error {
	r := &c.rio
	var name *byte
	var namelen uint32
	if c.raw != nil {
		name, namelen = c.sockaddr(dst, &r.wsa4, &r.wsa6)
	}
	if name == nil { // no raw connection, or an address only net builds
		var err error
		if len(oob) > 0 {
			_, _, err = c.UDPConn.WriteMsgUDPAddrPort(b, oob, dst)
		} else {
			_, err = c.UDPConn.WriteToUDPAddrPort(b, dst)
		}
		return err
	}
	r.whdr = unix.Msghdr{Name: name, Namelen: namelen}
	if len(b) > 0 {
		r.wiov.Base = &b[0]
		r.wiov.SetLen(len(b))
		r.whdr.Iov = &r.wiov
		r.whdr.SetIovlen(1)
	}
	if len(oob) > 0 {
		r.whdr.Control = &oob[0]
		r.whdr.SetControllen(len(oob))
	}
	err := c.raw.Write(r.writeFn)
	r.wiov.Base, r.whdr.Iov, r.whdr.Control = nil, nil, nil // not kept past the call
	if err != nil {
		return err
	}
	if r.werr != 0 {
		return &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(dst), Err: os.NewSyscallError("sendmsg", r.werr)}
	}
	return nil
}

// sent is what a write of b returns: all of it, or nothing and err.
func sent(b []byte, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

// source is the last datagram's source (rname) as netip.AddrPort, as
// net.UDPConn gives it: an IPv6 socket's IPv4 peers mapped, a link-local
// peer with its interface's name as the zone (looked up when the
// interface differs from the last one's).
func (r *rawIO) source() netip.AddrPort {
	sa := &r.rname
	switch sa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		ip := netip.AddrFrom16(a.Addr)
		if a.Scope_id != 0 {
			if a.Scope_id != r.zoneID {
				r.zoneID, r.zone = a.Scope_id, zoneName(int(a.Scope_id))
			}
			ip = ip.WithZone(r.zone)
		}
		return netip.AddrPortFrom(ip, uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// zoneName is an interface's name by its index, or the index in decimal
// where there is none (as net names a zone).
func zoneName(index int) string {
	if ifi, err := net.InterfaceByIndex(index); err == nil {
		return ifi.Name
	}
	return strconv.Itoa(index)
}
