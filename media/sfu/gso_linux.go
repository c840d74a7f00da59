package sfu

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
	"golang.org/x/sys/unix"
)

// UDP segmentation offload (Linux's UDP_SEGMENT): a video frame's packets
// to one subscriber leave in one system call, and the kernel takes them
// through its stack once, not once a packet. The SFU's per-connection UDP
// sockets hold a frame's RTP packets (from its first full-size one) until
// its last one comes, then send them together. Anything else (audio, RTCP,
// ICE, a frame's last packet alone) goes at once, past what is held of
// another stream; a full-size packet of another stream sends what is held
// first. A frame whose last packet never comes leaves after at most
// gsoHold.
//
// A segmented send takes packets of one size (the last may be shorter),
// and a browser's packets of one frame may differ by a byte or so (its
// packetizer spreads a frame's bytes evenly). Such a frame leaves in one
// system call all the same: sendmmsg, each run of equal packets one
// segmented message of it (sendmmsg_linux.go).
//
// Measured side by side with bench/fanout (bench/fanout/README.md).

const (
	// gsoMin is the least size of a packet held: a video packet that fills
	// its MTU (audio and RTCP are far smaller).
	gsoMin = 900
	// gsoMax packets at most go in one send (the kernel takes 64).
	gsoMax = 32
	// gsoHold is the most a held packet waits for its frame's last. The
	// congestion controller takes a packet's departure as the time it was
	// handed to the socket, so a hold reads to it as delay on the path: it
	// must stay far under GCC's threshold (about 12 ms). A browser's pacer
	// spreads a frame over several milliseconds, and a forwarder serving 40
	// subscribers takes a few over one: such frames go in two or three
	// sends, the timer's included.
	gsoHold = 2 * time.Millisecond
)

// gsoNet is the ICE agent's network with segmenting UDP sockets.
type gsoNet struct{ *stdnet.Net }

func newGSONet() (transport.Net, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return gsoNet{n}, nil
}

func (n gsoNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	// buf grows with the first frames held (to gsoMax packets at most): a
	// connection's sockets that carry no video (other interfaces' host
	// candidates, an audio-only participant) hold nothing.
	g := &gsoConn{UDPConn: c, oob: make([]byte, unix.CmsgSpace(2))}
	if raw, err := c.SyscallConn(); err == nil {
		g.raw = raw
		g.initRaw()
	}
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok {
		g.v6 = la.IP.To4() == nil
	}
	g.hold = gsoHold
	g.timer = time.AfterFunc(time.Hour, g.flushLate)
	g.timer.Stop()
	return g, nil
}

// gsoConn is one segmenting socket. ICE writes through WriteToAddrPort
// (or WriteTo); reads are the socket's own.
type gsoConn struct {
	*net.UDPConn

	mu    sync.Mutex
	buf   []byte // the held packets, back to back
	n     int    // how many
	lens  []int  // each one's size
	ssrc  uint32
	dst   netip.AddrPort
	oob   []byte
	off   bool // the kernel refused segmentation: one packet a send
	timer *time.Timer
	hold  time.Duration // gsoHold (tests that count sends hold longer)
	// segmented counts the sends of more than one packet (tests);
	// multi the sendmmsg calls among them.
	segmented, multi int
	mm               *sendBatch // sendmmsg's headers, made with the first frame of unequal packets
	v6               bool       // an IPv6 socket

	raw syscall.RawConn // for sendmmsg; nil: a run of a frame a send
	rio rawIO           // reads and writes without the runtime's system call entry (rawio_linux.go)
}

// ReadFromAddrPort is what ICE reads with (pion's AddrPortReaderWriter).
// Reads are one datagram a call: batched reads (recvmmsg) took a burst's
// datagrams in one call, 2.5 a call under bench/fanout's load, and saved
// no CPU measurably (docs/sfu-cpu.md).
func (c *gsoConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.recv(b)
}

func (c *gsoConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return c.UDPConn.WriteTo(b, addr)
	}
	return c.WriteToAddrPort(b, ua.AddrPort())
}

func (c *gsoConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	return c.WriteToAddrPort(b, addr.AddrPort())
}

