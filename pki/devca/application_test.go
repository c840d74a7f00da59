package devca_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

func rsaKey(t *testing.T, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var person = issuance.Subject{SerialNumber: "IIN871008401427", CommonName: "ИВАНОВ ИВАН", Surname: "ИВАНОВ", GivenName: "ИВАНОВИЧ"}

func TestRequestForMapsEveryTemplateToItsRole(t *testing.T) {
	employee := person
	employee.OrgUnit = "BIN940140000385"
	cases := map[issuance.Template]pki.Role{
		issuance.TemplateFirstHead:      pki.RoleFirstHead,
		issuance.TemplateSigningRights:  pki.RoleSigningRights,
		issuance.TemplateFinancial:      pki.RoleFinancial,
		issuance.TemplateHR:             pki.RoleHR,
		issuance.TemplateEmployee:       pki.RoleEmployee,
		issuance.TemplateTreasuryClient: pki.RoleTreasuryClient,
	}
	for tmpl, role := range cases {
		r, err := devca.RequestFor(employee, tmpl, "ТОО Ромашка", "a@b.kz", true)
		if err != nil {
			t.Fatalf("%s: %v", tmpl, err)
		}
		if r.Role != role || r.BIN != "940140000385" || r.Organization != "ТОО Ромашка" || !r.DigitalID {
			t.Errorf("%s: request %+v, want role %s", tmpl, r, role)
		}
	}
	r, err := devca.RequestFor(person, "", "", "", false)
	if err != nil || r.Role != pki.RoleIndividual || r.Surname != "ИВАНОВ" || r.Name != "ИВАН" || r.Patronymic != "ИВАНОВИЧ" || r.DigitalID {
		t.Fatalf("individual: %+v %v", r, err)
	}
	if got := pki.RoleTreasuryClient.OID().String(); got != "1.2.398.5.19.1.2.2.1" {
		t.Fatalf("treasury-client OID %s", got)
	}
}

func TestRequestForRefusesSubjectsTheServerDoesNotBuild(t *testing.T) {
	with := func(f func(*issuance.Subject)) issuance.Subject { s := person; f(&s); return s }
	bad := map[string]struct {
		s    issuance.Subject
		tmpl issuance.Template
	}{
		"no IIN prefix":        {with(func(s *issuance.Subject) { s.SerialNumber = "871008401427" }), ""},
		"bad IIN":              {with(func(s *issuance.Subject) { s.SerialNumber = "IIN940140000380" }), ""},
		"name not after surn.": {with(func(s *issuance.Subject) { s.CommonName = "ИВАН ИВАНОВ" }), ""},
		"surname only":         {with(func(s *issuance.Subject) { s.CommonName = "ИВАНОВ" }), ""},
		"template without BIN": {person, issuance.TemplateHR},
		"BIN without template": {with(func(s *issuance.Subject) { s.OrgUnit = "BIN940140000385" }), ""},
		"bad BIN":              {with(func(s *issuance.Subject) { s.OrgUnit = "BIN940140000381" }), issuance.TemplateHR},
		"unknown template":     {with(func(s *issuance.Subject) { s.OrgUnit = "BIN940140000385" }), "boss"},
	}
	for name, c := range bad {
		if r, err := devca.RequestFor(c.s, c.tmpl, "O", "", false); err == nil {
			t.Errorf("%s: accepted as %+v", name, r)
		}
	}
}

func TestIssueForCertifiesTheGivenKey(t *testing.T) {
	now := time.Now()
	ca, err := devca.Open(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	employee := person
	employee.OrgUnit = "BIN940140000385"
	r, err := devca.RequestFor(employee, issuance.TemplateFinancial, "", "", true)
	if err != nil {
		t.Fatal(err)
	}
	auth, sign := rsaKey(t, 2048), rsaKey(t, 2048)
	issued, err := ca.IssueKeys(r, []devca.KeyFor{{Usage: devca.UsageAuth, Public: &auth.PublicKey}, {Usage: devca.UsageSign, Public: &sign.PublicKey}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !auth.PublicKey.Equal(issued[0].Certificate.PublicKey) || !sign.PublicKey.Equal(issued[1].Certificate.PublicKey) {
		t.Fatal("the certificates are not for the given keys")
	}
	want := []pki.Role{pki.RoleLegalEntity, pki.RoleFinancial, pki.RoleDigitalID}
	if got := pki.RolesOf(issued[1].Certificate); !slices.Equal(got, want) {
		t.Fatalf("roles %v, want %v", got, want)
	}
	sub, err := pki.SubjectOf(issued[0].Certificate)
	if err != nil || sub.IIN != "871008401427" || sub.BIN != "940140000385" || sub.GivenName != "ИВАНОВИЧ" || sub.CommonName != "ИВАНОВ ИВАН" {
		t.Fatalf("subject %+v %v", sub, err)
	}
	if name := pki.KeyStoreFileName(issued[0].Certificate); name != "AUTH_RSA256_"+pki.SerialHex(issued[0].Certificate.SerialNumber)+".p12" {
		t.Fatalf("AUTH file name %s", name)
	}
	// The given keys sign, and the trust store takes them for their purposes.
	ts, err := ca.TrustStore()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []pki.Purpose{pki.PurposeAuth, pki.PurposeSign} {
		k := &pki.Key{Certificate: issued[i].Certificate, Chain: issued[i].Chain, PrivateKey: []*rsa.PrivateKey{auth, sign}[i]}
		cms, err := k.Sign([]byte("challenge"), pki.SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.Verify(cms, pki.VerifyOptions{Purpose: p, Role: pki.RoleFinancial, Live: true}); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}

	// The index is the register of certified keys, on disk.
	again, err := devca.Open(ca.Dir(), now)
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := pki.PublicKeyFingerprint(&sign.PublicKey)
	if seen, err := again.KeySeen(fp); err != nil || !seen {
		t.Fatalf("KeySeen after reopening: %v %v", seen, err)
	}
	if _, err := again.IssueFor(r, devca.UsageSign, &sign.PublicKey, now); !errors.Is(err, devca.ErrKeyCertified) {
		t.Fatalf("a key certified before: %v", err)
	}

	// Revocation works for certificates of given keys.
	if _, err := ca.Revoke(devca.Selector{Serial: pki.SerialHex(issued[0].Certificate.SerialNumber)}, now); err != nil {
		t.Fatal(err)
	}
	ts.Refresh()
	if err := ts.CheckCertificate(issued[0].Certificate, nil, now); pki.CodeOf(err) != pki.CodeRevoked {
		t.Fatalf("revoked certificate: %v", err)
	}
}

func TestIssueKeysIsAllOrNothing(t *testing.T) {
	now := time.Now()
	ca, err := devca.Open(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	r, err := devca.RequestFor(person, "", "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	used, fresh := rsaKey(t, 2048), rsaKey(t, 2048)
	if _, err := ca.IssueFor(r, devca.UsageSign, &used.PublicKey, now); err != nil {
		t.Fatal(err)
	}
	_, err = ca.IssueKeys(r, []devca.KeyFor{{Usage: devca.UsageAuth, Public: &fresh.PublicKey}, {Usage: devca.UsageSign, Public: &used.PublicKey}}, now)
	if !errors.Is(err, devca.ErrKeyCertified) {
		t.Fatalf("a pair with a reused key: %v", err)
	}
	fp, _ := pki.PublicKeyFingerprint(&fresh.PublicKey)
	if seen, _ := ca.KeySeen(fp); seen {
		t.Fatal("the fresh key of a refused pair was certified")
	}
	if _, err := ca.IssueKeys(r, []devca.KeyFor{{Usage: devca.UsageAuth, Public: &fresh.PublicKey}, {Usage: devca.UsageSign, Public: &fresh.PublicKey}}, now); !errors.Is(err, devca.ErrKeyCertified) {
		t.Fatalf("one key for both usages: %v", err)
	}
	if _, err := ca.IssueFor(r, devca.UsageAuth, &rsaKey(t, 1024).PublicKey, now); !errors.Is(err, devca.ErrWeakKey) {
		t.Fatalf("a 1024-bit key: %v", err)
	}
	entries, _ := ca.Entries()
	if len(entries) != 1 {
		t.Fatalf("%d index entries, want only the first certificate", len(entries))
	}
}
