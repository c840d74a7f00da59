// Package ca is the port to the certification authority (NUC) for remote EDS
// issuance (domain/issuance).
//
// The applicant makes both key pairs on their side and sends only PKCS#10
// requests. The shell parses each with ParseCSR (signature, algorithm, key
// size, public-key fingerprint), builds the certificate subject itself from
// the verified identity (issuance.BuildSubject) and, once the application is
// identified, hands a Request to the CA. The CA answers a reference; the
// certificates are fetched later with that reference (a real CA signs in a
// queue), and the application actor records them.
//
// Adapters: Dev, the development stand-in over pki/devca, which certifies the
// requests' own public keys with the NUC profile and the template's role
// OIDs, and HTTP, for a JSON facade of the CA. Dev runs only in development
// mode and shows a real CA's failures on demand (outside.Faults).
package ca

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/pki"
)

// Errors of the port.
var (
	// ErrUnavailable: the CA did not answer; try again later.
	ErrUnavailable = errors.New("ca: unavailable")
	// ErrPending: the CA took the request and has not signed yet.
	ErrPending = errors.New("ca: not signed yet")
	// ErrUnknown: the CA has no request under this reference.
	ErrUnknown = errors.New("ca: unknown reference")
	// ErrBadCSR: a request that is not a well-formed, self-signed PKCS#10,
	// has a key of a type the CA does not certify, or asks for the other
	// key purpose's usage.
	ErrBadCSR = errors.New("ca: malformed certificate request")
	// ErrWeakKey: a request's key is shorter than the CA certifies.
	ErrWeakKey = errors.New("ca: key too short")
	// ErrBadRequest: a Request the CA cannot take (application id, template,
	// subject, e-mail, the set of keys); the error says which part.
	ErrBadRequest = errors.New("ca: bad request")
)

// Refused is the CA's refusal of a request, with its reason; the application
// is then rejected with that reason. Code, when the CA's refusal matches one
// of the core's, is that code (issuance.CodeKeyReused).
type Refused struct {
	Code   issuance.Code `json:"code,omitempty"`
	Reason string        `json:"reason"`
}

func (r *Refused) Error() string { return "ca: refused: " + r.Reason }

// KeyRegister is the CA's register of public keys it has certified. The
// shell asks it before submitting (issuance.CSR.SeenBefore); the CA checks
// again when it signs, and refuses a key certified in between.
type KeyRegister interface {
	// KeySeen reports whether the CA has certified the public key with this
	// fingerprint (hex SHA-256 of its SubjectPublicKeyInfo, as ParseCSR
	// gives it).
	KeySeen(ctx context.Context, fingerprint string) (bool, error)
}

// KeyRequest is one PKCS#10 request, DER, for one key purpose.
type KeyRequest struct {
	Purpose issuance.KeyPurpose `json:"purpose"`
	DER     []byte              `json:"der"`
}

// Request is what the shell hands to the CA for one identified application.
type Request struct {
	// ApplicationID makes Submit idempotent: a second Submit of the same
	// application answers the first reference.
	ApplicationID string            `json:"application_id"`
	Template      issuance.Template `json:"template"`
	Subject       issuance.Subject  `json:"subject"` // built by the server, never from a CSR
	Organization  string            `json:"organization,omitempty"`
	Email         string            `json:"email,omitempty"`
	// RemoteIdentified adds 1.2.398.3.3.4.3.2.1 (identified remotely).
	RemoteIdentified bool         `json:"remote_identified"`
	Keys             []KeyRequest `json:"keys"`
}

// CA certifies the public keys of identified applications.
type CA interface {
	// Submit hands the request over and returns the CA's reference.
	Submit(ctx context.Context, r Request) (reference string, err error)
	// Fetch returns the certificates of a submitted request, one per key,
	// ErrPending while the CA has not signed, or a *Refused.
	Fetch(ctx context.Context, reference string) ([]issuance.Certificate, error)
}

