package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/internal/testserver"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/transport/server"
)

// startConfigured starts a server on 127.0.0.1:0 with edit applied to the
// defaults, which must then be valid.
func startConfigured(t *testing.T, edit func(*config.Config)) *server.Server {
	t.Helper()
	return testserver.Start(t, t.TempDir(), edit, testserver.Validated(t))
}

// do sends one request and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	srv := startConfigured(t, func(*config.Config) {})
	base := "http://" + srv.Addr()
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/", 200},
		{"GET", "/js/app.js", 200},
		{"GET", "/pages.css", 200},
		{"GET", "/healthz", 200},
		{"GET", "/metrics", 200},
		{"GET", "/verify/NO-SUCH-CODE", 404},
		{"GET", "/verify/NO-SUCH-CODE?format=json", 404},
		{"GET", "/no/such/page", 404},
		{"GET", "/bank/pay/INV-none", 404},
		{"POST", "/bank/callback", 401},
		{"GET", "/ws", 426}, // not an upgrade
	} {
		resp, _ := do(t, http.DefaultClient, c.method, base+c.path, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"frame-ancestors 'none'", "script-src 'self';", "connect-src 'self' ws://" + srv.Addr(), "wss://127.0.0.1:13579", "ws://127.0.0.1:*"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s %s: CSP %q lacks %q", c.method, c.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s %s: CSP allows inline code: %q", c.method, c.path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s %s: headers %v", c.method, c.path, h)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s %s: HSTS over plain HTTP", c.method, c.path)
		}
	}
}

