package accounts

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// Operators and notaries are kinds apart: the same login and password in
// one file never opens the other.
func TestOperatorsAreNotNotaries(t *testing.T) {
	dir := t.TempDir()
	notaries, operators := filepath.Join(dir, "notaries.json"), filepath.Join(dir, "operators.json")
	if err := Add(notaries, Notary{Login: "aliya", Name: "Алия", IIN: "791028302728"}, "notary-password", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := AddOperator(operators, Operator{Login: "ops", Name: "Дежурный"}, "operator-password", time.Now()); err != nil {
		t.Fatal(err)
	}
	ns, err := Open(notaries)
	if err != nil {
		t.Fatal(err)
	}
	os, err := OpenOperators(operators)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Authenticate("aliya", "notary-password"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("a notary's credentials opened /ops: %v", err)
	}
	if _, err := ns.Authenticate("ops", "operator-password"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("an operator signed in as a notary: %v", err)
	}
	if o, err := os.Authenticate("ops", "operator-password"); err != nil || o.Name != "Дежурный" {
		t.Fatalf("%+v %v", o, err)
	}
	if _, err := os.Authenticate("ops", "operator-passworD"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("wrong password: %v", err)
	}
	// Removed while the store is open: a running server sees it.
	if err := RemoveOperator(operators, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, ok := os.Get("ops"); ok {
		t.Fatal("a removed operator is still known")
	}
	if err := RemoveOperator(operators, "ops"); !errors.Is(err, ErrNoSuchOperator) {
		t.Fatalf("second remove: %v", err)
	}
	for name, c := range map[string]struct {
		o  Operator
		pw string
	}{
		"bad login":     {Operator{Login: "Ops!", Name: "A"}, "long enough"},
		"no name":       {Operator{Login: "ops"}, "long enough"},
		"weak password": {Operator{Login: "ops", Name: "A"}, "short"},
	} {
		if err := AddOperator(operators, c.o, c.pw, time.Now()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
