package turn

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	pionturn "github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/senim-kz/senim/metrics"
)

var (
	refusedPeers = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "senim", Name: "turn_refused_peers_total",
		Help: "TURN permissions, channel bindings and TCP connects refused by the peer policy.",
	})
	refusedAllocations = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "senim", Name: "turn_refused_allocations_total",
		Help: "TURN allocations refused because the user already holds max_allocations_per_user.",
	})
	droppedBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "senim", Name: "turn_dropped_bytes_total",
		Help: "Relayed UDP bytes dropped because their user was over max_bitrate_per_user (TCP relays are slowed instead).",
	})
)

func init() {
	metrics.Registry.MustRegister(refusedPeers, refusedAllocations, droppedBytes)
}

// errQuota refuses an allocation over the user's quota.
var errQuota = errors.New("turn: allocation quota reached")

// user is what one TURN user holds: allocations and a bucket of relayed
// bytes shared by all of them.
type user struct {
	allocs int
	bucket *rate.Limiter // nil: no bitrate limit
}

// quotas counts allocations and meters relayed bytes per user, the opaque
// part of the username (so that new credentials of the same participant
// share the old ones' quota).
type quotas struct {
	maxAllocs int   // 0: unlimited
	bitrate   int64 // bits/s, 0: unlimited

	mu    sync.Mutex
	users map[string]*user
}

// userKey is the part of a TURN REST username that names the user.
func userKey(username string) string {
	if _, u, ok := strings.Cut(username, ":"); ok {
		return u
	}
	return username
}

// admits is pion's QuotaHandler: a new allocation is answered 486
// (Allocation Quota Reached) when the user holds the maximum.
func (q *quotas) admits(username string) bool {
	if q.maxAllocs <= 0 {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	u := q.users[userKey(username)]
	if u != nil && u.allocs >= q.maxAllocs {
		refusedAllocations.Inc()
		return false
	}
	return true
}

// acquire counts one allocation of a user, and is the hard limit: two
// allocations asked at once both pass admits, only one gets here.
func (q *quotas) acquire(username string) (*user, func(), error) {
	key := userKey(username)
	q.mu.Lock()
	defer q.mu.Unlock()
	u := q.users[key]
	if u == nil {
		u = &user{}
		if q.bitrate > 0 {
			perSecond := float64(q.bitrate) / 8
			// A second's worth of burst: a key frame is sent at once.
			u.bucket = rate.NewLimiter(rate.Limit(perSecond), max(int(perSecond), 64<<10))
		}
		q.users[key] = u
	}
	if q.maxAllocs > 0 && u.allocs >= q.maxAllocs {
		refusedAllocations.Inc()
		return nil, nil, errQuota
	}
	u.allocs++
	metrics.TURNAllocations.Inc()
	var once sync.Once
	release := func() {
		once.Do(func() {
			metrics.TURNAllocations.Dec()
			q.mu.Lock()
			defer q.mu.Unlock()
			if u.allocs--; u.allocs == 0 {
				delete(q.users, key)
			}
		})
	}
	return u, release, nil
}

// meteredGen wraps the relay address generator: each relay socket counts
// as one of its user's allocations until it closes, and its traffic is
// metered against the user's bitrate.
type meteredGen struct {
	pionturn.RelayAddressGenerator
	q *quotas
}

func (g *meteredGen) AllocatePacketConn(c pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	pc, addr, u, release, err := g.allocate(c)
	if err != nil {
		return nil, nil, err
	}
	return &meteredPacketConn{PacketConn: pc, u: u, release: release}, addr, nil
}

// allocate takes one of the user's allocations and opens its relay socket;
// release gives the allocation back (the caller's once the socket closes).
func (g *meteredGen) allocate(c pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, *user, func(), error) {
	u, release, err := g.q.acquire(c.UserID)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	pc, addr, err := g.RelayAddressGenerator.AllocatePacketConn(c)
	if err != nil {
		release()
		return nil, nil, nil, nil, err
	}
	return pc, addr, u, release, nil
}

func (g *meteredGen) AllocateListener(c pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	u, release, err := g.q.acquire(c.UserID)
	if err != nil {
		return nil, nil, err
	}
	ln, addr, err := g.RelayAddressGenerator.AllocateListener(c)
	if err != nil {
		release()
		return nil, nil, err
	}
	return &meteredListener{Listener: ln, u: u, release: release}, addr, nil
}

func (g *meteredGen) AllocateConn(c pionturn.AllocateConnConfig) (net.Conn, error) {
	conn, err := g.RelayAddressGenerator.AllocateConn(c)
	if err != nil {
		return nil, err
	}
	g.q.mu.Lock()
	u := g.q.users[userKey(c.UserID)]
	g.q.mu.Unlock()
	if u == nil {
		return conn, nil
	}
	return &meteredConn{Conn: conn, u: u}, nil
}

// meteredPacketConn is a UDP relay socket: datagrams over the user's
// bitrate are dropped, both ways, as a congested link would drop them.
type meteredPacketConn struct {
	net.PacketConn
	u       *user
	release func()
}

func (c *meteredPacketConn) allow(n int) bool { return c.u.allow(n) }

// allow meters n relayed bytes of a UDP relay: false when they are over
// the user's bitrate and are to be dropped.
func (u *user) allow(n int) bool {
	if u.bucket == nil || u.bucket.AllowN(time.Now(), n) {
		metrics.TURNRelayedBytes.Add(float64(n))
		return true
	}
	droppedBytes.Add(float64(n))
	return false
}

func (c *meteredPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || c.allow(n) {
			return n, addr, err
		}
	}
}

func (c *meteredPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.allow(len(p)) {
		return len(p), nil
	}
	return c.PacketConn.WriteTo(p, addr)
}

func (c *meteredPacketConn) Close() error {
	c.release()
	return c.PacketConn.Close()
}

// meteredListener is a TCP relay (RFC 6062): its connections are metered.
type meteredListener struct {
	net.Listener
	u       *user
	release func()
}

func (l *meteredListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &meteredConn{Conn: conn, u: l.u}, nil
}

func (l *meteredListener) Close() error {
	l.release()
	return l.Listener.Close()
}

// meteredConn is a relayed TCP connection: over the user's bitrate it is
// slowed, not cut, since dropping bytes from a stream would break it.
type meteredConn struct {
	net.Conn
	u *user
}

func (c *meteredConn) wait(n int) {
	if c.u.bucket == nil {
		return
	}
	for burst := c.u.bucket.Burst(); n > 0; n -= burst {
		_ = c.u.bucket.WaitN(context.Background(), min(n, burst))
	}
}

func (c *meteredConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.wait(n)
	return n, err
}

func (c *meteredConn) Write(p []byte) (int, error) {
	c.wait(len(p))
	return c.Conn.Write(p)
}
