package turn

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	pionturn "github.com/pion/turn/v5"
	"golang.org/x/sys/unix"
)

// The relay engine: the UDP fast path of the TURN server.
//
// pion/turn reads each socket (the listening one and every allocation's
// relay) on its own goroutine, one datagram per wake-up: read, look the
// allocation up, write, and park again, which costs more than the relaying
// itself. The engine owns the reading instead: an epoll instance holding
// listening sockets and the relay sockets of the allocations made through
// them, itself registered in Go's netpoller, and one goroutine that, at
// each wake-up, takes every ready socket, reads it with recvmmsg (up to
// engineBatch datagrams a call), relays what it can in place and sends it
// all with sendmmsg (the datagrams for clients, from all relays, in one
// call per listening socket). One engine serves all the listening sockets
// unless Config.RelayEngines asks for more: a datagram between two relays
// of one engine (both ends of a call behind TURN) is relayed on in the same
// wake-up, where two engines would each wake for it.
//
// What the engine relays itself is ChannelData on a channel pion bound:
// from a client, the payload goes to the channel's peer; from a peer with a
// channel, it goes to the client behind a 4-byte header written in front of
// it (and pion's padding). It learns the channels from pion's
// EventHandler (created, deleted, expired) and the allocations' clients
// from OnAllocationCreated, so it never relays what pion would not. All
// else (STUN: Allocate, Refresh, CreatePermission, ChannelBind, Send;
// datagrams from peers that have only a permission, which pion wraps in a
// Data indication; anything unknown) is handed to pion as it was read,
// through the net.PacketConn pion holds (listenConn, relayConn), so auth,
// quotas and the peer policy stay pion's and ours as before. Relayed bytes
// are metered against the user's bitrate on both paths.
//
// The fast path allocates nothing: buffers, headers and addresses live in
// the engine and are reused.

const (
	engineBatch = 32  // datagrams per recvmmsg or sendmmsg
	engineSlots = 128 // receive buffers; a full set is sent before reading on
	engineMTU   = 1600
	// A slot holds the 4-byte ChannelData header written in front of a
	// relayed datagram, the datagram, and up to 3 bytes of padding.
	slotSize = 4 + engineMTU + 4
)

// mmsghdr is struct mmsghdr: Go lays it out as C does on every Linux.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// outMsg is a datagram waiting for the end of the round.
type outMsg struct {
	s  *esock
	b  []byte
	to unix.RawSockaddrInet4
}

// slowPacket is a datagram for pion.
type slowPacket struct {
	b    []byte
	from *net.UDPAddr
}

// engine relays for one listening socket.
type engine struct {
	ep    *os.File // the epoll instance, in Go's netpoller
	epRaw syscall.RawConn

	// Fast and slow count datagrams relayed by the engine and handed to
	// pion; for tests and the profile.
	fast, slow atomic.Int64

	mu      sync.Mutex // the engine's state; held for a round
	closed  bool
	epfd    int
	socks   map[int32]*esock
	nextID  int32
	listens int // listening sockets open; the last one's close stops the engine

	events []unix.EpollEvent
	bufs   []byte // engineSlots slots of slotSize
	used   int    // slots holding datagrams not yet sent
	rhdr   [engineBatch]mmsghdr
	riov   [engineBatch]unix.Iovec
	rname  [engineBatch]unix.RawSockaddrInet4
	toCli  []outMsg // to clients, on the listening socket
	toPeer []outMsg // to peers, each on its relay socket
	shdr   [engineBatch]mmsghdr
	siov   [engineBatch]unix.Iovec
	sname  [engineBatch]unix.RawSockaddrInet4
}

// esock is a socket of an engine: its listening socket (relay false) or
// an allocation's relay socket. It is the net.PacketConn pion holds: reads
// are the datagrams the engine hands over, writes go straight out.
type esock struct {
	e     *engine
	id    int32
	relay bool
	conn  *net.UDPConn
	fd    int
	slow  chan slowPacket
	done  chan struct{}
	once  sync.Once

	// A listening socket's allocations by client, under e.mu.
	clients map[netip.AddrPort]*esock

	// Relay sockets: the listening socket of the allocation, the user
	// metered, the allocation's release, and, under e.mu, the client and
	// the channels.
	via     *esock
	u       *user
	release func()
	port    int
	client  netip.AddrPort
	byChan  map[uint16]netip.AddrPort
	byPeer  map[netip.AddrPort]uint16
	regs    *relayRegistry
}

