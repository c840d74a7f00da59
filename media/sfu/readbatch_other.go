//go:build !(linux && (amd64 || arm64))

package sfu

import (
	"net"
	"net/netip"
	"sync/atomic"
)

// batchConn reads one packet at a time where recvmmsg is not at hand:
// newBatchConn makes none, and the socket is used as it is.
type batchConn struct {
	*net.UDPConn
	calls atomic.Int64
}

func newBatchConn(*net.UDPConn) *batchConn { return nil }

func (c *batchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.calls.Add(1)
	return c.UDPConn.ReadFromUDPAddrPort(b)
}
