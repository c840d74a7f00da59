package pki_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/pki"
)

// These tests hold Senim to a CMS peer nobody here wrote: OpenSSL.

func writePEM(t *testing.T, dir, name, typ string, der ...[]byte) string {
	t.Helper()
	var out []byte
	for _, d := range der {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// opensslSign signs data with k using `openssl cms -sign` and returns DER.
func opensslSign(t *testing.T, openssl string, k *pki.Key, data []byte, detached bool, extra ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(k.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.der")
	args := []string{"cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER",
		"-in", in, "-out", out,
		"-signer", writePEM(t, dir, "cert.pem", "CERTIFICATE", k.Certificate.Raw),
		"-inkey", writePEM(t, dir, "key.pem", "PRIVATE KEY", keyDER),
		"-certfile", writePEM(t, dir, "chain.pem", "CERTIFICATE", k.Chain[0].Raw),
	}
	if !detached {
		args = append(args, "-nodetach")
	}
	args = append(args, extra...)
	if b, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl cms -sign: %v\n%s", err, b)
	}
	der, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestOpenSSLSignsSenimVerifies(t *testing.T) {
	openssl := testtool.RequireTool(t, "openssl", "openssl")
	doc := []byte("Доверенность, подписанная OpenSSL")
	for _, detached := range []bool{false, true} {
		der := opensslSign(t, openssl, fx.person.Sign, doc, detached)
		opts := pki.VerifyOptions{Purpose: pki.PurposeSign, Live: true}
		if detached {
			opts.Content = doc
		}
		v, err := fx.ts.Verify(der, opts)
		if err != nil {
			t.Fatalf("detached=%v: %v", detached, err)
		}
		if v.IIN != "871008401427" || string(v.Content) != string(doc) {
			t.Fatalf("signer %s content %q", v.IIN, v.Content)
		}
	}
}

func TestOpenSSLSignedRefusals(t *testing.T) {
	openssl := testtool.RequireTool(t, "openssl", "openssl")
	doc := []byte("approved revision 2")
	good := opensslSign(t, openssl, fx.person.Sign, doc, true)
	cases := []struct {
		name    string
		der     []byte
		content []byte
		want    pki.Code
	}{
		{"tampered content", good, []byte("approved revision 3"), pki.CodeBadSignature},
		{"foreign chain", opensslSign(t, openssl, fx.foreign, doc, true), doc, pki.CodeUntrustedChain},
		{"expired certificate", opensslSign(t, openssl, fx.expired, doc, true), doc, pki.CodeExpired},
		// Without signed attributes there is no signing time: the chain's
		// validity at the verifier's clock decides.
		{"expired certificate, no signed attributes", opensslSign(t, openssl, fx.expired, doc, true, "-noattr"), doc, pki.CodeExpired},
		{"revoked certificate", opensslSign(t, openssl, fx.revoked, doc, true), doc, pki.CodeRevoked},
		{"truncated CMS", good[:len(good)-40], doc, pki.CodeMalformed},
		// A later -md overrides opensslSign's sha256.
		{"SHA-1 digest", opensslSign(t, openssl, fx.person.Sign, doc, true, "-md", "sha1"), doc, pki.CodeWeakAlgorithm},
		{"MD5 digest", opensslSign(t, openssl, fx.person.Sign, doc, true, "-md", "md5"), doc, pki.CodeWeakAlgorithm},
		{"SHA-1 digest, no signed attributes", opensslSign(t, openssl, fx.person.Sign, doc, true, "-md", "sha1", "-noattr"), doc, pki.CodeWeakAlgorithm},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := fx.ts.Verify(c.der, pki.VerifyOptions{Content: c.content, Live: true})
			if got := pki.CodeOf(err); got != c.want {
				t.Fatalf("code %q (%v), want %q", got, err, c.want)
			}
		})
	}
}

func TestSenimSignsOpenSSLVerifies(t *testing.T) {
	openssl := testtool.RequireTool(t, "openssl", "openssl")
	dir := t.TempDir()
	doc := []byte("Сенімхат, подписанный Senim")
	anchor := writePEM(t, dir, "root.pem", "CERTIFICATE", fx.ca.Root().Raw)
	content := filepath.Join(dir, "doc")
	if err := os.WriteFile(content, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, detached := range []bool{false, true} {
		sig := filepath.Join(dir, "sig.der")
		if err := os.WriteFile(sig, mustSign(t, fx.person.Sign, doc, detached), 0o600); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out")
		args := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-CAfile", anchor, "-out", out}
		if detached {
			args = append(args, "-content", content)
		}
		b, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(b), "Verification successful") {
			t.Fatalf("detached=%v: openssl refused Senim's CMS: %v\n%s", detached, err, b)
		}
		got, _ := os.ReadFile(out)
		if string(got) != string(doc) {
			t.Fatalf("openssl extracted %q", got)
		}
	}
	// And openssl refuses it against content that was not signed.
	sig := filepath.Join(dir, "sig.der")
	if err := os.WriteFile(sig, mustSign(t, fx.person.Sign, doc, true), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("something else"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", sig,
		"-CAfile", anchor, "-content", other, "-out", filepath.Join(dir, "o2")).CombinedOutput(); err == nil {
		t.Fatalf("openssl accepted a signature over other content:\n%s", b)
	}
}