// The CSP allows no inline code, so the pages the server renders must have
// none: no <script> without src, no style element or attribute, no on…=
// handler.
func TestServedPagesHaveNoInlineCode(t *testing.T) {
	srv := startConfigured(t, func(*config.Config) {})
	base := "http://" + srv.Addr()
	for _, path := range []string{"/", "/verify/NO-SUCH-CODE"} {
		_, body := do(t, http.DefaultClient, "GET", base+path, nil)
		lower := strings.ToLower(body)
		for _, bad := range []string{"<script>", "<style", " style=", " onclick=", " onload=", "javascript:"} {
			if strings.Contains(lower, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
	// The templates of the check and the pay page, which need an act to
	// render, link the stylesheet instead of inlining it.
	for _, name := range []string{"verify.go", "bankpage.go"} {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if s := strings.ToLower(string(src)); strings.Contains(s, "<style") || strings.Contains(s, "<script>") || strings.Contains(s, " style=") {
			t.Errorf("%s has inline style or script", name)
		}
	}
}

func TestForeignHostIsRefused(t *testing.T) {
	srv := startConfigured(t, func(c *config.Config) {
		c.Document.PublicURL = "https://senim.example"
		c.HTTP.AllowedHosts = []string{"10.0.0.5:8080"}
	})
	base := "http://" + srv.Addr()
	_, port, _ := net.SplitHostPort(srv.Addr())
	for host, want := range map[string]int{
		"attacker.example":         http.StatusMisdirectedRequest,
		"attacker.example:" + port: http.StatusMisdirectedRequest,
		"10.0.0.5:9999":            http.StatusMisdirectedRequest,
		"localhost:" + port:        http.StatusOK,
		"senim.example":            http.StatusOK,
		"10.0.0.5:8080":            http.StatusOK,
	} {
		resp, body := do(t, http.DefaultClient, "GET", base+"/healthz", map[string]string{"Host": host})
		if resp.StatusCode != want {
			t.Errorf("Host %s: status %d, want %d: %s", host, resp.StatusCode, want, body)
			continue
		}
		if want != http.StatusOK {
			var e struct{ Code, Message string }
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Code != server.CodeHostNotAllowed || !strings.Contains(e.Message, "http.allowed_hosts") {
				t.Errorf("Host %s: body %s", host, body)
			}
			if resp.Header.Get("Content-Security-Policy") == "" {
				t.Errorf("Host %s: refusal without the security headers", host)
			}
		}
	}
}

// The public check's limiter counts the client's IP: X-Forwarded-For from a
// peer that is not a trusted proxy changes nothing, from a trusted one it
// names the client.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	statuses := func(base string, xffs ...string) string {
		var got []int
		for _, xff := range xffs {
			resp, _ := do(t, http.DefaultClient, "GET", base+"/verify/NO-SUCH-CODE?format=json", map[string]string{"X-Forwarded-For": xff})
			got = append(got, resp.StatusCode)
		}
		return fmt.Sprint(got)
	}
	untrusted := startConfigured(t, func(c *config.Config) { c.Limits.ChecksPerMinute = 1 })
	if got := statuses("http://"+untrusted.Addr(), "198.51.100.1", "198.51.100.2"); got != "[404 429]" {
		t.Errorf("untrusted peer: a forged X-Forwarded-For escaped the limit: %s", got)
	}
	trusted := startConfigured(t, func(c *config.Config) {
		c.Limits.ChecksPerMinute = 1
		c.HTTP.TrustedProxies = []string{"127.0.0.0/8"}
	})
	if got := statuses("http://"+trusted.Addr(), "198.51.100.1", "198.51.100.2", "198.51.100.1", "203.0.113.7, 198.51.100.2"); got != "[404 404 429 429]" {
		t.Errorf("trusted proxy: statuses %s, want each client counted on its own", got)
	}
}

// selfSigned writes a fresh self-signed certificate for 127.0.0.1 and its
// key to certPath and keyPath, and returns the certificate.
func selfSigned(t *testing.T, certPath, keyPath, name string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// touch moves a file's modification time forward, so that a change is seen
// even on a file system with coarse timestamps.
func touch(t *testing.T, path string, by time.Duration) {
	t.Helper()
	at := time.Now().Add(by)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func TestTLSServesAndReloadsTheCertificate(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := selfSigned(t, certPath, keyPath, "first")
	srv := startConfigured(t, func(c *config.Config) { c.HTTP.TLSCert, c.HTTP.TLSKey = certPath, keyPath })

	// The pool trusts every certificate the test makes; which one is
	// served is read from the handshake.
	pool := x509.NewCertPool()
	pool.AddCert(first)
	served := func() *x509.Certificate {
		t.Helper()
		conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	if !served().Equal(first) {
		t.Fatal("not serving the configured certificate")
	}

	// HTTPS with HSTS, verified against the certificate.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, _ := do(t, c, "GET", "https://"+srv.Addr()+"/healthz", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatalf("https /healthz: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	// The session websocket as wss: the first frame is the challenge.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss://"+srv.Addr()+"/ws", &websocket.DialOptions{HTTPClient: c, Subprotocols: []string{protocol.Version}})
	if err != nil {
		t.Fatal(err)
	}
	_, frame, err := ws.Read(ctx)
	ws.CloseNow()
	var env protocol.Envelope
	if err != nil || json.Unmarshal(frame, &env) != nil || env.Type != protocol.TypeChallenge {
		t.Fatalf("wss: first frame %s, %v", frame, err)
	}
	c.CloseIdleConnections()

	// A renewed pair on disk is served from the next handshake on.
	second := selfSigned(t, certPath, keyPath, "second")
	pool.AddCert(second)
	touch(t, certPath, time.Minute)
	touch(t, keyPath, time.Minute)
	if got := served(); !got.Equal(second) {
		t.Fatalf("after renewal served %q, want %q", got.Subject.CommonName, second.Subject.CommonName)
	}

	// A broken file keeps the last good pair in service.
	if err := os.WriteFile(certPath, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	touch(t, certPath, 2*time.Minute)
	if got := served(); !got.Equal(second) {
		t.Fatalf("after a bad write served %q, want the last good %q", got.Subject.CommonName, second.Subject.CommonName)
	}
}

func TestTLSStartRefusesABadPair(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	selfSigned(t, certPath, keyPath, "a")
	otherKey := filepath.Join(dir, "other.key")
	selfSigned(t, filepath.Join(dir, "other.crt"), otherKey, "b")
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.TURN.Addr = "127.0.0.1:0"
	cfg.HTTP.TLSCert, cfg.HTTP.TLSKey = certPath, otherKey
	srv, err := server.New(cfg, zerolog.Nop(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	if err := srv.Start(); err == nil || !strings.Contains(err.Error(), "tls_cert") {
		t.Fatalf("a mismatched pair: want a refusal naming http.tls_cert, got %v", err)
	}
}
