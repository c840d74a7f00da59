package pki_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/senim-kz/senim/pki"
)

// What a CRL covers (RFC 5280 §5.2): delta CRLs, holds and their release,
// partitioned CRLs, and CRLs with extensions Senim does not process.

var (
	oidDelta = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIDP   = asn1.ObjectIdentifier{2, 5, 29, 28}
)

// crlSpec is one CRL of a test CA.
type crlSpec struct {
	number     int64
	nextUpdate time.Time
	exts       []pkix.Extension
	entries    []x509.RevocationListEntry
}

// writeCRLs writes the CRLs of ca into one file: one as DER, as CAs publish
// it, several as PEM.
func writeCRLs(t testing.TB, ca *testCA, specs ...crlSpec) string {
	t.Helper()
	var data []byte
	for _, s := range specs {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(s.number), ThisUpdate: s.nextUpdate.Add(-48 * time.Hour), NextUpdate: s.nextUpdate,
			ExtraExtensions: s.exts, RevokedCertificateEntries: s.entries,
		}, ca.cert, ca.key)
		if err != nil {
			t.Fatal(err)
		}
		if len(specs) == 1 {
			data = der
		} else {
			data = append(data, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})...)
		}
	}
	p := filepath.Join(t.TempDir(), "ca.crl")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func deltaOf(base int64) pkix.Extension {
	v, _ := asn1.Marshal(big.NewInt(base))
	return pkix.Extension{Id: oidDelta, Critical: true, Value: v}
}

// idp is an issuing distribution point: for uri ("" none), of users' or
// CAs' certificates only, indirect.
func idp(t *testing.T, uri string, onlyUsers, onlyCAs, indirect bool) pkix.Extension {
	t.Helper()
	type enc struct {
		DistributionPoint asn1.RawValue `asn1:"optional,tag:0"`
		OnlyUsers         bool          `asn1:"optional,tag:1"`
		OnlyCAs           bool          `asn1:"optional,tag:2"`
		Indirect          bool          `asn1:"optional,tag:4"`
	}
	var e enc
	if uri != "" {
		gn, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(uri)})
		if err != nil {
			t.Fatal(err)
		}
		full, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: gn})
		if err != nil {
			t.Fatal(err)
		}
		e.DistributionPoint = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: full}
	}
	e.OnlyUsers, e.OnlyCAs, e.Indirect = onlyUsers, onlyCAs, indirect
	v, err := asn1.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidIDP, Critical: true, Value: v}
}

