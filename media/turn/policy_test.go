package turn

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/internal/testtool"
)

// Every special-purpose range, the edges of the ranges, and addresses
// hidden inside IPv4-mapped and NAT64 addresses.
func TestClassify(t *testing.T) {
	for ip, want := range map[string]Class{
		"8.8.8.8": Public, "2a00:1450::1": Public, "1.1.1.1": Public, "64:ff9b::808:808": Public,
		"0.0.0.0": Special, "0.255.255.255": Special,
		"10.0.0.0": Private, "10.255.255.255": Private,
		"100.64.0.0": Special, "100.127.255.255": Special, "100.63.255.255": Public, "100.128.0.0": Public,
		"127.0.0.1": Loopback, "127.255.255.254": Loopback,
		"169.254.0.1": Special, "169.254.255.255": Special,
		"172.16.0.0": Private, "172.31.255.255": Private, "172.15.255.255": Public, "172.32.0.0": Public,
		"192.0.0.1": Special, "192.0.0.255": Special,
		"192.0.2.1": Special, "192.0.2.255": Special, "192.0.3.0": Public,
		"192.88.99.1": Special,
		"192.168.0.1": Private, "192.168.255.255": Private,
		"198.18.0.1": Special, "198.19.255.255": Special, "198.20.0.0": Public,
		"198.51.100.7": Special,
		"203.0.113.9":  Special,
		"224.0.0.1":    Special, "239.255.255.255": Special,
		"240.0.0.1": Special, "255.255.255.255": Special,
		"::1": Loopback, "::": Special,
		"fc00::1": Private, "fd12:3456::1": Private,
		"fe80::1": Special, "febf::1": Special,
		"ff02::1": Special, "ff0e::1": Special,
		"2001:db8::1": Special, "2001:db8:ffff::1": Special,
		"100::1": Special, "100::ffff:ffff:ffff:ffff": Special, "100:0:0:1::1": Public,
		// v4-mapped and NAT64: judged by the IPv4 address inside.
		"::ffff:127.0.0.1": Loopback, "::ffff:10.1.2.3": Private, "::ffff:198.18.0.1": Special, "::ffff:8.8.8.8": Public,
		"64:ff9b::7f00:1": Loopback, "64:ff9b::a01:203": Private, "64:ff9b::c000:1": Special, "64:ff9b::a9fe:101": Special,
	} {
		if got := Classify(net.ParseIP(ip)); got != want {
			t.Errorf("%s: %v, want %v", ip, got, want)
		}
	}
	if got := Classify(net.IP{1, 2, 3}); got != Special {
		t.Errorf("a 3-byte IP: %v", got)
	}
}

func policyServer(allowLoopback, allowPrivate bool, self ...string) *Server {
	s := &Server{cfg: Config{AllowLoopback: allowLoopback, AllowPrivate: allowPrivate}, self: newSelfAddrs(self, time.Now)}
	// The host's interfaces, as the test says they are.
	s.self.interfaces = func() ([]net.Addr, error) {
		return []net.Addr{&net.IPNet{IP: net.ParseIP("10.9.9.9"), Mask: net.CIDRMask(8, 32)},
			&net.IPNet{IP: net.ParseIP("5.6.7.8"), Mask: net.CIDRMask(24, 32)}}, nil
	}
	return s
}

func TestPeerPolicy(t *testing.T) {
	strict := policyServer(false, false, "1.2.3.4")
	private := policyServer(false, true, "1.2.3.4")
	dev := policyServer(true, true, "1.2.3.4")
	for ip, want := range map[string][3]bool{ // strict, private, dev
		"8.8.8.8":          {true, true, true},
		"2a00:1450::1":     {true, true, true},
		"127.0.0.1":        {false, false, true},
		"::1":              {false, false, true},
		"::ffff:127.0.0.1": {false, false, true},
		"10.1.2.3":         {false, true, true},
		"172.16.0.9":       {false, true, true},
		"192.168.1.1":      {false, true, true},
		"fd00::1":          {false, true, true},
		"169.254.0.1":      {false, false, false},
		"100.64.0.1":       {false, false, false},
		"198.18.0.1":       {false, false, false},
		"192.0.0.1":        {false, false, false},
		"0.0.0.0":          {false, false, false},
		"224.0.0.1":        {false, false, false},
		// The server's own addresses: given (the relay IP) and of its
		// interfaces, also behind v4-mapped and NAT64 forms.
		"1.2.3.4":          {false, false, true},
		"5.6.7.8":          {false, false, true},
		"::ffff:5.6.7.8":   {false, false, true},
		"64:ff9b::506:708": {false, false, true},
		"10.9.9.9":         {false, false, true},
	} {
		p := net.ParseIP(ip)
		if got := [3]bool{strict.permit(nil, p), private.permit(nil, p), dev.permit(nil, p)}; got != want {
			t.Errorf("%s: %v, want %v", ip, got, want)
		}
	}
}

