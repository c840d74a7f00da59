package main_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/evidence"
)

// checkEvidence exports a signed act, verifies it whole, then flips one
// byte in each part (and, as a careful forger would, fixes the manifest) and
// expects that part's own check to fail.
func checkEvidence(t *testing.T, data, actID string) evidence.Manifest {
	t.Helper()
	out := filepath.Join(t.TempDir(), "evidence.zip")
	mustCLI(t, data, "export", "--out", out, actID)
	if res := mustCLI(t, data, "verify", out); !strings.Contains(res, "all checks passed") || strings.Contains(res, "FAIL") {
		t.Fatalf("verify:\n%s", res)
	} else if !strings.Contains(res, "pass  checkpoint signed by the server covers the log") || !strings.Contains(res, "BIN 940140000385") {
		// The server's shutdown checkpoint covers the act.
		t.Fatalf("verify without the checkpoint:\n%s", res)
	}
	orig, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// By code, from the log.
	var m evidence.Manifest
	_ = json.Unmarshal(readZip(t, orig)[evidence.FileManifest], &m)
	if res := mustCLI(t, data, "verify", m.Code); !strings.Contains(res, "all checks passed") {
		t.Fatalf("verify by code:\n%s", res)
	}
	expect := map[string]string{
		evidence.FileDocument:    "document is the act's approved revision",
		evidence.FilePDF:         "printable PDF is the signed document",
		evidence.FileEvents:      "event log hash chain",
		evidence.FileNotary:      "notary's signature over the document",
		evidence.FileApproval:    "client's approval of the revision",
		evidence.FileApplication: "client's application",
		evidence.FileConsent:     "attorney's consent",
		// An altered checkpoint or inclusion proof (the manifest fixed).
		evidence.FileCheckpointCMS:   "checkpoint signed by the server covers the log",
		evidence.FileCheckpointProof: "checkpoint signed by the server covers the log",
	}
	for file, check := range expect {
		files := readZip(t, orig)
		b := files[file]
		i := len(b) / 2
		if file == evidence.FileCheckpointCMS {
			// The middle of a CMS may be its copy of the intermediate
			// certificate, which verification takes from the trust store;
			// alter the signed root instead.
			i = bytes.Index(b, []byte(`"root":"`)) + 9
		}
		b[i] ^= 0x01
		m.Files[file] = act.SHA256Hex(b)
		files[evidence.FileManifest], _ = json.Marshal(m)
		tampered := filepath.Join(t.TempDir(), "tampered.zip")
		writeZip(t, tampered, files)
		res, code := cli(t, data, "verify", tampered)
		if code != 1 || !strings.Contains(res, "FAIL  "+check) {
			t.Errorf("a flipped byte in %s: exit %d, want FAIL %q:\n%s", file, code, check, res)
		}
		m.Files[file] = act.SHA256Hex(readZip(t, orig)[file])
	}
	// Without fixing the manifest, the manifest names the file.
	files := readZip(t, orig)
	files[evidence.FilePDF][100] ^= 0x01
	tampered := filepath.Join(t.TempDir(), "tampered.zip")
	writeZip(t, tampered, files)
	if res, code := cli(t, data, "verify", tampered); code != 1 || !strings.Contains(res, "FAIL  file document.pdf") {
		t.Errorf("manifest mismatch not named:\n%s", res)
	}
	var clean evidence.Manifest
	_ = json.Unmarshal(readZip(t, orig)[evidence.FileManifest], &clean)
	if len(clean.Recordings) > 0 && len(clean.Recordings[0].Files) > 0 {
		// A recording's hash changed in the manifest is caught against the log.
		var forged evidence.Manifest
		_ = json.Unmarshal(readZip(t, orig)[evidence.FileManifest], &forged)
		forged.Recordings[0].Files[0].SHA256 = strings.Repeat("0", 64)
		files := readZip(t, orig)
		files[evidence.FileManifest], _ = json.Marshal(forged)
		tampered := filepath.Join(t.TempDir(), "tampered.zip")
		writeZip(t, tampered, files)
		if res, code := cli(t, data, "verify", tampered); code != 1 || !strings.Contains(res, "FAIL  recordings named in the log") {
			t.Errorf("a forged recording hash not caught:\n%s", res)
		}
	}
	return clean
}

func readZip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		out[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return out
}

func writeZip(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, b := range files {
		w, _ := zw.Create(n)
		_, _ = w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
