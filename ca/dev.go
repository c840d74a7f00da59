package ca

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/outside"
	"github.com/senim-kz/senim/internal/safepath"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

// Limits of a Request.
const (
	// MaxCSR bounds one request's DER.
	MaxCSR = 8 << 10
	// MaxOrganization bounds the organisation's name, and each name in the
	// subject, in bytes.
	MaxOrganization = 256
	// DefaultMinKeyBits is the shortest RSA key the CA certifies.
	DefaultMinKeyBits = 2048
)

// DevOptions configure the development CA.
type DevOptions struct {
	// Delay is how long after Submit the certificates become available;
	// Fetch answers ErrPending before. A real CA signs in a queue.
	Delay time.Duration
	// MinKeyBits is the shortest RSA key certified; zero means
	// DefaultMinKeyBits.
	MinKeyBits int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Dev is the development CA: it certifies the requests' own public keys
// with pki/devca (NUC profile, the template's role OIDs, the remote
// identification OID), after Delay. Set its Faults to make it fail.
//
// It keeps every request it took as one JSON file in its directory, so that
// a restart loses none: references, pending requests and issued
// certificates. The register of certified keys is the dev CA's index
// (devca.CA.KeySeen), which also holds the keys `senim dev issue` made.
type Dev struct {
	outside.Faults

	authority *devca.CA
	dir       string
	opts      DevOptions

	mu    sync.Mutex
	byRef map[string]*devRecord
	byApp map[string]string // application id → reference
}

// Statuses of a request at the development CA.
const (
	statusPending = "pending"
	statusIssued  = "issued"
	statusRefused = "refused"
)

// devRecord is one request the development CA took, as stored.
type devRecord struct {
	Reference    string                 `json:"reference"`
	Request      Request                `json:"request"`
	Fingerprints []string               `json:"fingerprints"` // of Request.Keys, in order
	SubmittedAt  time.Time              `json:"submitted_at"`
	ReadyAt      time.Time              `json:"ready_at"`
	Status       string                 `json:"status"`
	Certificates []issuance.Certificate `json:"certificates,omitempty"`
	Refusal      *Refused               `json:"refusal,omitempty"`

	// unsaved: the outcome is decided (the dev CA's index holds the
	// certificates) but its file was not written; the next Fetch retries.
	unsaved bool
}

// NewDev opens the development CA over authority, keeping its requests in
// dir (created if missing; filepath.Join(authority.Dir(), "requests") is
// the usual place), and loads the requests stored there.
func NewDev(authority *devca.CA, dir string, opts DevOptions) (*Dev, error) {
	if opts.MinKeyBits == 0 {
		opts.MinKeyBits = DefaultMinKeyBits
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Delay < 0 || opts.MinKeyBits < 1024 {
		return nil, fmt.Errorf("ca: dev: delay must not be negative and min key bits at least 1024 (got %v, %d)", opts.Delay, opts.MinKeyBits)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ca: dev: %w", err)
	}
	d := &Dev{authority: authority, dir: dir, opts: opts, byRef: map[string]*devRecord{}, byApp: map[string]string{}}
	files, err := filepath.Glob(filepath.Join(dir, "dev-*.json"))
	if err != nil {
		return nil, fmt.Errorf("ca: dev: %w", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ca: dev: %w", err)
		}
		var rec devRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, fmt.Errorf("ca: dev: %s: %w", f, err)
		}
		if !validReference(rec.Reference) || filepath.Base(f) != rec.Reference+".json" {
			return nil, fmt.Errorf("ca: dev: %s: the file does not hold its own reference", f)
		}
		d.byRef[rec.Reference] = &rec
		d.byApp[rec.Request.ApplicationID] = rec.Reference
	}
	return d, nil
}

// Submit implements CA. The request is checked (see Validate); a second
// Submit of the same application with the same keys answers the first
// reference, with other keys ErrBadRequest. A key the CA certified before
// makes the request refused at once: Fetch then answers the *Refused.
func (d *Dev) Submit(ctx context.Context, r Request) (string, error) {
	fps, err := Validate(r, d.opts.MinKeyBits)
	if err != nil {
		return "", err
	}
	if err := d.Before(ctx); err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	ref, err := d.submit(r, fps)
	if err == nil && d.Repeat() {
		// A request delivered twice: the CA must still make one of it.
		ref, err = d.submit(r, fps)
	}
	return ref, err
}

func (d *Dev) submit(r Request, fps []string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ref, ok := d.byApp[r.ApplicationID]; ok {
		if !slices.Equal(d.byRef[ref].Fingerprints, fps) {
			return "", fmt.Errorf("%w: application %s was submitted before with other keys", ErrBadRequest, r.ApplicationID)
		}
		return ref, nil
	}
	now := d.opts.Now()
	rec := &devRecord{
		Reference: newReference(), Request: r, Fingerprints: fps,
		SubmittedAt: now, ReadyAt: now.Add(d.opts.Delay), Status: statusPending,
	}
	for i, fp := range fps {
		seen, err := d.authority.KeySeen(fp)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if seen {
			rec.Status = statusRefused
			rec.Refusal = keyReused(r.Keys[i].Purpose)
			break
		}
	}
	if err := d.store(rec); err != nil {
		return "", err
	}
	d.byRef[rec.Reference] = rec
	d.byApp[r.ApplicationID] = rec.Reference
	return rec.Reference, nil
}

func keyReused(p issuance.KeyPurpose) *Refused {
	return &Refused{Code: issuance.CodeKeyReused, Reason: fmt.Sprintf("the %s public key was certified before; make a new key pair", p)}
}

// Fetch implements CA: ErrPending until Delay has passed since Submit,
// then the certificates (the same ones on every later Fetch), or the
// *Refused of a key the CA certified in between.
func (d *Dev) Fetch(ctx context.Context, reference string) ([]issuance.Certificate, error) {
	if !validReference(reference) {
		return nil, fmt.Errorf("%w: %q", ErrUnknown, reference)
	}
	if err := d.Before(ctx); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	rec, ok := d.byRef[reference]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknown, reference)
	}
	if rec.Status == statusPending {
		if d.opts.Now().Before(rec.ReadyAt) {
			return nil, ErrPending
		}
		if err := d.sign(rec); err != nil {
			return nil, err
		}
	}
	if rec.unsaved {
		if err := d.store(rec); err != nil {
			return nil, err
		}
		rec.unsaved = false
	}
	switch rec.Status {
	case statusIssued:
		return slices.Clone(rec.Certificates), nil
	case statusRefused:
		ref := *rec.Refusal
		return nil, &ref
	}
	return nil, fmt.Errorf("%w: request %s is in an unknown state %q", ErrUnavailable, reference, rec.Status)
}

