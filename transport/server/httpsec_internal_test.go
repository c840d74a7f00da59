package server

import (
	"net/netip"
	"testing"

	"github.com/senim-kz/senim/config"
)

func TestForwardedClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	for _, c := range []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"no proxy, no header", "203.0.113.9:5000", nil, "203.0.113.9"},
		{"untrusted peer: header ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer, no header", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"trusted peer: the client it saw", "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a client's forged entry on the left is not believed", "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"chained trusted proxies are skipped", "10.1.2.3:5000", []string{"198.51.100.1, 10.9.9.9", "10.8.8.8"}, "198.51.100.1"},
		{"every hop trusted: the leftmost", "10.1.2.3:5000", []string{"10.7.7.7, 10.9.9.9"}, "10.7.7.7"},
		{"garbage stops the walk at the last good hop", "10.1.2.3:5000", []string{"198.51.100.1, not-an-ip"}, "10.1.2.3"},
		{"ports and brackets", "10.1.2.3:5000", []string{"[2001:db9::1]:443"}, "2001:db9::1"},
		{"IPv6 proxy", "[2001:db8::5]:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"no proxies configured", "127.0.0.1:1", []string{"198.51.100.1"}, "127.0.0.1"},
	} {
		trusted := proxies
		if c.name == "no proxies configured" {
			trusted = nil
		}
		if got := forwardedClientIP(c.remote, c.xff, trusted); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestHostAllowList(t *testing.T) {
	cfg := config.Default()
	cfg.Document.PublicURL = "https://Senim.KZ"
	cfg.HTTP.AllowedHosts = []string{"app.senim.kz", "10.0.0.5:8080"}
	l := newHostAllowList(cfg)
	for host, want := range map[string]bool{
		"127.0.0.1:8080":      true,
		"127.0.0.1":           true,
		"localhost:1234":      true,
		"LOCALHOST":           true,
		"[::1]:8080":          true,
		"[::1]":               true,
		"senim.kz":            true,
		"senim.kz:443":        true,
		"senim.kz.":           true,
		"app.senim.kz:8443":   true,
		"10.0.0.5:8080":       true,
		"10.0.0.5:8081":       false, // that port only
		"10.0.0.5":            false,
		"evil.example":        false,
		"evil.example:8080":   false,
		"127.0.0.1.nip.io":    false,
		"127.0.0.1:80x":       false,
		"":                    false,
		"senim.kz.evil.com":   false,
		"[::]:8080":           false,
		"0.0.0.0:8080":        false,
		"sub.app.senim.kz":    false,
		"127.0.0.1:8080:8080": false,
	} {
		if got := l.allows(host); got != want {
			t.Errorf("allows(%q) = %v, want %v", host, got, want)
		}
	}
}
