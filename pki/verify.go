package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"
)

// Purpose is what a signature is for; it decides which key usage the
// signer's certificate must carry.
type Purpose int

const (
	// PurposeAny accepts any key usage (auditing a signature of unknown kind).
	PurposeAny Purpose = iota
	// PurposeAuth is signing in: the AUTH_RSA key, with digitalSignature and
	// the clientAuth extended key usage.
	PurposeAuth
	// PurposeSign is signing a document: the RSA key, with digitalSignature
	// and nonRepudiation.
	PurposeSign
)

func (p Purpose) String() string {
	switch p {
	case PurposeAuth:
		return "sign-in"
	case PurposeSign:
		return "signing"
	}
	return "any"
}

// DefaultMaxSkew is how far a live signature's signing time may be from the
// verifier's clock when VerifyOptions.MaxSkew is zero.
const DefaultMaxSkew = 5 * time.Minute

// VerifyOptions say how to judge a CMS signature.
type VerifyOptions struct {
	// Purpose selects the key-usage check.
	Purpose Purpose
	// Role, if set, must be among the certificate's NUC role OIDs.
	Role Role
	// Content is the signed content for a detached CMS. For an attached CMS,
	// if set, the encapsulated content must equal it byte for byte.
	Content []byte
	// Now is the verifier's clock; zero means time.Now().
	Now time.Time
	// Live marks a signature that was made just now (sign-in, application,
	// approval, the notary's signature). Validity and revocation are judged
	// at Now, and the signing time, if present, must be within MaxSkew of Now.
	// Without Live they are judged at the signing time (an audit of an old
	// document), or at Now when the CMS carries none.
	Live    bool
	MaxSkew time.Duration
}

// Verified is an accepted signature: who signed, and what.
type Verified struct {
	Subject
	Roles       []Role
	Fingerprint string // hex SHA-256 of the signer's certificate
	Serial      string // hex serial of the signer's certificate
	Certificate *x509.Certificate
	Chain       []*x509.Certificate // signer first, root last
	SigningTime time.Time           // zero when the CMS carries none
	Content     []byte              // the signed content
}

// DecodeCMS accepts a CMS SignedData as DER, as PEM ("CMS" or "PKCS7"), or as
// base64 text (what NCALayer returns), and returns DER.
func DecodeCMS(in []byte) ([]byte, error) {
	// DER is binary: it must not be trimmed, its last byte may well be 0x0a.
	if len(in) > 0 && in[0] == 0x30 {
		return in, nil
	}
	trimmed := bytes.TrimSpace(in)
	switch {
	case len(trimmed) == 0:
		return nil, refuse(CodeMalformed, nil, "empty CMS")
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		b, _ := pem.Decode(trimmed)
		if b == nil {
			return nil, refuse(CodeMalformed, nil, "unreadable PEM")
		}
		return b.Bytes, nil
	}
	clean := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, string(trimmed))
	der, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, refuse(CodeMalformed, err, "CMS is neither DER, PEM nor base64")
	}
	return der, nil
}

