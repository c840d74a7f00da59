package devca

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// The index is an append-only journal, index.log: one record a line, each
// "<crc32c of the JSON, 8 hex digits> <JSON>\n", appended and fsynced under
// the CA's flock before the call returns. A record is an issued
// certificate, a revocation or a published CRL number. Issuing a key costs
// one append, where rewriting index.json cost the whole index every time
// (quadratic over thousands of keys).
//
// Readable after a crash mid-write: only the last line can be torn (no
// newline, or a checksum that fails: a partial write, or a block of zeros
// after a crash); it is ignored, and cut off before the next append. A bad
// line before the last is corruption, and an error: nothing is skipped
// silently.
//
// index.json, the index older versions rewrote whole, is still read first
// and never written again: the index is index.json, then index.log.
//
// Every CA value keeps the index in memory with the length of index.log it
// has applied, and under the flock reads only what other processes (the
// CLI beside a running server) appended since. A replaced or shortened
// index.log, or a changed index.json, is read again from the start.

const (
	legacyIndexFile = "index.json"
	journalFile     = "index.log"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is one line of the journal: exactly one field is set.
type record struct {
	Issue  *Entry      `json:"issue,omitempty"`
	Revoke *revocation `json:"revoke,omitempty"`
	// CRL is the number of the CRLs published.
	CRL int64 `json:"crl,omitempty"`
}

type revocation struct {
	Serial string    `json:"serial"`
	At     time.Time `json:"at"`
}

// index is the CA's index in memory.
type index struct {
	CRLNumber int64           `json:"crl_number"`
	Certs     []Entry         `json:"certs"`
	keys      map[string]bool // key fingerprints certified
	serials   map[string]int  // serial (lower-case hex) to its place in Certs
}

func (idx *index) init() {
	idx.keys = make(map[string]bool, len(idx.Certs))
	idx.serials = make(map[string]int, len(idx.Certs))
	for i, e := range idx.Certs {
		if e.KeyFingerprint != "" {
			idx.keys[e.KeyFingerprint] = true
		}
		idx.serials[strings.ToLower(e.Serial)] = i
	}
}

func (idx *index) keySeen(fp string) bool { return idx.keys[fp] }

// apply adds one record. A record that cannot be applied (a revocation of
// an unknown serial) is an error: the journal is not what the CA wrote.
func (idx *index) apply(r record) error {
	switch {
	case r.Issue != nil:
		e := *r.Issue
		if e.KeyFingerprint != "" {
			idx.keys[e.KeyFingerprint] = true
		}
		idx.serials[strings.ToLower(e.Serial)] = len(idx.Certs)
		idx.Certs = append(idx.Certs, e)
	case r.Revoke != nil:
		i, ok := idx.serials[strings.ToLower(r.Revoke.Serial)]
		if !ok {
			return fmt.Errorf("revocation of the unknown serial %q", r.Revoke.Serial)
		}
		if idx.Certs[i].RevokedAt == nil {
			t := r.Revoke.At
			idx.Certs[i].RevokedAt = &t
		}
	case r.CRL > 0:
		idx.CRLNumber = r.CRL
	default:
		return errors.New("empty record")
	}
	return nil
}

// cache is what a CA value knows of its index, and up to where.
type cache struct {
	idx    *index
	off    int64       // bytes of index.log applied
	log    os.FileInfo // index.log as read (nil: none yet)
	legacy os.FileInfo // index.json as read (nil: none)
}

// readIndex brings the cached index up to date with the files and returns
// it. It must run under ca.locked, and callers must not keep it past the lock.
func (ca *CA) readIndex() (*index, error) {
	legacy, err := os.Stat(ca.path(legacyIndexFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("devca: %w", err)
	}
	f, err := os.Open(ca.path(journalFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("devca: %w", err)
	}
	var log os.FileInfo
	if f != nil {
		defer f.Close()
		if log, err = f.Stat(); err != nil {
			return nil, fmt.Errorf("devca: %w", err)
		}
	}
	c := &ca.cache
	if c.idx == nil || !sameFile(c.legacy, legacy) || (c.log != nil && (log == nil || !os.SameFile(c.log, log) || log.Size() < c.off)) {
		if err := ca.reload(legacy); err != nil {
			return nil, err
		}
	}
	if f == nil {
		return c.idx, nil
	}
	c.log = log
	if log.Size() == c.off {
		return c.idx, nil
	}
	if _, err := f.Seek(c.off, io.SeekStart); err != nil {
		return nil, fmt.Errorf("devca: %w", err)
	}
	tail, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("devca: %w", err)
	}
	n, err := ca.applyLines(tail)
	c.off += int64(n)
	if err != nil {
		// Leave no half-applied state behind: read it all again next time.
		c.idx = nil
		return nil, err
	}
	return c.idx, nil
}

// sameFile reports whether a and b are the same file, unchanged (both
// missing counts as the same).
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// reload starts the cache again from index.json (or empty).
func (ca *CA) reload(legacy os.FileInfo) error {
	idx := &index{}
	if legacy != nil {
		data, err := os.ReadFile(ca.path(legacyIndexFile))
		if err != nil {
			return fmt.Errorf("devca: %w", err)
		}
		if err := json.Unmarshal(data, idx); err != nil {
			return fmt.Errorf("devca: %s: %w", legacyIndexFile, err)
		}
	}
	idx.init()
	ca.cache = cache{idx: idx, legacy: legacy}
	return nil
}

// applyLines applies the complete, intact lines of b in order and returns
// the bytes they took. A torn last line stops it without an error; a bad
// line followed by more is an error.
func (ca *CA) applyLines(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		nl := bytes.IndexByte(b[done:], '\n')
		if nl < 0 {
			return done, nil // torn tail: no newline yet
		}
		line := b[done : done+nl]
		r, err := parseRecord(line)
		if err != nil {
			if done+nl+1 == len(b) {
				return done, nil // torn tail whose bytes included a newline
			}
			return done, fmt.Errorf("devca: %s at byte %d: %w", journalFile, ca.cache.off+int64(done), err)
		}
		if err := ca.cache.idx.apply(r); err != nil {
			return done, fmt.Errorf("devca: %s at byte %d: %w", journalFile, ca.cache.off+int64(done), err)
		}
		done += nl + 1
	}
	return done, nil
}

func parseRecord(line []byte) (record, error) {
	var r record
	sum, body, ok := bytes.Cut(line, []byte{' '})
	if !ok || len(sum) != 8 {
		return r, errors.New("no checksum")
	}
	want, err := strconv.ParseUint(string(sum), 16, 32)
	if err != nil {
		return r, errors.New("bad checksum")
	}
	if crc32.Checksum(body, castagnoli) != uint32(want) {
		return r, errors.New("checksum mismatch")
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, err
	}
	return r, nil
}

func encodeRecord(buf *bytes.Buffer, r record) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	fmt.Fprintf(buf, "%08x ", crc32.Checksum(body, castagnoli))
	buf.Write(body)
	buf.WriteByte('\n')
	return nil
}

// appendRecords writes records at the end of what the cache applied
// (cutting off a torn tail), fsyncs, and only then applies them to the
// cached index. It must run under ca.locked. It reads what others appended
// first, so that nothing but a torn tail is ever cut off (callers have
// read the index under the same lock, so this finds nothing new).
func (ca *CA) appendRecords(rs ...record) error {
	if _, err := ca.readIndex(); err != nil {
		return err
	}
	c := &ca.cache
	var buf bytes.Buffer
	for _, r := range rs {
		if err := encodeRecord(&buf, r); err != nil {
			return err
		}
	}
	created := c.log == nil
	f, err := os.OpenFile(ca.path(journalFile), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(c.off); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	if _, err := f.WriteAt(buf.Bytes(), c.off); err != nil {
		_ = f.Truncate(c.off)
		return fmt.Errorf("devca: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	if created {
		// The new file's name must survive a crash too.
		if err := syncDir(ca.dir); err != nil {
			return err
		}
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	for _, r := range rs {
		if err := c.idx.apply(r); err != nil {
			c.idx = nil // read it all again next time
			return fmt.Errorf("devca: %w", err)
		}
	}
	c.off += int64(buf.Len())
	c.log = st
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	return nil
}
