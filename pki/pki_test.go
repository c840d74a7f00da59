package pki_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

// fixture is one dev CA with the keys the tests need, made once: RSA key
// generation is the slow part.
type fixture struct {
	ca       *devca.CA
	ts       *pki.TrustStore
	person   devca.Pair // individual
	head     devca.Pair // legal entity, first head
	expired  *pki.Key   // signing key whose certificate has expired
	revoked  *pki.Key   // signing key revoked after the trust store was built
	foreign  *pki.Key   // signing key of another CA nobody trusts
	tmp      string
	foreignC *devca.CA
}

var fx *fixture

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "senim-pki-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(tmp)
		var err error
		fx, err = newFixture(tmp)
		if err != nil {
			panic(err)
		}
		return m.Run()
	}()
	os.Exit(code)
}

func newFixture(tmp string) (*fixture, error) {
	now := time.Now()
	f := &fixture{tmp: tmp}
	var err error
	if f.ca, err = devca.Open(filepath.Join(tmp, "ca"), now); err != nil {
		return nil, err
	}
	if f.person, err = f.ca.IssuePair(devca.Request{IIN: "871008401427", Surname: "Сейтқали", Name: "Әйгерім", Patronymic: "Нұрланқызы"}, now); err != nil {
		return nil, err
	}
	if f.head, err = f.ca.IssuePair(devca.Request{IIN: "760212350620", Surname: "Ivanov", Name: "Ivan",
		BIN: "940140000385", Organization: `ТОО "Сенім"`, Role: pki.RoleFirstHead}, now); err != nil {
		return nil, err
	}
	if f.expired, err = f.ca.Issue(devca.Request{IIN: "061211600012", Surname: "Old", Name: "Key",
		NotBefore: now.Add(-400 * 24 * time.Hour), Validity: 30 * 24 * time.Hour}, devca.UsageSign, now); err != nil {
		return nil, err
	}
	if f.revoked, err = f.ca.Issue(devca.Request{IIN: "791028302728", Surname: "Lost", Name: "Key"}, devca.UsageSign, now); err != nil {
		return nil, err
	}
	if f.ts, err = f.ca.TrustStore(); err != nil {
		return nil, err
	}
	// Revoke after the store has loaded its CRLs: the store must notice.
	if _, err = f.ca.Revoke(devca.Selector{Serial: pki.SerialHex(f.revoked.Certificate.SerialNumber)}, now); err != nil {
		return nil, err
	}
	if f.foreignC, err = devca.Open(filepath.Join(tmp, "foreign"), now); err != nil {
		return nil, err
	}
	if f.foreign, err = f.foreignC.Issue(devca.Request{IIN: "871008401427", Surname: "Evil", Name: "Twin"}, devca.UsageSign, now); err != nil {
		return nil, err
	}
	return f, nil
}

