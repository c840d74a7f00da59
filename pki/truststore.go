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

	"github.com/senim-kz/senim/internal/nowake"
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

	chains chainCache // chains built from signers' certificates

	mu         sync.Mutex
	crls       []*crlFile
	requireCRL bool
	onChange   []func()
}

type crlFile struct {
	path    string
	modTime time.Time // of the version in lists
	size    int64
	lists   []*crlList
	loaded  time.Time // when lists were read
	checks  int       // how many times the file's size and time were looked at
	reads   int       // how many times it was read

	// A version of the file that could not be read or parsed (a download
	// cut short) is not read again until it changes: a large CRL must not
	// be re-parsed on every verification. failures counts each failed
	// version once; err is the last one's, nil once a version loads.
	failures int
	err      error
	badTime  time.Time
	badSize  int64
}

// crlList is one CRL of a file: the list without its entries, which are
// indexed in revoked instead.
type crlList struct {
	list    *x509.RevocationList
	revoked revokedSet
	scope   crlScope          // what the list covers (crlscope.go)
	signer  *x509.Certificate // the issuer whose signature the list was found to carry
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

// RequireCRL makes every issuing CA of a chain need a current CRL: without
// one, a signature is refused with revocation_unknown. Off, a CA with no CRL
// at all is taken as revoking nobody (offline audits without CRLs); a CRL
// that is present but past its next update refuses either way.
func (ts *TrustStore) RequireCRL(on bool) {
	ts.mu.Lock()
	ts.requireCRL = on
	ts.mu.Unlock()
}

// OnChange registers fn to be called after a CRL file's content changed
// (found by Refresh or on use). It lets the server re-judge the
// certificates of open sessions. fn runs on the goroutine that noticed the
// change, after the store's lock is released: it must not block.
func (ts *TrustStore) OnChange(fn func()) {
	ts.mu.Lock()
	ts.onChange = append(ts.onChange, fn)
	ts.mu.Unlock()
}

// Refresh re-reads every CRL file that changed and reports whether any did.
// Every judgement of a certificate calls it first; a server also calls it on
// a timer, so that a revocation is noticed even while nobody signs anything.
func (ts *TrustStore) Refresh() bool {
	ts.mu.Lock()
	changed := ts.reloadLocked()
	fns := ts.onChange
	ts.mu.Unlock()
	if changed {
		for _, fn := range fns {
			fn()
		}
	}
	return changed
}

// reloadLocked re-reads changed CRL files; ts.mu is held.
func (ts *TrustStore) reloadLocked() bool {
	changed := false
	for _, f := range ts.crls {
		if c, _ := f.load(); c {
			changed = true
		}
	}
	return changed
}

// AddCRLFile registers a CRL file (DER or PEM, one or more lists). The file
// must exist and parse now; later changes are picked up on use.
func (ts *TrustStore) AddCRLFile(path string) error {
	f := &crlFile{path: path}
	if _, err := f.load(); err != nil {
		return err
	}
	ts.mu.Lock()
	ts.crls = append(ts.crls, f)
	ts.mu.Unlock()
	return nil
}

// load re-reads the file if its size or modification time changed, and
// reports whether its content was replaced. The check runs on every
// verification, so it is a raw statx (internal/nowake: the runtime's
// entry for a system call woke its monitor thread on an idle server).
func (f *crlFile) load() (bool, error) {
	f.checks++
	size, mtime, err := nowake.StatFile(f.path)
	if err != nil {
		return false, f.fail(fmt.Errorf("pki: crl: %w", err), time.Time{}, -1)
	}
	if mtime.Equal(f.modTime) && size == f.size && f.lists != nil {
		f.err = nil // back to the version in use
		return false, nil
	}
	if f.err != nil && mtime.Equal(f.badTime) && size == f.badSize {
		return false, f.err
	}
	f.reads++
	data, err := os.ReadFile(f.path)
	if err != nil {
		return false, f.fail(fmt.Errorf("pki: crl: %w", err), mtime, size)
	}
	lists, err := ParseCRLs(data)
	if err != nil {
		return false, f.fail(fmt.Errorf("pki: crl %s: %w", f.path, err), mtime, size)
	}
	indexed := make([]*crlList, len(lists))
	for i, l := range lists {
		indexed[i] = &crlList{list: l, revoked: newRevokedSet(l.RevokedCertificateEntries), scope: scopeOf(l)}
		// The set holds what the entries said; x509 parsed each entry twice
		// (both fields), at about 300 bytes an entry, and nothing reads them.
		//lint:ignore SA1019 x509 still fills the deprecated copy; it is let go
		l.RevokedCertificateEntries, l.RevokedCertificates = nil, nil
	}
	f.lists, f.modTime, f.size, f.err = indexed, mtime, size, nil
	f.loaded = time.Now()
	return true, nil
}

// fail records err as the failure of the file's version (mtime, size; a
// file that cannot even be looked at is its own version) and returns it.
func (f *crlFile) fail(err error, mtime time.Time, size int64) error {
	if f.err == nil || !mtime.Equal(f.badTime) || size != f.badSize {
		f.failures++
	}
	f.err, f.badTime, f.badSize = err, mtime, size
	return err
}

// CRLFile is what a trust store holds of one CRL file, for /metrics.
type CRLFile struct {
	Path     string
	Lists    []CRLInfo // of the version in use
	Loaded   time.Time // when that version was read
	Failures int       // versions of the file that could not be read or parsed
	Err      error     // why the file on disk is not the version in use; nil when it is
}

// CRLInfo is one CRL of a file.
type CRLInfo struct {
	Issuer     string // the issuer's common name
	ThisUpdate time.Time
	NextUpdate time.Time // zero when the CRL has none
	Entries    int       // distinct serial numbers revoked
	Delta      bool      // a delta CRL: it counts only beside its complete CRL
	Ignored    string    // why the list is not used at all; "" when it is
}

// CRLFiles reports each CRL file as the store holds it.
func (ts *TrustStore) CRLFiles() []CRLFile {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]CRLFile, 0, len(ts.crls))
	for _, f := range ts.crls {
		cf := CRLFile{Path: f.path, Loaded: f.loaded, Failures: f.failures, Err: f.err}
		for _, c := range f.lists {
			cf.Lists = append(cf.Lists, CRLInfo{Issuer: c.list.Issuer.CommonName, ThisUpdate: c.list.ThisUpdate,
				NextUpdate: c.list.NextUpdate, Entries: c.revoked.len(), Delta: c.scope.deltaBase != nil, Ignored: c.scope.unusable})
		}
		out = append(out, cf)
	}
	return out
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
			if bytes.Contains(data, []byte("-----BEGIN")) {
				// A file cut short inside a block must not load as the
				// lists before it.
				return nil, errors.New("a PEM block that does not end")
			}
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