// newEngine starts an engine; addListen gives it listening sockets.
func newEngine() (*engine, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ep := os.NewFile(uintptr(epfd), "turn-epoll")
	raw, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, err
	}
	e := &engine{ep: ep, epRaw: raw, epfd: epfd, socks: map[int32]*esock{},
		events: make([]unix.EpollEvent, 64), bufs: make([]byte, engineSlots*slotSize),
		toCli: make([]outMsg, 0, engineSlots), toPeer: make([]outMsg, 0, engineSlots)}
	go e.run()
	return e, nil
}

// addListen registers a listening socket and returns it as pion is to
// read it.
func (e *engine) addListen(conn *net.UDPConn) (*esock, error) {
	s, err := e.add(conn, false)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.listens++
	return s, nil
}

// add registers a socket with the engine.
func (e *engine) add(conn *net.UDPConn, relay bool) (*esock, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	// What pion gets: STUN on a listening socket (bursts as calls start),
	// on a relay the peers' datagrams before a channel (connectivity
	// checks): an allocation's queue is kept small, there are many.
	queue := 256
	if relay {
		queue = 32
	}
	s := &esock{e: e, relay: relay, conn: conn, slow: make(chan slowPacket, queue), done: make(chan struct{})}
	if !relay {
		s.clients = map[netip.AddrPort]*esock{}
	}
	if err := rc.Control(func(fd uintptr) { s.fd = int(fd) }); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, net.ErrClosed
	}
	e.nextID++
	s.id = e.nextID
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: s.id}
	if err := unix.EpollCtl(e.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		return nil, err
	}
	e.socks[s.id] = s
	return s, nil
}

// run waits in Go's netpoller for the epoll instance to have ready
// sockets, then serves rounds until none is.
func (e *engine) run() {
	_ = e.epRaw.Read(func(fd uintptr) bool {
		for {
			// A raw epoll_wait that does not wait: through the runtime's
			// syscall entry it would wake the sleeping sysmon thread at
			// every round, a context switch each.
			r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&e.events[0])), uintptr(len(e.events)), 0, 0, 0)
			if errno == unix.EINTR {
				continue
			}
			if errno != 0 {
				return true
			}
			n := int(r)
			if n <= 0 {
				e.mu.Lock()
				closed := e.closed
				e.mu.Unlock()
				return closed
			}
			if !e.round(e.events[:n]) {
				return true
			}
		}
	})
}

// round reads every ready socket once and sends what it relayed. It is
// false when the engine is closed.
func (e *engine) round(ready []unix.EpollEvent) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	for _, ev := range ready {
		if s := e.socks[ev.Fd]; s != nil {
			e.read(s)
		}
	}
	e.flush()
	return true
}

// read takes up to engineBatch datagrams from a socket.
func (e *engine) read(s *esock) {
	if e.used+engineBatch > engineSlots {
		e.flush()
	}
	off := 0
	if s.relay {
		off = 4 // room for the ChannelData header
	}
	for i := range e.rhdr {
		slot := e.bufs[(e.used+i)*slotSize:]
		e.riov[i] = unix.Iovec{Base: &slot[off]}
		e.riov[i].SetLen(engineMTU)
		e.rhdr[i] = mmsghdr{hdr: unix.Msghdr{Name: (*byte)(unsafe.Pointer(&e.rname[i])), Namelen: unix.SizeofSockaddrInet4, Iov: &e.riov[i]}}
		e.rhdr[i].hdr.SetIovlen(1)
	}
	r, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&e.rhdr[0])), engineBatch, unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return
	}
	n := int(r)
	for i := 0; i < n; i++ {
		slot := e.bufs[(e.used+i)*slotSize : (e.used+i+1)*slotSize]
		h := &e.rhdr[i]
		if h.hdr.Flags&unix.MSG_TRUNC != 0 || e.rname[i].Family != unix.AF_INET {
			continue
		}
		from := netip.AddrPortFrom(netip.AddrFrom4(e.rname[i].Addr), port(&e.rname[i]))
		if s.relay {
			e.fromPeer(s, slot, int(h.n), from)
		} else {
			e.fromClient(s, slot[:h.n], from)
		}
	}
	e.used += n
}

