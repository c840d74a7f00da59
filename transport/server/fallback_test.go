package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/media/sfu"
)

// freeTCPPort is a loopback TCP port nobody held a moment ago (the
// configuration takes a fixed port, not ":0").
func freeTCPPort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// With turn.tls_addr and media.tcp_port set, a network that blocks UDP
// still has ways in: the SFU takes ICE over TCP on media.tcp_port, and
// joined hands out Senim's TURN over UDP, TCP and TLS (turns:), in that
// order of preference. The turns: server, with the development certificate
// made under data_dir for the URL's host, allocates a relay over TLS with
// the handed-out credentials.
func TestJoinedOffersTURNOverTLSAndTheSFUTakesTCP(t *testing.T) {
	tcpPort := freeTCPPort(t)
	w := newWorld(t, func(c *config.Config) { c.TURN.TLSAddr, c.Media.TCPPort = "127.0.0.1:0", tcpPort })
	if a, ok := w.srv.SFU.TCPAddr().(*net.TCPAddr); !ok || a.Port != int(tcpPort) {
		t.Fatalf("the SFU's ICE-TCP address %v, want port %d", w.srv.SFU.TCPAddr(), tcpPort)
	}
	ctx := w.ctx()
	actID, _, nt := w.toCall(t)
	call, err := nt.StartCall(ctx, actID, webrtc.Configuration{}, sfu.StreamID("notary:aliya"), 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	ice := call.Joined.ICEServers
	port, tlsPort := w.srv.TURN.Port(), w.srv.TURN.TLSPort()
	want := []string{fmt.Sprintf("turn:127.0.0.1:%d?transport=udp", port), fmt.Sprintf("turn:127.0.0.1:%d?transport=tcp", port),
		fmt.Sprintf("turns:127.0.0.1:%d?transport=tcp", tlsPort)}
	if len(ice) != 1 || strings.Join(ice[0].URLs, " ") != strings.Join(want, " ") {
		t.Fatalf("joined's ice servers %+v, want one with %v", ice, want)
	}

	pem, err := os.ReadFile(filepath.Join(w.dir, "turn-tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	addr := fmt.Sprintf("127.0.0.1:%d", tlsPort)
	conn, err := tls.Dial("tcp4", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	c, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr,
		Conn: pionturn.NewSTUNConn(conn), Username: ice[0].Username, Password: ice[0].Credential, Realm: "senim", LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate over TLS with joined's credentials: %v", err)
	}
	_ = relay.Close()
}
