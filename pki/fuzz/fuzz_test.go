// Package fuzz holds the fuzz target of CMS verification. It lives apart
// from pki's tests because those generate RSA keys in TestMain, which under
// the fuzzer's coverage instrumentation takes each worker minutes. Here the
// trust store and the seeds are files made once with the senim CLI
// (testdata/README).
package fuzz

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/senim-kz/senim/pki"
)

func FuzzVerify(f *testing.F) {
	ts, err := pki.LoadTrustStore(pki.TrustFiles{
		Roots:         []string{filepath.Join("testdata", "root.pem")},
		Intermediates: []string{filepath.Join("testdata", "ca.pem")},
		CRLs:          []string{filepath.Join("testdata", "ca.crl")},
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"seed-attached.der", "seed-detached.der"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x30, 0x80, 0x06, 0x09})
	f.Add([]byte("MIIB"))
	f.Fuzz(func(t *testing.T, in []byte) {
		der, err := pki.DecodeCMS(in)
		if err != nil {
			if pki.CodeOf(err) != pki.CodeMalformed {
				t.Fatalf("decode refusal with code %q", pki.CodeOf(err))
			}
			return
		}
		v, err := ts.Verify(der, pki.VerifyOptions{Content: []byte("seed document")})
		if err == nil && (v.IIN == "" || string(v.Content) != "seed document") {
			t.Fatal("accepted a signature without a signer IIN or over other content")
		}
		if err != nil && pki.CodeOf(err) == "" {
			t.Fatalf("refusal without a code: %v", err)
		}
	})
}
