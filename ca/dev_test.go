package ca

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/outside"
	"github.com/senim-kz/senim/internal/outside/outsidetest"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

const (
	personIIN = "871008401427"
	orgBIN    = "940140000385"
)

var individual = issuance.Subject{SerialNumber: "IIN" + personIIN, CommonName: "ИВАНОВ ИВАН", Surname: "ИВАНОВ", GivenName: "ИВАНОВИЧ"}

// keyPool hands out RSA keys made once per test binary: each Dev has its
// own dev CA, so the two adapters may share keys.
var keyPool struct {
	sync.Mutex
	keys map[string]*rsa.PrivateKey
}

func key(t *testing.T, name string, bits int) *rsa.PrivateKey {
	t.Helper()
	keyPool.Lock()
	defer keyPool.Unlock()
	if k, ok := keyPool.keys[name]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	if keyPool.keys == nil {
		keyPool.keys = map[string]*rsa.PrivateKey{}
	}
	keyPool.keys[name] = k
	return k
}

// csr makes a PKCS#10 request for k with the given subject and requested
// extensions.
func csr(t *testing.T, k *rsa.PrivateKey, subject pkix.Name, exts ...pkix.Extension) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, ExtraExtensions: exts}, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func appID(n byte) string { return hex.EncodeToString(append(make([]byte, 15), n)) }

func request(t *testing.T, id string, auth, sign *rsa.PrivateKey) Request {
	return Request{
		ApplicationID: id, Subject: individual, RemoteIdentified: true, Email: "ivanov@example.kz",
		Keys: []KeyRequest{
			{Purpose: issuance.KeyAUTH, DER: csr(t, auth, pkix.Name{SerialNumber: "IIN" + personIIN})},
			{Purpose: issuance.KeySIGN, DER: csr(t, sign, pkix.Name{SerialNumber: "IIN" + personIIN})},
		},
	}
}

