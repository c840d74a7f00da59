package devca

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/pki"
)

// Usage says which of a person's two NUC keys a certificate is for.
type Usage string

const (
	// UsageAuth is the AUTH_RSA key: signing in (digitalSignature,
	// keyEncipherment; clientAuth).
	UsageAuth Usage = "auth"
	// UsageSign is the RSA key: signing documents (digitalSignature,
	// nonRepudiation; emailProtection).
	UsageSign Usage = "sign"
)

// Request describes the holder of the certificates to issue.
type Request struct {
	IIN iin.IIN
	// Surname, Name and Patronymic as in the identity document; CN becomes
	// "SURNAME NAME" and GIVENNAME the patronymic, as NUC writes them.
	Surname, Name, Patronymic string
	Email                     string
	// BIN and Organization make a legal entity's certificate; Role then names
	// the employee's template (first-head, signing-rights, financial, hr,
	// employee, treasury-client). Without a BIN the certificate is an
	// individual's.
	BIN          iin.BIN
	Organization string
	Role         pki.Role
	// DigitalID adds the OID of a holder identified remotely through Digital ID.
	DigitalID bool
	// NotBefore defaults to one minute before now; Validity to one year.
	NotBefore time.Time
	Validity  time.Duration

	// noOrganization lets a legal entity's request from an application go
	// without O=: the server has no register of legal entities to read the
	// name from yet (RequestFor).
	noOrganization bool
}

// ParseFullName splits "SURNAME NAME [PATRONYMIC]" into its parts.
func ParseFullName(full string) (surname, name, patronymic string, err error) {
	parts := strings.Fields(full)
	if len(parts) < 2 {
		return "", "", "", fmt.Errorf("devca: name %q needs at least a surname and a name", full)
	}
	return parts[0], parts[1], strings.Join(parts[2:], " "), nil
}

func (r Request) validate() error {
	if r.IIN == "" {
		return errors.New("devca: an IIN is required")
	}
	if _, err := iin.ParseIIN(r.IIN.String()); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	if r.Surname == "" || r.Name == "" {
		return errors.New("devca: a surname and a name are required")
	}
	if r.BIN != "" {
		if _, err := iin.ParseBIN(r.BIN.String()); err != nil {
			return fmt.Errorf("devca: %w", err)
		}
		if r.Organization == "" && !r.noOrganization {
			return errors.New("devca: a legal entity's certificate needs the organisation name")
		}
		if !r.Role.IsLegalEntityRole() || r.Role == pki.RoleLegalEntity {
			return fmt.Errorf("devca: a legal entity's certificate needs a role: first-head, signing-rights, financial, hr, employee or treasury-client (got %q)", r.Role)
		}
	} else if r.Role != "" && r.Role != pki.RoleIndividual {
		return fmt.Errorf("devca: role %q needs a BIN", r.Role)
	}
	return nil
}

func (r Request) subject() pki.Subject {
	return pki.Subject{
		IIN:          r.IIN,
		BIN:          r.BIN,
		CommonName:   strings.ToUpper(r.Surname + " " + r.Name),
		Surname:      strings.ToUpper(r.Surname),
		GivenName:    strings.ToUpper(r.Patronymic),
		Organization: r.Organization,
		Email:        r.Email,
		Country:      "KZ",
	}
}

func (r Request) roles() []pki.Role {
	roles := []pki.Role{pki.RoleIndividual}
	if r.BIN != "" {
		roles = []pki.Role{pki.RoleLegalEntity, r.Role}
	}
	if r.DigitalID {
		roles = append(roles, pki.RoleDigitalID)
	}
	return roles
}

// Issue makes a fresh RSA-2048 key and certificate of the given usage for the
// holder, records it in the index, and returns it with the CA chain.
func (ca *CA) Issue(r Request, usage Usage, now time.Time) (*pki.Key, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("devca: %w", err)
	}
	issued, err := ca.IssueKeys(r, []KeyFor{{Usage: usage, Public: &key.PublicKey}}, now)
	if err != nil {
		return nil, err
	}
	return &pki.Key{Certificate: issued[0].Certificate, Chain: issued[0].Chain, PrivateKey: key}, nil
}

// KeyFor is a public key to certify, and what for.
type KeyFor struct {
	Usage  Usage
	Public crypto.PublicKey
}

// Issued is a certificate the CA made for a public key, with the CA chain
// (intermediate, root).
type Issued struct {
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	// KeyFingerprint is pki.PublicKeyFingerprint of the certified key.
	KeyFingerprint string
}

// IssueFor certifies pub, the key of a verified certificate request, for
// the holder r with the given usage: the same NUC profile, subject and
// roles as Issue. A key the CA certified before is refused with
// ErrKeyCertified; so is an RSA key shorter than 2048 bits, with ErrWeakKey.
func (ca *CA) IssueFor(r Request, usage Usage, pub crypto.PublicKey, now time.Time) (*Issued, error) {
	issued, err := ca.IssueKeys(r, []KeyFor{{Usage: usage, Public: pub}}, now)
	if err != nil {
		return nil, err
	}
	return &issued[0], nil
}

