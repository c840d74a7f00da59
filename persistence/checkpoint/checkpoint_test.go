package checkpoint_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/persistence/checkpoint"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/persistence/eventlog/storetest"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

func TestMerkleProofs(t *testing.T) {
	// Two values every RFC 6962 implementation agrees on.
	if r := checkpoint.Root(nil); hex.EncodeToString(r[:]) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty root %x", r)
	}
	if h := sha256.Sum256([]byte{0}); hex.EncodeToString(h[:]) != "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d" {
		t.Fatal("leaf prefix")
	}
	for n := 1; n <= 17; n++ {
		leaves := make([]checkpoint.Hash, n)
		for i := range leaves {
			leaves[i] = checkpoint.Leaf{Stream: fmt.Sprintf("act/%d", i), Seq: uint64(i + 1), Hash: "ab"}.LeafHash()
		}
		root := checkpoint.Root(leaves)
		for m := 0; m < n; m++ {
			p := checkpoint.Proof(leaves, m)
			got, err := checkpoint.RootFromProof(uint64(m), uint64(n), leaves[m], p)
			if err != nil || got != root {
				t.Fatalf("n=%d m=%d: %v", n, m, err)
			}
			// Another leaf, another index or a changed path does not lead there.
			if got, err := checkpoint.RootFromProof(uint64(m), uint64(n), leaves[(m+1)%n], p); n > 1 && err == nil && got == root {
				t.Fatalf("n=%d m=%d: a wrong leaf verifies", n, m)
			}
			if len(p) > 0 {
				p[0][0] ^= 1
				if got, err := checkpoint.RootFromProof(uint64(m), uint64(n), leaves[m], p); err == nil && got == root {
					t.Fatalf("n=%d m=%d: an altered path verifies", n, m)
				}
			}
		}
		if _, err := checkpoint.RootFromProof(uint64(n), uint64(n), leaves[0], nil); err == nil {
			t.Fatal("an index past the tree verifies")
		}
	}
}

type fixture struct {
	dir string
	ca  *devca.CA
	key *pki.Key
	ts  *pki.TrustStore
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := time.Now()
	ca, err := devca.Open(filepath.Join(t.TempDir(), "devca"), now)
	if err != nil {
		t.Fatal(err)
	}
	keyDir := filepath.Join(t.TempDir(), "checkpoint")
	key, err := checkpoint.DevKey(ca, keyDir, now)
	if err != nil {
		t.Fatal(err)
	}
	// The second start loads the same key.
	again, err := checkpoint.DevKey(ca, keyDir, now)
	if err != nil || !again.Certificate.Equal(key.Certificate) {
		t.Fatalf("the development key changed on reload: %v", err)
	}
	ts, err := ca.TrustStore()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: filepath.Join(t.TempDir(), "log"), ca: ca, key: key, ts: ts}
}

func (f *fixture) open(t *testing.T) *eventlog.Log {
	t.Helper()
	l, err := eventlog.Open(f.dir, eventlog.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func appendN(t *testing.T, l *eventlog.Log, stream string, n int) {
	t.Helper()
	seq, _, _ := l.Head(stream)
	for i := 0; i < n; i++ {
		_, err := l.Append(context.Background(), eventlog.AppendRequest{Stream: stream, ExpectedSeq: seq,
			Events: []eventlog.Draft{{Type: "e", Actor: "system", At: time.Now(), Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, seq+1))}}})
		if err != nil {
			t.Fatal(err)
		}
		seq++
	}
}

func check(t *testing.T, l *eventlog.Log, ts *pki.TrustStore, opts checkpoint.VerifyOptions) []eventlog.Problem {
	t.Helper()
	var ps []eventlog.Problem
	if _, err := checkpoint.Check(l, ts, opts, func(p eventlog.Problem) { ps = append(ps, p) }); err != nil {
		t.Fatal(err)
	}
	return ps
}