// ParseCSR parses a DER PKCS#10 request for purpose and checks its
// self-signature. It reads the facts the core decides on: algorithm, key
// size, the SHA-256 of the SubjectPublicKeyInfo (pki.PublicKeyFingerprint,
// so that one key has one fingerprint however the request encoded it), and
// the IIN and BIN the subject claims (empty when it claims none). SeenBefore
// is left for the key register to fill. A request that asks (in its
// extensionRequest) for the usage of the other purpose, say an AUTH request
// for nonRepudiation, is refused with ErrBadCSR.
func ParseCSR(der []byte, purpose issuance.KeyPurpose) (issuance.CSR, *x509.CertificateRequest, error) {
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return issuance.CSR{}, nil, fmt.Errorf("%w: %v", ErrBadCSR, err)
	}
	if err := req.CheckSignature(); err != nil {
		return issuance.CSR{}, nil, fmt.Errorf("%w: signature: %v", ErrBadCSR, err)
	}
	facts := issuance.CSR{Purpose: purpose}
	switch pub := req.PublicKey.(type) {
	case *rsa.PublicKey:
		facts.Algorithm = "RSA"
		facts.KeyBits = pub.N.BitLen()
	default:
		return issuance.CSR{}, nil, fmt.Errorf("%w: key type %T is not supported", ErrBadCSR, req.PublicKey)
	}
	if err := checkRequestedUsage(req, purpose); err != nil {
		return issuance.CSR{}, nil, err
	}
	fp, err := pki.PublicKeyFingerprint(req.PublicKey)
	if err != nil {
		return issuance.CSR{}, nil, fmt.Errorf("%w: %v", ErrBadCSR, err)
	}
	facts.Fingerprint = fp
	whole := sha256.Sum256(der)
	facts.SHA256 = hex.EncodeToString(whole[:])
	if s := req.Subject.SerialNumber; s != "" {
		facts.SubjectIIN = strings.TrimPrefix(strings.ToUpper(s), "IIN")
		if _, err := iin.ParseIIN(facts.SubjectIIN); err != nil {
			facts.SubjectIIN = s // as written: the core refuses it as another IIN's
		}
	}
	for _, ou := range req.Subject.OrganizationalUnit {
		if strings.HasPrefix(strings.ToUpper(ou), "BIN") {
			facts.SubjectBIN = ou[3:]
		}
	}
	return facts, req, nil
}

// Object identifiers of the extensions a request may ask for.
var (
	oidKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidClientAuth  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
)

// Bits of the KeyUsage BIT STRING (RFC 5280, 4.2.1.3).
const (
	kuDigitalSignature = 0
	kuNonRepudiation   = 1
)

// checkRequestedUsage refuses a request whose extensionRequest contradicts
// its purpose. The CA sets the usage itself; a request need not ask for any.
// AUTH: no nonRepudiation; an extended key usage, if asked, with clientAuth.
// SIGN: nonRepudiation if a key usage is asked; no clientAuth.
func checkRequestedUsage(req *x509.CertificateRequest, purpose issuance.KeyPurpose) error {
	for _, ext := range req.Extensions {
		switch {
		case ext.Id.Equal(oidKeyUsage):
			var bits asn1.BitString
			if rest, err := asn1.Unmarshal(ext.Value, &bits); err != nil || len(rest) > 0 {
				return fmt.Errorf("%w: requested key usage is malformed", ErrBadCSR)
			}
			if bits.At(kuDigitalSignature) == 0 {
				return fmt.Errorf("%w: the %s request does not ask for digitalSignature", ErrBadCSR, purpose)
			}
			nr := bits.At(kuNonRepudiation) == 1
			if purpose == issuance.KeyAUTH && nr {
				return fmt.Errorf("%w: an AUTH request asks for nonRepudiation, the signing key's usage", ErrBadCSR)
			}
			if purpose == issuance.KeySIGN && !nr {
				return fmt.Errorf("%w: a SIGN request asks for a key usage without nonRepudiation", ErrBadCSR)
			}
		case ext.Id.Equal(oidExtKeyUsage):
			var oids []asn1.ObjectIdentifier
			if rest, err := asn1.Unmarshal(ext.Value, &oids); err != nil || len(rest) > 0 {
				return fmt.Errorf("%w: requested extended key usage is malformed", ErrBadCSR)
			}
			auth := false
			for _, o := range oids {
				auth = auth || o.Equal(oidClientAuth)
			}
			if purpose == issuance.KeyAUTH && !auth {
				return fmt.Errorf("%w: an AUTH request asks for an extended key usage without clientAuth", ErrBadCSR)
			}
			if purpose == issuance.KeySIGN && auth {
				return fmt.Errorf("%w: a SIGN request asks for clientAuth, the AUTH key's usage", ErrBadCSR)
			}
		}
	}
	return nil
}
