package config

import (
	"strings"
	"testing"
)

// The keys of the call fallbacks (ICE over TCP, TURN over TLS): good values
// load, bad ones are refused, and a self-signed TURN certificate counts as
// a development setting.
func TestCallFallbackKeys(t *testing.T) {
	c, err := Load("", []string{"SENIM_MEDIA_TCP_PORT=3479", "SENIM_TURN_TLS_ADDR=0.0.0.0:443", "SENIM_TURN_TLS_HOST=turn.senim.kz"})
	if err != nil || c.Media.TCPPort != 3479 || c.TURN.TLSAddr != "0.0.0.0:443" || c.TURN.TLSHost != "turn.senim.kz" {
		t.Fatalf("%+v %+v %v", c.Media, c.TURN, err)
	}
	for _, env := range [][]string{
		{"SENIM_TURN_TLS_ADDR=443"},                                // not host:port
		{"SENIM_TURN_TLS_ADDR=:443", "SENIM_TURN_TLS_CERT=/a.pem"}, // a certificate without its key
		{"SENIM_TURN_TLS_ADDR=:443", "SENIM_TURN_TLS_KEY=/a.key"},  // a key without its certificate
		{"SENIM_MEDIA_TCP_PORT=70000"},                             // not a port
	} {
		if _, err := Load("", env); err == nil {
			t.Errorf("%v: want an error", env)
		}
	}

	p := Default()
	p.TURN.TLSAddr = ":443"
	if got := strings.Join(p.DevSettings(), "\n"); !strings.Contains(got, "turn.tls_addr") {
		t.Errorf("TURN over TLS with a self-signed certificate is not named:\n%s", got)
	}
	for name, certify := range map[string]func(*Config){
		"turn.tls_cert": func(c *Config) { c.TURN.TLSCert, c.TURN.TLSKey = "/t.crt", "/t.key" },
		"http.tls_cert": func(c *Config) { c.HTTP.TLSCert, c.HTTP.TLSKey = "/h.crt", "/h.key" },
	} {
		d := p
		certify(&d)
		if got := strings.Join(d.DevSettings(), "\n"); strings.Contains(got, "turn.tls_addr") {
			t.Errorf("with %s: still named:\n%s", name, got)
		}
	}
}
