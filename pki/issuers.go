package pki

import (
	"crypto/x509"
	"time"
)

// Issuers is the chain that makes leaf trusted at at, without leaf: its
// issuing CA first, a root of the store last. It is what a key store
// carries beside its certificate, so that software holding only the file
// can show and send the whole chain. The chain is judged as a signer's is
// (strength, revocation); an error says why none passes.
func (ts *TrustStore) Issuers(leaf *x509.Certificate, at time.Time) ([]*x509.Certificate, error) {
	chain, err := ts.judgeCertificate(leaf, nil, at)
	if err != nil {
		return nil, err
	}
	return chain[1:], nil
}
