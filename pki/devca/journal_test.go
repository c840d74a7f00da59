package devca_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

var holder = devca.Request{IIN: "871008401427", Surname: "A", Name: "B"}

func open(t *testing.T, dir string, now time.Time) *devca.CA {
	t.Helper()
	ca, err := devca.Open(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func entries(t *testing.T, ca *devca.CA) []devca.Entry {
	t.Helper()
	es, err := ca.Entries()
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func crlSerials(t *testing.T, ca *devca.CA) map[string]bool {
	t.Helper()
	der, err := os.ReadFile(ca.CRLPaths()[1])
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range crl.RevokedCertificateEntries {
		out[pki.SerialHex(e.SerialNumber)] = true
	}
	return out
}

func fingerprint(t *testing.T, k *pki.Key) string {
	t.Helper()
	fp, err := pki.PublicKeyFingerprint(k.Certificate.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// Issues and revocations are appended to index.log; index.json is never
// written; a reopened CA reads them all back.
func TestIndexIsAnAppendOnlyJournal(t *testing.T) {
	dir, now := t.TempDir(), time.Now()
	ca := open(t, dir, now)
	pair, err := ca.IssuePair(holder, now)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, "index.log"))
	if err != nil {
		t.Fatal(err)
	}
	serial := pki.SerialHex(pair.Auth.Certificate.SerialNumber)
	if _, err := ca.Revoke(devca.Selector{Serial: serial}, now); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(filepath.Join(dir, "index.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(after, before) || len(after) <= len(before) {
		t.Fatal("revoking rewrote the journal instead of appending to it")
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("index.json was written: %v", err)
	}

	again := open(t, dir, now)
	es := entries(t, again)
	if len(es) != 2 || es[0].Serial != serial || es[0].RevokedAt == nil || es[1].RevokedAt != nil {
		t.Fatalf("reopened index: %+v", es)
	}
	if seen, err := again.KeySeen(fingerprint(t, pair.Sign)); err != nil || !seen {
		t.Fatalf("KeySeen after reopening: %v %v", seen, err)
	}
	if !crlSerials(t, again)[serial] {
		t.Fatal("the CRL does not list the revoked certificate")
	}
}

// writeLegacy writes an index.json as older versions did.
func writeLegacy(t *testing.T, dir string, crlNumber int64, es []devca.Entry) []byte {
	t.Helper()
	data, err := json.MarshalIndent(struct {
		CRLNumber int64         `json:"crl_number"`
		Certs     []devca.Entry `json:"certs"`
	}{crlNumber, es}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return data
}

// A CA directory of an older version (index.json, no index.log) keeps
// working: its certificates are listed, its keys are seen, they can be
// revoked, and index.json is left as it was.
func TestOldIndexJSONIsStillRead(t *testing.T) {
	dir, now := t.TempDir(), time.Now()
	open(t, dir, now)
	if err := os.Remove(filepath.Join(dir, "index.log")); err != nil {
		t.Fatal(err)
	}
	oldFP := strings.Repeat("ab", 32)
	old := devca.Entry{Serial: "1f2e3d", Usage: devca.UsageSign, IIN: holder.IIN.String(), CommonName: "A B",
		Roles: []pki.Role{pki.RoleIndividual}, NotBefore: now.Add(-time.Hour).UTC(), NotAfter: now.Add(time.Hour).UTC(), KeyFingerprint: oldFP}
	legacy := writeLegacy(t, dir, 7, []devca.Entry{old})

	ca := open(t, dir, now)
	if es := entries(t, ca); len(es) != 1 || es[0].Serial != old.Serial || es[0].KeyFingerprint != oldFP {
		t.Fatalf("entries of the old index: %+v", es)
	}
	if seen, err := ca.KeySeen(oldFP); err != nil || !seen {
		t.Fatalf("a key of the old index: %v %v", seen, err)
	}
	k, err := ca.Issue(holder, devca.UsageAuth, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Revoke(devca.Selector{Serial: old.Serial}, now); err != nil {
		t.Fatalf("revoking an old entry: %v", err)
	}
	if !crlSerials(t, ca)[old.Serial] {
		t.Fatal("the CRL does not list the old entry revoked")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "index.json")); !bytes.Equal(got, legacy) {
		t.Fatal("index.json was rewritten")
	}
	es := entries(t, open(t, dir, now))
	if len(es) != 2 || es[0].RevokedAt == nil || es[1].Serial != pki.SerialHex(k.Certificate.SerialNumber) {
		t.Fatalf("old and new entries after reopening: %+v", es)
	}
}

// A crash mid-append leaves a torn last line: the index before it is read,
// and the next append cuts it off, so the journal stays readable.
func TestTornTailAfterACrash(t *testing.T) {
	for name, tail := range map[string]string{
		"no newline":       `0badc0de {"issue":{"serial":"ff","usa`,
		"bad checksum":     `00000000 {"crl":99}` + "\n",
		"zeros":            string(make([]byte, 4096)),
		"no checksum":      "{\n",
		"half the sum":     "0b",
		"zeros, newline":   string(make([]byte, 100)) + "\n",
		"sum without JSON": "1234abcd \n",
	} {
		t.Run(name, func(t *testing.T) {
			dir, now := t.TempDir(), time.Now()
			ca := open(t, dir, now)
			first, err := ca.Issue(holder, devca.UsageAuth, now)
			if err != nil {
				t.Fatal(err)
			}
			log := filepath.Join(dir, "index.log")
			good, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString(tail); err != nil {
				t.Fatal(err)
			}
			f.Close()

			after := open(t, dir, now) // as the restarted process
			if es := entries(t, after); len(es) != 1 || es[0].Serial != pki.SerialHex(first.Certificate.SerialNumber) {
				t.Fatalf("index after the crash: %+v", es)
			}
			if _, err := after.Issue(holder, devca.UsageSign, now); err != nil {
				t.Fatal(err)
			}
			if es := entries(t, open(t, dir, now)); len(es) != 2 {
				t.Fatalf("%d entries after appending past the torn tail", len(es))
			}
			data, _ := os.ReadFile(log)
			if !bytes.HasPrefix(data, good) || bytes.HasPrefix(data[len(good):], []byte(tail)) || !bytes.HasSuffix(data, []byte("\n")) {
				t.Fatal("the torn tail is still in the journal")
			}
		})
	}
}

// Corruption before the last line is an error, never skipped: the index
// would otherwise forget certificates (and their keys) silently.
func TestCorruptJournalIsAnError(t *testing.T) {
	dir, now := t.TempDir(), time.Now()
	ca := open(t, dir, now)
	if _, err := ca.IssuePair(holder, now); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "index.log")
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`"iin":"871008401427"`))
	if i < 0 {
		t.Fatalf("no entry in %s", data)
	}
	data[i+8] = '2' // 871008401427 → 871028401427: the checksum no longer holds
	if err := os.WriteFile(log, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := devca.Open(dir, now); err == nil || !strings.Contains(err.Error(), "index.log") {
		t.Fatalf("open over a corrupt journal: %v", err)
	}
}

// Two CA values over one directory (a running server and `senim dev
// issue`) see each other's appends.
func TestTwoProcessesShareTheJournal(t *testing.T) {
	dir, now := t.TempDir(), time.Now()
	server, cli := open(t, dir, now), open(t, dir, now)
	if len(entries(t, server)) != 0 {
		t.Fatal("fresh CA with entries")
	}
	k, err := cli.Issue(holder, devca.UsageAuth, now)
	if err != nil {
		t.Fatal(err)
	}
	if seen, err := server.KeySeen(fingerprint(t, k)); err != nil || !seen {
		t.Fatalf("the server does not see the CLI's key: %v %v", seen, err)
	}
	if _, err := server.IssueFor(holder, devca.UsageAuth, k.Certificate.PublicKey, now); !errors.Is(err, devca.ErrKeyCertified) {
		t.Fatalf("the server certified the CLI's key again: %v", err)
	}
	k2, err := server.Issue(holder, devca.UsageSign, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Revoke(devca.Selector{Serial: pki.SerialHex(k2.Certificate.SerialNumber)}, now); err != nil {
		t.Fatalf("the CLI revokes the server's certificate: %v", err)
	}
	es := entries(t, server)
	if len(es) != 2 || es[1].RevokedAt == nil {
		t.Fatalf("the server's view: %+v", es)
	}
}

// A crash after the revocation was recorded but before the CRL files were
// written: the next Open publishes them again.
func TestCRLRepublishedAfterACrash(t *testing.T) {
	dir, now := t.TempDir(), time.Now()
	ca := open(t, dir, now)
	k, err := ca.Issue(holder, devca.UsageAuth, now)
	if err != nil {
		t.Fatal(err)
	}
	crlPath := ca.CRLPaths()[1]
	stale, err := os.ReadFile(crlPath)
	if err != nil {
		t.Fatal(err)
	}
	serial := pki.SerialHex(k.Certificate.SerialNumber)
	if _, err := ca.Revoke(devca.Selector{Serial: serial}, now); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crlPath, stale, 0o644); err != nil { // as if the process died before writing it
		t.Fatal(err)
	}
	if !crlSerials(t, open(t, dir, now))[serial] {
		t.Fatal("the CRL was not published again")
	}
}
