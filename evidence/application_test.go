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

	"github.com/senim-kz/senim/domain/issuance"
)

// An application package's manifest is untrusted: an upload or a recording
// named with a path that leaves the application's directory is a failed
// item, never a file read (and passed) from elsewhere.
func TestVerifyApplicationFilesStaysInItsDirectory(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "app")
	for _, d := range []string{filepath.Join(dir, "calls", "call-1"), filepath.Join(root, "calls", "x")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	data := []byte("stored bytes")
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	for _, p := range []string{filepath.Join(dir, "selfie.jpg"), filepath.Join(dir, "calls", "call-1", "a.ogg"),
		filepath.Join(root, "secret"), filepath.Join(root, "calls", "x", "a.ogg")} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := issuance.CallFile{File: "a.ogg", SHA256: hexSum, Bytes: int64(len(data))}
	m := ApplicationManifest{Format: FormatApplication,
		Uploads: []issuance.Upload{{Name: "selfie.jpg", SHA256: hexSum, Size: int64(len(data))}, {Name: "../secret", SHA256: hexSum, Size: int64(len(data))}},
		Recordings: []issuance.CallRecorded{{Recording: "call-1", Files: []issuance.CallFile{file}},
			{Recording: "../../calls/x", Files: []issuance.CallFile{file}}}}
	raw, _ := json.Marshal(m)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(FileManifest)
	_, _ = w.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if FormatOf(buf.Bytes()) != FormatApplication {
		t.Fatal("the package's format is not read")
	}
	items, err := VerifyApplicationFiles(buf.Bytes(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 4 || !items[0].OK || items[1].OK || !items[2].OK || items[3].OK {
		t.Fatalf("items %+v: want the application's own files to pass and the others to fail", items)
	}
	// A package of this format is checked as an application, not an act.
	items, err = VerifyAny(buf.Bytes(), nil)
	if err != nil || len(items) == 0 || items[0].Name != "manifest" || !items[0].OK || Passed(items) {
		t.Fatalf("VerifyAny: %+v %v", items, err)
	}
}