// fromClient relays a client's ChannelData on a bound channel, or hands
// the datagram to pion.
func (e *engine) fromClient(s *esock, b []byte, from netip.AddrPort) {
	if len(b) >= engineMTU { // pion drops what may be truncated
		return
	}
	if len(b) >= 4 && b[0]&0xC0 == 0x40 {
		if r := s.clients[from]; r != nil {
			l := int(binary.BigEndian.Uint16(b[2:4]))
			if peer, ok := r.byChan[binary.BigEndian.Uint16(b[0:2])]; ok && l <= len(b)-4 {
				if r.u.allow(l) {
					e.toPeer = append(e.toPeer, outMsg{s: r, b: b[4 : 4+l], to: sockaddr(peer)})
				}
				e.fast.Add(1)
				return
			}
		}
	}
	e.handOver(s, b, from)
}

// fromPeer relays a peer's datagram (in slot[4:4+n]) to the client on the
// peer's channel, or hands it to pion.
func (e *engine) fromPeer(r *esock, slot []byte, n int, from netip.AddrPort) {
	if !r.u.allow(n) {
		return
	}
	ch, ok := r.byPeer[from]
	if !ok || !r.client.IsValid() {
		e.handOver(r, slot[4:4+n], from)
		return
	}
	binary.BigEndian.PutUint16(slot[0:2], ch)
	binary.BigEndian.PutUint16(slot[2:4], uint16(n)) //nolint:gosec // n <= engineMTU
	end := 4 + n
	for ; end%4 != 0; end++ { // ChannelData is padded to 4 bytes, as pion pads it
		slot[end] = 0
	}
	e.toCli = append(e.toCli, outMsg{s: r.via, b: slot[:end], to: sockaddr(r.client)})
	e.fast.Add(1)
}

// handOver gives pion a copy of a datagram; when pion is that far behind,
// the datagram is dropped, as a full socket buffer would drop it.
func (e *engine) handOver(s *esock, b []byte, from netip.AddrPort) {
	select {
	case s.slow <- slowPacket{b: append([]byte(nil), b...), from: net.UDPAddrFromAddrPort(from)}:
		e.slow.Add(1)
	default:
	}
}

// flush sends what the round relayed and frees the slots.
func (e *engine) flush() {
	e.send(e.toCli)
	e.send(e.toPeer)
	clear(e.toCli) // no references to sockets once sent
	clear(e.toPeer)
	e.toCli, e.toPeer = e.toCli[:0], e.toPeer[:0]
	e.used = 0
}

// send sends queued datagrams with sendmmsg, a run of the same socket at
// a time.
func (e *engine) send(q []outMsg) {
	for len(q) > 0 {
		s := q[0].s
		k := 0
		for k < len(q) && k < engineBatch && q[k].s == s {
			e.sname[k] = q[k].to
			e.siov[k] = unix.Iovec{}
			if len(q[k].b) > 0 { // an empty datagram is relayed too, as pion relays it
				e.siov[k].Base = &q[k].b[0]
				e.siov[k].SetLen(len(q[k].b))
			}
			e.shdr[k] = mmsghdr{hdr: unix.Msghdr{Name: (*byte)(unsafe.Pointer(&e.sname[k])), Namelen: unix.SizeofSockaddrInet4, Iov: &e.siov[k]}}
			e.shdr[k].hdr.SetIovlen(1)
			k++
		}
		sent := 0
		for sent < k {
			r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&e.shdr[sent])), uintptr(k-sent), unix.MSG_DONTWAIT, 0, 0)
			switch {
			case errno == unix.EAGAIN || errno == unix.ENOBUFS:
				// The socket's send buffer is full: wait for room, as
				// pion's writes would, rather than drop.
				for _, m := range q[sent:k] {
					_, _ = s.conn.WriteToUDPAddrPort(m.b, netip.AddrPortFrom(netip.AddrFrom4(m.to.Addr), port(&m.to)))
				}
				sent = k
			case errno != 0:
				sent++ // this one is refused (an ICMP error came back, say); go on with the rest
			default:
				sent += int(r)
			}
		}
		q = q[k:]
	}
}

