package turn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/senim-kz/senim/internal/testtool"
)

// takeoverConn is a TURN client's socket that the test can take over once
// pion's client has allocated and bound a channel: it notes the channel
// number the client sends ChannelData on, and, taken over, keeps what
// arrives (without allocating) for the test instead of the client.
type takeoverConn struct {
	*net.UDPConn
	channel atomic.Uint32
	taken   atomic.Bool
	buf     []byte
	got     chan int
	woke    chan struct{}
}

// wakeUp is what the peer sends until the test sees it, taken over.
var wakeUp = []byte("wake up!") // 8 bytes: ChannelData pads to 4

func (c *takeoverConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if len(p) >= 4 && p[0]&0xC0 == 0x40 {
		c.channel.Store(uint32(binary.BigEndian.Uint16(p)))
	}
	return c.UDPConn.WriteTo(p, addr)
}

func (c *takeoverConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for c.taken.Load() {
		n, _, err := c.UDPConn.ReadFromUDPAddrPort(c.buf)
		if err != nil {
			return 0, nil, err
		}
		if bytes.HasSuffix(c.buf[:n], wakeUp) {
			select {
			case c.woke <- struct{}{}:
			default:
			}
			continue
		}
		c.got <- n
	}
	return c.UDPConn.ReadFrom(p)
}

// fastSetup is a pion client with an allocation on s and a channel bound
// to a peer socket, its socket then taken over: what the test sends and
// receives on it is raw ChannelData.
type fastSetup struct {
	client *takeoverConn
	peer   *net.UDPConn
	relay  net.PacketConn
	ch     uint16
	server netip.AddrPort // the TURN server's UDP address
	relayA netip.AddrPort // the allocation's relayed address
}

func setupFast(t testing.TB, s *Server) *fastSetup {
	t.Helper()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	w := &takeoverConn{UDPConn: uc, buf: make([]byte, 2048), got: make(chan int, 1), woke: make(chan struct{}, 1)}
	user, pass := s.Credentials("ACT-1", "client:871008401427", time.Hour)
	relay, err := pionClient(t, w, s, user, pass).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	// pion's client sends through a permission first and binds a channel
	// meanwhile; once it sends ChannelData, the server holds the channel.
	buf := make([]byte, 2048)
	testtool.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if _, err := relay.WriteTo([]byte("hello"), peer.LocalAddr()); err != nil {
			return err
		}
		_ = peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		for {
			if _, _, err := peer.ReadFrom(buf); err != nil {
				break
			}
		}
		if w.channel.Load() == 0 {
			return errors.New("no ChannelData sent yet")
		}
		return nil
	})
	_ = peer.SetReadDeadline(time.Time{})
	w.taken.Store(true)
	// The client's reader may wait in a read begun before: the peer
	// sends until one arrives taken over.
	testtool.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if _, err := peer.WriteTo(wakeUp, relay.LocalAddr()); err != nil {
			return err
		}
		select {
		case <-w.woke:
			return nil
		default:
			return errors.New("not taken over yet")
		}
	})
	ra := relay.LocalAddr().(*net.UDPAddr).AddrPort()
	return &fastSetup{client: w, peer: peer, relay: relay, ch: uint16(w.channel.Load()),
		server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(s.Port())),
		relayA: netip.AddrPortFrom(ra.Addr().Unmap(), ra.Port())}
}

func channelData(ch uint16, payload []byte, out []byte) []byte {
	out = binary.BigEndian.AppendUint16(out[:0], ch)
	out = binary.BigEndian.AppendUint16(out, uint16(len(payload)))
	return append(out, payload...)
}

// relayRoundTrip is a round trip through a relay: ChannelData from the
// client to the peer, a datagram from the peer back to the client. bad
// holds what went wrong.
func relayRoundTrip(f *fastSetup, bad *error) func() {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 10)
	out := channelData(f.ch, payload, make([]byte, 0, 256))
	back := []byte("from the peer, eleven bytes and more")
	want := channelData(f.ch, back, nil)
	for len(want)%4 != 0 { // pion pads ChannelData to 4 bytes
		want = append(want, 0)
	}
	pbuf := make([]byte, 2048)
	return func() {
		if _, err := f.client.WriteToUDPAddrPort(out, f.server); err != nil {
			*bad = err
			return
		}
		n, _, err := f.peer.ReadFromUDPAddrPort(pbuf)
		if err != nil || !bytes.Equal(pbuf[:n], payload) {
			*bad = errors.New("the peer got something else")
			return
		}
		if _, err := f.peer.WriteToUDPAddrPort(back, f.relayA); err != nil {
			*bad = err
			return
		}
		if n := <-f.client.got; !bytes.Equal(f.client.buf[:n], want) {
			*bad = errors.New("the client got something else")
		}
	}
}