func mustSign(t testing.TB, k *pki.Key, data []byte, detached bool) []byte {
	t.Helper()
	der, err := k.Sign(data, pki.SignOptions{Detached: detached})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestSignVerifyAttachedAndDetached(t *testing.T) {
	doc := []byte("Доверенность №1: сенімхат")
	for _, detached := range []bool{false, true} {
		der := mustSign(t, fx.person.Sign, doc, detached)
		opts := pki.VerifyOptions{Purpose: pki.PurposeSign, Role: pki.RoleIndividual, Live: true}
		if detached {
			opts.Content = doc
		}
		v, err := fx.ts.Verify(der, opts)
		if err != nil {
			t.Fatalf("detached=%v: %v", detached, err)
		}
		if !bytes.Equal(v.Content, doc) {
			t.Errorf("content %q, want %q", v.Content, doc)
		}
		if v.IIN != "871008401427" || v.BIN != "" {
			t.Errorf("signer IIN/BIN = %q/%q", v.IIN, v.BIN)
		}
		if v.FullName() != "СЕЙТҚАЛИ ӘЙГЕРІМ НҰРЛАНҚЫЗЫ" {
			t.Errorf("full name %q", v.FullName())
		}
		if v.Fingerprint != pki.Fingerprint(fx.person.Sign.Certificate) || v.SigningTime.IsZero() {
			t.Errorf("fingerprint %s / signing time %v", v.Fingerprint, v.SigningTime)
		}
		if len(v.Chain) != 3 {
			t.Errorf("chain length %d, want leaf, intermediate, root", len(v.Chain))
		}
	}
}

func TestLegalEntitySigner(t *testing.T) {
	der := mustSign(t, fx.head.Auth, []byte("nonce"), false)
	v, err := fx.ts.Verify(der, pki.VerifyOptions{Purpose: pki.PurposeAuth, Role: pki.RoleFirstHead, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	if v.BIN != iin.BIN("940140000385") || v.Organization != `ТОО "Сенім"` {
		t.Errorf("BIN %q org %q", v.BIN, v.Organization)
	}
	want := []pki.Role{pki.RoleLegalEntity, pki.RoleFirstHead}
	if len(v.Roles) != 2 || v.Roles[0] != want[0] || v.Roles[1] != want[1] {
		t.Errorf("roles %v, want %v", v.Roles, want)
	}
}

func TestNUCSubjectProfile(t *testing.T) {
	c := fx.head.Sign.Certificate
	if c.Subject.SerialNumber != "IIN760212350620" {
		t.Errorf("serialNumber %q", c.Subject.SerialNumber)
	}
	if c.Subject.CommonName != "IVANOV IVAN" {
		t.Errorf("CN %q", c.Subject.CommonName)
	}
	if len(c.Subject.OrganizationalUnit) != 1 || c.Subject.OrganizationalUnit[0] != "BIN940140000385" {
		t.Errorf("OU %v", c.Subject.OrganizationalUnit)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Errorf("signing key usage %b", c.KeyUsage)
	}
	a := fx.person.Auth.Certificate
	if len(a.ExtKeyUsage) != 1 || a.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("auth EKU %v", a.ExtKeyUsage)
	}
	if a.PublicKeyAlgorithm != x509.RSA || a.PublicKey.(interface{ Size() int }).Size() != 256 {
		t.Errorf("want RSA-2048")
	}
	s, err := pki.SubjectOf(fx.person.Auth.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if s.Surname != "СЕЙТҚАЛИ" || s.GivenName != "НҰРЛАНҚЫЗЫ" || s.Country != "KZ" {
		t.Errorf("subject %+v", s)
	}
	if got, want := s.String(), "CN=СЕЙТҚАЛИ ӘЙГЕРІМ, SURNAME=СЕЙТҚАЛИ, SERIALNUMBER=IIN871008401427, C=KZ, G=НҰРЛАНҚЫЗЫ"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func truncate(b []byte) []byte { return b[:len(b)/2] }

func flipContentByte(t *testing.T, der, content []byte) []byte {
	t.Helper()
	i := bytes.Index(der, content)
	if i < 0 {
		t.Fatal("content not found in the CMS")
	}
	out := bytes.Clone(der)
	out[i] ^= 0x01
	return out
}

func TestRefusals(t *testing.T) {
	doc := []byte("the approved draft, revision 3")
	good := mustSign(t, fx.person.Sign, doc, false)
	cases := []struct {
		name string
		der  []byte
		opts pki.VerifyOptions
		want pki.Code
	}{
		{"tampered content", flipContentByte(t, good, doc), pki.VerifyOptions{}, pki.CodeBadSignature},
		{"other document (detached)", mustSign(t, fx.person.Sign, doc, true), pki.VerifyOptions{Content: []byte("another draft")}, pki.CodeBadSignature},
		{"other document (attached)", good, pki.VerifyOptions{Content: []byte("another draft")}, pki.CodeBadSignature},
		{"foreign chain", mustSign(t, fx.foreign, doc, false), pki.VerifyOptions{}, pki.CodeUntrustedChain},
		{"expired", mustSign(t, fx.expired, doc, false), pki.VerifyOptions{}, pki.CodeExpired},
		{"expired, live", mustSign(t, fx.expired, doc, false), pki.VerifyOptions{Live: true}, pki.CodeExpired},
		{"revoked", mustSign(t, fx.revoked, doc, false), pki.VerifyOptions{Live: true}, pki.CodeRevoked},
		{"truncated", truncate(good), pki.VerifyOptions{}, pki.CodeMalformed},
		{"empty", nil, pki.VerifyOptions{}, pki.CodeMalformed},
		{"not CMS", []byte{0x30, 0x03, 0x02, 0x01, 0x05}, pki.VerifyOptions{}, pki.CodeMalformed},
		{"detached without content", mustSign(t, fx.person.Sign, doc, true), pki.VerifyOptions{}, pki.CodeMalformed},
		{"auth key signs a document", mustSign(t, fx.person.Auth, doc, false), pki.VerifyOptions{Purpose: pki.PurposeSign}, pki.CodeWrongKeyUsage},
		{"signing key signs in", good, pki.VerifyOptions{Purpose: pki.PurposeAuth}, pki.CodeWrongKeyUsage},
		{"individual is no first head", good, pki.VerifyOptions{Role: pki.RoleFirstHead}, pki.CodeWrongRole},
		{"first head is no individual", mustSign(t, fx.head.Sign, doc, false), pki.VerifyOptions{Role: pki.RoleIndividual}, pki.CodeWrongRole},
		{"stale live signature", good, pki.VerifyOptions{Live: true, Now: time.Now().Add(time.Hour)}, pki.CodeBadSigningTime},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := fx.ts.Verify(c.der, c.opts)
			if got := pki.CodeOf(err); got != c.want {
				t.Fatalf("code %q (%v), want %q", got, err, c.want)
			}
		})
	}
}

func TestRevokedBeforeRevocationIsStillValidInAudit(t *testing.T) {
	// An audit judges at the signing time: a signature made before the key
	// was revoked stays valid, one judged live after revocation does not.
	now := time.Now()
	k, err := fx.ca.Issue(devca.Request{IIN: "871008401427", Surname: "Later", Name: "Revoked"}, devca.UsageSign, now)
	if err != nil {
		t.Fatal(err)
	}
	der := mustSign(t, k, []byte("signed in time"), false)
	if _, err := fx.ca.Revoke(devca.Selector{Serial: pki.SerialHex(k.Certificate.SerialNumber)}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.ts.Verify(der, pki.VerifyOptions{}); err != nil {
		t.Fatalf("audit at signing time: %v", err)
	}
	_, err = fx.ts.Verify(der, pki.VerifyOptions{Live: true, Now: now.Add(2 * time.Hour), MaxSkew: 3 * time.Hour})
	if pki.CodeOf(err) != pki.CodeRevoked {
		t.Fatalf("live after revocation: %v", err)
	}
}

// A CRL that names our intermediate as its issuer but is signed by another
// key must not revoke anybody.
func TestForgedCRLIsIgnored(t *testing.T) {
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fake := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: fx.ca.Intermediate().Subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCRLSign | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
	}
	fakeDER, err := x509.CreateCertificate(rand.Reader, fake, fake, &forger.PublicKey, forger)
	if err != nil {
		t.Fatal(err)
	}
	fakeCert, _ := x509.ParseCertificate(fakeDER)
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(99), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: fx.person.Sign.Certificate.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)}},
	}, fakeCert, forger)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "forged.crl")
	if err := os.WriteFile(path, crl, 0o600); err != nil {
		t.Fatal(err)
	}
	ts, err := fx.ca.TrustStore()
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.AddCRLFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Verify(mustSign(t, fx.person.Sign, []byte("x"), false), pki.VerifyOptions{Live: true}); err != nil {
		t.Fatalf("a forged CRL revoked a valid certificate: %v", err)
	}
}

