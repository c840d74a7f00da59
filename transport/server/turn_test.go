package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v5"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/transport/server"
)

// Senim's TURN, configured as in production (allow_loopback off; private
// networks allowed, as on an office network), does not relay a call
// participant's TCP connection (RFC 6062 CONNECT) to the server's own HTTP
// port: /metrics, the bank callback and the rest stay out of reach. The
// server listens on the host's own non-loopback address here, because that
// is the case to refuse: a loopback one is refused as loopback.
func TestTURNDoesNotRelayToTheServerItself(t *testing.T) {
	own := testtool.OwnIPv4(t)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = net.JoinHostPort(own.String(), "0")
	cfg.TURN.Addr = "127.0.0.1:0"
	cfg.TURN.AllowLoopback, cfg.TURN.AllowPrivate = false, true
	// The host is allowed, so that only the TURN's refusal keeps the relayed
	// request out (not the Host check).
	cfg.HTTP.AllowedHosts = []string{own.String()}
	srv, err := server.New(cfg, zerolog.Nop(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Skipf("cannot listen on %s: %v", own, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	// Directly, /metrics answers: the target is there.
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics directly: %v %v", resp, err)
	}
	resp.Body.Close()

	// A participant's credentials, as joined hands them out.
	user, pass := srv.TURN.Credentials("ACT-1", "client:"+clientIIN, time.Hour)
	turnAddr := fmt.Sprintf("127.0.0.1:%d", srv.TURN.Port())
	conn, err := net.Dial("tcp4", turnAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	c, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: turnAddr, TURNServerAddr: turnAddr,
		Conn: pionturn.NewSTUNConn(conn), Username: user, Password: pass, Realm: cfg.TURN.Realm, LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	alloc, err := c.AllocateTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer alloc.Close()
	relayed, err := alloc.Dial("tcp4", srv.Addr())
	if err != nil {
		return // refused at CONNECT (403): what must happen
	}
	defer relayed.Close()
	_ = relayed.SetDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.WriteString(relayed, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
	line, _ := bufio.NewReader(relayed).ReadString('\n')
	t.Fatalf("TURN relayed to the server's own %s: %q", srv.Addr(), line)
}

// turn.relay_engine chooses what relays the UDP sockets: Senim's relay
// engine on Linux by default, pion's reading when "pion" is set.
func TestTURNRelayEngineSetting(t *testing.T) {
	want := map[string]string{"epoll": "pion", "pion": "pion"}
	if runtime.GOOS == "linux" {
		want["epoll"] = "epoll"
	}
	for setting, engine := range want {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.HTTP.Addr, cfg.TURN.Addr = "127.0.0.1:0", "127.0.0.1:0"
		cfg.Media.Enabled = false
		cfg.TURN.RelayEngine = setting
		srv, err := server.New(cfg, zerolog.Nop(), server.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := srv.TURN.Engine(); got != engine {
			t.Errorf("relay_engine = %q: the TURN server relays with %q, want %q", setting, got, engine)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = srv.Close(ctx)
		cancel()
	}
}