// port is a sockaddr's port, which is in network byte order.
func port(sa *unix.RawSockaddrInet4) uint16 {
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	return uint16(p[0])<<8 | uint16(p[1])
}

func sockaddr(a netip.AddrPort) unix.RawSockaddrInet4 {
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Addr().As4()}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(a.Port()>>8), byte(a.Port())
	return sa
}

// close stops the engine.
func (e *engine) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.mu.Unlock()
	e.ep.Close() // waits for run's wait to end; run needs e.mu, so not held here
}

// remove unregisters a socket; it is true when that was the engine's
// last listening socket.
func (e *engine) remove(s *esock) (last bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.socks[s.id] != s {
		return false
	}
	delete(e.socks, s.id)
	if !e.closed {
		_ = unix.EpollCtl(e.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
	}
	if !s.relay {
		e.listens--
		return e.listens == 0
	}
	if s.client.IsValid() && s.via.clients[s.client] == s {
		delete(s.via.clients, s.client)
	}
	return false
}

// ReadFrom returns the next datagram the engine handed over.
func (s *esock) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case pk := <-s.slow:
		return copy(p, pk.b), pk.from, nil
	case <-s.done:
		return 0, nil, net.ErrClosed
	}
}

// WriteTo sends at once (pion's answers, Data indications, Send
// indications and unbound ChannelData); relay sockets meter it.
func (s *esock) WriteTo(p []byte, addr net.Addr) (int, error) {
	if s.relay && !s.u.allow(len(p)) {
		return len(p), nil
	}
	return s.conn.WriteTo(p, addr)
}

// Close closes the socket; the last listening socket's close stops the
// engine.
func (s *esock) Close() error {
	var err error
	s.once.Do(func() {
		last := s.e.remove(s)
		if s.regs != nil {
			s.regs.drop(s)
		}
		close(s.done)
		if last {
			s.e.close()
		}
		err = s.conn.Close()
		if s.release != nil {
			s.release()
		}
	})
	return err
}

func (s *esock) LocalAddr() net.Addr { return s.conn.LocalAddr() }

// The deadlines are the socket's: they bound writes; reads wait for the
// engine until the socket closes (pion sets none).
func (s *esock) SetDeadline(t time.Time) error      { return s.conn.SetDeadline(t) }
func (s *esock) SetReadDeadline(t time.Time) error  { return s.conn.SetReadDeadline(t) }
func (s *esock) SetWriteDeadline(t time.Time) error { return s.conn.SetWriteDeadline(t) }

// relayRegistry finds the engine's relay socket behind the relay address
// pion's events name (its port: relay sockets do not share ports).
type relayRegistry struct {
	mu     sync.Mutex
	byPort map[int]*esock
}

func (r *relayRegistry) put(s *esock) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byPort[s.port] = s
}

func (r *relayRegistry) drop(s *esock) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byPort[s.port] == s {
		delete(r.byPort, s.port)
	}
}

func (r *relayRegistry) get(a net.Addr) *esock {
	u, ok := a.(*net.UDPAddr)
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byPort[u.Port]
}

// addrPort is a UDP address as the engine keys it.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	u, ok := a.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := u.AddrPort()
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	return ap, ap.Addr().Is4()
}

// engineGen is meteredGen for an engine's listening socket: its UDP relay
// sockets are the engine's.
type engineGen struct {
	*meteredGen
	via  *esock
	regs *relayRegistry
}

