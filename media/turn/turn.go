// Package turn is Senim's embedded TURN server (pion/turn v5): UDP and TCP
// on one port, optionally TLS on another (turns:, for networks that let
// only HTTPS out), time-limited credentials in the TURN REST scheme, and a peer
// policy that refuses to relay to special-purpose ranges, to the server's
// own addresses, and to loopback and private addresses unless the
// configuration allows it (a TURN server that relays anywhere is an open
// proxy into its own network). Each user has an allocation quota and a
// bitrate.
//
// Credentials: username "<unix expiry>:<user>", password
// base64(HMAC-SHA1(secret, username)), as coturn's use-auth-secret and the
// TURN REST API draft define them. The server computes the password from the
// username alone, so it keeps no session state for credentials. The <user>
// Senim hands out is a pseudonym (Server.Credentials), never an IIN: TURN
// usernames cross the network in clear text.
package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST scheme is HMAC-SHA1
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v5"
	"github.com/rs/zerolog"
)

// Config configures the server.
type Config struct {
	// Addr is the UDP and TCP listen address, e.g. "127.0.0.1:3478".
	Addr string
	// RelayIP is the address relays are announced at (the server's public IP).
	RelayIP string
	// Realm of the long-term credentials.
	Realm string
	// Secret is shared with the code that hands out credentials.
	Secret string
	// AllowLoopback and AllowPrivate permit relaying to such peers
	// (development and tests on one machine).
	AllowLoopback, AllowPrivate bool
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// UDPSockets is how many UDP sockets share the port (SO_REUSEPORT on
	// Linux); 0 is one per relay engine on Linux, else one per CPU.
	// ReadBuffer is each one's receive buffer in bytes (0: the OS
	// default, 208 KiB on Linux).
	UDPSockets int
	ReadBuffer int
	// RelayEngines is how many goroutines relay the UDP sockets' traffic
	// on Linux (engine_linux.go), each with its share of the sockets; 0 is
	// one. One relays between two relays of its own (both ends of a call
	// behind TURN) in one wake-up, and serves tens of thousands of
	// datagrams a second on one CPU; more use more CPUs.
	RelayEngines int
	// Self lists the server's addresses besides its interfaces' (the
	// HTTP listen address, a NAT's public address): like the interfaces'
	// they are refused as peers unless AllowLoopback (development).
	Self []string
	// MaxAllocationsPerUser bounds the allocations one user holds at once
	// (0: no bound); MaxBitratePerUser bounds the bits per second relayed
	// for one user, both ways, over all its allocations (0: no bound).
	MaxAllocationsPerUser int
	MaxBitratePerUser     int64
	// TLSAddr, if set, is where TURN is served over TLS too (turns:, the
	// TCP transport inside TLS): port 443 passes the firewalls that let
	// only HTTPS out. TLS holds its certificate. The credentials, the
	// peer policy and the quotas are those of UDP and TCP.
	TLSAddr string
	TLS     *tls.Config

	// PionUDP leaves the UDP sockets to pion, without the relay engine
	// (engine_linux.go): turn.relay_engine = "pion", and the cost
	// measurement's "before".
	PionUDP bool
}

// Server is a running TURN server.
type Server struct {
	cfg  Config
	srv  *pionturn.Server
	udp  net.PacketConn
	udps []net.PacketConn // udp among them
	tcp  net.Listener
	tls  net.Listener // nil without TLSAddr
	self *selfAddrs
	q    *quotas
	log  zerolog.Logger

	engines relayEngines

	mu    sync.Mutex
	names map[string]pseudonym // pseudonym -> who, for the logs
}

// pseudonym is who is behind a TURN pseudonym, until its credentials
// expire: a participant of an act's call.
type pseudonym struct {
	act, participant string
	until            time.Time
}

