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
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/domain/issuance"
)

// Errors of the port.
var (
	// ErrUnavailable: the CA did not answer; try again later.
	ErrUnavailable = errors.New("ca: unavailable")
	// ErrPending: the CA took the request and has not signed yet.
	ErrPending = errors.New("ca: not signed yet")
	// ErrUnknown: the CA has no request under this reference.
	ErrUnknown = errors.New("ca: unknown reference")
	// ErrBadCSR: a request that is not a well-formed, self-signed PKCS#10.
	ErrBadCSR = errors.New("ca: malformed certificate request")
)

// Refused is the CA's refusal of a request, with its reason; the application
// is then rejected with that reason.
type Refused struct{ Reason string }

func (r *Refused) Error() string { return "ca: refused: " + r.Reason }

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
// size, the SHA-256 of the SubjectPublicKeyInfo, and the IIN and BIN the
// subject claims (empty when it claims none). SeenBefore is left for the key
// register to fill.
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
	spki := sha256.Sum256(req.RawSubjectPublicKeyInfo)
	facts.Fingerprint = hex.EncodeToString(spki[:])
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