func TestDecodeCMSForms(t *testing.T) {
	der := mustSign(t, fx.person.Sign, []byte("x"), false)
	b64 := base64.StdEncoding.EncodeToString(der)
	wrapped := ""
	for i := 0; i < len(b64); i += 64 {
		wrapped += b64[i:min(i+64, len(b64))] + "\r\n"
	}
	for name, in := range map[string][]byte{
		"der":     der,
		"base64":  []byte(b64),
		"wrapped": []byte(wrapped),
		"pem":     []byte("-----BEGIN CMS-----\n" + wrapped + "-----END CMS-----\n"),
	} {
		got, err := pki.DecodeCMS(in)
		if err != nil || !bytes.Equal(got, der) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A DER signature whose last byte is a whitespace byte stays whole.
	for i := 0; ; i++ {
		d := mustSign(t, fx.person.Sign, []byte(fmt.Sprint("doc ", i)), false)
		if last := d[len(d)-1]; last != '\n' && last != ' ' && last != '\t' && last != '\r' && last != '\v' && last != '\f' {
			continue
		}
		got, err := pki.DecodeCMS(d)
		if err != nil || !bytes.Equal(got, d) {
			t.Fatalf("DER ending in %#x was altered: %v", d[len(d)-1], err)
		}
		if _, err := fx.ts.Verify(got, pki.VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
		break
	}
	if _, err := pki.DecodeCMS([]byte("not base64 !!")); pki.CodeOf(err) != pki.CodeMalformed {
		t.Errorf("garbage: %v", err)
	}
}

func TestKeyStorePasswordRule(t *testing.T) {
	cases := map[string]bool{
		"abc123":                            true,
		"Qwerty@2026.kz":                    true,
		"a1#%&*~_-.A":                       true,
		"abcdefghijklmnopqrstuvwxyz012345":  true,  // 32
		"abcdefghijklmnopqrstuvwxyz0123456": false, // 33
		"ab12":                              false, // short
		"abcdef":                            false, // no digit
		"123456":                            false, // no letter
		"ABCDEF12":                          false, // capitals do not count as a-z
		"abc 123":                           false, // space
		"пароль123":                         false, // Cyrillic
		"abc123!":                           false, // ! not allowed
	}
	for pw, ok := range cases {
		err := pki.ValidateKeyStorePassword(pw)
		if (err == nil) != ok {
			t.Errorf("%q: err=%v, want ok=%v", pw, err, ok)
		}
		if err != nil && pki.CodeOf(err) != pki.CodeWeakPassword {
			t.Errorf("%q: code %q", pw, pki.CodeOf(err))
		}
	}
}

func TestPKCS12RoundTrip(t *testing.T) {
	der, err := pki.EncodePKCS12(fx.person.Sign, "senim2026")
	if err != nil {
		t.Fatal(err)
	}
	k, err := pki.DecodePKCS12(der, "senim2026")
	if err != nil {
		t.Fatal(err)
	}
	if !k.Certificate.Equal(fx.person.Sign.Certificate) || len(k.Chain) != 2 || !k.Chain[0].Equal(fx.ca.Intermediate()) {
		t.Fatalf("round trip lost the certificate or chain")
	}
	if _, err := fx.ts.Verify(mustSign(t, k, []byte("x"), false), pki.VerifyOptions{Purpose: pki.PurposeSign}); err != nil {
		t.Fatalf("key from PKCS#12 does not sign: %v", err)
	}
	if _, err := pki.DecodePKCS12(der, "wrong123"); pki.CodeOf(err) != pki.CodeWrongPassword {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := pki.EncodePKCS12(fx.person.Sign, "short"); pki.CodeOf(err) != pki.CodeWeakPassword {
		t.Errorf("weak password: %v", err)
	}
	if _, err := pki.DecodePKCS12([]byte("junk"), "senim2026"); pki.CodeOf(err) != pki.CodeBadKeyStore {
		t.Errorf("junk key store: %v", err)
	}
}
