//go:build !linux

package turn

import "net"

// listenUDP opens one UDP socket where SO_REUSEPORT is not used.
func listenUDP(addr string, _, readBuffer int) ([]net.PacketConn, error) {
	c, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return nil, err
	}
	if readBuffer > 0 {
		_ = c.(*net.UDPConn).SetReadBuffer(readBuffer)
	}
	return []net.PacketConn{c}, nil
}
