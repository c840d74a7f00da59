package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
)

// CodeHostNotAllowed answers a request whose Host header is not one this
// server serves (HTTP 421): a page reached through a rebound DNS name must
// not talk to the server as if it were its own origin.
const CodeHostNotAllowed = "host_not_allowed"

// httpSec is what every HTTP response goes through: the client's IP as the
// trusted proxies report it, the Host allow-list, and the security headers.
type httpSec struct {
	proxies []netip.Prefix
	hosts   hostAllowList
	log     zerolog.Logger
}

func newHTTPSec(cfg config.Config, log zerolog.Logger) *httpSec {
	return &httpSec{proxies: cfg.HTTP.ProxyPrefixes(), hosts: newHostAllowList(cfg), log: log}
}

type clientIPKey struct{}

// clientIP is the IP of the client behind r: what httpSec found (trusted
// proxies' X-Forwarded-For), or the peer's address for a request that did
// not pass through it.
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	return forwardedClientIP(r.RemoteAddr, nil, nil)
}

// wrap puts h behind the security middleware: one place for every route.
func (sec *httpSec) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := forwardedClientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), sec.proxies)
		r = r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip))
		allowed := sec.hosts.allows(r.Host)
		hdr := w.Header()
		wsHost := ""
		if allowed {
			wsHost = r.Host
		}
		hdr.Set("Content-Security-Policy", contentSecurityPolicy(wsHost))
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Frame-Options", "DENY")
		if r.TLS != nil {
			// Only over TLS: a browser ignores it over plain HTTP, and
			// sending it there would promise what this listener does not do.
			hdr.Set("Strict-Transport-Security", "max-age=63072000")
		}
		if !allowed {
			sec.log.Warn().Str("ip", ip).Str("host", r.Host).Str("path", r.URL.Path).Msg("request for a host not in http.allowed_hosts refused")
			writeJSON(w, http.StatusMisdirectedRequest, map[string]string{"code": CodeHostNotAllowed,
				"message": fmt.Sprintf("this server does not serve the host %q; add it to http.allowed_hosts if it should", r.Host)})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy allows scripts and styles from the server's own
// files only (no inline code), the session websocket on the page's own
// host, and NCALayer on this machine: wss://127.0.0.1:13579, and
// ws://127.0.0.1:* for `senim dev ncalayer --plain`. wsHost is the request's
// Host when it passed the allow-list ("" otherwise); it is named besides
// 'self' for browsers whose 'self' does not cover ws: and wss:.
func contentSecurityPolicy(wsHost string) string {
	connect := "'self'"
	if wsHost != "" {
		connect += " ws://" + wsHost + " wss://" + wsHost
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"media-src 'self' blob: mediastream:; connect-src " + connect + " wss://127.0.0.1:13579 ws://127.0.0.1:*; " +
		"worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// forwardedClientIP is the client's IP: the peer's, unless the peer is a
// trusted proxy; then X-Forwarded-For is walked from the right (the entry
// the nearest proxy added), skipping trusted proxies, and the first address
// that is not one is the client. A header from anyone else is ignored, so a
// client cannot pick the IP its limits are counted against. An entry that is
// not an IP stops the walk at the last address known good.
func forwardedClientIP(remoteAddr string, xff []string, trusted []netip.Prefix) string {
	peer, ok := parseIP(remoteAddr)
	if !ok {
		return remoteAddr
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	var hops []string
	for _, v := range xff {
		hops = append(hops, strings.Split(v, ",")...)
	}
	ip := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseIP(strings.TrimSpace(hops[i]))
		if !ok {
			break
		}
		ip = hop
		if !isTrusted(hop, trusted) {
			break
		}
	}
	return ip.String()
}

// parseIP reads "ip", "ip:port" or "[ipv6]:port", IPv4-mapped IPv6 as IPv4.
func parseIP(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap().WithZone(""), true
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// hostAllowList is the set of Host headers served: names with any port,
// and host:port pairs with that port only.
type hostAllowList struct {
	anyPort map[string]bool
	exact   map[string]bool
}

// newHostAllowList allows the loopback names (any port), document.public_url's
// host (any port: a proxy in front may or may not keep the port), and
// http.allowed_hosts.
func newHostAllowList(cfg config.Config) hostAllowList {
	l := hostAllowList{anyPort: map[string]bool{"127.0.0.1": true, "localhost": true, "::1": true}, exact: map[string]bool{}}
	if h := normalHost(cfg.Document.PublicHost()); h != "" {
		l.anyPort[h] = true
	}
	for _, e := range cfg.HTTP.AllowedHosts {
		if host, port, err := net.SplitHostPort(e); err == nil {
			l.exact[net.JoinHostPort(normalHost(host), port)] = true
		} else {
			l.anyPort[normalHost(e)] = true
		}
	}
	return l
}

func (l hostAllowList) allows(hostHeader string) bool {
	host, port, err := net.SplitHostPort(hostHeader)
	if err != nil {
		host, port = hostHeader, ""
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	host = normalHost(host)
	if host == "" {
		return false
	}
	return l.anyPort[host] || (port != "" && l.exact[net.JoinHostPort(host, port)])
}

// normalHost lower-cases a host name and drops IPv6 brackets and a
// trailing dot, so that equal names compare equal.
func normalHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// certReloader serves the certificate in http.tls_cert/tls_key and
// re-reads the pair when either file's modification time or size changes,
// so that a renewed certificate is served without a restart. A pair that
// fails to load (half written, mismatched) leaves the last good one served.
type certReloader struct {
	certPath, keyPath string
	log               zerolog.Logger

	mu         sync.Mutex
	cert       *tls.Certificate
	certStamp  fileStamp
	keyStamp   fileStamp
	lastFailed error
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

// newCertReloader loads the pair once; a server does not start on a pair
// that does not load.
func newCertReloader(certPath, keyPath string, log zerolog.Logger) (*certReloader, error) {
	c := &certReloader{certPath: certPath, keyPath: keyPath, log: log}
	if err := c.reload(); err != nil {
		return nil, fmt.Errorf("http.tls_cert/tls_key: %w", err)
	}
	return c, nil
}

// reload reads the pair if its files changed. Called with mu held, or
// before the reloader is shared.
func (c *certReloader) reload() error {
	cs, err := stampOf(c.certPath)
	if err != nil {
		return err
	}
	ks, err := stampOf(c.keyPath)
	if err != nil {
		return err
	}
	if c.cert != nil && cs == c.certStamp && ks == c.keyStamp {
		return nil
	}
	// Remember the stamps even on failure: the pair is not tried again
	// on every handshake, only when a file changes once more.
	c.certStamp, c.keyStamp = cs, ks
	pair, err := tls.LoadX509KeyPair(c.certPath, c.keyPath)
	if err != nil {
		return err
	}
	c.cert = &pair
	return nil
}

// GetCertificate is the tls.Config hook.
func (c *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.cert
	if err := c.reload(); err != nil {
		if c.lastFailed == nil || c.lastFailed.Error() != err.Error() {
			c.log.Error().Err(err).Msg("TLS certificate not reloaded; serving the last good one")
		}
		c.lastFailed = err
	} else if c.cert != before {
		c.lastFailed = nil
		c.log.Info().Str("cert", c.certPath).Msg("TLS certificate reloaded")
	}
	return c.cert, nil
}
