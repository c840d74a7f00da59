package main_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/senim-kz/senim/evidence"
	"github.com/senim-kz/senim/pki"
)

// checkAfterMove exports and verifies a signed act as a server that moved
// to another address and city would: the package still verifies, and its
// document.txt is the text inside the notary's CMS, not a re-rendering
// with today's configuration.
func checkAfterMove(t *testing.T, data, actID string) {
	t.Helper()
	moved := []string{"SENIM_DOCUMENT_PUBLIC_URL=https://notary.example.kz", "SENIM_DOCUMENT_PLACE=г. Астана / Астана қ."}
	out := filepath.Join(t.TempDir(), "moved.zip")
	if res, code := cliEnv(t, data, moved, "export", "--out", out, actID); code != 0 {
		t.Fatalf("export after the move: exit %d\n%s", code, res)
	}
	if res, code := cliEnv(t, data, moved, "verify", out); code != 0 || !strings.Contains(res, "all checks passed") {
		t.Fatalf("verify after the move: exit %d\n%s", code, res)
	}
	zipped, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	files := readZip(t, zipped)
	signed, err := pki.EncapsulatedContent(files[evidence.FileNotary])
	if err != nil || !bytes.Equal(signed, files[evidence.FileDocument]) || strings.Contains(string(signed), "notary.example.kz") {
		t.Fatalf("document.txt is not the signed text (%v):\n%s", err, files[evidence.FileDocument])
	}
}