func pionClient(t testing.TB, conn net.PacketConn, s *Server, user, pass string) *pionturn.Client {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", s.Port())
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	c, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: user, Password: pass, Realm: "senim", LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	return c
}

// tcpClient is a TURN client over TCP, as RFC 6062 relays need.
func tcpClient(t *testing.T, s *Server, user, pass string) *pionturn.Client {
	t.Helper()
	conn, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", s.Port()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pionClient(t, pionturn.NewSTUNConn(conn), s, user, pass)
}

func udpClient(t *testing.T, s *Server, user, pass string) *pionturn.Client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pionClient(t, conn, s, user, pass)
}

// getThroughRelay asks for /metrics through a TCP relay (RFC 6062
// CONNECT) and returns the first line of the answer.
func getThroughRelay(t *testing.T, s *Server, target string) (string, error) {
	t.Helper()
	user, pass := s.Credentials("ACT-1", "client:871008401427", time.Hour)
	c := tcpClient(t, s, user, pass)
	alloc, err := c.AllocateTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer alloc.Close()
	conn, err := alloc.Dial("tcp4", target)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(conn).ReadString('\n')
}

// A participant's TCP relay to the server's own HTTP port, on the host's
// own address (not loopback, so allow_loopback does not refuse it as
// such), must not reach /metrics: the relay would be a way in to
// everything the server serves to its own network.
func TestTCPRelayToOwnHTTPPortIsRefused(t *testing.T) {
	own := testtool.OwnIPv4(t)
	ln, err := net.Listen("tcp4", net.JoinHostPort(own.String(), "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", own, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "senim_secret 1\n") }),
		ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	target := ln.Addr().String()

	// In development (allow_loopback) the relay reaches it: the path works
	// (unless the host's address is in a range refused in every mode).
	if Classify(own) != Special {
		dev := startWith(t, Config{AllowLoopback: true, AllowPrivate: true})
		if line, err := getThroughRelay(t, dev, target); err != nil || !strings.HasPrefix(line, "HTTP/1.0 200") {
			t.Fatalf("development relay to %s: %q %v", target, line, err)
		}
	}
	// Otherwise it is refused at CONNECT, private networks allowed or not.
	for _, allowPrivate := range []bool{true, false} {
		s := startWith(t, Config{AllowPrivate: allowPrivate})
		if line, err := getThroughRelay(t, s, target); err == nil {
			t.Fatalf("allow_private=%v: relayed to the server's own %s: %q", allowPrivate, target, line)
		}
	}
}

func startWith(t testing.TB, cfg Config) *Server {
	t.Helper()
	cfg.Addr, cfg.RelayIP, cfg.Realm, cfg.Secret, cfg.UDPSockets = "127.0.0.1:0", "127.0.0.1", "senim", "s3cret", 1
	s, err := Start(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Permissions to special-purpose peers are refused even where private
// ones are allowed; a public one is granted.
func TestSpecialPeersAreRefused(t *testing.T) {
	s := startWith(t, Config{AllowPrivate: true})
	user, pass := s.Credentials("ACT-1", "client:871008401427", time.Hour)
	c := udpClient(t, s, user, pass)
	if _, err := c.Allocate(); err != nil {
		t.Fatal(err)
	}
	for _, peer := range []string{"198.18.0.1", "192.0.0.1"} {
		if err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(peer), Port: 9}); err == nil {
			t.Errorf("permission to %s granted", peer)
		}
	}
	if err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP("8.8.8.8"), Port: 9}); err != nil {
		t.Errorf("permission to a public peer: %v", err)
	}
}