// IssueKeys certifies several keys of one holder at once (the AUTH and the
// SIGN key of an application): either all of them or, if any is refused,
// none. The check that no key was certified before and the recording in the
// index happen under the CA's lock, so two requests racing with one key
// cannot both get it certified.
func (ca *CA) IssueKeys(r Request, keys []KeyFor, now time.Time) ([]Issued, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("devca: no key to certify")
	}
	fps := make([]string, len(keys))
	for i, k := range keys {
		if k.Usage != UsageAuth && k.Usage != UsageSign {
			return nil, fmt.Errorf("devca: unknown usage %q", k.Usage)
		}
		rk, ok := k.Public.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("devca: key type %T is not supported (RSA only)", k.Public)
		}
		if rk.N.BitLen() < keyBits {
			return nil, fmt.Errorf("%w: %d bits, at least %d", ErrWeakKey, rk.N.BitLen(), keyBits)
		}
		fp, err := pki.PublicKeyFingerprint(rk)
		if err != nil {
			return nil, fmt.Errorf("devca: %w", err)
		}
		for _, prev := range fps[:i] {
			if prev == fp {
				return nil, fmt.Errorf("%w: one key given twice", ErrKeyCertified)
			}
		}
		fps[i] = fp
	}
	var out []Issued
	err := ca.locked(func() error {
		idx, err := ca.readIndex()
		if err != nil {
			return err
		}
		for i, fp := range fps {
			if idx.keySeen(fp) {
				return fmt.Errorf("%w: the %s key %s", ErrKeyCertified, keys[i].Usage, fp)
			}
		}
		out = make([]Issued, 0, len(keys))
		rs := make([]record, 0, len(keys))
		for i, k := range keys {
			cert, err := ca.certify(r, k, now)
			if err != nil {
				return err
			}
			rs = append(rs, record{Issue: &Entry{
				Serial: pki.SerialHex(cert.SerialNumber), Usage: k.Usage, IIN: r.IIN.String(), BIN: r.BIN.String(),
				CommonName: cert.Subject.CommonName, Roles: r.roles(), NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
				KeyFingerprint: fps[i],
			}})
			out = append(out, Issued{Certificate: cert, Chain: []*x509.Certificate{ca.intermediate, ca.root}, KeyFingerprint: fps[i]})
		}
		// One append, one fsync, for all the keys: all or none.
		return ca.appendRecords(rs...)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// certify signs the certificate of k for r.
func (ca *CA) certify(r Request, k KeyFor, now time.Time) (*x509.Certificate, error) {
	notBefore := r.NotBefore
	if notBefore.IsZero() {
		notBefore = now.Add(-time.Minute)
	}
	validity := r.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               r.subject().PkixName(),
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(validity),
		BasicConstraintsValid: true,
	}
	for _, role := range r.roles() {
		tmpl.UnknownExtKeyUsage = append(tmpl.UnknownExtKeyUsage, role.OID())
	}
	switch k.Usage {
	case UsageAuth:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case UsageSign:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	default:
		return nil, fmt.Errorf("devca: unknown usage %q", k.Usage)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.intermediate, k.Public, ca.interKey)
	if err != nil {
		return nil, fmt.Errorf("devca: issue: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devca: issue: %w", err)
	}
	return cert, nil
}

// KeySeen reports whether the CA has certified the public key whose
// fingerprint (pki.PublicKeyFingerprint) is fp. The index is the register:
// it is on disk, so the answer survives a restart.
func (ca *CA) KeySeen(fp string) (bool, error) {
	var seen bool
	err := ca.locked(func() error {
		idx, err := ca.readIndex()
		if err == nil {
			seen = idx.keySeen(fp)
		}
		return err
	})
	return seen, err
}

// Pair is a person's two keys, as NUC issues them.
type Pair struct {
	Auth *pki.Key
	Sign *pki.Key
}

// IssuePair issues the authentication and the signing key of one holder.
func (ca *CA) IssuePair(r Request, now time.Time) (Pair, error) {
	auth, err := ca.Issue(r, UsageAuth, now)
	if err != nil {
		return Pair{}, err
	}
	sign, err := ca.Issue(r, UsageSign, now)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Auth: auth, Sign: sign}, nil
}

// FileNames are the NUC-style file names of a pair's key stores:
// AUTH_RSA256_<serial>.p12 and RSA256_<serial>.p12 (GOST512_ for legal
// entities at NUC; the dev CA issues RSA for both).
func (p Pair) FileNames() (auth, sign string) {
	return pki.KeyStoreFileName(p.Auth.Certificate), pki.KeyStoreFileName(p.Sign.Certificate)
}
