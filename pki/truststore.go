package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync"
	"time"
)

// TrustStore is the set of CA certificates and CRLs that signatures are
// judged against. Roots are trust anchors; intermediates help build chains
// when a CMS does not carry them. CRLs are files: each is re-read when its
// size or modification time changes, so a revocation published by another
// process (senim dev revoke, or a CRL fetched by cron) takes effect without a
// restart.
//
// A TrustStore is safe for concurrent use.
type TrustStore struct {
	roots         *x509.CertPool
	rootCerts     []*x509.Certificate
	intermediates []*x509.Certificate

	mu   sync.Mutex
	crls []*crlFile
}

type crlFile struct {
	path    string
	modTime time.Time
	size    int64
	lists   []*x509.RevocationList
	checked map[*x509.RevocationList]*x509.Certificate // CRL -> issuer whose signature it carries
}

// NewTrustStore builds a store from anchors and intermediates. At least one
// root is required.
func NewTrustStore(roots, intermediates []*x509.Certificate) (*TrustStore, error) {
	if len(roots) == 0 {
		return nil, errors.New("pki: trust store needs at least one root certificate")
	}
	ts := &TrustStore{roots: x509.NewCertPool()}
	for _, r := range roots {
		ts.roots.AddCert(r)
	}
	ts.rootCerts = append(ts.rootCerts, roots...)
	ts.intermediates = append(ts.intermediates, intermediates...)
	return ts, nil
}

// Roots returns the trust anchors.
func (ts *TrustStore) Roots() []*x509.Certificate { return ts.rootCerts }

// Intermediates returns the configured intermediate CA certificates.
func (ts *TrustStore) Intermediates() []*x509.Certificate { return ts.intermediates }

// AddCRLFile registers a CRL file (DER or PEM, one or more lists). The file
// must exist and parse now; later changes are picked up on use.
func (ts *TrustStore) AddCRLFile(path string) error {
	f := &crlFile{path: path}
	if err := f.load(); err != nil {
		return err
	}
	ts.mu.Lock()
	ts.crls = append(ts.crls, f)
	ts.mu.Unlock()
	return nil
}

func (f *crlFile) load() error {
	st, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("pki: crl: %w", err)
	}
	if st.ModTime().Equal(f.modTime) && st.Size() == f.size && f.lists != nil {
		return nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("pki: crl: %w", err)
	}
	lists, err := ParseCRLs(data)
	if err != nil {
		return fmt.Errorf("pki: crl %s: %w", f.path, err)
	}
	f.lists, f.modTime, f.size = lists, st.ModTime(), st.Size()
	f.checked = make(map[*x509.RevocationList]*x509.Certificate)
	return nil
}

// ParseCRLs reads one DER CRL or any number of PEM "X509 CRL" blocks.
func ParseCRLs(data []byte) ([]*x509.RevocationList, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		l, err := x509.ParseRevocationList(data)
		if err != nil {
			return nil, err
		}
		return []*x509.RevocationList{l}, nil
	}
	var out []*x509.RevocationList
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "X509 CRL" {
			continue
		}
		l, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, errors.New("no X509 CRL block found")
	}
	return out, nil
}

// revocation reports whether cert, issued by issuer, is listed in a CRL that
// issuer signed, with the revocation time. CRL files that fail to reload keep
// their last good content: a broken download must not un-revoke anyone.
func (ts *TrustStore) revocation(cert, issuer *x509.Certificate) (bool, time.Time) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, f := range ts.crls {
		_ = f.load()
		for _, l := range f.lists {
			if !bytes.Equal(l.RawIssuer, issuer.RawSubject) {
				continue
			}
			if signer, ok := f.checked[l]; !ok || signer != issuer {
				if l.CheckSignatureFrom(issuer) != nil {
					continue
				}
				f.checked[l] = issuer
			}
			for _, e := range l.RevokedCertificateEntries {
				if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
					return true, e.RevocationTime
				}
			}
		}
	}
	return false, time.Time{}
}

// LoadCertificates reads every certificate in a PEM or DER file.
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	return certs, nil
}

// ParseCertificates reads DER certificates or PEM "CERTIFICATE" blocks.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		return x509.ParseCertificates(data)
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no CERTIFICATE block found")
	}
	return out, nil
}

// SerialHex renders a certificate serial number the way the CLI and the
// dev CA's index write it: lower-case hex.
func SerialHex(n *big.Int) string { return fmt.Sprintf("%x", n) }

// TrustFiles names the files a trust store is built from: config.toml's
// [pki] lists, plus the dev CA's files when it is on.
type TrustFiles struct {
	Roots         []string
	Intermediates []string
	CRLs          []string
}

// LoadTrustStore reads every file of f into a new trust store.
func LoadTrustStore(f TrustFiles) (*TrustStore, error) {
	var roots, inter []*x509.Certificate
	for _, p := range f.Roots {
		cs, err := LoadCertificates(p)
		if err != nil {
			return nil, err
		}
		roots = append(roots, cs...)
	}
	for _, p := range f.Intermediates {
		cs, err := LoadCertificates(p)
		if err != nil {
			return nil, err
		}
		inter = append(inter, cs...)
	}
	ts, err := NewTrustStore(roots, inter)
	if err != nil {
		return nil, err
	}
	for _, p := range f.CRLs {
		if err := ts.AddCRLFile(p); err != nil {
			return nil, err
		}
	}
	return ts, nil
}