// Verify judges a DER CMS SignedData against the store. It checks, in order:
// the structure (one signer, its certificate included), the strength of the
// signer's algorithms, the signature over the content, the signing time of a
// live signature, the chain to a root and its validity, the strength of
// every certificate's signature, revocation through the configured CRLs
// (every candidate chain is judged; one good chain suffices), the key usage for the
// purpose, the required role, and the NUC subject. The first failure is
// returned as an *Error with its code.
func (ts *TrustStore) Verify(der []byte, opts VerifyOptions) (*Verified, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	p7, err := parseCMS(der)
	if err != nil {
		return nil, err
	}
	if len(p7.Signers) != 1 {
		return nil, refuse(CodeMalformed, nil, "expected exactly one signer, found %d", len(p7.Signers))
	}
	leaf := p7.GetOnlySigner()
	if leaf == nil {
		return nil, refuse(CodeMalformed, nil, "the signer's certificate is not in the CMS")
	}
	switch {
	case len(p7.Content) == 0 && opts.Content == nil:
		return nil, refuse(CodeMalformed, nil, "detached CMS given without its content")
	case len(p7.Content) == 0:
		p7.Content = opts.Content
	case opts.Content != nil && !bytes.Equal(p7.Content, opts.Content):
		return nil, refuse(CodeBadSignature, nil, "the signed content is not the expected document")
	}

	var signingTime time.Time
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &signingTime); err != nil {
		signingTime = time.Time{}
	}
	// A weak digest makes the signature check below meaningless: refuse
	// before it, so that the reason is the algorithm.
	si := p7.Signers[0]
	if isWeakOID(si.DigestAlgorithm.Algorithm) || isWeakOID(si.DigestEncryptionAlgorithm.Algorithm) {
		return nil, refuse(CodeWeakAlgorithm, nil, "the CMS is signed with a weak algorithm (digest %s, signature %s): SHA-256 or stronger is required",
			si.DigestAlgorithm.Algorithm, si.DigestEncryptionAlgorithm.Algorithm)
	}
	if err := p7.Verify(); err != nil {
		var st *pkcs7.SigningTimeNotValidError
		if errors.As(err, &st) {
			return nil, refuse(CodeExpired, nil, "the certificate was not valid at the signing time %s (valid %s to %s)",
				st.SigningTime.UTC().Format(time.RFC3339), st.NotBefore.UTC().Format(time.RFC3339), st.NotAfter.UTC().Format(time.RFC3339))
		}
		return nil, refuse(CodeBadSignature, err, "the signature does not match the content")
	}

	at := now
	if opts.Live {
		skew := opts.MaxSkew
		if skew == 0 {
			skew = DefaultMaxSkew
		}
		if !signingTime.IsZero() && (signingTime.Before(now.Add(-skew)) || signingTime.After(now.Add(skew))) {
			return nil, refuse(CodeBadSigningTime, nil, "signing time %s is more than %s from now (%s)",
				signingTime.UTC().Format(time.RFC3339), skew, now.UTC().Format(time.RFC3339))
		}
	} else if !signingTime.IsZero() {
		at = signingTime
	}

	chain, err := ts.judgeCertificate(leaf, p7.Certificates, at)
	if err != nil {
		return nil, err
	}
	if err := checkPurpose(leaf, opts.Purpose); err != nil {
		return nil, err
	}
	roles := RolesOf(leaf)
	if opts.Role != "" && !hasOID(leaf.UnknownExtKeyUsage, opts.Role.OID()) {
		return nil, refuse(CodeWrongRole, nil, "the certificate does not carry the role %s (%s)", opts.Role, opts.Role.OID())
	}
	subj, err := SubjectOf(leaf)
	if err != nil {
		return nil, err
	}
	return &Verified{
		Subject:     subj,
		Roles:       roles,
		Fingerprint: Fingerprint(leaf),
		Serial:      SerialHex(leaf.SerialNumber),
		Certificate: leaf,
		Chain:       chain,
		SigningTime: signingTime,
		Content:     p7.Content,
	}, nil
}

// CheckCertificate re-judges a certificate accepted earlier (a session's
// sign-in certificate) at time at: chain, validity, weak algorithms and
// revocation, exactly as Verify does. extra are CA certificates that came
// with the original signature.
func (ts *TrustStore) CheckCertificate(leaf *x509.Certificate, extra []*x509.Certificate, at time.Time) error {
	_, err := ts.judgeCertificate(leaf, extra, at)
	return err
}

// judgeCertificate builds every chain from leaf to a root (x509 may find
// several: a cross-signed CA gives two paths) and accepts the first chain
// whose certificates are all strong and unrevoked at at. A certificate
// revoked, or of unknown status, under one chain may be fine under another,
// so each chain is judged on its own; when none passes, the most telling
// refusal is returned: revoked, then weak_algorithm, then revocation_unknown.
func (ts *TrustStore) judgeCertificate(leaf *x509.Certificate, extra []*x509.Certificate, at time.Time) ([]*x509.Certificate, error) {
	// A CRL file changed since the last judgement is read before this one:
	// a revocation holds from the next judgement on.
	ts.Refresh()
	key := chainKey(leaf, extra)
	chains, ok := ts.chains.get(key, at)
	if !ok {
		var err error
		if chains, err = ts.buildChains(leaf, extra, at); err != nil {
			return nil, err
		}
		ts.chains.put(key, chains)
	}
	var best *Error
	for _, chain := range chains {
		e := ts.judgeChain(chain, at)
		if e == nil {
			return slices.Clone(chain), nil
		}
		if best == nil || severity(e.Code) > severity(best.Code) {
			best = e
		}
	}
	return nil, best
}

