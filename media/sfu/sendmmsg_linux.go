package sfu

import (
	"encoding/binary"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is Linux's struct mmsghdr: a message header and the length
// sent of it (the size is padded to the header's alignment).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// sendBatch is a socket's sendmmsg: one message a run of a frame's
// packets (gso_linux.go), each run of more than one packet segmented by
// its own UDP_SEGMENT.
type sendBatch struct {
	hdrs [gsoMax]mmsghdr
	iovs [gsoMax]unix.Iovec
	oob  [gsoMax][24]byte // unix.CmsgSpace(2) on 64-bit systems; less elsewhere
	runs [gsoMax]struct{ off, size, seg int }
	sa4  unix.RawSockaddrInet4
	sa6  unix.RawSockaddrInet6
}

// sendRuns sends a frame's packets (lens their sizes, back to back in
// buf) in one sendmmsg where the kernel takes it all at once: each run of
// packets of one size a segmented message, or, where the kernel refuses
// segmentation (c.off), each packet a message.
func (c *gsoConn) sendRuns(buf []byte, lens []int) error {
	if c.mm == nil {
		c.mm = new(sendBatch)
	}
	mm := c.mm
	name, namelen := c.sockaddr(c.dst, &mm.sa4, &mm.sa6)
	if name == nil {
		return c.sendRunsOneByOne(buf, lens)
	}
	count := 0
	for off, i := 0, 0; i < len(lens); count++ {
		k, seg := 1, lens[i]
		if !c.off {
			k, seg = nextRun(lens[i:])
		}
		size := 0
		for _, l := range lens[i : i+k] {
			size += l
		}
		mm.runs[count] = struct{ off, size, seg int }{off, size, seg}
		mm.iovs[count].Base = &buf[off]
		mm.iovs[count].SetLen(size)
		h := &mm.hdrs[count].hdr
		*h = unix.Msghdr{Name: name, Namelen: namelen, Iov: &mm.iovs[count]}
		h.SetIovlen(1)
		if size > seg {
			oob := mm.oob[count][:unix.CmsgSpace(2)]
			ch := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
			ch.Level, ch.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			ch.SetLen(unix.CmsgLen(2))
			binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], uint16(seg)) //nolint:gosec // seg < 64 KiB
			h.Control = &oob[0]
			h.SetControllen(len(oob))
		}
		off += size
		i += k
	}
	defer func() {
		for i := range count {
			mm.iovs[i].Base = nil // the frame's buffer is not kept past the call
		}
	}()
	for sent := 0; sent < count; {
		var got int
		var errno unix.Errno
		err := c.raw.Write(func(fd uintptr) bool {
			for {
				r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&mm.hdrs[sent])), uintptr(count-sent), unix.MSG_DONTWAIT, 0, 0)
				switch e {
				case unix.EINTR:
					continue
				case unix.EAGAIN:
					return false // the poller waits until the socket takes more
				}
				got, errno = int(r), e
				return true
			}
		})
		if err != nil {
			return err
		}
		if errno != 0 {
			if c.off || !noSegmentation(errno) {
				return os.NewSyscallError("sendmmsg", errno)
			}
			// No offload here: what is left goes a run at a time,
			// segmented no more.
			c.off = true
			for _, r := range mm.runs[sent:count] {
				_ = c.sendRun(buf[r.off:r.off+r.size], r.seg)
			}
			return nil
		}
		sent += got
	}
	c.segmented++
	c.multi++
	return nil
}

// sendRunsOneByOne sends a frame's runs one system call each.
func (c *gsoConn) sendRunsOneByOne(buf []byte, lens []int) error {
	var err error
	for off, i := 0, 0; i < len(lens); {
		k, seg := nextRun(lens[i:])
		size := 0
		for _, l := range lens[i : i+k] {
			size += l
		}
		if e := c.sendRun(buf[off:off+size], seg); err == nil {
			err = e
		}
		off += size
		i += k
	}
	return err
}

// sockaddr is dst as the socket's family takes it, written into sa4 or
// sa6; nil where this code does not build it (a link-local address's zone,
// an IPv6 destination of an IPv4 socket).
func (c *gsoConn) sockaddr(dst netip.AddrPort, sa4 *unix.RawSockaddrInet4, sa6 *unix.RawSockaddrInet6) (*byte, uint32) {
	a := dst.Addr()
	if a.Zone() != "" {
		return nil, 0
	}
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], dst.Port())
	if !c.v6 {
		if !a.Is4() && !a.Is4In6() {
			return nil, 0
		}
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Unmap().As4()}
		sa4.Port = *(*uint16)(unsafe.Pointer(&port))
		return (*byte)(unsafe.Pointer(sa4)), unix.SizeofSockaddrInet4
	}
	*sa6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
	sa6.Port = *(*uint16)(unsafe.Pointer(&port))
	return (*byte)(unsafe.Pointer(sa6)), unix.SizeofSockaddrInet6
}
