package sfu

import (
	"net"
	"net/netip"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// Batched reads. A publisher's video frame comes as a burst of packets
// (about seven at 1.9 Mbit/s), and pion reads its UDP sockets one packet,
// one recvfrom and one wake-up of the reading goroutine at a time. Where
// the platform allows (Linux: recvmmsg, readbatch_linux.go), the SFU's ICE
// sockets are wrapped so that one system call takes what has queued, up to
// readBatch packets, and the reads that follow are served from it. pion's
// ICE reads through the wrapper's AddrPortReaderWriter methods, without an
// allocation, as it reads a bare *net.UDPConn.

// readBatch is the most packets one system call reads; readSlot the
// largest packet (pion's ICE reads with a buffer of this size too).
const (
	readBatch = 8
	readSlot  = 8192
)

// batchNet is the network of the SFU's ICE agents: the standard one, with
// each UDP socket wrapped for batched reads where the platform allows.
type batchNet struct {
	*stdnet.Net
}

func newBatchNet() (transport.Net, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &batchNet{Net: n}, nil
}

func (n *batchNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	if uc, ok := c.(*net.UDPConn); ok {
		if b := newBatchConn(uc); b != nil {
			return b, nil
		}
	}
	return c, nil
}

// readAddrPort is what a batchConn serves a read from.
func (c *batchConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, ap, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(ap), nil
}

func (c *batchConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, ap, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(ap), nil
}

func (c *batchConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.ReadFromAddrPort(b)
}

func (c *batchConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFromAddrPort(b)
	return n, err
}

func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.UDPConn.WriteToUDPAddrPort(b, addr)
}
