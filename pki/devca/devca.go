// Package devca is the development certification authority that stands in
// for Kazakhstan's NUC (НУЦ РК) when Senim runs on embedded defaults.
//
// Like NUC it has two levels: a root, and an intermediate that issues the
// end-entity certificates with the NUC profile (serialNumber=IIN…, role OIDs,
// an AUTH_RSA authentication key and an RSA signing key). It keeps everything
// in one directory under the data directory, created on first start and
// reused afterwards:
//
//	root.crt, root.key   root CA (PEM); the key file is 0600
//	ca.crt, ca.key       intermediate CA
//	root.crl, ca.crl     CRLs (DER) of each issuer, rewritten on every revocation
//	index.log            every issued certificate and revocation, like openssl's
//	                     index.txt: an append-only journal (journal.go)
//	index.json           the index as older versions kept it: still read, never written
//	lock                 flock(2) so that the CLI and a running server can share the CA
//
// Its certificates say "NOT NUC" in their names. A deployment that trusts the
// real NUC turns the dev CA off in config.toml and lists NUC's certificates.
package devca

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/pki"
)

// Validity periods of the dev CA's certificates.
const (
	RootValidity         = 20 * 365 * 24 * time.Hour
	IntermediateValidity = 10 * 365 * 24 * time.Hour
	// DefaultValidity is NUC's period for a person's keys: one year.
	DefaultValidity = 365 * 24 * time.Hour
	crlValidity     = 30 * 24 * time.Hour
	keyBits         = 2048
)

// Errors of the CA.
var (
	// ErrNotFound is returned when a revocation names no issued certificate.
	ErrNotFound = errors.New("devca: no such certificate")
	// ErrKeyCertified: a public key the CA certified before (IssueFor).
	ErrKeyCertified = errors.New("devca: public key certified before")
	// ErrWeakKey: a public key too short to certify (IssueFor).
	ErrWeakKey = errors.New("devca: key too short")
)

// CA is an opened development CA.
type CA struct {
	dir          string
	root         *x509.Certificate
	rootKey      crypto.Signer
	intermediate *x509.Certificate
	interKey     crypto.Signer

	mu    sync.Mutex // with the flock: the index in memory
	cache cache
}

