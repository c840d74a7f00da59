package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/checkpoint"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki/devca"
)

// The checkpoint item passes for the files CheckpointFiles makes, and
// fails when the proof, the CMS or the act's record is altered.
func TestCheckpointItem(t *testing.T) {
	ca, err := devca.Open(filepath.Join(t.TempDir(), "devca"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, err := checkpoint.DevKey(ca, t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := ca.TrustStore()
	l, err := eventlog.Open(filepath.Join(t.TempDir(), "log"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, s := range []string{"act/x", "act/y", "act/z"} {
		for i := uint64(0); i < 3; i++ {
			if _, err := l.Append(context.Background(), eventlog.AppendRequest{Stream: s, ExpectedSeq: i,
				Events: []eventlog.Draft{{Type: "e", Actor: "system", At: time.Now(), Payload: json.RawMessage(`{}`)}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := checkpoint.Write(context.Background(), l, key, time.Now()); err != nil {
		t.Fatal(err)
	}
	st, _ := checkpoint.Load(l)
	p, cms, _ := checkpoint.ProofFor(st, "act/y")
	recs, _ := l.ReadAll("act/y")
	pack := func(p checkpoint.InclusionProof, cms []byte) (map[string][]byte, Manifest) {
		files := map[string][]byte{}
		m := Manifest{Files: map[string]string{}}
		for _, f := range CheckpointFiles(p, cms) {
			files[f.Name] = f.Data
			m.Files[f.Name] = act.SHA256Hex(f.Data)
		}
		return files, m
	}
	files, m := pack(p, cms)
	if it := verifyCheckpoint(files, m, recs, ts); !it.OK || !strings.Contains(it.Note, "checkpoint 1") {
		t.Fatalf("sound checkpoint: %+v", it)
	}
	if it := verifyCheckpoint(map[string][]byte{}, Manifest{}, recs, ts); !it.OK || !strings.Contains(it.Note, "none") {
		t.Fatalf("no checkpoint: %+v", it)
	}
	bad := p
	bad.Path = append([]string{}, p.Path...)
	bad.Path[0] = strings.Repeat("0", 64)
	files, m = pack(bad, cms)
	if it := verifyCheckpoint(files, m, recs, ts); it.OK {
		t.Fatal("an altered proof passes")
	}
	badCMS := bytes.Clone(cms)
	badCMS[bytes.Index(badCMS, []byte(`"root":"`))+9] ^= 1
	files, m = pack(p, badCMS)
	if it := verifyCheckpoint(files, m, recs, ts); it.OK {
		t.Fatal("an altered checkpoint CMS passes")
	}
	files, m = pack(p, cms)
	files[FileCheckpointProof] = append(files[FileCheckpointProof], ' ')
	if it := verifyCheckpoint(files, m, recs, ts); it.OK {
		t.Fatal("a file that differs from the manifest passes")
	}
	altered := append([]eventlog.Record{}, recs...)
	altered[2].Hash = strings.Repeat("ab", 32)
	files, m = pack(p, cms)
	if it := verifyCheckpoint(files, m, altered, ts); it.OK {
		t.Fatal("a log whose checkpointed record changed passes")
	}
	xs, _ := l.ReadAll("act/x")
	if it := verifyCheckpoint(files, m, xs, ts); it.OK {
		t.Fatal("another act's proof passes")
	}
}
