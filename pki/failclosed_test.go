package pki_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/senim-kz/senim/pki"
)

// Signatures and revocation fail closed: weak algorithms, stale or missing
// CRLs and chains are judged here against small hierarchies made for each
// test. Keys are borrowed from the fixture (RSA generation is the slow part);
// a key is only a key, whichever certificate names it.

type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var serials = big.NewInt(1000)

func nextSerial() *big.Int {
	serials.Add(serials, big.NewInt(1))
	return new(big.Int).Set(serials)
}

// mkCA makes a CA certificate for key, signed by parent (self-signed when
// parent is nil) with alg (0 is SHA-256 with RSA).
func mkCA(t testing.TB, cn string, key crypto.Signer, parent *testCA, alg x509.SignatureAlgorithm) *testCA {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn, Country: []string{"KZ"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, IsCA: true, BasicConstraintsValid: true,
		SignatureAlgorithm: alg,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: c, key: key}
}

// mkSigner issues a NUC-profile signing certificate for the fixture
// person's signing key under ca, signed with alg (0 is SHA-256 with RSA).
func mkSigner(t testing.TB, ca *testCA, alg x509.SignatureAlgorithm, chain ...*x509.Certificate) *pki.Key {
	t.Helper()
	now := time.Now()
	k := fx.person.Sign
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: k.Certificate.Subject,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}, UnknownExtKeyUsage: k.Certificate.UnknownExtKeyUsage,
		SignatureAlgorithm: alg,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, k.PrivateKey.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &pki.Key{Certificate: c, Chain: chain, PrivateKey: k.PrivateKey}
}

