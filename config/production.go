package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// DevSettings names every development setting that is on, each with how to
// turn it off. `senim serve` refuses a non-loopback http.addr while any is
// on, unless started with --dev: a stand-in or a development CA must never
// face the public by accident.
func (c Config) DevSettings() []string {
	var on []string
	if c.PKI.DevCA {
		on = append(on, "pki.dev_ca = true (trusts the development CA; set false and list NUC's certificates in pki.roots)")
	}
	if c.TURN.Enabled && c.TURN.AllowLoopback {
		on = append(on, "turn.allow_loopback = true (TURN relays to loopback peers; set false)")
	}
	if t := c.TURN; t.Enabled && t.TLSAddr != "" && t.TLSCert == "" && !c.HTTP.TLS() {
		on = append(on, "turn.tls_addr without turn.tls_cert or http.tls_cert (TURN over TLS with a self-signed certificate browsers do not trust; set turn.tls_cert and turn.tls_key)")
	}
	if c.Media.Enabled && c.Media.LoopbackOnly {
		on = append(on, "media.loopback_only = true (the SFU reaches only this machine; set false and media.public_ips)")
	}
	if c.Bank.Mode == "dev" {
		on = append(on, `bank.mode = "dev" (the bank stand-in takes payments; set "http")`)
	}
	if c.Digidocs.Mode == "dev" {
		on = append(on, `digidocs.mode = "dev" (documents are saved to the Digital documents stand-in; set "http")`)
	}
	if i := c.Issuance; i.Enabled {
		for _, p := range i.Ports() {
			if p.Port.Mode == "dev" {
				on = append(on, "issuance."+p.Name+`.mode = "dev" (remote EDS issuance talks to a development stand-in; set "http")`)
			}
		}
		if i.Mail.Mode == "dev" {
			on = append(on, `issuance.mail.mode = "dev" (e-mail goes to an outbox under data_dir, not to people; set "smtp" or "off")`)
		}
	}
	if strings.HasPrefix(strings.ToLower(c.Document.PublicURL), "http://") {
		on = append(on, "document.public_url = "+c.Document.PublicURL+" (QR codes point at plain HTTP; use https://)")
	}
	return on
}

// IsLoopbackAddr reports whether a listen address (host:port) takes
// connections from this machine only: a loopback IP or "localhost". An
// empty host, 0.0.0.0, :: and any other name are taken as public.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// TLS reports whether the server serves HTTPS.
func (h HTTP) TLS() bool { return h.TLSCert != "" && h.TLSKey != "" }

// ProxyPrefixes parses TrustedProxies (Validate has checked them).
func (h HTTP) ProxyPrefixes() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range h.TrustedProxies {
		if p, err := parsePrefix(s); err == nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// parsePrefix reads a CIDR, or a bare IP as a one-address prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()), nil
}

func (h HTTP) validateProduction() []error {
	var errs []error
	if (h.TLSCert == "") != (h.TLSKey == "") {
		errs = append(errs, errors.New("http: tls_cert and tls_key are set together or not at all"))
	}
	for _, s := range h.TrustedProxies {
		if _, err := parsePrefix(s); err != nil {
			errs = append(errs, fmt.Errorf("http.trusted_proxies: %q is not a CIDR or IP address", s))
		}
	}
	for _, s := range h.AllowedHosts {
		if s == "" || strings.ContainsAny(s, "/ *") {
			errs = append(errs, fmt.Errorf("http.allowed_hosts: %q is not a host or host:port", s))
		}
	}
	return errs
}

// PublicHost is the host name of document.public_url, "" if it has none.
func (d Document) PublicHost() string {
	u, err := url.Parse(d.PublicURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
