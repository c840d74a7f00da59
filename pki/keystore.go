package pki

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// Key is a private key with its certificate and the CA certificates above it
// (nearest issuer first). It is what a PKCS#12 key store holds.
type Key struct {
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	PrivateKey  crypto.Signer
}

// Fingerprint is the hex SHA-256 of the certificate's DER encoding.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// PublicKeyFingerprint is the hex SHA-256 of pub's SubjectPublicKeyInfo, DER
// as crypto/x509 encodes it: one key has one fingerprint, whether it comes
// from a certificate request or a certificate. It is what registers of
// certified keys compare.
func PublicKeyFingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("pki: public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// KeyStoreFileName is the name NUC gives the key store of cert:
// AUTH_RSA256_<serial>.p12 for an authentication key (clientAuth), and
// RSA256_<serial>.p12 for a signing key, the serial in lower-case hex.
func KeyStoreFileName(cert *x509.Certificate) string {
	prefix := "RSA256_"
	if hasEKU(cert, x509.ExtKeyUsageClientAuth) {
		prefix = "AUTH_RSA256_"
	}
	return prefix + SerialHex(cert.SerialNumber) + ".p12"
}

// EncodePKCS12 writes k as a PKCS#12 key store protected by password, which
// must pass ValidateKeyStorePassword. It uses AES-256 and PBKDF2 (the 2023
// profile that OpenSSL 3 and NCALayer read).
func EncodePKCS12(k *Key, password string) ([]byte, error) {
	if err := ValidateKeyStorePassword(password); err != nil {
		return nil, err
	}
	der, err := pkcs12.Modern2023.Encode(k.PrivateKey, k.Certificate, k.Chain, password)
	if err != nil {
		return nil, fmt.Errorf("pki: encode PKCS#12: %w", err)
	}
	return der, nil
}

// DecodePKCS12 opens a PKCS#12 key store. A wrong password is refused with
// CodeWrongPassword, anything unreadable or a key that is not RSA with
// CodeBadKeyStore. The chain is ordered nearest issuer first when the store
// holds the issuers.
func DecodePKCS12(der []byte, password string) (*Key, error) {
	priv, cert, cas, err := pkcs12.DecodeChain(der, password)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return nil, refuse(CodeWrongPassword, nil, "the key-store password is wrong")
	}
	if err != nil {
		return nil, refuse(CodeBadKeyStore, err, "cannot read the PKCS#12 key store")
	}
	rk, ok := priv.(*rsa.PrivateKey)
	if !ok {
		return nil, refuse(CodeBadKeyStore, nil, "unsupported private key type %T (Senim signs with RSA; GOST is not supported yet)", priv)
	}
	if !rk.PublicKey.Equal(cert.PublicKey) {
		return nil, refuse(CodeBadKeyStore, nil, "the key store's certificate does not match its private key")
	}
	return &Key{Certificate: cert, Chain: orderChain(cert, cas), PrivateKey: rk}, nil
}

// LoadPKCS12 reads and opens a PKCS#12 file.
func LoadPKCS12(path, password string) (*Key, error) {
	der, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	k, err := DecodePKCS12(der, password)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// orderChain returns the certificates of pool that lead up from leaf, nearest
// issuer first, ending where no issuer is found or at a self-signed root.
func orderChain(leaf *x509.Certificate, pool []*x509.Certificate) []*x509.Certificate {
	var chain []*x509.Certificate
	cur := leaf
	for len(chain) < len(pool) {
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) {
			break
		}
		var next *x509.Certificate
		for _, c := range pool {
			if bytes.Equal(c.RawSubject, cur.RawIssuer) && cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return chain
}
