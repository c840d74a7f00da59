package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
)

// Weak algorithms: MD2, MD5 and SHA-1 have practical collisions (SHA-1's
// chosen-prefix collision costs a rented GPU cluster), so a signature over
// one of their digests proves nothing about what was signed. They are
// refused wherever they appear: the CMS signer's digest and signature
// algorithm, and the signature of every certificate in the chain.

var weakOIDs = []asn1.ObjectIdentifier{
	{1, 3, 14, 3, 2, 26},         // sha1
	{1, 2, 840, 113549, 2, 5},    // md5
	{1, 2, 840, 113549, 2, 2},    // md2
	{1, 2, 840, 113549, 1, 1, 2}, // md2WithRSAEncryption
	{1, 2, 840, 113549, 1, 1, 4}, // md5WithRSAEncryption
	{1, 2, 840, 113549, 1, 1, 5}, // sha1WithRSAEncryption
	{1, 3, 14, 3, 2, 29},         // sha1WithRSA (OIW)
	{1, 2, 840, 10045, 4, 1},     // ecdsa-with-SHA1
	{1, 2, 840, 10040, 4, 3},     // dsa-with-sha1
	{1, 3, 14, 3, 2, 27},         // dsaWithSHA1 (OIW)
}

// isWeakOID reports whether oid names MD2, MD5 or SHA-1, alone or combined
// with a signature scheme.
func isWeakOID(oid asn1.ObjectIdentifier) bool {
	for _, w := range weakOIDs {
		if oid.Equal(w) {
			return true
		}
	}
	return false
}

// isWeakCertAlgorithm reports whether a certificate is signed with MD2, MD5
// or SHA-1.
func isWeakCertAlgorithm(a x509.SignatureAlgorithm) bool {
	switch a {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		return true
	}
	return false
}

// weakOnPath looks for a weakly signed certificate among the leaf and every
// certificate that could be its ancestor (by issuer name). crypto/x509 will
// not build a chain through a SHA-1 or MD5 signature at all, so without this
// the refusal would read untrusted_chain and hide the real reason.
func weakOnPath(leaf *x509.Certificate, pool []*x509.Certificate) *x509.Certificate {
	seen := map[*x509.Certificate]bool{}
	queue := []*x509.Certificate{leaf}
	for len(queue) > 0 && len(seen) < 64 {
		c := queue[0]
		queue = queue[1:]
		if seen[c] {
			continue
		}
		seen[c] = true
		if isWeakCertAlgorithm(c.SignatureAlgorithm) {
			return c
		}
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			continue
		}
		for _, p := range pool {
			if !seen[p] && bytes.Equal(p.RawSubject, c.RawIssuer) {
				queue = append(queue, p)
			}
		}
	}
	return nil
}