// revocation judges cert, issued by issuer, at time at against the CRLs
// that issuer signed. It returns nil when cert is not revoked at at and
// that is known; CodeRevoked when a CRL lists it as revoked (or on hold) at
// or before at (even a stale CRL, or a delta without its complete CRL,
// proves that); CodeRevocationUnknown when the issuer's CRLs that cover
// cert are all past their next update at at, or there is none and CRLs are
// required. CRL files that fail to reload keep their last good content: a
// broken download must not un-revoke anyone.
func (ts *TrustStore) revocation(cert, issuer *x509.Certificate, at time.Time) *Error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.revocationLocked(cert, issuer, at)
}

func (ts *TrustStore) revocationLocked(cert, issuer *x509.Certificate, at time.Time) *Error {
	// The lists issuer signed that Senim can read whole.
	var buf [4]*crlList
	lists := buf[:0]
	for _, f := range ts.crls {
		for _, c := range f.lists {
			l := c.list
			if c.scope.unusable != "" || !bytes.Equal(l.RawIssuer, issuer.RawSubject) {
				continue
			}
			if c.signer != issuer {
				if l.CheckSignatureFrom(issuer) != nil {
					continue
				}
				c.signer = issuer
			}
			lists = append(lists, c)
		}
	}
	// A revocation any of them lists is a fact, stale or not; a hold
	// (certificateHold) ends where a delta CRL that extends a complete one
	// lists the certificate as removeFromCRL.
	for _, c := range lists {
		when, reason, ok := c.revoked.lookup(cert.SerialNumber)
		if !ok || reason == reasonRemoveFromCRL || when.After(at) {
			continue
		}
		if reason == reasonCertificateHold && released(lists, cert, when, at) {
			continue
		}
		return refuse(CodeRevoked, nil, "certificate %s (%s) was revoked at %s",
			SerialHex(cert.SerialNumber), cert.Subject.CommonName, when.UTC().Format(time.RFC3339))
	}
	// Whether they speak for cert at at: a list that covers it (not one of
	// another scope), current; a delta CRL only beside its complete CRL.
	found, current := false, false
	var stale time.Time
	for _, c := range lists {
		if !c.scope.covers(cert) || (c.scope.deltaBase != nil && !hasBase(lists, c, cert)) {
			continue
		}
		found = true
		// A CRL without nextUpdate never says how long it holds
		// (RFC 5280 requires the field): it is never current.
		if l := c.list; !l.NextUpdate.IsZero() && !at.After(l.NextUpdate) {
			current = true
		} else if l.NextUpdate.After(stale) {
			stale = l.NextUpdate
		}
	}
	switch {
	case current:
		return nil
	case found && stale.IsZero():
		return refuse(CodeRevocationUnknown, nil, "the CRL of %s has no next update", issuer.Subject.CommonName)
	case found:
		return refuse(CodeRevocationUnknown, nil, "the CRL of %s is past its next update (%s) at %s",
			issuer.Subject.CommonName, stale.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	case ts.requireCRL && len(lists) > 0:
		return refuse(CodeRevocationUnknown, nil, "no CRL of %s covers certificate %s (a delta CRL counts beside its complete CRL only, a partial CRL for what it covers), and CRLs are required (pki.require_crl)",
			issuer.Subject.CommonName, SerialHex(cert.SerialNumber))
	case ts.requireCRL:
		return refuse(CodeRevocationUnknown, nil, "no CRL of %s, and CRLs are required (pki.require_crl)", issuer.Subject.CommonName)
	}
	return nil
}

// hasBase reports whether lists hold a complete CRL that delta extends
// (its number at least the delta's base) and that covers cert.
func hasBase(lists []*crlList, delta *crlList, cert *x509.Certificate) bool {
	for _, c := range lists {
		if c.scope.deltaBase == nil && c.list.Number != nil && c.list.Number.Cmp(delta.scope.deltaBase) >= 0 && c.scope.covers(cert) {
			return true
		}
	}
	return false
}

// released reports whether a hold of cert placed at heldAt was lifted by at:
// a delta CRL among lists, beside its complete CRL, lists cert as
// removeFromCRL at a time from heldAt to at.
func released(lists []*crlList, cert *x509.Certificate, heldAt, at time.Time) bool {
	for _, c := range lists {
		if c.scope.deltaBase == nil || !hasBase(lists, c, cert) {
			continue
		}
		if when, reason, ok := c.revoked.lookup(cert.SerialNumber); ok && reason == reasonRemoveFromCRL && !when.Before(heldAt) && !when.After(at) {
			return true
		}
	}
	return false
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