// ChannelData on a bound channel is relayed both ways by the engine, not
// by pion, and relaying allocates nothing.
func TestEngineRelaysChannelDataWithoutAllocating(t *testing.T) {
	s := startWith(t, Config{AllowLoopback: true, MaxBitratePerUser: 1 << 30})
	f := setupFast(t, s)
	fast0, _ := s.engines.relayed()
	var bad error
	roundTrip := relayRoundTrip(f, &bad)
	roundTrip() // warm up
	allocs := testing.AllocsPerRun(500, roundTrip)
	if bad != nil {
		t.Fatal(bad)
	}
	if allocs != 0 {
		t.Errorf("%.1f allocations per round trip, want 0", allocs)
	}
	if fast, _ := s.engines.relayed(); fast-fast0 < 2*502 {
		t.Errorf("the engine relayed %d datagrams of %d", fast-fast0, 2*502)
	}
}

// What the engine relays counts against the user's bitrate: over it,
// datagrams are dropped and counted.
func TestEngineMetersTheBitrate(t *testing.T) {
	s := startWith(t, Config{AllowLoopback: true, MaxBitratePerUser: 8 * 1000}) // 1000 bytes/s, 64 KiB burst
	f := setupFast(t, s)
	before := testutil.ToFloat64(droppedBytes)
	fast0, _ := s.engines.relayed()
	out := channelData(f.ch, make([]byte, 1200), nil)
	for i := 1; i <= 100; i++ {
		if _, err := f.client.WriteToUDPAddrPort(out, f.server); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 { // no more than the socket's buffer holds
			testtool.Eventually(t, 10*time.Second, 5*time.Millisecond, func() error {
				if fast, _ := s.engines.relayed(); fast < fast0+int64(i) {
					return errors.New("not all handled yet")
				}
				return nil
			})
		}
	}
	// 120000 bytes at 1000 bytes/s after a 65536-byte burst.
	if dropped := testutil.ToFloat64(droppedBytes) - before; dropped < 40*1200 {
		t.Fatalf("%v bytes dropped of 120000 over a 64 KiB burst", dropped)
	}
}

// A closed allocation leaves the engine: its client's ChannelData goes to
// pion (which has no allocation for it) and is relayed no more.
func TestEngineForgetsClosedAllocations(t *testing.T) {
	s := startWith(t, Config{AllowLoopback: true})
	f := setupFast(t, s)
	if err := f.relay.Close(); err != nil { // a Refresh with lifetime 0
		t.Fatal(err)
	}
	testtool.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := s.engines.relays(); n != 0 {
			return errors.New("the engine still holds the allocation")
		}
		return nil
	})
	fast0, slow0 := s.engines.relayed()
	out := channelData(f.ch, []byte("after the end"), nil)
	testtool.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if _, err := f.client.WriteToUDPAddrPort(out, f.server); err != nil {
			return err
		}
		if _, slow := s.engines.relayed(); slow == slow0 {
			return errors.New("not handed to pion yet")
		}
		return nil
	})
	if fast, _ := s.engines.relayed(); fast != fast0 {
		t.Fatalf("the engine relayed %d datagrams of a closed allocation", fast-fast0)
	}
}

// One round trip through a relay (two relayed datagrams), the engine on
// or off (pion reading every socket):
//
//	go test -run '^$' -bench RelayRoundTrip -benchmem ./media/turn/
func BenchmarkRelayRoundTrip(b *testing.B) {
	for _, plain := range []bool{false, true} {
		name := "engine"
		if plain {
			name = "pion"
		}
		b.Run(name, func(b *testing.B) {
			s := startWith(b, Config{AllowLoopback: true, MaxBitratePerUser: 1 << 30, PionUDP: plain})
			f := setupFast(b, s)
			var bad error
			roundTrip := relayRoundTrip(f, &bad)
			b.ReportAllocs()
			for b.Loop() {
				roundTrip()
			}
			if bad != nil {
				b.Fatal(bad)
			}
		})
	}
}

// Hostile or odd ChannelData from a client: an empty payload is relayed
// (as pion relays it), a length beyond the datagram and an unbound channel
// go to pion (which refuses them) and are not relayed, bytes past the
// length (padding) are not relayed, and the server stays up.
func TestEngineChannelDataEdgeCases(t *testing.T) {
	s := startWith(t, Config{AllowLoopback: true})
	f := setupFast(t, s)
	send := func(b []byte) {
		t.Helper()
		if _, err := f.client.WriteToUDPAddrPort(b, f.server); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2048)
	next := func() []byte {
		t.Helper()
		_ = f.peer.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := f.peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	send(channelData(f.ch, nil, nil))
	if got := next(); len(got) != 0 {
		t.Fatalf("an empty payload came out as %q", got)
	}
	_, slow0 := s.engines.relayed()
	long := channelData(f.ch, []byte("short"), nil)
	binary.BigEndian.PutUint16(long[2:], 200) // says 200 bytes, has 5
	send(long)
	send(channelData(f.ch^1, []byte("unbound channel"), nil))
	send(append(channelData(f.ch, []byte("padded"), nil), 0, 0))
	if got := next(); string(got) != "padded" {
		t.Fatalf("the peer got %q, want the padded one's payload only (the two before are not to be relayed)", got)
	}
	if _, slow := s.engines.relayed(); slow-slow0 != 2 {
		t.Fatalf("%d datagrams handed to pion, want the 2 it refuses", slow-slow0)
	}
	// Still relaying.
	var bad error
	relayRoundTrip(f, &bad)()
	if bad != nil {
		t.Fatal(bad)
	}
}
