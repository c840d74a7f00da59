package pki

import (
	"bytes"
	"crypto/x509"
	"fmt"

	"github.com/smallstep/pkcs7"
)

// SignOptions shape a CMS signature.
type SignOptions struct {
	// Detached leaves the content out of the CMS; the verifier supplies it.
	Detached bool
}

// Sign makes a CMS SignedData over data with k: SHA-256, RSA PKCS#1 v1.5,
// signed attributes content-type, message-digest and signing-time (the clock
// of this machine). The signer's certificate and its intermediate CAs (not a
// self-signed root) are included, as NCALayer does. The result is DER.
func (k *Key) Sign(data []byte, opts SignOptions) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(data)
	if err != nil {
		return nil, fmt.Errorf("pki: cms: %w", err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	var parents []*x509.Certificate
	for _, c := range k.Chain {
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			continue
		}
		parents = append(parents, c)
	}
	if err := sd.AddSignerChain(k.Certificate, k.PrivateKey, parents, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("pki: cms sign: %w", err)
	}
	if opts.Detached {
		sd.Detach()
	}
	der, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("pki: cms finish: %w", err)
	}
	return der, nil
}