// rtpFrame tells a packet that is RTP (not RTCP, nor STUN or DTLS), its
// SSRC, and whether it is the last of its frame (the marker bit).
func rtpFrame(b []byte) (ssrc uint32, last, ok bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return 0, false, false
	}
	if pt := b[1] & 0x7f; pt >= 64 && pt <= 95 {
		return 0, false, false // RTCP (RFC 5761)
	}
	return binary.BigEndian.Uint32(b[8:12]), b[1]&0x80 != 0, true
}

func (c *gsoConn) WriteToAddrPort(b []byte, dst netip.AddrPort) (int, error) {
	ssrc, last, rtp := rtpFrame(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off {
		return sent(b, c.send(b, nil, dst))
	}
	same := c.n > 0 && rtp && ssrc == c.ssrc && dst == c.dst
	if same {
		// The frame goes on, whatever the size of its packets.
		c.buf = append(c.buf, b...)
		c.lens = append(c.lens, len(b))
		c.n++
		if !last && c.n < gsoMax {
			return len(b), nil
		}
		return len(b), c.flushLocked()
	}
	hold := rtp && !last && len(b) >= gsoMin
	if c.n > 0 && hold {
		// Another stream's frame: what is held goes first (a loss is
		// repaired or concealed as any).
		_ = c.flushLocked()
	}
	if !hold {
		// Audio, RTCP, ICE, a frame's last: at once, past what is held
		// of another stream.
		return sent(b, c.send(b, nil, dst))
	}
	// A frame's first full-size packet: held for the rest.
	c.buf = append(c.buf[:0], b...)
	c.lens = append(c.lens[:0], len(b))
	c.n, c.ssrc, c.dst = 1, ssrc, dst
	c.timer.Reset(c.hold)
	return len(b), nil
}

// flushLocked sends what is held: in one system call where the kernel
// takes it (a segmented send, or sendmmsg of the frame's runs of equal
// packets), else a run or a packet at a time.
func (c *gsoConn) flushLocked() error {
	n, buf, lens := c.n, c.buf, c.lens
	c.n, c.buf, c.lens = 0, c.buf[:0], c.lens[:0]
	c.timer.Stop()
	if n == 1 {
		return c.send(buf, nil, c.dst)
	}
	if k, seg := nextRun(lens); k == len(lens) {
		return c.sendRun(buf, seg)
	}
	if c.raw == nil {
		return c.sendRunsOneByOne(buf, lens)
	}
	return c.sendRuns(buf, lens)
}

// nextRun is how many of lens one segmented send takes from the first (a
// run of one size, and a shorter packet that ends it), and their size.
func nextRun(lens []int) (int, int) {
	seg, k := lens[0], 1
	for k < len(lens) && lens[k] == seg {
		k++
	}
	if k < len(lens) && lens[k] < seg {
		k++
	}
	return k, seg
}

// sendRun sends packets of seg bytes back to back (the last may be
// shorter) in one segmented send where the kernel takes it.
func (c *gsoConn) sendRun(buf []byte, seg int) error {
	if len(buf) <= seg {
		return c.send(buf, nil, c.dst)
	}
	if !c.off {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&c.oob[0]))
		h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
		h.SetLen(unix.CmsgLen(2))
		binary.NativeEndian.PutUint16(c.oob[unix.CmsgLen(0):], uint16(seg)) //nolint:gosec // seg < 64 KiB
		err := c.send(buf, c.oob, c.dst)
		if err == nil {
			c.segmented++
			return nil
		}
		if !noSegmentation(err) {
			return err
		}
		c.off = true // no offload here: as without it, from now on
	}
	var errs []error
	for i := 0; i < len(buf); i += seg {
		errs = append(errs, c.send(buf[i:min(i+seg, len(buf))], nil, c.dst))
	}
	return errors.Join(errs...)
}

// flushLate sends a frame whose last packet did not come within gsoHold.
func (c *gsoConn) flushLate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n > 0 {
		_ = c.flushLocked()
	}
}

func (c *gsoConn) Close() error {
	c.mu.Lock()
	c.timer.Stop()
	c.n, c.buf = 0, c.buf[:0]
	c.mu.Unlock()
	return c.UDPConn.Close()
}

// noSegmentation tells the errors of a kernel or device that refuses
// UDP_SEGMENT.
func noSegmentation(err error) bool {
	var errno unix.Errno
	return errors.As(err, &errno) && (errno == unix.EIO || errno == unix.EINVAL || errno == unix.ENOPROTOOPT || errno == unix.EOPNOTSUPP)
}