// clock is a clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Now()} }
func fp(t *testing.T, k *rsa.PrivateKey) string {
	t.Helper()
	f, err := pki.PublicKeyFingerprint(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type port interface {
	CA
	KeyRegister
}

func openDev(t *testing.T, dir string, c *clock, delay time.Duration) *Dev {
	t.Helper()
	authority, err := devca.Open(filepath.Join(dir, "devca"), c.Now())
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDev(authority, filepath.Join(dir, "requests"), DevOptions{Delay: delay, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func ports(t *testing.T, c *clock, delay time.Duration) map[string]outsidetest.Adapter[port, *Dev] {
	return outsidetest.Both(t, openDev(t, t.TempDir(), c, delay), openDev(t, t.TempDir(), c, delay),
		func(cl outside.Client) port { return &HTTP{Client: cl} })
}

func TestSubmitIsIdempotentAndCertificatesComeAfterTheDelay(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	for name, a := range ports(t, c, 10*time.Minute) {
		t.Run(name, func(t *testing.T) {
			auth, sign := key(t, "auth1", 2048), key(t, "sign1", 2048)
			r := request(t, appID(1), auth, sign)
			ref, err := a.Port.Submit(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := a.Port.Submit(ctx, r); err != nil || again != ref {
				t.Fatalf("second Submit: %q %v, want %q", again, err, ref)
			}
			if _, err := a.Port.Fetch(ctx, ref); !errors.Is(err, ErrPending) {
				t.Fatalf("Fetch before the delay: %v", err)
			}
			if seen, err := a.Port.KeySeen(ctx, fp(t, auth)); err != nil || seen {
				t.Fatalf("KeySeen before signing: %v %v", seen, err)
			}
			c.Add(10 * time.Minute)
			certs, err := a.Port.Fetch(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != 2 || certs[0].Purpose != issuance.KeyAUTH || certs[1].Purpose != issuance.KeySIGN {
				t.Fatalf("certificates %+v", certs)
			}
			for i, k := range []*rsa.PrivateKey{auth, sign} {
				facts, _, err := ParseCSR(r.Keys[i].DER, r.Keys[i].Purpose)
				if err != nil {
					t.Fatal(err)
				}
				if certs[i].Fingerprint != facts.Fingerprint {
					t.Errorf("%s: certificate fingerprint %s, the request's %s", certs[i].Purpose, certs[i].Fingerprint, facts.Fingerprint)
				}
				cert, err := x509.ParseCertificate(certs[i].DER)
				if err != nil {
					t.Fatal(err)
				}
				if !k.PublicKey.Equal(cert.PublicKey) || pki.SerialHex(cert.SerialNumber) != certs[i].Serial {
					t.Errorf("%s: the certificate is not for the request's key", certs[i].Purpose)
				}
				if roles := pki.RolesOf(cert); !slices.Equal(roles, []pki.Role{pki.RoleIndividual, pki.RoleDigitalID}) {
					t.Errorf("%s: roles %v", certs[i].Purpose, roles)
				}
				sub, err := pki.SubjectOf(cert)
				if err != nil || sub.IIN != personIIN || sub.CommonName != "ИВАНОВ ИВАН" || sub.Email != "ivanov@example.kz" {
					t.Errorf("%s: subject %+v %v", certs[i].Purpose, sub, err)
				}
			}
			again, err := a.Port.Fetch(ctx, ref)
			if err != nil || len(again) != 2 || again[0].Serial != certs[0].Serial {
				t.Fatalf("a second Fetch answered other certificates: %v", err)
			}
			if seen, err := a.Port.KeySeen(ctx, fp(t, sign)); err != nil || !seen {
				t.Fatalf("KeySeen after signing: %v %v", seen, err)
			}
			entries, _ := a.Dev.authority.Entries()
			if len(entries) != 2 {
				t.Fatalf("%d certificates in the dev CA's index, want 2", len(entries))
			}
		})
	}
}

func TestLegalEntityTemplateRoles(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	for name, a := range ports(t, c, 0) {
		t.Run(name, func(t *testing.T) {
			sub := individual
			sub.OrgUnit = "BIN" + orgBIN
			r := Request{
				ApplicationID: appID(2), Template: issuance.TemplateTreasuryClient, Subject: sub, Organization: "ТОО «Ромашка»",
				Keys: []KeyRequest{{Purpose: issuance.KeySIGN, DER: csr(t, key(t, "sign2", 2048), pkix.Name{SerialNumber: "IIN" + personIIN, OrganizationalUnit: []string{"BIN" + orgBIN}})}},
			}
			ref, err := a.Port.Submit(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			certs, err := a.Port.Fetch(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			cert, _ := x509.ParseCertificate(certs[0].DER)
			if roles := pki.RolesOf(cert); !slices.Equal(roles, []pki.Role{pki.RoleLegalEntity, pki.RoleTreasuryClient}) {
				t.Fatalf("roles %v (no remote identification asked)", roles)
			}
			if cert.Subject.Organization[0] != "ТОО «Ромашка»" || cert.Subject.OrganizationalUnit[0] != "BIN"+orgBIN {
				t.Fatalf("subject %v", cert.Subject)
			}
		})
	}
}

func TestReusedKeyIsRefused(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	for name, a := range ports(t, c, time.Minute) {
		t.Run(name, func(t *testing.T) {
			auth, sign := key(t, "auth3", 2048), key(t, "sign3", 2048)
			first, err := a.Port.Submit(ctx, request(t, appID(3), auth, sign))
			if err != nil {
				t.Fatal(err)
			}
			// Two applications with one key reach the CA before it signs:
			// the first gets it, the second is refused when signed.
			fresh := key(t, "auth4", 2048)
			racing, err := a.Port.Submit(ctx, request(t, appID(4), fresh, sign))
			if err != nil {
				t.Fatal(err)
			}
			c.Add(time.Minute)
			if _, err := a.Port.Fetch(ctx, first); err != nil {
				t.Fatal(err)
			}
			var refused *Refused
			if _, err := a.Port.Fetch(ctx, racing); !errors.As(err, &refused) || refused.Code != issuance.CodeKeyReused || refused.Reason == "" {
				t.Fatalf("a key certified in between: %v", err)
			}
			if seen, _ := a.Port.KeySeen(ctx, fp(t, fresh)); seen {
				t.Fatal("the other key of a refused request was certified")
			}
			// A key certified before is refused at once.
			late, err := a.Port.Submit(ctx, request(t, appID(5), key(t, "auth5", 2048), sign))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Port.Fetch(ctx, late); !errors.As(err, &refused) || refused.Code != issuance.CodeKeyReused {
				t.Fatalf("a key certified before: %v", err)
			}
		})
	}
}

func TestEveryRequestIsChecked(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	auth, sign := key(t, "auth6", 2048), key(t, "sign6", 2048)
	me := pkix.Name{SerialNumber: "IIN" + personIIN}
	nonRepudiation, _ := asn1.Marshal(asn1.BitString{Bytes: []byte{0xc0}, BitLength: 2})
	clientAuth, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 2}})
	tampered := csr(t, sign, me)
	tampered[len(tampered)-1] ^= 1 // the signature
	with := func(f func(*Request)) Request { r := request(t, appID(6), auth, sign); f(&r); return r }
	cases := map[string]struct {
		r    Request
		want error
	}{
		"application id":       {with(func(r *Request) { r.ApplicationID = "../../etc" }), ErrBadRequest},
		"subject IIN":          {with(func(r *Request) { r.Subject.SerialNumber = "IIN940140000380" }), ErrBadRequest},
		"subject name":         {with(func(r *Request) { r.Subject.CommonName = "" }), ErrBadRequest},
		"template without BIN": {with(func(r *Request) { r.Template = issuance.TemplateHR }), ErrBadRequest},
		"unknown template":     {with(func(r *Request) { r.Subject.OrgUnit = "BIN" + orgBIN; r.Template = "boss" }), ErrBadRequest},
		"e-mail":               {with(func(r *Request) { r.Email = "not an address" }), ErrBadRequest},
		"organisation":         {with(func(r *Request) { r.Organization = "a\x00b" }), ErrBadRequest},
		"no keys":              {with(func(r *Request) { r.Keys = nil }), ErrBadRequest},
		"three keys":           {with(func(r *Request) { r.Keys = append(r.Keys, r.Keys[0]) }), ErrBadRequest},
		"two AUTH":             {with(func(r *Request) { r.Keys[1].Purpose = issuance.KeyAUTH }), ErrBadRequest},
		"purpose":              {with(func(r *Request) { r.Keys[0].Purpose = "ENC" }), ErrBadRequest},
		"one key for both":     {with(func(r *Request) { r.Keys[1].DER = csr(t, auth, me) }), ErrBadRequest},
		"CSR for another IIN":  {with(func(r *Request) { r.Keys[0].DER = csr(t, auth, pkix.Name{SerialNumber: "IIN760212350620"}) }), ErrBadRequest},
		"CSR for another BIN": {with(func(r *Request) {
			r.Keys[0].DER = csr(t, auth, pkix.Name{OrganizationalUnit: []string{"BIN070941024691"}})
		}), ErrBadRequest},
		"not a CSR":         {with(func(r *Request) { r.Keys[0].DER = []byte("hello") }), ErrBadCSR},
		"empty CSR":         {with(func(r *Request) { r.Keys[0].DER = nil }), ErrBadCSR},
		"bad CSR signature": {with(func(r *Request) { r.Keys[1].DER = tampered }), ErrBadCSR},
		"AUTH asks for signing": {with(func(r *Request) {
			r.Keys[0].DER = csr(t, auth, me, pkix.Extension{Id: oidKeyUsage, Value: nonRepudiation})
		}), ErrBadCSR},
		"SIGN asks for sign-in": {with(func(r *Request) {
			r.Keys[1].DER = csr(t, sign, me, pkix.Extension{Id: oidExtKeyUsage, Value: clientAuth})
		}), ErrBadCSR},
		"1024-bit key": {with(func(r *Request) { r.Keys[0].DER = csr(t, key(t, "weak", 1024), me) }), ErrWeakKey},
	}
	for name, a := range ports(t, c, 0) {
		t.Run(name, func(t *testing.T) {
			for what, tc := range cases {
				if ref, err := a.Port.Submit(ctx, tc.r); !errors.Is(err, tc.want) {
					t.Errorf("%s: %q %v, want %v", what, ref, err, tc.want)
				}
			}
			if len(a.Dev.byRef) != 0 {
				t.Fatalf("refused requests were kept: %d", len(a.Dev.byRef))
			}
			// The same application again with other keys.
			if _, err := a.Port.Submit(ctx, request(t, appID(7), auth, sign)); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Port.Submit(ctx, request(t, appID(7), auth, key(t, "sign7", 2048))); !errors.Is(err, ErrBadRequest) {
				t.Errorf("one application, other keys: %v", err)
			}
			for _, ref := range []string{"dev-00000000000000000000000000000000", "../../index.json", ""} {
				if _, err := a.Port.Fetch(ctx, ref); !errors.Is(err, ErrUnknown) {
					t.Errorf("Fetch %q: %v", ref, err)
				}
			}
			if _, err := a.Port.KeySeen(ctx, "../x"); !errors.Is(err, ErrBadRequest) {
				t.Errorf("KeySeen of a bad fingerprint: %v", err)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	for name, a := range ports(t, c, 0) {
		t.Run(name, func(t *testing.T) {
			r := request(t, appID(8), key(t, "auth8", 2048), key(t, "sign8", 2048))
			a.Dev.SetDown(true)
			if _, err := a.Port.Submit(ctx, r); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Submit during an outage: %v", err)
			}
			if _, err := a.Port.KeySeen(ctx, fp(t, key(t, "auth8", 2048))); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("KeySeen during an outage: %v", err)
			}
			a.Dev.SetDown(false)
			a.Dev.SetFailEvery(2)
			ref, err := a.Port.Submit(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Port.Fetch(ctx, ref); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("the second call of a flaky CA: %v", err)
			}
			a.Dev.SetFailEvery(0)
			a.Dev.SetRepeat(true)
			if again, err := a.Port.Submit(ctx, r); err != nil || again != ref {
				t.Fatalf("a repeated Submit: %q %v", again, err)
			}
			a.Dev.SetRepeat(false)
			certs, err := a.Port.Fetch(ctx, ref)
			if err != nil || len(certs) != 2 {
				t.Fatalf("Fetch after the failures: %v", err)
			}
			if len(a.Dev.byRef) != 1 {
				t.Fatalf("%d requests kept, want 1", len(a.Dev.byRef))
			}
			a.Dev.SetLatency(time.Minute)
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			if _, err := a.Port.Fetch(short, ref); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("a CA slower than the deadline: %v", err)
			}
			a.Dev.SetLatency(0)
		})
	}
}

func TestRequestsSurviveARestart(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	dir := t.TempDir()
	d := openDev(t, dir, c, time.Hour)
	auth, sign := key(t, "auth9", 2048), key(t, "sign9", 2048)
	r := request(t, appID(9), auth, sign)
	ref, err := d.Submit(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	done, err := d.Submit(ctx, request(t, appID(10), key(t, "auth10", 2048), key(t, "sign10", 2048)))
	if err != nil {
		t.Fatal(err)
	}
	c.Add(time.Hour)
	issued, err := d.Fetch(ctx, done)
	if err != nil {
		t.Fatal(err)
	}

	d = openDev(t, dir, c, time.Hour)
	if again, err := d.Submit(ctx, r); err != nil || again != ref {
		t.Fatalf("Submit after a restart: %q %v, want %q", again, err, ref)
	}
	if certs, err := d.Fetch(ctx, done); err != nil || certs[0].Serial != issued[0].Serial {
		t.Fatalf("issued certificates after a restart: %v", err)
	}
	if certs, err := d.Fetch(ctx, ref); err != nil || len(certs) != 2 {
		t.Fatalf("a pending request after a restart: %v", err)
	}
	if seen, err := d.KeySeen(ctx, fp(t, sign)); err != nil || !seen {
		t.Fatalf("the register after a restart: %v %v", seen, err)
	}
}
