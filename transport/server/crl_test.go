package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
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
	// Beside it in the file, a CRL with a critical extension Senim does not
	// process: not used, and said so.
	odd, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(2), ThisUpdate: now.Add(-time.Minute),
		NextUpdate: now.Add(time.Hour), ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}}}, ca, key)
	if err != nil {
		t.Fatal(err)
	}
	crl = append(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: odd})...)
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
	text := scrapeMetrics(t, w.http)
	for _, line := range []string{fmt.Sprintf("senim_pki_crl_entries{file=%q,issuer=\"Other CA\"} 1\n", path), fmt.Sprintf("senim_pki_crl_ignored_lists{file=%q} 1\n", path)} {
		if !strings.Contains(text, line) {
			t.Fatalf("/metrics lacks %q:\n%s", line, grepLines(text, "senim_pki_crl"))
		}
	}
	logged := func(msg string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(logs.String(), msg) || !strings.Contains(logs.String(), path) {
			if time.Now().After(deadline) {
				t.Fatalf("%q was not logged:\n%s", msg, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	logged("a CRL is not used")

	// Cut inside the second block: not the first list alone, but a failure.
	if err := os.WriteFile(path, crl[:len(crl)*3/4], 0o600); err != nil {
		t.Fatal(err)
	}
	failing("1")
	logged("a CRL file could not be loaded")
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