// buildChains has x509 build and check every chain from leaf to a root at
// at: the path, each certificate's signature, validity and constraints.
func (ts *TrustStore) buildChains(leaf *x509.Certificate, extra []*x509.Certificate, at time.Time) ([][]*x509.Certificate, error) {
	ts.chains.builds.Add(1)
	inter := x509.NewCertPool()
	for _, c := range ts.intermediates {
		inter.AddCert(c)
	}
	for _, c := range extra {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         ts.roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, refuse(CodeExpired, err, "a certificate in the chain is not valid at %s", at.UTC().Format(time.RFC3339))
		}
		pool := append(append(append([]*x509.Certificate{}, ts.intermediates...), extra...), ts.rootCerts...)
		if w := weakOnPath(leaf, pool); w != nil {
			return nil, refuse(CodeWeakAlgorithm, err, "certificate %s (%s) is signed with %s: SHA-256 or stronger is required",
				SerialHex(w.SerialNumber), w.Subject.CommonName, w.SignatureAlgorithm)
		}
		return nil, refuse(CodeUntrustedChain, err, "the signer's certificate does not chain to a trusted root")
	}
	return chains, nil
}

// judgeChain checks one chain (leaf first, root last): every certificate's
// signature algorithm, and the revocation of every certificate by its issuer.
func (ts *TrustStore) judgeChain(chain []*x509.Certificate, at time.Time) *Error {
	for _, c := range chain {
		if isWeakCertAlgorithm(c.SignatureAlgorithm) {
			return refuse(CodeWeakAlgorithm, nil, "certificate %s (%s) is signed with %s: SHA-256 or stronger is required",
				SerialHex(c.SerialNumber), c.Subject.CommonName, c.SignatureAlgorithm)
		}
	}
	for i := 0; i+1 < len(chain); i++ {
		if e := ts.revocation(chain[i], chain[i+1], at); e != nil {
			return e
		}
	}
	return nil
}

// severity ranks the refusals of a chain: a revocation is a fact about the
// key and says most; a weak algorithm is a fact about the chain; an unknown
// revocation status only says that facts are missing.
func severity(c Code) int {
	switch c {
	case CodeRevoked:
		return 3
	case CodeWeakAlgorithm:
		return 2
	case CodeRevocationUnknown:
		return 1
	}
	return 0
}

// parseCMS wraps pkcs7.Parse: a parser fed hostile input must not take the
// server down, so a panic inside it becomes a malformed refusal.
func parseCMS(der []byte) (p7 *pkcs7.PKCS7, err error) {
	defer func() {
		if r := recover(); r != nil {
			p7, err = nil, refuse(CodeMalformed, fmt.Errorf("panic: %v", r), "unparseable CMS")
		}
	}()
	p7, err = pkcs7.Parse(der)
	if err != nil {
		return nil, refuse(CodeMalformed, err, "not a CMS SignedData")
	}
	if p7.Signers == nil && p7.Certificates == nil && p7.Content == nil {
		return nil, refuse(CodeMalformed, nil, "not a CMS SignedData")
	}
	return p7, nil
}

func checkPurpose(c *x509.Certificate, p Purpose) error {
	switch p {
	case PurposeAuth:
		if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 || !hasEKU(c, x509.ExtKeyUsageClientAuth) {
			return refuse(CodeWrongKeyUsage, nil, "a sign-in needs an authentication key (digitalSignature, clientAuth)")
		}
	case PurposeSign:
		if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 || c.KeyUsage&x509.KeyUsageContentCommitment == 0 {
			return refuse(CodeWrongKeyUsage, nil, "signing a document needs a signing key (digitalSignature, nonRepudiation)")
		}
	}
	return nil
}

func hasEKU(c *x509.Certificate, want x509.ExtKeyUsage) bool {
	for _, u := range c.ExtKeyUsage {
		if u == want {
			return true
		}
	}
	return false
}

func hasOID(list []asn1.ObjectIdentifier, want asn1.ObjectIdentifier) bool {
	for _, o := range list {
		if o.Equal(want) {
			return true
		}
	}
	return false
}
