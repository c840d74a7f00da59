package keys_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/senim-kz/senim/ca"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/client/keys"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/pki/ncalayer"
)

const (
	personIIN = "871008401427"
	orgBIN    = "940140000385"
	password  = "kilt~Sary.7"
)

// world is a development CA with its stand-in port, as the server runs them.
type world struct {
	authority *devca.CA
	dev       *ca.Dev
	trust     *pki.TrustStore
}

func newWorld(t *testing.T) world {
	t.Helper()
	dir := t.TempDir()
	authority, err := devca.Open(filepath.Join(dir, "devca"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dev, err := ca.NewDev(authority, filepath.Join(dir, "devca", "requests"), ca.DevOptions{})
	if err != nil {
		t.Fatal(err)
	}
	trust, err := authority.TrustStore()
	if err != nil {
		t.Fatal(err)
	}
	return world{authority: authority, dev: dev, trust: trust}
}

func appID(n byte) string { return hex.EncodeToString(append(make([]byte, 15), n)) }

// subject is what the server builds for the verified person.
func subject(bin string) issuance.Subject {
	s := issuance.Subject{SerialNumber: "IIN" + personIIN, CommonName: "ЖАКСЫБЕКОВА АЙГЕРИМ", Surname: "ЖАКСЫБЕКОВА", GivenName: "НУРЛАНОВНА"}
	if bin != "" {
		s.OrgUnit = "BIN" + bin
	}
	return s
}

// issue runs the CA's side of an application for the pending keys: parse
// the requests as the server does, submit, fetch.
func (w world) issue(t *testing.T, id string, p *keys.Pending, h keys.Holder, tmpl issuance.Template) ([]issuance.Certificate, error) {
	t.Helper()
	ctx := context.Background()
	reqs, err := p.Requests(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		facts, _, err := ca.ParseCSR(r.DER, r.Purpose)
		if err != nil {
			t.Fatalf("%s: %v", r.Purpose, err)
		}
		if facts.KeyBits != 2048 || facts.Algorithm != "RSA" || facts.SubjectIIN != h.IIN || facts.SubjectBIN != h.BIN {
			t.Fatalf("%s request facts %+v", r.Purpose, facts)
		}
	}
	ref, err := w.dev.Submit(ctx, ca.Request{
		ApplicationID: id, Template: tmpl, Subject: subject(h.BIN), RemoteIdentified: true, Keys: reqs,
	})
	if err != nil {
		return nil, err
	}
	return w.dev.Fetch(ctx, ref)
}

func TestIssuedKeysSignInAndSign(t *testing.T) {
	w := newWorld(t)
	for _, c := range []struct {
		name   string
		holder keys.Holder
		tmpl   issuance.Template
		roles  []pki.Role
	}{
		{"individual", keys.Holder{IIN: personIIN}, "", []pki.Role{pki.RoleIndividual, pki.RoleDigitalID}},
		{"hr", keys.Holder{IIN: personIIN, BIN: orgBIN}, issuance.TemplateHR, []pki.Role{pki.RoleLegalEntity, pki.RoleHR, pki.RoleDigitalID}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pending, err := keys.Generate()
			if err != nil {
				t.Fatal(err)
			}
			certs, err := w.issue(t, appID(byte(len(c.roles))), pending, c.holder, c.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			stored, err := pending.Store(dir, password, certs, []*x509.Certificate{w.authority.Intermediate(), w.authority.Root()})
			if err != nil {
				t.Fatal(err)
			}
			auth, err := pki.LoadPKCS12(stored.Auth, password)
			if err != nil {
				t.Fatal(err)
			}
			sign, err := pki.LoadPKCS12(stored.Sign, password)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(stored.Auth) != "AUTH_RSA256_"+pki.SerialHex(auth.Certificate.SerialNumber)+".p12" ||
				filepath.Base(stored.Sign) != "RSA256_"+pki.SerialHex(sign.Certificate.SerialNumber)+".p12" {
				t.Fatalf("key stores named %s, %s", stored.Auth, stored.Sign)
			}
			if !pending.Auth.Equal(auth.PrivateKey) || !pending.Sign.Equal(sign.PrivateKey) || len(auth.Chain) != 2 {
				t.Fatal("the key stores do not hold the applicant's own keys and the chain")
			}
			for _, k := range []*pki.Key{auth, sign} {
				if roles := pki.RolesOf(k.Certificate); !slices.Equal(roles, c.roles) {
					t.Fatalf("roles %v, want %v", roles, c.roles)
				}
				if !slices.ContainsFunc(k.Certificate.UnknownExtKeyUsage, func(o asn1.ObjectIdentifier) bool { return o.String() == "1.2.398.3.3.4.3.2.1" }) {
					t.Fatal("no remote-identification OID")
				}
			}

			// Sign in as `senim client` does: the AUTH key, chosen by its
			// clientAuth usage, signs the challenge; the server verifies it
			// as a live sign-in.
			signer := client.KeySigner{sign, auth}
			challenge := make([]byte, 32)
			_, _ = rand.Read(challenge)
			cms, err := signer.SignCMS(context.Background(), challenge, ncalayer.SignerParams{ExtKeyUsageOIDs: []string{pki.EKUClientAuth}}, true)
			if err != nil {
				t.Fatal(err)
			}
			v, err := w.trust.Verify(cms, pki.VerifyOptions{Purpose: pki.PurposeAuth, Content: challenge, Live: true})
			if err != nil {
				t.Fatalf("sign-in with the new AUTH key: %v", err)
			}
			if v.IIN != personIIN || v.FullName() != "ЖАКСЫБЕКОВА АЙГЕРИМ НУРЛАНОВНА" || string(v.BIN) != c.holder.BIN {
				t.Fatalf("signed in as %+v", v.Subject)
			}
			// The SIGN key makes a CMS that pki verifies as a document
			// signature (with the template's role); the AUTH key does not.
			doc := []byte("Нотариальное действие: согласие")
			cms, err = sign.Sign(doc, pki.SignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.trust.Verify(cms, pki.VerifyOptions{Purpose: pki.PurposeSign, Role: c.roles[len(c.roles)-2], Content: doc, Live: true}); err != nil {
				t.Fatalf("a document signed with the new SIGN key: %v", err)
			}
			cms, _ = auth.Sign(doc, pki.SignOptions{})
			if _, err := w.trust.Verify(cms, pki.VerifyOptions{Purpose: pki.PurposeSign, Content: doc, Live: true}); pki.CodeOf(err) != pki.CodeWrongKeyUsage {
				t.Fatalf("a document signed with the AUTH key: %v", err)
			}
			if _, err := pki.LoadPKCS12(stored.Sign, "kilt~Sary.8"); pki.CodeOf(err) != pki.CodeWrongPassword {
				t.Fatalf("a wrong password: %v", err)
			}
		})
	}
}

func TestA1024BitKeyIsRefused(t *testing.T) {
	w := newWorld(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, err := keys.Request(weak, issuance.KeyAUTH, keys.Holder{IIN: personIIN})
	if err != nil {
		t.Fatal(err)
	}
	facts, _, err := ca.ParseCSR(der, issuance.KeyAUTH)
	if err != nil || facts.KeyBits != 1024 {
		t.Fatalf("facts %+v %v", facts, err)
	}
	_, err = w.dev.Submit(context.Background(), ca.Request{
		ApplicationID: appID(1), Subject: subject(""), Keys: []ca.KeyRequest{{Purpose: issuance.KeyAUTH, DER: der}},
	})
	if !errors.Is(err, ca.ErrWeakKey) {
		t.Fatalf("a 1024-bit key: %v", err)
	}
}

func TestAReusedKeyIsRefused(t *testing.T) {
	w := newWorld(t)
	pending, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	h := keys.Holder{IIN: personIIN}
	if _, err := w.issue(t, appID(1), pending, h, ""); err != nil {
		t.Fatal(err)
	}
	fp, _ := pki.PublicKeyFingerprint(&pending.Sign.PublicKey)
	if seen, err := w.dev.KeySeen(context.Background(), fp); err != nil || !seen {
		t.Fatalf("the register does not know the certified key: %v %v", seen, err)
	}
	fresh, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	fresh.Sign = pending.Sign
	var refused *ca.Refused
	if _, err := w.issue(t, appID(2), fresh, h, ""); !errors.As(err, &refused) || refused.Code != issuance.CodeKeyReused {
		t.Fatalf("a second application with a certified key: %v", err)
	}
}

func TestABadPasswordWritesNothing(t *testing.T) {
	w := newWorld(t)
	pending, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	certs, err := w.issue(t, appID(1), pending, keys.Holder{IIN: personIIN}, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, bad := range []string{"abc12", "ABCDEF12", "abcdefgh", "пароль123", "abc 123", "a1" + string(make([]byte, 31))} {
		if _, err := pending.Store(dir, bad, certs, nil); pki.CodeOf(err) != pki.CodeWeakPassword {
			t.Errorf("password %q: %v", bad, err)
		}
		if err := pending.SavePending(dir, bad, time.Now()); pki.CodeOf(err) != pki.CodeWeakPassword {
			t.Errorf("pending, password %q: %v", bad, err)
		}
	}
	// Certificates for other keys are not stored with these.
	other, _ := keys.Generate()
	if _, err := other.Store(dir, password, certs, nil); !errors.Is(err, keys.ErrNotOurs) {
		t.Errorf("certificates of other keys: %v", err)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Fatalf("refused stores left %d files", len(files))
	}
	// A stored key is never overwritten.
	if _, err := pending.Store(dir, password, certs, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pending.Store(dir, password, certs, nil); err == nil {
		t.Fatal("Store overwrote the key stores")
	}
}

func TestPendingKeysWaitUnderPassword(t *testing.T) {
	pending, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := pending.SavePending(dir, password, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadPending(dir, "kilt~Sary.8"); pki.CodeOf(err) != pki.CodeWrongPassword {
		t.Fatalf("a wrong password: %v", err)
	}
	back, err := keys.LoadPending(dir, password)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Auth.Equal(pending.Auth) || !back.Sign.Equal(pending.Sign) {
		t.Fatal("the pending keys came back different")
	}
	if err := pending.SavePending(dir, password, time.Now()); err == nil {
		t.Fatal("SavePending overwrote pending keys")
	}
}
