package devca

import (
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
	// employee). Without a BIN the certificate is an individual's.
	BIN          iin.BIN
	Organization string
	Role         pki.Role
	// DigitalID adds the OID of a holder identified remotely through Digital ID.
	DigitalID bool
	// NotBefore defaults to one minute before now; Validity to one year.
	NotBefore time.Time
	Validity  time.Duration
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
		if r.Organization == "" {
			return errors.New("devca: a legal entity's certificate needs the organisation name")
		}
		if !r.Role.IsLegalEntityRole() || r.Role == pki.RoleLegalEntity {
			return fmt.Errorf("devca: a legal entity's certificate needs a role: first-head, signing-rights, financial, hr or employee (got %q)", r.Role)
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
	notBefore := r.NotBefore
	if notBefore.IsZero() {
		notBefore = now.Add(-time.Minute)
	}
	validity := r.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	roles := r.roles()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               r.subject().PkixName(),
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(validity),
		BasicConstraintsValid: true,
	}
	for _, role := range roles {
		tmpl.UnknownExtKeyUsage = append(tmpl.UnknownExtKeyUsage, role.OID())
	}
	switch usage {
	case UsageAuth:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case UsageSign:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	default:
		return nil, fmt.Errorf("devca: unknown usage %q", usage)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.intermediate, &key.PublicKey, ca.interKey)
	if err != nil {
		return nil, fmt.Errorf("devca: issue: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devca: issue: %w", err)
	}
	entry := Entry{
		Serial: pki.SerialHex(cert.SerialNumber), Usage: usage, IIN: r.IIN.String(), BIN: r.BIN.String(),
		CommonName: cert.Subject.CommonName, Roles: roles, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
	}
	err = ca.locked(func() error {
		idx, err := ca.readIndex()
		if err != nil {
			return err
		}
		idx.Certs = append(idx.Certs, entry)
		return ca.writeIndex(idx)
	})
	if err != nil {
		return nil, err
	}
	return &pki.Key{Certificate: cert, Chain: []*x509.Certificate{ca.intermediate, ca.root}, PrivateKey: key}, nil
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
	return "AUTH_RSA256_" + pki.SerialHex(p.Auth.Certificate.SerialNumber) + ".p12",
		"RSA256_" + pki.SerialHex(p.Sign.Certificate.SerialNumber) + ".p12"
}
