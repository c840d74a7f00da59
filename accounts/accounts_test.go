package accounts

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAddAuthenticateReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notaries.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("aliya", "x"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("empty store: %v", err)
	}
	// Added after the store opened: a running server must see it.
	if err := Add(path, Notary{Login: "aliya", Name: "Алия Нотариус", IIN: "791028302728"}, "correct horse", time.Now()); err != nil {
		t.Fatal(err)
	}
	n, err := s.Authenticate("aliya", "correct horse")
	if err != nil || n.IIN != "791028302728" || !strings.HasPrefix(n.Hash, "argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("%+v %v", n, err)
	}
	if _, err := s.Authenticate("aliya", "correct horsE"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := s.Authenticate("bolat", "correct horse"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("unknown login: %v", err)
	}
	// Replacing the password replaces the account.
	if err := Add(path, Notary{Login: "aliya", Name: "Алия", IIN: "791028302728"}, "battery staple", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("aliya", "correct horse"); !errors.Is(err, ErrBadLogin) {
		t.Fatal("the old password still works")
	}
	if _, err := s.Authenticate("aliya", "battery staple"); err != nil {
		t.Fatal(err)
	}
}

func TestAddRefusals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notaries.json")
	for name, n := range map[string]struct {
		acc Notary
		pw  string
	}{
		"bad login":     {Notary{Login: "Aliya!", Name: "A", IIN: "791028302728"}, "long enough"},
		"bad IIN":       {Notary{Login: "aliya", Name: "A", IIN: "791028302729"}, "long enough"},
		"no name":       {Notary{Login: "aliya", IIN: "791028302728"}, "long enough"},
		"weak password": {Notary{Login: "aliya", Name: "A", IIN: "791028302728"}, "short"},
	} {
		if err := Add(path, n.acc, n.pw, time.Now()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCheckPasswordRejectsGarbage(t *testing.T) {
	for _, h := range []string{"", "bcrypt$x", "argon2id$v=19$m=1,t=1,p=1$!!$!!", "argon2id$v=18$m=65536,t=3,p=4$AAAA$AAAA"} {
		if CheckPassword(h, "x") {
			t.Errorf("%q accepted", h)
		}
	}
}

func TestRemoveIsNoticed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notaries.json")
	for _, login := range []string{"aliya", "bolat"} {
		if err := Add(path, Notary{Login: login, Name: "Нотариус", IIN: "791028302728"}, "correct horse", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	s.OnChange(func() { calls++ })
	if s.Refresh() || calls != 0 {
		t.Fatal("an unchanged file was reported as changed")
	}
	if err := Remove(path, "aliya"); err != nil {
		t.Fatal(err)
	}
	if err := Remove(path, "aliya"); !errors.Is(err, ErrNoSuchNotary) {
		t.Fatalf("removing twice: %v", err)
	}
	if !s.Refresh() || calls != 1 {
		t.Fatalf("the removal was not noticed (calls %d)", calls)
	}
	if _, ok := s.Get("aliya"); ok {
		t.Fatal("a removed notary is still there")
	}
	if _, ok := s.Get("bolat"); !ok {
		t.Fatal("removing one notary lost another")
	}
}

func TestStaffRolesAreKeptAndChecked(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notaries.json")
	if err := Add(p, Notary{Login: "dana", Name: "Дана Модератор", IIN: "791028302728", Roles: []string{RoleModerator}}, "dana-password", time.Now()); err != nil {
		t.Fatal(err)
	}
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := s.Get("dana"); !ok || len(n.Roles) != 1 || n.Roles[0] != RoleModerator {
		t.Fatalf("roles not kept: %+v", n)
	}
	if err := Add(p, Notary{Login: "eve", Name: "Eve", IIN: "791028302728", Roles: []string{"admin"}}, "eve-password-1", time.Now()); err == nil {
		t.Fatal("an unknown role was accepted")
	}
}

// An account is a notary with no roles (every account made before roles
// existed) or with the notary role; staff roles alone make staff only.
func TestNotaryOrStaff(t *testing.T) {
	for _, c := range []struct {
		roles  []string
		notary bool
		staff  []string
	}{
		{nil, true, nil},
		{[]string{RoleNotary}, true, nil},
		{[]string{RoleModerator}, false, []string{RoleModerator}},
		{[]string{RoleRegistrar, RoleModerator}, false, []string{RoleRegistrar, RoleModerator}},
		{[]string{RoleModerator, RoleNotary}, true, []string{RoleModerator}},
	} {
		n := Notary{Roles: c.roles}
		if n.IsNotary() != c.notary || strings.Join(n.StaffRoles(), ",") != strings.Join(c.staff, ",") {
			t.Errorf("roles %v: notary %v staff %v, want %v %v", c.roles, n.IsNotary(), n.StaffRoles(), c.notary, c.staff)
		}
	}
	p := filepath.Join(t.TempDir(), "notaries.json")
	if err := Add(p, Notary{Login: "dana", Name: "Дана", IIN: "791028302728", Roles: []string{RoleNotary, RoleModerator}}, "dana-password", time.Now()); err != nil {
		t.Fatalf("notary and moderator: %v", err)
	}
}