func (g *engineGen) AllocatePacketConn(c pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	pc, addr, u, release, err := g.allocate(c)
	if err != nil {
		return nil, nil, err
	}
	uc, ok := pc.(*net.UDPConn)
	if local, _ := pc.LocalAddr().(*net.UDPAddr); !ok || local == nil || local.IP.To4() == nil {
		// Not a socket the engine serves (IPv6): pion reads it.
		return &meteredPacketConn{PacketConn: pc, u: u, release: release}, addr, nil
	}
	s, err := g.via.e.add(uc, true)
	if err != nil {
		pc.Close()
		release()
		return nil, nil, err
	}
	s.via, s.u, s.release, s.regs = g.via, u, release, g.regs
	s.port = uc.LocalAddr().(*net.UDPAddr).Port
	g.regs.put(s)
	return s, addr, nil
}

// engineSet is the server's engines.
type engineSet struct {
	engines []*engine
	regs    *relayRegistry
}

func (es *engineSet) relayed() (fast, slow int64) {
	for _, e := range es.engines {
		fast += e.fast.Load()
		slow += e.slow.Load()
	}
	return fast, slow
}

func (es *engineSet) relays() int {
	es.regs.mu.Lock()
	defer es.regs.mu.Unlock()
	return len(es.regs.byPort)
}

// fastConfigs starts n engines (at least one, at most one per socket) and
// shares the listening sockets out among them. The event handler tells
// the engines the allocations' clients and channels.
func fastConfigs(conns []net.PacketConn, n int, gen func() *meteredGen, permit func(net.Addr, net.IP) bool) (
	cfgs []pionturn.PacketConnConfig, ev pionturn.EventHandler, es relayEngines, err error) {
	regs := &relayRegistry{byPort: map[int]*esock{}}
	n = min(max(n, 1), len(conns))
	var engines []*engine
	for i := 0; i < n && err == nil; i++ {
		var e *engine
		if e, err = newEngine(); err == nil {
			engines = append(engines, e)
		}
	}
	for i, c := range conns {
		if err != nil {
			break
		}
		uc, ok := c.(*net.UDPConn)
		if !ok {
			err = errors.New("turn: not a UDP socket")
			break
		}
		var s *esock
		if s, err = engines[i%n].addListen(uc); err != nil {
			break
		}
		cfgs = append(cfgs, pionturn.PacketConnConfig{PacketConn: s, RelayAddressGenerator: &engineGen{meteredGen: gen(), via: s, regs: regs}, PermissionHandler: permit})
	}
	if err != nil {
		for _, e := range engines {
			e.close() // the sockets stay open: the caller falls back to them
		}
		return nil, ev, nil, err
	}
	// locked is the engine's relay socket at relay, locked, and addr as an
	// AddrPort; nil if it is not the engine's (unlock it when not nil).
	locked := func(relay, addr net.Addr) (*esock, netip.AddrPort) {
		s := regs.get(relay)
		p, ok := addrPort(addr)
		if s == nil || !ok {
			return nil, p
		}
		s.e.mu.Lock()
		return s, p
	}
	ev.OnAllocationCreated = func(src, _ net.Addr, _, _, _ string, relay net.Addr, _ int) {
		s, client := locked(relay, src)
		if s == nil {
			return
		}
		defer s.e.mu.Unlock()
		if s.e.socks[s.id] == s { // not closed meanwhile
			s.client = client
			s.via.clients[client] = s
		}
	}
	ev.OnChannelCreated = func(_, _ net.Addr, _, _, _ string, relay, peer net.Addr, number uint16) {
		s, p := locked(relay, peer)
		if s == nil {
			return
		}
		defer s.e.mu.Unlock()
		if s.byChan == nil {
			s.byChan, s.byPeer = map[uint16]netip.AddrPort{}, map[netip.AddrPort]uint16{}
		}
		s.byChan[number], s.byPeer[p] = p, number
	}
	ev.OnChannelDeleted = func(_, _ net.Addr, _, _, _ string, relay, peer net.Addr, number uint16) {
		s, p := locked(relay, peer)
		if s == nil {
			return
		}
		defer s.e.mu.Unlock()
		if s.byChan[number] == p {
			delete(s.byChan, number)
			delete(s.byPeer, p)
		}
	}
	return cfgs, ev, &engineSet{engines: engines, regs: regs}, nil
}