// Start listens and serves.
func Start(cfg Config, log zerolog.Logger) (*Server, error) {
	if cfg.Secret == "" || cfg.Realm == "" {
		return nil, errors.New("turn: a realm and a secret are required")
	}
	relay := net.ParseIP(cfg.RelayIP)
	if relay == nil {
		return nil, fmt.Errorf("turn: relay IP %q is not an IP", cfg.RelayIP)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.UDPSockets <= 0 {
		// The relay engines read all their sockets in each wake-up: a
		// socket each is enough (more cost more calls). Without them, pion
		// reads each socket on its own goroutine: one per CPU.
		cfg.UDPSockets = runtime.NumCPU()
		if runtime.GOOS == "linux" && !cfg.PionUDP {
			cfg.UDPSockets = max(cfg.RelayEngines, 1)
		}
	}
	udps, tcp, err := listenBoth(cfg.Addr, cfg.UDPSockets, cfg.ReadBuffer)
	if err != nil {
		return nil, err
	}
	udp := udps[0]
	closeAll := func() {
		for _, c := range udps {
			c.Close()
		}
		tcp.Close()
	}
	var tlsLn net.Listener
	if cfg.TLSAddr != "" {
		if cfg.TLS == nil {
			closeAll()
			return nil, errors.New("turn: tls_addr needs a certificate")
		}
		if tlsLn, err = tls.Listen("tcp4", cfg.TLSAddr, cfg.TLS); err != nil {
			closeAll()
			return nil, fmt.Errorf("turn: TLS: %w", err)
		}
	}
	self := append([]string{cfg.RelayIP, udp.LocalAddr().(*net.UDPAddr).IP.String()}, cfg.Self...)
	s := &Server{cfg: cfg, udp: udp, udps: udps, tcp: tcp, tls: tlsLn, self: newSelfAddrs(self, cfg.Now),
		q:     &quotas{maxAllocs: cfg.MaxAllocationsPerUser, bitrate: cfg.MaxBitratePerUser, users: map[string]*user{}},
		names: map[string]pseudonym{}, log: log}
	relayGen := func() *meteredGen {
		return &meteredGen{RelayAddressGenerator: &pionturn.RelayAddressGeneratorStatic{RelayAddress: relay, Address: bindAddr(relay)}, q: s.q}
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelWarn
	listeners := []pionturn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: relayGen(), PermissionHandler: s.permit}}
	tlsAt := ""
	if tlsLn != nil {
		listeners = append(listeners, pionturn.ListenerConfig{Listener: tlsLn, RelayAddressGenerator: relayGen(), PermissionHandler: s.permit})
		tlsAt = tlsLn.Addr().String()
		s.self = newSelfAddrs(append(self, tlsLn.Addr().(*net.TCPAddr).IP.String()), cfg.Now)
	}
	// The relay engine serves the UDP sockets where it can (Linux); pion
	// reads them itself where it cannot.
	pcs, events, engines := packetConfigs(udps, relayGen, s.permit), pionturn.EventHandler{}, relayEngines(noEngines{})
	if !cfg.PionUDP {
		if fpcs, fevents, fengines, ferr := fastConfigs(udps, cfg.RelayEngines, relayGen, s.permit); ferr == nil {
			pcs, events, engines = fpcs, fevents, fengines
		} else {
			log.Warn().Err(ferr).Msg("TURN relay engine unavailable: pion reads the UDP sockets")
		}
	}
	s.engines = engines
	s.srv, err = pionturn.NewServer(pionturn.ServerConfig{
		Realm:             cfg.Realm,
		AuthHandler:       s.auth,
		QuotaHandler:      s.quota,
		LoggerFactory:     lf,
		PacketConnConfigs: pcs,
		ListenerConfigs:   listeners,
		EventHandler:      events,
	})
	if err != nil {
		closeAll()
		if tlsLn != nil {
			tlsLn.Close()
		}
		return nil, fmt.Errorf("turn: %w", err)
	}
	log.Info().Str("udp", udp.LocalAddr().String()).Int("udp_sockets", len(udps)).Str("tcp", tcp.Addr().String()).Str("tls", tlsAt).Str("relay", relay.String()).
		Bool("allow_loopback", cfg.AllowLoopback).Bool("allow_private", cfg.AllowPrivate).
		Int("max_allocations_per_user", cfg.MaxAllocationsPerUser).Int64("max_bitrate_per_user", cfg.MaxBitratePerUser).
		Str("relay_engine", s.Engine()).Msg("TURN listening")
	return s, nil
}

// relayEngines is what the server asks of its relay engines: the
// datagrams they relayed themselves and handed to pion, and the relay
// sockets they serve.
type relayEngines interface {
	relayed() (fast, slow int64)
	relays() int
}

// Engine is what relays the UDP sockets: "epoll" (the relay engine) or
// "pion" (asked for, or the engine is unavailable here).
func (s *Server) Engine() string {
	if _, ok := s.engines.(noEngines); ok {
		return "pion"
	}
	return "epoll"
}

// noEngines: pion reads every socket.
type noEngines struct{}

func (noEngines) relayed() (fast, slow int64) { return 0, 0 }
func (noEngines) relays() int                 { return 0 }

