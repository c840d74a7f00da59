package turn

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Class is what kind of network a peer address belongs to, as far as
// relaying to it is concerned.
type Class int

// The classes of peer addresses.
const (
	// Public addresses may be relayed to.
	Public Class = iota
	// Loopback (127/8, ::1) is relayed to only with allow_loopback.
	Loopback
	// Private networks (10/8, 172.16/12, 192.168/16, fc00::/7) are relayed
	// to only with allow_private.
	Private
	// Special-purpose addresses (unspecified, link-local, carrier-grade
	// NAT, documentation, benchmarking, multicast, reserved …) are never
	// relayed to: nothing a call needs lives there, and some of them reach
	// the operator's own network.
	Special
)

// String names the class, for logs and test failures.
func (c Class) String() string {
	return [...]string{"public", "loopback", "private", "special"}[c]
}

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

var (
	loopbackNets = prefixes("127.0.0.0/8", "::1/128")
	privateNets  = prefixes("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
	specialNets  = prefixes(
		"0.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "fe80::/10", "ff00::/8", "2001:db8::/32", "100::/64",
	)
	// nat64 addresses carry an IPv4 address in their last 32 bits (RFC 6052).
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
)

// effective is the address a peer address really reaches: the IPv4
// address inside an IPv4-mapped or NAT64 address, else the address itself.
// Without this, ::ffff:127.0.0.1 or 64:ff9b::a00:1 would slip past the
// IPv4 ranges.
func effective(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	return a
}

// Classify says which class a peer address is in. An address that is not
// an IP is Special.
func Classify(ip net.IP) Class {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return Special
	}
	a = effective(a)
	in := func(nets []netip.Prefix) bool {
		for _, p := range nets {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	switch {
	case in(specialNets):
		return Special
	case in(loopbackNets):
		return Loopback
	case in(privateNets):
		return Private
	}
	return Public
}

// selfCacheFor is how long the list of the host's interface addresses is
// reused: permissions are asked for a few times per call, and an address
// the host gains (DHCP) is refused within this time.
const selfCacheFor = 5 * time.Second

// selfAddrs knows the server's own addresses: its interfaces' and those it
// was told (listen addresses, the announced relay IP, which may be a NAT's).
type selfAddrs struct {
	fixed      []netip.Addr
	interfaces func() ([]net.Addr, error)
	now        func() time.Time

	mu      sync.Mutex
	cached  map[netip.Addr]bool
	expires time.Time
}

func newSelfAddrs(fixed []string, now func() time.Time) *selfAddrs {
	s := &selfAddrs{interfaces: net.InterfaceAddrs, now: now}
	for _, f := range fixed {
		if a, err := netip.ParseAddr(f); err == nil && !a.IsUnspecified() {
			s.fixed = append(s.fixed, effective(a))
		}
	}
	return s
}

// has reports whether a (already effective) is one of the server's own
// addresses.
func (s *selfAddrs) has(a netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := s.now(); s.cached == nil || now.After(s.expires) {
		set := map[netip.Addr]bool{}
		for _, f := range s.fixed {
			set[f] = true
		}
		addrs, _ := s.interfaces() // on failure the fixed ones still count
		for _, ia := range addrs {
			if n, ok := ia.(*net.IPNet); ok {
				if x, ok := netip.AddrFromSlice(n.IP); ok {
					set[effective(x)] = true
				}
			}
		}
		s.cached, s.expires = set, now.Add(selfCacheFor)
	}
	return s.cached[a]
}

// permit is the peer policy of every permission, channel binding and TCP
// connect (pion checks it for each): special-purpose ranges never; loopback
// and private ranges only when allowed; and the server's own addresses
// only when loopback is allowed (development), since a relay to itself
// reaches whatever it serves on them (/metrics, the bank callback …).
func (s *Server) permit(_ net.Addr, peer net.IP) bool {
	ok := s.peerAllowed(peer)
	if !ok {
		refusedPeers.Inc()
	}
	return ok
}

func (s *Server) peerAllowed(peer net.IP) bool {
	switch Classify(peer) {
	case Special:
		return false
	case Loopback:
		if !s.cfg.AllowLoopback {
			return false
		}
	case Private:
		if !s.cfg.AllowPrivate {
			return false
		}
	}
	if s.cfg.AllowLoopback {
		return true
	}
	a, _ := netip.AddrFromSlice(peer)
	return !s.self.has(effective(a))
}