// A checkpoint is written, signed and verifies; a second one lists only
// what changed; an attacker who rewrites a record and recomputes the whole
// chain and head passes the stream's own chain check, and not the
// checkpoint.
func TestCheckpointAnchorsTheHistory(t *testing.T) {
	f := newFixture(t)
	l := f.open(t)
	for _, s := range []string{"act/a", "act/b", "act/c"} {
		appendN(t, l, s, 4)
	}
	ctx := context.Background()
	st, err := checkpoint.Write(ctx, l, f.key, time.Now())
	if err != nil || st == nil || st.Number != 1 || st.Size != 3 {
		t.Fatalf("first checkpoint %+v %v", st, err)
	}
	if st, err := checkpoint.Write(ctx, l, f.key, time.Now()); st != nil || err != nil {
		t.Fatalf("a checkpoint with nothing new: %+v %v", st, err)
	}
	appendN(t, l, "act/b", 2)
	appendN(t, l, "act/d", 1)
	if st, err = checkpoint.Write(ctx, l, f.key, time.Now()); err != nil || st.Number != 2 || st.Size != 4 {
		t.Fatalf("second checkpoint %+v %v", st, err)
	}
	if ps := check(t, l, f.ts, checkpoint.VerifyOptions{BIN: "940140000385"}); len(ps) != 0 {
		t.Fatalf("a sound log: %v", ps)
	}
	if ps := check(t, l, f.ts, checkpoint.VerifyOptions{BIN: "000000000000"}); len(ps) != 2 || ps[0].Code != checkpoint.CodeInvalid {
		t.Fatalf("another organisation's BIN: %v", ps)
	}
	// The proof of act/b verifies against its records.
	state, err := checkpoint.Load(l)
	if err != nil {
		t.Fatal(err)
	}
	proof, cms, ok := checkpoint.ProofFor(state, "act/b")
	recs, _ := l.ReadAll("act/b")
	if !ok || proof.Seq != 6 {
		t.Fatalf("proof %+v", proof)
	}
	if _, _, err := checkpoint.VerifyProof(proof, recs, cms, f.ts, checkpoint.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	l.Close()

	storetest.Rechain(t, f.dir, "act/b", 3, func(r *eventlog.Record) { r.Payload = json.RawMessage(`{"n":333}`) })
	l = f.open(t)
	defer l.Close()
	if err := l.VerifyChain("act/b"); err != nil {
		t.Fatalf("the attacker's chain should verify on its own: %v", err)
	}
	ps := check(t, l, f.ts, checkpoint.VerifyOptions{})
	if len(ps) != 1 || ps[0].Code != checkpoint.CodeMismatch || ps[0].Stream != "act/b" || ps[0].Seq != 6 {
		t.Fatalf("the rechained stream: %v", ps)
	}
	recs, _ = l.ReadAll("act/b")
	if _, _, err := checkpoint.VerifyProof(proof, recs, cms, f.ts, checkpoint.VerifyOptions{}); err == nil {
		t.Fatal("the old proof verifies against the rewritten records")
	}
}

// Altered checkpoint records (a leaf of the stored list) are caught by the
// signed root; an altered proof or CMS does not verify.
func TestAlteredCheckpointsFail(t *testing.T) {
	f := newFixture(t)
	l := f.open(t)
	appendN(t, l, "act/a", 3)
	appendN(t, l, "act/b", 3)
	if _, err := checkpoint.Write(context.Background(), l, f.key, time.Now()); err != nil {
		t.Fatal(err)
	}
	state, _ := checkpoint.Load(l)
	proof, cms, _ := checkpoint.ProofFor(state, "act/a")
	recs, _ := l.ReadAll("act/a")
	bad := proof
	bad.Path = []string{strings.Repeat("00", 32)}
	if _, _, err := checkpoint.VerifyProof(bad, recs, cms, f.ts, checkpoint.VerifyOptions{}); err == nil {
		t.Fatal("an altered path verifies")
	}
	bad = proof
	bad.Root = strings.Repeat("11", 32)
	if _, _, err := checkpoint.VerifyProof(bad, recs, cms, f.ts, checkpoint.VerifyOptions{}); err == nil {
		t.Fatal("an altered root verifies")
	}
	badCMS := bytes.Clone(cms)
	i := bytes.Index(badCMS, []byte(`"root":"`)) + 10
	badCMS[i] ^= 1
	if _, _, err := checkpoint.VerifyProof(proof, recs, badCMS, f.ts, checkpoint.VerifyOptions{}); err == nil {
		t.Fatal("an altered checkpoint CMS verifies")
	}
	l.Close()
	// The attacker rewrites act/a and edits the stored checkpoint's leaf
	// to match, rechaining the checkpoint stream too.
	storetest.Rechain(t, f.dir, "act/a", 2, func(r *eventlog.Record) { r.Payload = json.RawMessage(`{"n":22}`) })
	l = f.open(t)
	newHead, _, _ := l.Head("act/a")
	recs, _ = l.ReadAll("act/a")
	l.Close()
	storetest.Rechain(t, f.dir, checkpoint.Stream, 1, func(r *eventlog.Record) {
		r.Payload = json.RawMessage(strings.Replace(string(r.Payload), proof.Hash, recs[newHead-1].Hash, 1))
	})
	l = f.open(t)
	defer l.Close()
	ps := check(t, l, f.ts, checkpoint.VerifyOptions{})
	if len(ps) != 1 || ps[0].Code != checkpoint.CodeInvalid {
		t.Fatalf("an edited checkpoint record: %v", ps)
	}
}

// OpenSSL verifies a checkpoint's CMS against the development root, and
// its content is the statement with the root.
func TestOpenSSLVerifiesACheckpoint(t *testing.T) {
	openssl := testtool.RequireTool(t, "openssl", "openssl")
	f := newFixture(t)
	l := f.open(t)
	defer l.Close()
	appendN(t, l, "act/a", 2)
	st, err := checkpoint.Write(context.Background(), l, f.key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	state, _ := checkpoint.Load(l)
	dir := t.TempDir()
	in, root, out := filepath.Join(dir, "checkpoint.cms"), filepath.Join(dir, "root.pem"), filepath.Join(dir, "statement.json")
	if err := os.WriteFile(in, state.CMS, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.ca.Root().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", in,
		"-certfile", writeInter(t, dir, f.ca), "-CAfile", root, "-purpose", "any", "-out", out).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl cms -verify: %v\n%s", err, b)
	}
	got, _ := os.ReadFile(out)
	var signed checkpoint.Statement
	if err := json.Unmarshal(got, &signed); err != nil || signed.Root != st.Root {
		t.Fatalf("openssl's content %s, want root %s", got, st.Root)
	}
}

func writeInter(t *testing.T, dir string, ca *devca.CA) string {
	t.Helper()
	p := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Intermediate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
