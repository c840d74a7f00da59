package turn

import (
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/internal/testtool"
)

func start(t *testing.T, allowLoopback bool) *Server {
	t.Helper()
	s, err := Start(Config{Addr: "127.0.0.1:0", RelayIP: "127.0.0.1", Realm: "senim", Secret: "s3cret", AllowLoopback: allowLoopback, UDPSockets: 1}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var received = regexp.MustCompile(`tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$`)

// uclient runs coturn's turnutils_uclient in client-to-client mode: two
// clients allocate relays on our server and send each other messages
// through them.
func uclient(t *testing.T, s *Server, user, pass string, extra ...string) (sent, recv int, out string, err error) {
	t.Helper()
	bin := testtool.RequireTool(t, "turnutils_uclient", "coturn")
	port := s.Port()
	for _, a := range extra {
		if a == "-S" { // TLS: the turns: port
			port = s.TLSPort()
		}
	}
	// -c: no RTP/RTCP port pairs (RESERVATION-TOKEN), as browsers: two
	// allocations per run, well inside the per-user quota even when a
	// retransmitted Allocate on a busy machine makes one more.
	args := append([]string{"-y", "-c", "-n", "10", "-m", "1", "-l", "120", "-u", user, "-w", pass, "-p", strconv.Itoa(port)}, extra...)
	b, err := exec.Command(bin, append(args, "127.0.0.1")...).CombinedOutput()
	out = string(b)
	for _, line := range regexp.MustCompile(`\n`).Split(out, -1) {
		if m := received.FindStringSubmatch(line); m != nil {
			sent, _ = strconv.Atoi(m[1])
			recv, _ = strconv.Atoi(m[2])
		}
	}
	return sent, recv, out, err
}

// A peer nobody here wrote, coturn's test client, allocates and relays
// through our TURN with our credentials, over UDP (ChannelData, which the
// relay engine relays, and Send and Data indications, which pion does) and
// over TCP.
func TestCoturnClientRelaysThroughUs(t *testing.T) {
	s := start(t, true)
	user, pass := Credentials("s3cret", "client-1", time.Now(), time.Hour)
	for _, transport := range [][]string{nil, {"-s"}, {"-t"}} {
		fast0, slow0 := s.engines.relayed()
		sent, recv, out, err := uclient(t, s, user, pass, transport...)
		if err != nil || sent == 0 || recv != sent {
			t.Fatalf("transport %v: sent %d received %d (%v)\n%s", transport, sent, recv, err, out)
		}
		// Each message passes the server twice: client to peer relay,
		// peer relay to client.
		fast, slow := s.engines.relayed()
		if runtime.GOOS == "linux" && transport == nil && fast-fast0 < int64(2*sent) {
			t.Errorf("the relay engine relayed %d datagrams of %d", fast-fast0, 2*sent)
		}
		if runtime.GOOS == "linux" && len(transport) == 1 && transport[0] == "-s" && slow-slow0 < int64(2*sent) {
			t.Errorf("pion got %d datagrams of %d indications", slow-slow0, 2*sent)
		}
	}
}

func TestBadCredentialsAreRefused(t *testing.T) {
	s := start(t, true)
	_, pass := Credentials("s3cret", "client-1", time.Now(), time.Hour)
	expiredUser, expiredPass := Credentials("s3cret", "client-1", time.Now(), -time.Minute)
	for name, c := range map[string][2]string{
		"wrong password":  {"9999999999:client-1", pass},
		"expired":         {expiredUser, expiredPass},
		"no expiry":       {"client-1", Password("s3cret", "client-1")},
		"another secret":  {"9999999999:client-1", Password("other", "9999999999:client-1")},
		"not a timestamp": {"soon:client-1", Password("s3cret", "soon:client-1")},
	} {
		_, recv, out, err := uclient(t, s, c[0], c[1])
		if err == nil || recv != 0 {
			t.Errorf("%s: accepted (received %d)\n%s", name, recv, out)
		}
	}
}

// Without the allowance, relaying to loopback peers is refused.
func TestLoopbackPeersAreRefused(t *testing.T) {
	s := start(t, false)
	user, pass := Credentials("s3cret", "client-1", time.Now(), time.Hour)
	_, recv, out, _ := uclient(t, s, user, pass)
	if recv != 0 {
		t.Fatalf("relayed %d messages to loopback peers\n%s", recv, out)
	}
}

func TestCredentials(t *testing.T) {
	// Reference value computed with Python's hmac module.
	if got := Password("s3cret", "1700000000:alice"); got != "TtElzSjT0GdnTQ9xdcRNxx96yQs=" {
		t.Fatalf("password %q", got)
	}
	u, p := Credentials("s3cret", "alice", time.Unix(1700000000, 0), time.Hour)
	if u != fmt.Sprint(1700000000+3600)+":alice" || p != Password("s3cret", u) {
		t.Fatalf("%s %s", u, p)
	}
}

// Several UDP sockets share the port; coturn's client, with many
// allocations spread over them, relays through all of it.
func TestUDPSocketsShareThePort(t *testing.T) {
	s, err := Start(Config{Addr: "127.0.0.1:0", RelayIP: "127.0.0.1", Realm: "senim", Secret: "s3cret", AllowLoopback: true, UDPSockets: 4, ReadBuffer: 1 << 20}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.udps) != 4 {
		t.Fatalf("%d UDP sockets, want 4", len(s.udps))
	}
	for _, c := range s.udps {
		if c.LocalAddr().(*net.UDPAddr).Port != s.Port() {
			t.Fatalf("socket on %s, not port %d", c.LocalAddr(), s.Port())
		}
	}
	user, pass := Credentials("s3cret", "client-1", time.Now(), time.Hour)
	sent, recv, out, err := uclient(t, s, user, pass, "-m", "16", "-c")
	if err != nil || sent == 0 || recv != sent {
		t.Fatalf("sent %d received %d (%v)\n%s", sent, recv, err, out)
	}
}

// startTLS starts a server that also speaks TURN over TLS, with a
// certificate made for the test.
func startTLS(t *testing.T, allowLoopback bool) *Server {
	t.Helper()
	crt, key, err := DevCertificate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(Config{Addr: "127.0.0.1:0", RelayIP: "127.0.0.1", Realm: "senim", Secret: "s3cret", AllowLoopback: allowLoopback, UDPSockets: 1,
		TLSAddr: "127.0.0.1:0", TLS: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if s.TLSPort() == 0 || s.TLSPort() == s.Port() {
		t.Fatalf("TLS port %d (UDP/TCP %d)", s.TLSPort(), s.Port())
	}
	return s
}

// coturn's client relays through us over TLS (turns:) with the same
// credentials; bad ones are refused there too, and so are loopback peers
// without the allowance: the policy is the same on every transport.
func TestCoturnClientRelaysOverTLS(t *testing.T) {
	s := startTLS(t, true)
	user, pass := Credentials("s3cret", "client-1", time.Now(), time.Hour)
	sent, recv, out, err := uclient(t, s, user, pass, "-t", "-S")
	if err != nil || sent == 0 || recv != sent {
		t.Fatalf("sent %d received %d (%v)\n%s", sent, recv, err, out)
	}
	if _, recv, out, err := uclient(t, s, user, "wrong", "-t", "-S"); err == nil || recv != 0 {
		t.Fatalf("a wrong password relayed %d messages\n%s", recv, out)
	}
	strict := startTLS(t, false)
	if _, recv, out, _ := uclient(t, strict, user, pass, "-t", "-S"); recv != 0 {
		t.Fatalf("relayed %d messages to loopback peers over TLS\n%s", recv, out)
	}
}
