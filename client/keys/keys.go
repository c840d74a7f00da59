// Package keys is the applicant's side of remote EDS issuance in Go: what
// the browser does with WebCrypto, for the terminal and for tests.
//
// The applicant makes both key pairs here, on their own machine: the AUTH
// key (signing in) and the SIGN key (signing documents), RSA-2048. Only the
// PKCS#10 requests leave it. While the application is in progress the
// private keys wait in password-protected key stores (SavePending); once the
// CA has issued the certificates, Store writes the two PKCS#12 files NUC
// users know, AUTH_RSA256_<serial>.p12 and RSA256_<serial>.p12, under a
// password that follows NUC's rule (pki.ValidateKeyStorePassword). The
// password never reaches the server, and cannot be recovered.
package keys

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"

	"github.com/senim-kz/senim/ca"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/safepath"
	"github.com/senim-kz/senim/pki"
)

// Bits is the size of the RSA keys the applicant makes.
const Bits = 2048

// Holder is whom the keys are for, as the application names them. The
// requests carry serialNumber=IIN… (and OU=BIN… for a legal entity's
// employee) so that the server can refuse a request made for someone else;
// the certificate's subject is built by the server, not taken from here.
type Holder struct {
	IIN string
	BIN string // a legal entity's; empty for an individual
}

func (h Holder) name() (pkix.Name, error) {
	if _, err := iin.ParseIIN(h.IIN); err != nil {
		return pkix.Name{}, fmt.Errorf("keys: %w", err)
	}
	n := pkix.Name{SerialNumber: "IIN" + h.IIN, Country: []string{"KZ"}}
	if h.BIN != "" {
		if _, err := iin.ParseBIN(h.BIN); err != nil {
			return pkix.Name{}, fmt.Errorf("keys: %w", err)
		}
		n.OrganizationalUnit = []string{"BIN" + h.BIN}
	}
	return n, nil
}

// Pending are the applicant's two key pairs, waiting for certificates.
type Pending struct {
	Auth *rsa.PrivateKey
	Sign *rsa.PrivateKey
}

// Generate makes the AUTH and the SIGN key pair, RSA-2048.
func Generate() (*Pending, error) {
	auth, err := rsa.GenerateKey(rand.Reader, Bits)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	sign, err := rsa.GenerateKey(rand.Reader, Bits)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return &Pending{Auth: auth, Sign: sign}, nil
}

// Object identifiers and bits of the usages a request asks for.
var (
	oidKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidClientAuth  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
	oidEmailProt   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}
)

// usageExtensions are the key usage and extended key usage a request of
// purpose asks for, as NUC sets them: AUTH digitalSignature and
// keyEncipherment with clientAuth, SIGN digitalSignature and
// nonRepudiation with emailProtection.
func usageExtensions(purpose issuance.KeyPurpose) ([]pkix.Extension, error) {
	var ku asn1.BitString
	var eku []asn1.ObjectIdentifier
	switch purpose {
	case issuance.KeyAUTH:
		ku = asn1.BitString{Bytes: []byte{0xa0}, BitLength: 3} // digitalSignature (0), keyEncipherment (2)
		eku = []asn1.ObjectIdentifier{oidClientAuth}
	case issuance.KeySIGN:
		ku = asn1.BitString{Bytes: []byte{0xc0}, BitLength: 2} // digitalSignature (0), nonRepudiation (1)
		eku = []asn1.ObjectIdentifier{oidEmailProt}
	default:
		return nil, fmt.Errorf("keys: key purpose must be AUTH or SIGN, not %q", purpose)
	}
	kuDER, err := asn1.Marshal(ku)
	if err != nil {
		return nil, err
	}
	ekuDER, err := asn1.Marshal(eku)
	if err != nil {
		return nil, err
	}
	return []pkix.Extension{{Id: oidKeyUsage, Critical: true, Value: kuDER}, {Id: oidExtKeyUsage, Value: ekuDER}}, nil
}

// Request makes the PKCS#10 request (DER) of key for purpose: the holder's
// IIN (and BIN) in the subject, the purpose's key usage asked for, signed
// with SHA-256.
func Request(key *rsa.PrivateKey, purpose issuance.KeyPurpose, h Holder) ([]byte, error) {
	name, err := h.name()
	if err != nil {
		return nil, err
	}
	exts, err := usageExtensions(purpose)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: name, SignatureAlgorithm: x509.SHA256WithRSA, ExtraExtensions: exts,
	}, key)
	if err != nil {
		return nil, fmt.Errorf("keys: certificate request: %w", err)
	}
	return der, nil
}

// Requests makes the AUTH and the SIGN request, in that order.
func (p *Pending) Requests(h Holder) ([]ca.KeyRequest, error) {
	auth, err := Request(p.Auth, issuance.KeyAUTH, h)
	if err != nil {
		return nil, err
	}
	sign, err := Request(p.Sign, issuance.KeySIGN, h)
	if err != nil {
		return nil, err
	}
	return []ca.KeyRequest{{Purpose: issuance.KeyAUTH, DER: auth}, {Purpose: issuance.KeySIGN, DER: sign}}, nil
}

// Stored are the paths of the key stores Store wrote.
type Stored struct {
	Auth string
	Sign string
}

// ErrNotOurs: a certificate is not for one of the pending keys, or not for
// the purpose it claims.
var ErrNotOurs = errors.New("keys: the certificate is not for this key")