func packetConfigs(conns []net.PacketConn, gen func() *meteredGen, permit func(net.Addr, net.IP) bool) []pionturn.PacketConnConfig {
	out := make([]pionturn.PacketConnConfig, len(conns))
	for i, c := range conns {
		out[i] = pionturn.PacketConnConfig{PacketConn: c, RelayAddressGenerator: gen(), PermissionHandler: permit}
	}
	return out
}

func bindAddr(relay net.IP) string {
	if relay.IsLoopback() {
		return relay.String()
	}
	return "0.0.0.0"
}

// Port is the UDP and TCP port.
func (s *Server) Port() int { return s.udp.LocalAddr().(*net.UDPAddr).Port }

// TLSPort is the port of TURN over TLS, 0 without it.
func (s *Server) TLSPort() int {
	if s.tls == nil {
		return 0
	}
	return s.tls.Addr().(*net.TCPAddr).Port
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// auth checks a TURN REST username: not expired, and its key derived from
// the shared secret.
func (s *Server) auth(ra *pionturn.RequestAttributes) (string, []byte, bool) {
	expiry, user, ok := strings.Cut(ra.Username, ":")
	if !ok || user == "" {
		return "", nil, false
	}
	t, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil || s.cfg.Now().Unix() > t {
		return "", nil, false
	}
	return ra.Username, pionturn.GenerateAuthKey(ra.Username, s.cfg.Realm, Password(s.cfg.Secret, ra.Username)), true
}

// quota is pion's QuotaHandler: a user over its allocations is answered
// 486 (Allocation Quota Reached).
func (s *Server) quota(username, _ string, src net.Addr) bool {
	if s.q.admits(username) {
		return true
	}
	act, _, _ := s.Who(username)
	// The log names the act and the pseudonym, not the person (Who does).
	s.log.Warn().Str("act", act).Str("turn_user", userKey(username)).Str("from", src.String()).
		Int("max", s.cfg.MaxAllocationsPerUser).Msg("TURN allocation quota reached")
	return false
}

// Credentials issues TURN REST credentials for a participant of an act's
// call, valid for ttl, under a pseudonym: an HMAC of both with the secret,
// so that no IIN goes over the wire, calls cannot be linked by it, and the
// participant keeps one quota across renewed credentials. Who maps the
// pseudonym back.
func (s *Server) Credentials(act, participant string, ttl time.Duration) (username, password string) {
	p := Pseudonym(s.cfg.Secret, act+"\x00"+participant)
	now := s.cfg.Now()
	s.mu.Lock()
	for k, v := range s.names { // bounded by the users of one ttl
		if now.After(v.until) {
			delete(s.names, k)
		}
	}
	s.names[p] = pseudonym{act: act, participant: participant, until: now.Add(ttl)}
	s.mu.Unlock()
	return Credentials(s.cfg.Secret, p, now, ttl)
}

// Who is the act and participant behind a TURN username this server
// issued; ok is false when it no longer knows (expired, or issued before a
// restart).
func (s *Server) Who(username string) (act, participant string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.names[userKey(username)]
	return n.act, n.participant, ok
}

// Pseudonym is the opaque TURN user of a participant: base64url of the
// first 16 bytes of HMAC-SHA256(secret, "senim-turn-user:" + user).
func Pseudonym(secret, user string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("senim-turn-user:" + user))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Password is the TURN REST password of a username.
func Password(secret, username string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Credentials issues a username and password for user, valid for ttl.
func Credentials(secret, user string, now time.Time, ttl time.Duration) (username, password string) {
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + user
	return username, Password(secret, username)
}

// listenBoth opens the UDP sockets and the TCP listener on one port. With
// port 0 the kernel picks the UDP port, which another process may hold for
// TCP (a busy machine's outgoing connections use the same range): then it
// draws again, a bounded number of times, instead of failing the start.
func listenBoth(addr string, sockets, readBuffer int) ([]net.PacketConn, net.Listener, error) {
	_, port, _ := net.SplitHostPort(addr)
	tries := 1
	if port == "0" {
		tries = 32
	}
	var lastErr error
	for i := 0; i < tries; i++ {
		udps, err := listenUDP(addr, sockets, readBuffer)
		if err != nil {
			return nil, nil, fmt.Errorf("turn: %w", err)
		}
		// TCP on the port UDP got, so that ":0" gives one port for both.
		tcp, err := net.Listen("tcp4", udps[0].LocalAddr().String())
		if err == nil {
			return udps, tcp, nil
		}
		for _, c := range udps {
			c.Close()
		}
		lastErr = err
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, nil, fmt.Errorf("turn: %w", lastErr)
}
