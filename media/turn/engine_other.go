//go:build !linux

package turn

import (
	"errors"
	"net"

	pionturn "github.com/pion/turn/v5"
)

// fastConfigs: the relay engine is Linux's (epoll, recvmmsg, sendmmsg);
// elsewhere pion reads every socket.
func fastConfigs([]net.PacketConn, int, func() *meteredGen, func(net.Addr, net.IP) bool) (
	[]pionturn.PacketConnConfig, pionturn.EventHandler, relayEngines, error) {
	return nil, pionturn.EventHandler{}, nil, errors.New("turn: no relay engine on this platform")
}
