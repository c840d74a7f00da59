package turn

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenUDP opens n UDP sockets on addr that share its port with
// SO_REUSEPORT, so that the kernel spreads clients over them and pion
// reads each on its own goroutine: one socket drops packets at a few tens
// of thousands per second.
func listenUDP(addr string, n, readBuffer int) ([]net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		if err != nil {
			return err
		}
		return serr
	}}
	var conns []net.PacketConn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for i := 0; i < n; i++ {
		c, err := lc.ListenPacket(context.Background(), "udp4", addr)
		if err != nil {
			closeAll()
			return nil, err
		}
		if readBuffer > 0 {
			_ = c.(*net.UDPConn).SetReadBuffer(readBuffer) // capped by net.core.rmem_max
		}
		conns = append(conns, c)
		addr = c.LocalAddr().String() // ":0" picks the port once; the others share it
	}
	return conns, nil
}