// Entry is one issued certificate in the CA's index.
type Entry struct {
	Serial     string     `json:"serial"`
	Usage      Usage      `json:"usage"`
	IIN        string     `json:"iin"`
	BIN        string     `json:"bin,omitempty"`
	CommonName string     `json:"common_name"`
	Roles      []pki.Role `json:"roles"`
	NotBefore  time.Time  `json:"not_before"`
	NotAfter   time.Time  `json:"not_after"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// KeyFingerprint is pki.PublicKeyFingerprint of the certified key: the
	// index is also the register of keys certified before (entries written
	// before it existed have none).
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
}

// Open loads the CA in dir, creating the directory, the root, the
// intermediate and empty CRLs if they do not exist yet. CRLs close to their
// next update are re-issued.
func Open(dir string, now time.Time) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devca: %w", err)
	}
	ca := &CA{dir: dir}
	err := ca.locked(func() error {
		if _, err := os.Stat(ca.path("root.crt")); errors.Is(err, os.ErrNotExist) {
			if err := ca.create(now); err != nil {
				return err
			}
		}
		if err := ca.load(); err != nil {
			return err
		}
		idx, err := ca.readIndex()
		if err != nil {
			return err
		}
		// A crash between the journal's record of a CRL and the CRL files
		// leaves files older than the index: publish them again.
		if crl, err := readCRL(ca.path("ca.crl")); err != nil || crl.NextUpdate.Before(now.Add(24*time.Hour)) ||
			crl.Number == nil || !crl.Number.IsInt64() || crl.Number.Int64() != idx.CRLNumber {
			return ca.publish(nil, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ca, nil
}

// Dir is the directory the CA lives in.
func (ca *CA) Dir() string { return ca.dir }

// Root is the root CA certificate, the trust anchor.
func (ca *CA) Root() *x509.Certificate { return ca.root }

// Intermediate is the issuing CA certificate.
func (ca *CA) Intermediate() *x509.Certificate { return ca.intermediate }

// CRLPaths are the CRL files the CA publishes, root's first.
func (ca *CA) CRLPaths() []string { return []string{ca.path("root.crl"), ca.path("ca.crl")} }

// CertPaths are the PEM files of the root and the intermediate.
func (ca *CA) CertPaths() (root, intermediate string) { return ca.path("root.crt"), ca.path("ca.crt") }

// TrustFiles names the CA's certificate and CRL files, to be merged with
// any configured ones.
func (ca *CA) TrustFiles() pki.TrustFiles {
	root, inter := ca.CertPaths()
	return pki.TrustFiles{Roots: []string{root}, Intermediates: []string{inter}, CRLs: ca.CRLPaths()}
}

// TrustStore returns a trust store anchored at the root, with the
// intermediate and both CRLs.
func (ca *CA) TrustStore() (*pki.TrustStore, error) { return pki.LoadTrustStore(ca.TrustFiles()) }

func (ca *CA) path(name string) string { return filepath.Join(ca.dir, name) }

// locked runs fn holding an exclusive flock on the CA directory, so that
// `senim dev issue` or `senim dev revoke` and a running server never
// interleave their writes.
func (ca *CA) locked(fn func() error) error {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	f, err := os.OpenFile(ca.path("lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("devca: lock: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing the file releases it too
	return fn()
}

func (ca *CA) create(now time.Time) error {
	rootKey, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Senim Development Root CA (NOT NUC)", Organization: []string{"Senim development"}, Country: []string{"KZ"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(RootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return fmt.Errorf("devca: root: %w", err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	interKey, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	interTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Senim Development CA RSA (NOT NUC)", Organization: []string{"Senim development"}, Country: []string{"KZ"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(IntermediateValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	interDER, err := x509.CreateCertificate(rand.Reader, interTmpl, root, &interKey.PublicKey, rootKey)
	if err != nil {
		return fmt.Errorf("devca: intermediate: %w", err)
	}
	for name, blk := range map[string]*pem.Block{
		"root.key": keyBlock(rootKey), "ca.key": keyBlock(interKey),
		"root.crt": {Type: "CERTIFICATE", Bytes: rootDER}, "ca.crt": {Type: "CERTIFICATE", Bytes: interDER},
	} {
		if err := writeAtomic(ca.path(name), pem.EncodeToMemory(blk), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func keyBlock(k *rsa.PrivateKey) *pem.Block {
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
}

func (ca *CA) load() error {
	var err error
	if ca.root, ca.rootKey, err = ca.loadPair("root"); err != nil {
		return err
	}
	if ca.intermediate, ca.interKey, err = ca.loadPair("ca"); err != nil {
		return err
	}
	if err := ca.intermediate.CheckSignatureFrom(ca.root); err != nil {
		return fmt.Errorf("devca: %s: intermediate is not signed by the root: %w", ca.dir, err)
	}
	return nil
}

func (ca *CA) loadPair(name string) (*x509.Certificate, crypto.Signer, error) {
	certs, err := pki.LoadCertificates(ca.path(name + ".crt"))
	if err != nil {
		return nil, nil, fmt.Errorf("devca: %w", err)
	}
	keyPEM, err := os.ReadFile(ca.path(name + ".key"))
	if err != nil {
		return nil, nil, fmt.Errorf("devca: %w", err)
	}
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		return nil, nil, fmt.Errorf("devca: %s.key: no PEM block", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("devca: %s.key: %w", name, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("devca: %s.key: unsupported key %T", name, k)
	}
	return certs[0], signer, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return n.Add(n, big.NewInt(1))
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("devca: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("devca: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	return nil
}

func readCRL(path string) (*x509.RevocationList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return x509.ParseRevocationList(data)
}

// publish records the revocations rs and the next CRL number in the
// journal, then writes both CRLs from the index. It runs under ca.locked,
// after readIndex.
func (ca *CA) publish(rs []record, now time.Time) error {
	n := ca.cache.idx.CRLNumber + 1
	if err := ca.appendRecords(append(rs, record{CRL: n})...); err != nil {
		return err
	}
	idx := ca.cache.idx
	var revoked []x509.RevocationListEntry
	for _, e := range idx.Certs {
		if e.RevokedAt == nil {
			continue
		}
		serial, ok := new(big.Int).SetString(e.Serial, 16)
		if !ok {
			return fmt.Errorf("devca: index: bad serial %q", e.Serial)
		}
		revoked = append(revoked, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: *e.RevokedAt})
	}
	for _, l := range []struct {
		file    string
		issuer  *x509.Certificate
		key     crypto.Signer
		entries []x509.RevocationListEntry
	}{
		{"root.crl", ca.root, ca.rootKey, nil},
		{"ca.crl", ca.intermediate, ca.interKey, revoked},
	} {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number:                    big.NewInt(n),
			ThisUpdate:                now.Add(-time.Minute),
			NextUpdate:                now.Add(crlValidity),
			RevokedCertificateEntries: l.entries,
		}, l.issuer, l.key)
		if err != nil {
			return fmt.Errorf("devca: crl: %w", err)
		}
		if err := writeAtomic(ca.path(l.file), der, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Entries lists every certificate the CA has issued.
func (ca *CA) Entries() ([]Entry, error) {
	var out []Entry
	err := ca.locked(func() error {
		idx, err := ca.readIndex()
		if err == nil {
			out = append([]Entry(nil), idx.Certs...)
		}
		return err
	})
	return out, err
}

// Revoke revokes the certificates whose serial (hex) is given, or every
// unrevoked certificate of an IIN, and re-publishes the CRLs. It returns the
// entries it revoked; revoking what is already revoked is not an error and
// changes nothing.
func (ca *CA) Revoke(sel Selector, now time.Time) ([]Entry, error) {
	var done []Entry
	err := ca.locked(func() error {
		idx, err := ca.readIndex()
		if err != nil {
			return err
		}
		found := false
		var rs []record
		for i := range idx.Certs {
			e := idx.Certs[i]
			if !sel.matches(&e) {
				continue
			}
			found = true
			if e.RevokedAt != nil {
				continue
			}
			t := now.UTC()
			e.RevokedAt = &t
			rs = append(rs, record{Revoke: &revocation{Serial: e.Serial, At: t}})
			done = append(done, e)
		}
		if !found {
			return fmt.Errorf("%w: %s", ErrNotFound, sel)
		}
		if len(done) == 0 {
			return nil
		}
		return ca.publish(rs, now)
	})
	return done, err
}

// Selector picks certificates for revocation: by serial, or by IIN.
type Selector struct {
	Serial string // hex, as SerialHex prints it
	IIN    iin.IIN
}

func (s Selector) matches(e *Entry) bool {
	if s.Serial != "" {
		want, ok := new(big.Int).SetString(s.Serial, 16)
		have, ok2 := new(big.Int).SetString(e.Serial, 16)
		return ok && ok2 && want.Cmp(have) == 0
	}
	return s.IIN != "" && e.IIN == s.IIN.String()
}

func (s Selector) String() string {
	if s.Serial != "" {
		return "serial " + s.Serial
	}
	return "IIN " + s.IIN.String()
}
