package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
)

// A CRL file in pki.crls that a cut-short download breaks is logged and
// shown on /metrics as failing, while its last good version stays in
// service; a good file clears it.
func TestBrokenCRLFileIsReported(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Other CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCRLSign | x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		t.Fatal(err)
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now.Add(-time.Minute),
		NextUpdate: now.Add(time.Hour), RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(7), RevocationTime: now.Add(-time.Minute)}}}, ca, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other.crl")
	if err := os.WriteFile(path, crl, 0o600); err != nil {
		t.Fatal(err)
	}

	var logs syncBuffer
	w := newWorldLogged(t, zerolog.New(&logs).Level(zerolog.InfoLevel), func(cfg *config.Config) {
		cfg.TURN.Enabled = false
		cfg.Media.Enabled = false
		cfg.PKI.ReloadInterval = config.Duration(50 * time.Millisecond)
		cfg.PKI.CRLs = append(cfg.PKI.CRLs, path)
	})
	failing := func(want string) {
		t.Helper()
		line := fmt.Sprintf("senim_pki_crl_load_failing{file=%q} %s\n", path, want)
		deadline := time.Now().Add(30 * time.Second)
		for {
			text := scrapeMetrics(t, w.http)
			if strings.Contains(text, line) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/metrics never showed %q; it has:\n%s", line, grepLines(text, "senim_pki_crl"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	failing("0")
	if text := scrapeMetrics(t, w.http); !strings.Contains(text, fmt.Sprintf("senim_pki_crl_entries{file=%q,issuer=\"Other CA\"} 1\n", path)) {
		t.Fatalf("/metrics lacks the file's list:\n%s", grepLines(text, "senim_pki_crl"))
	}

	if err := os.WriteFile(path, crl[:len(crl)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	failing("1")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "a CRL file could not be loaded") || !strings.Contains(logs.String(), path) {
		if time.Now().After(deadline) {
			t.Fatalf("the broken file was not logged:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if text := scrapeMetrics(t, w.http); !strings.Contains(text, fmt.Sprintf("senim_pki_crl_entries{file=%q,issuer=\"Other CA\"} 1\n", path)) {
		t.Fatalf("the last good list left service:\n%s", grepLines(text, "senim_pki_crl"))
	}

	if err := os.WriteFile(path, crl, 0o600); err != nil {
		t.Fatal(err)
	}
	failing("0")
}

func scrapeMetrics(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