// sign certifies rec's keys, or refuses them, and stores the outcome.
// Called with d.mu held.
func (d *Dev) sign(rec *devRecord) error {
	r := rec.Request
	holder, err := devca.RequestFor(r.Subject, r.Template, r.Organization, r.Email, r.RemoteIdentified)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err) // Validate passed it: only a stored file edited by hand
	}
	keys := make([]devca.KeyFor, len(r.Keys))
	for i, k := range r.Keys {
		_, csr, err := ParseCSR(k.DER, k.Purpose)
		if err != nil {
			return err
		}
		keys[i] = devca.KeyFor{Usage: usageOf(k.Purpose), Public: csr.PublicKey}
	}
	next := *rec
	issued, err := d.authority.IssueKeys(holder, keys, d.opts.Now())
	switch {
	case errors.Is(err, devca.ErrKeyCertified):
		next.Status, next.Refusal = statusRefused, keyReused(purposeOfReused(rec, d.authority))
	case errors.Is(err, devca.ErrWeakKey):
		next.Status, next.Refusal = statusRefused, &Refused{Code: issuance.CodeWeakKey, Reason: err.Error()}
	case err != nil:
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	default:
		next.Status = statusIssued
		for i, c := range issued {
			next.Certificates = append(next.Certificates, issuance.Certificate{
				Purpose: r.Keys[i].Purpose, Serial: pki.SerialHex(c.Certificate.SerialNumber),
				Fingerprint: c.KeyFingerprint, NotAfter: c.Certificate.NotAfter, DER: c.Certificate.Raw,
			})
		}
	}
	// The outcome stands even if its file cannot be written now: signing
	// again would find the keys certified and refuse the applicant's own.
	*rec = next
	if err := d.store(rec); err != nil {
		rec.unsaved = true
		return err
	}
	return nil
}

// purposeOfReused names the first of rec's keys the register holds.
func purposeOfReused(rec *devRecord, authority *devca.CA) issuance.KeyPurpose {
	for i, fp := range rec.Fingerprints {
		if seen, _ := authority.KeySeen(fp); seen {
			return rec.Request.Keys[i].Purpose
		}
	}
	return rec.Request.Keys[0].Purpose
}

func usageOf(p issuance.KeyPurpose) devca.Usage {
	if p == issuance.KeyAUTH {
		return devca.UsageAuth
	}
	return devca.UsageSign
}