// A user holds at most max_allocations_per_user allocations; one freed
// makes room for another.
func TestAllocationQuota(t *testing.T) {
	s := startWith(t, Config{AllowLoopback: true, MaxAllocationsPerUser: 4})
	user, pass := s.Credentials("ACT-1", "client:871008401427", time.Hour)
	var relays []net.PacketConn
	for i := 0; i < 4; i++ {
		r, err := udpClient(t, s, user, pass).Allocate()
		if err != nil {
			t.Fatalf("allocation %d: %v", i+1, err)
		}
		relays = append(relays, r)
	}
	_, err := udpClient(t, s, user, pass).Allocate()
	if err == nil || !strings.Contains(err.Error(), "486") {
		t.Fatalf("a 5th allocation: %v, want 486 Allocation Quota Reached", err)
	}
	// Renewed credentials of the same participant share the quota.
	user2, pass2 := Credentials("s3cret", userKey(user), time.Now(), 2*time.Hour)
	if _, err := udpClient(t, s, user2, pass2).Allocate(); err == nil {
		t.Fatal("a 5th allocation with renewed credentials was granted")
	}
	// Another participant has their own.
	other, otherPass := s.Credentials("ACT-1", "notary:aliya", time.Hour)
	if _, err := udpClient(t, s, other, otherPass).Allocate(); err != nil {
		t.Fatalf("another user: %v", err)
	}
	if err := relays[0].Close(); err != nil { // a refresh with lifetime 0: the allocation goes
		t.Fatal(err)
	}
	testtool.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		_, err := udpClient(t, s, user, pass).Allocate()
		return err
	})
}

// Over the user's bitrate, relayed datagrams are dropped and counted.
func TestBitrateQuotaDrops(t *testing.T) {
	q := &quotas{bitrate: 8 * 1000, users: map[string]*user{}} // 1000 bytes/s, burst 64 KiB
	u, release, err := q.acquire("1:x")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	c := &meteredPacketConn{u: u, PacketConn: &countingConn{}}
	before := testutil.ToFloat64(droppedBytes)
	sent := 0
	for i := 0; i < 100; i++ {
		if n, err := c.WriteTo(make([]byte, 1200), nil); err == nil && n == 1200 {
			sent++
		}
	}
	delivered := c.PacketConn.(*countingConn).n
	if delivered == 0 || delivered >= 100 || sent != 100 {
		t.Fatalf("%d of 100 datagrams of 1200 bytes passed a 64 KiB burst (%d written)", delivered, sent)
	}
	if dropped := testutil.ToFloat64(droppedBytes) - before; dropped != float64((100-delivered)*1200) {
		t.Fatalf("dropped bytes metric grew by %v, want %d", dropped, (100-delivered)*1200)
	}
}

// countingConn counts the datagrams that reach the network.
type countingConn struct {
	net.PacketConn
	n int
}

func (c *countingConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	c.n++
	return len(p), nil
}

// The username names no one: the participant is behind a pseudonym the
// server maps back.
func TestCredentialsArePseudonymous(t *testing.T) {
	s := startWith(t, Config{})
	user, pass := s.Credentials("ACT-1", "client:871008401427", time.Hour)
	if strings.Contains(user, "871008401427") || strings.Contains(user, "client") {
		t.Fatalf("username %q shows who it is", user)
	}
	if pass != Password("s3cret", user) {
		t.Fatal("password is not the TURN REST one")
	}
	if act, who, ok := s.Who(user); !ok || act != "ACT-1" || who != "client:871008401427" {
		t.Fatalf("who is %q in %q (%v)", who, act, ok)
	}
	if other, _ := s.Credentials("ACT-1", "client:760212350620", time.Hour); userKey(other) == userKey(user) {
		t.Fatal("two participants share a pseudonym")
	}
	if again, _ := s.Credentials("ACT-2", "client:871008401427", time.Hour); userKey(again) == userKey(user) {
		t.Fatal("one person's pseudonym links two calls")
	}
}