// writeCRL writes a CRL of ca valid until nextUpdate, revoking serials.
func writeCRL(t testing.TB, ca *testCA, nextUpdate time.Time, serials ...*big.Int) string {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: nextSerial(), ThisUpdate: nextUpdate.Add(-48 * time.Hour), NextUpdate: nextUpdate, RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ca.crl")
	if err := os.WriteFile(p, der, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func storeOf(t testing.TB, roots, inter []*x509.Certificate, crls ...string) *pki.TrustStore {
	t.Helper()
	ts, err := pki.NewTrustStore(roots, inter)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range crls {
		if err := ts.AddCRLFile(p); err != nil {
			t.Fatal(err)
		}
	}
	return ts
}

func wantCode(t *testing.T, err error, want pki.Code) {
	t.Helper()
	if got := pki.CodeOf(err); got != want {
		t.Fatalf("code %q (%v), want %q", got, err, want)
	}
}

func TestWeakAlgorithmsAreRefused(t *testing.T) {
	doc := []byte("approved revision 1")
	t.Run("SHA-1 CMS digest made with pkcs7", func(t *testing.T) {
		k := fx.person.Sign
		sd, err := pkcs7.NewSignedData(doc)
		if err != nil {
			t.Fatal(err)
		}
		sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA1)
		if err := sd.AddSignerChain(k.Certificate, k.PrivateKey, k.Chain[:1], pkcs7.SignerInfoConfig{}); err != nil {
			t.Fatal(err)
		}
		der, err := sd.Finish()
		if err != nil {
			t.Fatal(err)
		}
		_, err = fx.ts.Verify(der, pki.VerifyOptions{Purpose: pki.PurposeSign, Live: true})
		wantCode(t, err, pki.CodeWeakAlgorithm)
	})

	root := mkCA(t, "Test Root", fx.head.Auth.PrivateKey, nil, 0)
	t.Run("SHA-1 signer certificate", func(t *testing.T) {
		k := mkSigner(t, root, x509.SHA1WithRSA)
		ts := storeOf(t, []*x509.Certificate{root.cert}, nil)
		_, err := ts.Verify(mustSign(t, k, doc, false), pki.VerifyOptions{Live: true})
		wantCode(t, err, pki.CodeWeakAlgorithm)
	})
	t.Run("SHA-1 intermediate", func(t *testing.T) {
		inter := mkCA(t, "Test SHA-1 CA", fx.head.Sign.PrivateKey, root, x509.SHA1WithRSA)
		k := mkSigner(t, inter, 0, inter.cert)
		ts := storeOf(t, []*x509.Certificate{root.cert}, nil)
		_, err := ts.Verify(mustSign(t, k, doc, false), pki.VerifyOptions{Live: true})
		wantCode(t, err, pki.CodeWeakAlgorithm)
	})
	t.Run("SHA-256 throughout is accepted", func(t *testing.T) {
		inter := mkCA(t, "Test CA", fx.head.Sign.PrivateKey, root, 0)
		k := mkSigner(t, inter, 0, inter.cert)
		ts := storeOf(t, []*x509.Certificate{root.cert}, nil)
		if _, err := ts.Verify(mustSign(t, k, doc, false), pki.VerifyOptions{Live: true}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCRLFreshness(t *testing.T) {
	doc := []byte("signed now")
	root := mkCA(t, "CRL Root", fx.head.Auth.PrivateKey, nil, 0)
	k := mkSigner(t, root, 0)
	der := mustSign(t, k, doc, false)
	roots := []*x509.Certificate{root.cert}
	live := pki.VerifyOptions{Live: true}

	t.Run("stale CRL", func(t *testing.T) {
		ts := storeOf(t, roots, nil, writeCRL(t, root, time.Now().Add(-time.Minute)))
		_, err := ts.Verify(der, live)
		wantCode(t, err, pki.CodeRevocationUnknown)
	})
	t.Run("current CRL", func(t *testing.T) {
		ts := storeOf(t, roots, nil, writeCRL(t, root, time.Now().Add(time.Hour)))
		ts.RequireCRL(true)
		if _, err := ts.Verify(der, live); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("judged at the time judged", func(t *testing.T) {
		// The CRL holds until a minute from now. An hour later a live
		// check (at the clock) is refused; an audit, judged at the signing
		// time, which that CRL covered, is not.
		ts := storeOf(t, roots, nil, writeCRL(t, root, time.Now().Add(time.Minute)))
		ts.RequireCRL(true)
		later := time.Now().Add(time.Hour)
		_, err := ts.Verify(der, pki.VerifyOptions{Live: true, Now: later, MaxSkew: 2 * time.Hour})
		wantCode(t, err, pki.CodeRevocationUnknown)
		if _, err := ts.Verify(der, pki.VerifyOptions{Now: later}); err != nil {
			t.Fatalf("audit at the signing time: %v", err)
		}
	})
	t.Run("a stale CRL still proves a revocation", func(t *testing.T) {
		ts := storeOf(t, roots, nil, writeCRL(t, root, time.Now().Add(-time.Minute), k.Certificate.SerialNumber))
		_, err := ts.Verify(der, live)
		wantCode(t, err, pki.CodeRevoked)
	})
	t.Run("no CRL, required", func(t *testing.T) {
		ts := storeOf(t, roots, nil)
		ts.RequireCRL(true)
		_, err := ts.Verify(der, live)
		wantCode(t, err, pki.CodeRevocationUnknown)
	})
	t.Run("no CRL, not required", func(t *testing.T) {
		ts := storeOf(t, roots, nil)
		if _, err := ts.Verify(der, live); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the dev CA publishes every CRL a chain needs", func(t *testing.T) {
		ts, err := fx.ca.TrustStore()
		if err != nil {
			t.Fatal(err)
		}
		ts.RequireCRL(true)
		if _, err := ts.Verify(mustSign(t, fx.person.Sign, doc, false), live); err != nil {
			t.Fatal(err)
		}
	})
}

// A cross-signed CA: the intermediate's key is certified by two roots, so
// x509 finds two chains. Revoking the intermediate under one root leaves
// the other chain good; the signature is judged by the good chain, whichever
// chain x509 happens to list first.
func TestEveryCandidateChainIsJudged(t *testing.T) {
	rootA := mkCA(t, "Root A", fx.head.Auth.PrivateKey, nil, 0)
	rootB := mkCA(t, "Root B", fx.person.Auth.PrivateKey, nil, 0)
	interA := mkCA(t, "Cross CA", fx.head.Sign.PrivateKey, rootA, 0)
	interB := mkCA(t, "Cross CA", fx.head.Sign.PrivateKey, rootB, 0)
	k := mkSigner(t, interA, 0)
	der := mustSign(t, k, []byte("cross-signed"), false)
	roots := []*x509.Certificate{rootA.cert, rootB.cert}
	inter := []*x509.Certificate{interA.cert, interB.cert}
	later := time.Now().Add(time.Hour)
	interCRL := writeCRL(t, interA, later)

	for _, revoked := range []*testCA{interA, interB} {
		crlA := writeCRL(t, rootA, later)
		crlB := writeCRL(t, rootB, later)
		if revoked == interA {
			crlA = writeCRL(t, rootA, later, interA.cert.SerialNumber)
		} else {
			crlB = writeCRL(t, rootB, later, interB.cert.SerialNumber)
		}
		ts := storeOf(t, roots, inter, crlA, crlB, interCRL)
		ts.RequireCRL(true)
		v, err := ts.Verify(der, pki.VerifyOptions{Live: true})
		if err != nil {
			t.Fatalf("revoked under %s only: %v", revoked.cert.Issuer.CommonName, err)
		}
		if v.Chain[1].Equal(revoked.cert) {
			t.Fatalf("accepted through the revoked chain")
		}
	}

	// Revoked under both roots: no good chain is left.
	ts := storeOf(t, roots, inter, writeCRL(t, rootA, later, interA.cert.SerialNumber),
		writeCRL(t, rootB, later, interB.cert.SerialNumber), interCRL)
	_, err := ts.Verify(der, pki.VerifyOptions{Live: true})
	wantCode(t, err, pki.CodeRevoked)
	// One chain revoked, the other of unknown status: the revocation is the
	// reason given.
	ts = storeOf(t, roots, inter, writeCRL(t, rootA, later, interA.cert.SerialNumber), interCRL)
	ts.RequireCRL(true)
	_, err = ts.Verify(der, pki.VerifyOptions{Live: true})
	wantCode(t, err, pki.CodeRevoked)
}

func TestRefreshReportsCRLChanges(t *testing.T) {
	root := mkCA(t, "Refresh Root", fx.head.Auth.PrivateKey, nil, 0)
	k := mkSigner(t, root, 0)
	path := writeCRL(t, root, time.Now().Add(time.Hour))
	ts := storeOf(t, []*x509.Certificate{root.cert}, nil, path)
	calls := 0
	ts.OnChange(func() { calls++ })
	if ts.Refresh() || calls != 0 {
		t.Fatalf("an unchanged CRL was reported as changed")
	}
	if err := ts.CheckCertificate(k.Certificate, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	revoked := writeCRL(t, root, time.Now().Add(time.Hour), k.Certificate.SerialNumber)
	data, err := os.ReadFile(revoked)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if !ts.Refresh() || calls != 1 {
		t.Fatalf("the new CRL was not noticed (calls %d)", calls)
	}
	wantCode(t, ts.CheckCertificate(k.Certificate, nil, time.Now()), pki.CodeRevoked)
}