func TestCRLScope(t *testing.T) {
	root := mkCA(t, "Scope Root", fx.head.Auth.PrivateKey, nil, 0)
	k := mkSigner(t, root, 0)
	der := mustSign(t, k, []byte("scope"), false)
	roots := []*x509.Certificate{root.cert}
	now := time.Now()
	stale, current := now.Add(-time.Minute), now.Add(time.Hour)
	revoked := func(reason int, at time.Time) x509.RevocationListEntry {
		return x509.RevocationListEntry{SerialNumber: k.Certificate.SerialNumber, RevocationTime: at, ReasonCode: reason}
	}
	judge := func(t *testing.T, want pki.Code, specs ...crlSpec) {
		t.Helper()
		ts := storeOf(t, roots, nil, writeCRLs(t, root, specs...))
		ts.RequireCRL(true)
		_, err := ts.Verify(der, pki.VerifyOptions{Live: true})
		if want == "" {
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			return
		}
		wantCode(t, err, want)
	}

	t.Run("a current delta does not vouch without its complete CRL", func(t *testing.T) {
		judge(t, pki.CodeRevocationUnknown, crlSpec{number: 10, nextUpdate: stale}, crlSpec{number: 21, nextUpdate: current, exts: []pkix.Extension{deltaOf(20)}})
	})
	t.Run("a delta alone does not vouch", func(t *testing.T) {
		judge(t, pki.CodeRevocationUnknown, crlSpec{number: 21, nextUpdate: current, exts: []pkix.Extension{deltaOf(20)}})
	})
	t.Run("a current delta beside its stale complete CRL vouches", func(t *testing.T) {
		judge(t, "", crlSpec{number: 20, nextUpdate: stale}, crlSpec{number: 21, nextUpdate: current, exts: []pkix.Extension{deltaOf(20)}})
	})
	t.Run("a delta's revocation holds without its complete CRL", func(t *testing.T) {
		judge(t, pki.CodeRevoked, crlSpec{number: 21, nextUpdate: stale, exts: []pkix.Extension{deltaOf(20)}, entries: []x509.RevocationListEntry{revoked(1, now.Add(-time.Hour))}})
	})
	t.Run("a hold is a revocation", func(t *testing.T) {
		judge(t, pki.CodeRevoked, crlSpec{number: 20, nextUpdate: current, entries: []x509.RevocationListEntry{revoked(6, now.Add(-time.Hour))}})
	})
	t.Run("a hold released by a delta", func(t *testing.T) {
		judge(t, "", crlSpec{number: 20, nextUpdate: current, entries: []x509.RevocationListEntry{revoked(6, now.Add(-time.Hour))}},
			crlSpec{number: 21, nextUpdate: current, exts: []pkix.Extension{deltaOf(20)}, entries: []x509.RevocationListEntry{revoked(8, now.Add(-time.Minute))}})
	})
	t.Run("a release by a delta without its complete CRL is not taken", func(t *testing.T) {
		judge(t, pki.CodeRevoked, crlSpec{number: 10, nextUpdate: current, entries: []x509.RevocationListEntry{revoked(6, now.Add(-time.Hour))}},
			crlSpec{number: 21, nextUpdate: current, exts: []pkix.Extension{deltaOf(20)}, entries: []x509.RevocationListEntry{revoked(8, now.Add(-time.Minute))}})
	})
	t.Run("a release does not lift a revocation", func(t *testing.T) {
		judge(t, pki.CodeRevoked, crlSpec{number: 20, nextUpdate: current, entries: []x509.RevocationListEntry{revoked(1, now.Add(-time.Hour))}},
			crlSpec{number: 21, nextUpdate: current, exts: []pkix.Extension{deltaOf(20)}, entries: []x509.RevocationListEntry{revoked(8, now.Add(-time.Minute))}})
	})
	t.Run("a CRL of CA certificates only does not vouch for a person", func(t *testing.T) {
		judge(t, pki.CodeRevocationUnknown, crlSpec{number: 20, nextUpdate: current, exts: []pkix.Extension{idp(t, "", false, true, false)}})
	})
	t.Run("a CRL of users' certificates only vouches for a person", func(t *testing.T) {
		judge(t, "", crlSpec{number: 20, nextUpdate: current, exts: []pkix.Extension{idp(t, "", true, false, false)}})
	})
	t.Run("a CRL with a distribution point vouches for a certificate that names none", func(t *testing.T) {
		judge(t, "", crlSpec{number: 20, nextUpdate: current, exts: []pkix.Extension{idp(t, "http://crl.test/part2.crl", false, false, false)}})
	})
	t.Run("an indirect CRL is not used", func(t *testing.T) {
		judge(t, pki.CodeRevocationUnknown, crlSpec{number: 20, nextUpdate: current, exts: []pkix.Extension{idp(t, "", false, false, true)}})
	})
	t.Run("a CRL with an unknown critical extension is not used", func(t *testing.T) {
		odd := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}
		judge(t, pki.CodeRevocationUnknown, crlSpec{number: 20, nextUpdate: current, exts: []pkix.Extension{odd}})
		ts := storeOf(t, roots, nil, writeCRLs(t, root, crlSpec{number: 20, nextUpdate: current, exts: []pkix.Extension{odd}}, crlSpec{number: 21, nextUpdate: current, exts: []pkix.Extension{deltaOf(20)}}))
		files := ts.CRLFiles()
		if len(files) != 1 || len(files[0].Lists) != 2 || files[0].Lists[0].Ignored == "" || files[0].Lists[1].Ignored != "" || !files[0].Lists[1].Delta {
			t.Fatalf("reported as %+v", files)
		}
	})
	t.Run("an unknown non-critical extension is no matter", func(t *testing.T) {
		judge(t, "", crlSpec{number: 20, nextUpdate: current, exts: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}}}})
	})
}

// A certificate that names its CRL distribution point is vouched for only by
// a partition of that point.
func TestCRLPartitionsByDistributionPoint(t *testing.T) {
	root := mkCA(t, "Partition Root", fx.head.Auth.PrivateKey, nil, 0)
	k := mkSigner(t, root, 0)
	tmpl := *k.Certificate
	tmpl.CRLDistributionPoints = []string{"http://crl.test/part1.crl"}
	tmpl.SerialNumber = nextSerial()
	certDER, err := x509.CreateCertificate(rand.Reader, &tmpl, root.cert, k.PrivateKey.Public(), root.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		t.Fatal(err)
	}
	current := time.Now().Add(time.Hour)
	for _, c := range []struct {
		point string
		want  pki.Code
	}{{"http://crl.test/part2.crl", pki.CodeRevocationUnknown}, {"http://crl.test/part1.crl", ""}} {
		ts := storeOf(t, []*x509.Certificate{root.cert}, nil, writeCRLs(t, root, crlSpec{number: 20, nextUpdate: current, exts: []pkix.Extension{idp(t, c.point, false, false, false)}}))
		ts.RequireCRL(true)
		err := ts.CheckCertificate(cert, nil, time.Now())
		if c.want == "" && err != nil {
			t.Fatalf("the certificate's own partition: %v", err)
		}
		if c.want != "" {
			wantCode(t, err, c.want)
		}
	}
}

// A PEM file of several CRLs cut inside a later block does not load as the
// lists before the cut.
func TestCRLFileCutInsideABlockIsRefused(t *testing.T) {
	root := mkCA(t, "Cut Root", fx.head.Auth.PrivateKey, nil, 0)
	next := time.Now().Add(time.Hour)
	data, err := os.ReadFile(writeCRLs(t, root, crlSpec{number: 1, nextUpdate: next}, crlSpec{number: 2, nextUpdate: next}))
	if err != nil {
		t.Fatal(err)
	}
	if lists, err := pki.ParseCRLs(data); err != nil || len(lists) != 2 {
		t.Fatalf("the whole file: %d lists, %v", len(lists), err)
	}
	if lists, err := pki.ParseCRLs(data[:len(data)*3/4]); err == nil {
		t.Fatalf("a file cut inside its second block loaded %d list(s)", len(lists))
	}
}