// Store writes the two PKCS#12 key stores into dir, each with its private
// key, certificate and chain (the CA's certificates, nearest first; may be
// nil), protected by password, and named as NUC names them. The password is
// checked with pki.ValidateKeyStorePassword before anything is written; a
// certificate that is not for the pending key of its purpose is refused
// with ErrNotOurs; an existing file is never overwritten. It writes both
// files or neither.
func (p *Pending) Store(dir, password string, certs []issuance.Certificate, chain []*x509.Certificate) (Stored, error) {
	if err := pki.ValidateKeyStorePassword(password); err != nil {
		return Stored{}, err
	}
	type file struct {
		path string
		der  []byte
	}
	var files []file
	var out Stored
	for _, purpose := range []issuance.KeyPurpose{issuance.KeyAUTH, issuance.KeySIGN} {
		priv, usage := p.Auth, x509.ExtKeyUsageClientAuth
		if purpose == issuance.KeySIGN {
			priv, usage = p.Sign, x509.ExtKeyUsageEmailProtection
		}
		cert, err := certificateFor(certs, purpose, priv, usage)
		if err != nil {
			return Stored{}, err
		}
		der, err := pki.EncodePKCS12(&pki.Key{Certificate: cert, Chain: chain, PrivateKey: priv}, password)
		if err != nil {
			return Stored{}, err
		}
		path, err := safepath.Join(dir, pki.KeyStoreFileName(cert))
		if err != nil {
			return Stored{}, fmt.Errorf("keys: %w", err)
		}
		files = append(files, file{path, der})
		if purpose == issuance.KeyAUTH {
			out.Auth = path
		} else {
			out.Sign = path
		}
	}
	for i, f := range files {
		if err := writeNew(f.path, f.der); err != nil {
			for _, done := range files[:i] {
				_ = os.Remove(done.path)
			}
			return Stored{}, err
		}
	}
	return out, nil
}

// certificateFor finds the one certificate of purpose among certs and
// checks that it certifies priv for usage.
func certificateFor(certs []issuance.Certificate, purpose issuance.KeyPurpose, priv *rsa.PrivateKey, usage x509.ExtKeyUsage) (*x509.Certificate, error) {
	var found *x509.Certificate
	for _, c := range certs {
		if c.Purpose != purpose {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%w: two %s certificates", ErrNotOurs, purpose)
		}
		cert, err := x509.ParseCertificate(c.DER)
		if err != nil {
			return nil, fmt.Errorf("%w: the %s certificate does not parse: %v", ErrNotOurs, purpose, err)
		}
		found = cert
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no %s certificate", ErrNotOurs, purpose)
	}
	if !priv.PublicKey.Equal(found.PublicKey) {
		return nil, fmt.Errorf("%w: the %s certificate is for another public key", ErrNotOurs, purpose)
	}
	ok := false
	for _, u := range found.ExtKeyUsage {
		ok = ok || u == usage
	}
	if !ok {
		return nil, fmt.Errorf("%w: the %s certificate lacks its extended key usage", ErrNotOurs, purpose)
	}
	return found, nil
}

// writeNew writes a file that must not exist yet, readable by its owner only.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("keys: %w", err)
	}
	return nil
}

// Pending key stores: the names SavePending writes in its directory.
const (
	PendingAuthFile = "pending_AUTH.p12"
	PendingSignFile = "pending_SIGN.p12"
)

// SavePending keeps the pending keys in dir while the application is in
// progress, as two PKCS#12 key stores under password (NUC's rule). Like
// keytool before the CA's reply, each holds its key with a self-signed
// placeholder certificate that nobody trusts. Existing files are not
// overwritten.
func (p *Pending) SavePending(dir, password string, now time.Time) error {
	if err := pki.ValidateKeyStorePassword(password); err != nil {
		return err
	}
	var ders [][]byte
	for _, k := range []*rsa.PrivateKey{p.Auth, p.Sign} {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "Senim: pending key, not a certificate"},
			NotBefore:    now.Add(-time.Minute),
			NotAfter:     now.Add(365 * 24 * time.Hour),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		store, err := pki.EncodePKCS12(&pki.Key{Certificate: cert, PrivateKey: k}, password)
		if err != nil {
			return err
		}
		ders = append(ders, store)
	}
	names := []string{PendingAuthFile, PendingSignFile}
	for i, der := range ders {
		path, err := safepath.Join(dir, names[i])
		if err == nil {
			err = writeNew(path, der)
		}
		if err != nil {
			if i == 1 {
				_ = os.Remove(mustJoin(dir, names[0]))
			}
			return err
		}
	}
	return nil
}

func mustJoin(dir, name string) string {
	p, _ := safepath.Join(dir, name)
	return p
}

// LoadPending opens the key stores SavePending wrote in dir. A wrong
// password is refused with pki.CodeWrongPassword.
func LoadPending(dir, password string) (*Pending, error) {
	var keys [2]*rsa.PrivateKey
	for i, name := range []string{PendingAuthFile, PendingSignFile} {
		path, err := safepath.Join(dir, name)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		k, err := pki.LoadPKCS12(path, password)
		if err != nil {
			return nil, err
		}
		rk, ok := k.PrivateKey.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("keys: %s: not an RSA key", path)
		}
		keys[i] = rk
	}
	return &Pending{Auth: keys[0], Sign: keys[1]}, nil
}
