package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `senim operator add` writes operators.json, never notaries.json, and
// `remove` takes the account out again.
func TestOperatorAddRemove(t *testing.T) {
	data := t.TempDir()
	if out, code := cli(t, data, "operator", "add", "--login", "watch", "--name", "Дежурный"); code != 2 || !strings.Contains(out, "required") {
		t.Fatalf("without a password: exit %d\n%s", code, out)
	}
	if out, code := cli(t, data, "operator", "add", "--login", "watch", "--name", "Дежурный", "--password", "short"); code != 2 || !strings.Contains(out, "at least 10") {
		t.Fatalf("a weak password: exit %d\n%s", code, out)
	}
	mustCLI(t, data, "operator", "add", "--login", "watch", "--name", "Дежурный", "--password", "watch-password")
	b, err := os.ReadFile(filepath.Join(data, "operators.json"))
	if err != nil || !strings.Contains(string(b), `"login": "watch"`) || strings.Contains(string(b), "watch-password") {
		t.Fatalf("operators.json (%v):\n%s", err, b)
	}
	if _, err := os.Stat(filepath.Join(data, "notaries.json")); !os.IsNotExist(err) {
		t.Fatalf("an operator went into notaries.json: %v", err)
	}
	if out := mustCLI(t, data, "operator", "remove", "--login", "watch"); !strings.Contains(out, "removed") {
		t.Fatalf("remove: %s", out)
	}
	if out, code := cli(t, data, "operator", "remove", "--login", "watch"); code != 2 || !strings.Contains(out, "no such operator") {
		t.Fatalf("removing an unknown operator: exit %d\n%s", code, out)
	}
}
