package evidence

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/senim-kz/senim/domain/act"
)

// A package's manifest is untrusted: a recording named with a path that
// leaves the recordings directory is a failed item, never a file read (and
// passed) from elsewhere.
func TestVerifyRecordingsStaysInItsDirectory(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "recordings")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{filepath.Join(dir, "call-1"), outside} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	data := []byte("not a recording")
	sum := sha256.Sum256(data)
	for _, p := range []string{filepath.Join(dir, "call-1", "a.ogg"), filepath.Join(outside, "a.ogg")} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := act.RecordingFile{File: "a.ogg", SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(data))}
	m := Manifest{Recordings: []act.Recording{{ID: "call-1", Files: []act.RecordingFile{file}}, {ID: "../outside", Files: []act.RecordingFile{file}}}}
	raw, _ := json.Marshal(m)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(FileManifest)
	_, _ = w.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	items, err := VerifyRecordings(buf.Bytes(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || !items[0].OK || items[1].OK {
		t.Fatalf("items %+v: want call-1 to pass and ../outside to fail", items)
	}
}