// KeySeen implements KeyRegister with the dev CA's index.
func (d *Dev) KeySeen(ctx context.Context, fingerprint string) (bool, error) {
	if !isHex64(fingerprint) {
		return false, fmt.Errorf("%w: a key fingerprint is 64 hex digits", ErrBadRequest)
	}
	if err := d.Before(ctx); err != nil {
		return false, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	seen, err := d.authority.KeySeen(fingerprint)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return seen, nil
}

// store writes rec to its file, atomically and durably.
func (d *Dev) store(rec *devRecord) error {
	data, err := json.MarshalIndent(rec, "", " ")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	path, err := safepath.Join(d.dir, rec.Reference+".json")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if err := writeFileSync(path, data); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

const referencePrefix = "dev-"

func newReference() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return referencePrefix + hex.EncodeToString(b)
}

// validReference reports whether ref is one the development CA makes.
func validReference(ref string) bool {
	h, ok := strings.CutPrefix(ref, referencePrefix)
	return ok && len(h) == 32 && isLowerHex(h)
}

func isHex64(s string) bool { return len(s) == 64 && isLowerHex(s) }

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Validate checks a Request the way the CA does before taking it, and
// returns the fingerprints of its keys, in order:
//   - the application id is one the server makes (issuance.ValidApplicationID);
//   - the subject is one issuance.BuildSubject makes (valid IIN, the name,
//     OU=BIN with a valid BIN exactly when a legal entity's template is
//     given), and the template is known;
//   - the organisation's name and the e-mail are short and printable;
//   - one or two keys, AUTH and SIGN, each at most once and with different
//     keys; each a well-formed self-signed PKCS#10 (ErrBadCSR) of an RSA key
//     of at least minBits (ErrWeakKey), whose subject, if it names an IIN or
//     a BIN, names the verified ones.
//
// Errors wrap ErrBadRequest unless said otherwise.
func Validate(r Request, minBits int) ([]string, error) {
	if !issuance.ValidApplicationID(r.ApplicationID) {
		return nil, fmt.Errorf("%w: application id %q is not one the server makes", ErrBadRequest, r.ApplicationID)
	}
	if _, err := devca.RequestFor(r.Subject, r.Template, r.Organization, r.Email, r.RemoteIdentified); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	for _, f := range []string{r.Subject.CommonName, r.Subject.Surname, r.Subject.GivenName} {
		if !printable(f, MaxOrganization) {
			return nil, fmt.Errorf("%w: a name in the subject is longer than %d bytes or not printable", ErrBadRequest, MaxOrganization)
		}
	}
	if !printable(r.Organization, MaxOrganization) {
		return nil, fmt.Errorf("%w: the organisation's name is longer than %d bytes or not printable", ErrBadRequest, MaxOrganization)
	}
	if r.Email != "" && !validEmail(r.Email) {
		return nil, fmt.Errorf("%w: the e-mail address is malformed", ErrBadRequest)
	}
	if n := len(r.Keys); n < 1 || n > 2 {
		return nil, fmt.Errorf("%w: one AUTH and one SIGN request at most, got %d", ErrBadRequest, n)
	}
	subjectIIN := strings.TrimPrefix(r.Subject.SerialNumber, "IIN")
	subjectBIN := strings.TrimPrefix(r.Subject.OrgUnit, "BIN")
	fps := make([]string, 0, len(r.Keys))
	for i, k := range r.Keys {
		if k.Purpose != issuance.KeyAUTH && k.Purpose != issuance.KeySIGN {
			return nil, fmt.Errorf("%w: key purpose must be AUTH or SIGN, not %q", ErrBadRequest, k.Purpose)
		}
		if i > 0 && r.Keys[0].Purpose == k.Purpose {
			return nil, fmt.Errorf("%w: two %s requests", ErrBadRequest, k.Purpose)
		}
		if len(k.DER) == 0 || len(k.DER) > MaxCSR {
			return nil, fmt.Errorf("%w: the %s request is empty or larger than %d bytes", ErrBadCSR, k.Purpose, MaxCSR)
		}
		facts, _, err := ParseCSR(k.DER, k.Purpose)
		if err != nil {
			return nil, err
		}
		if facts.KeyBits < minBits {
			return nil, fmt.Errorf("%w: the %s key has %d bits, at least %d are needed", ErrWeakKey, k.Purpose, facts.KeyBits, minBits)
		}
		if facts.SubjectIIN != "" && facts.SubjectIIN != subjectIIN {
			return nil, fmt.Errorf("%w: the %s request names another IIN than the verified one", ErrBadRequest, k.Purpose)
		}
		if facts.SubjectBIN != "" && facts.SubjectBIN != subjectBIN {
			return nil, fmt.Errorf("%w: the %s request names another BIN than the application's", ErrBadRequest, k.Purpose)
		}
		if slices.Contains(fps, facts.Fingerprint) {
			return nil, fmt.Errorf("%w: the AUTH and SIGN requests carry one key; each needs its own", ErrBadRequest)
		}
		fps = append(fps, facts.Fingerprint)
	}
	return fps, nil
}

func printable(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

// validEmail is a shape check: one @, a local part, a domain with a dot
// inside, printable and without spaces.
func validEmail(e string) bool {
	if len(e) > issuance.MaxEmailLen || !printable(e, issuance.MaxEmailLen) || strings.ContainsAny(e, " \t") {
		return false
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || strings.Contains(domain, "@") {
		return false
	}
	i := strings.LastIndexByte(domain, '.')
	return i > 0 && i < len(domain)-1
}
