package config

import (
	"strings"
	"testing"
)

func TestDevSettingsOfDefaultsNameEachOne(t *testing.T) {
	got := strings.Join(Default().DevSettings(), "\n")
	for _, key := range []string{"pki.dev_ca", "turn.allow_loopback", "media.loopback_only", "bank.mode", "document.public_url", "digidocs.mode", "issuance.ca.mode", "issuance.mail.mode"} {
		if !strings.Contains(got, key) {
			t.Errorf("%s not named in:\n%s", key, got)
		}
	}
}

func TestDevSettingsOfAProductionConfigAreNone(t *testing.T) {
	c := Default()
	c.PKI.DevCA = false
	c.PKI.Roots = []string{"/etc/senim/nuc_root.crt"}
	c.TURN.AllowLoopback = false
	c.Media.LoopbackOnly = false
	c.Bank.Mode = "http"
	c.Digidocs.Mode = "http"
	c.Document.PublicURL = "https://senim.kz"
	for _, p := range []*Port{&c.Issuance.BMG, &c.Issuance.SMS, &c.Issuance.FaceID, &c.Issuance.DocRecog, &c.Issuance.CA, &c.Issuance.LegalReg} {
		p.Mode = "http"
	}
	c.Issuance.Mail.Mode = "smtp"
	if got := c.DevSettings(); len(got) != 0 {
		t.Fatalf("want none, got %q", got)
	}
	// Each one alone is found again.
	for name, turnOn := range map[string]func(*Config){
		"pki.dev_ca":          func(c *Config) { c.PKI.DevCA = true },
		"turn.allow_loopback": func(c *Config) { c.TURN.AllowLoopback = true },
		"media.loopback_only": func(c *Config) { c.Media.LoopbackOnly = true },
		"bank.mode":           func(c *Config) { c.Bank.Mode = "dev" },
		"digidocs.mode":       func(c *Config) { c.Digidocs.Mode = "dev" },
		"issuance.sms.mode":   func(c *Config) { c.Issuance.SMS.Mode = "dev" },
		"document.public_url": func(c *Config) { c.Document.PublicURL = "HTTP://senim.kz" },
	} {
		d := c
		turnOn(&d)
		if got := d.DevSettings(); len(got) != 1 || !strings.HasPrefix(got[0], name) {
			t.Errorf("%s on: got %q", name, got)
		}
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true,
		"127.0.0.2:0":    true,
		"localhost:80":   true,
		"[::1]:8080":     true,
		"0.0.0.0:0":      false,
		"[::]:8080":      false,
		":8080":          false,
		"10.0.0.5:8080":  false,
		"senim.kz:443":   false,
		"127.0.0.1":      false, // no port: not a listen address
	} {
		if got := IsLoopbackAddr(addr); got != want {
			t.Errorf("IsLoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestProductionHTTPKeysAreChecked(t *testing.T) {
	for _, env := range [][]string{
		{"SENIM_HTTP_TLS_CERT=/c.pem"},                // no key
		{"SENIM_HTTP_TLS_KEY=/k.pem"},                 // no cert
		{"SENIM_HTTP_TRUSTED_PROXIES=10.0.0.0/33"},    // not a CIDR
		{"SENIM_HTTP_TRUSTED_PROXIES=proxy.local"},    // not an IP
		{"SENIM_HTTP_ALLOWED_HOSTS=https://senim.kz"}, // a URL, not a host
	} {
		if _, err := Load("", env); err == nil {
			t.Errorf("%v: want an error", env)
		}
	}
	c, err := Load("", []string{"SENIM_HTTP_TRUSTED_PROXIES=10.0.0.0/8, 192.0.2.7", "SENIM_HTTP_ALLOWED_HOSTS=senim.kz"})
	if err != nil {
		t.Fatal(err)
	}
	if ps := c.HTTP.ProxyPrefixes(); len(ps) != 2 || ps[1].Bits() != 32 {
		t.Fatalf("prefixes: %v", ps)
	}
}
