package registry

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestSim(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.json")
	s, err := OpenSim(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Lookup(ctx, "871008401427"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty: %v", err)
	}
	if err := Add(path, Person{IIN: "871008401427", Surname: "Сейтқали", Name: "Әйгерім", Patronymic: "Нұрланқызы",
		Document: Document{Kind: "id_card", Number: "012345678"}}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Lookup(ctx, "871008401427") // added after open: re-read
	if err != nil || p.FullName() != "СЕЙТҚАЛИ ӘЙГЕРІМ НҰРЛАНҚЫЗЫ" || p.BirthDate != "1987-10-08" {
		t.Fatalf("%+v %v", p, err)
	}
	s.SetDown(true)
	if _, err := s.Lookup(ctx, "871008401427"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("down: %v", err)
	}
	s.SetDown(false)
	for _, bad := range []Person{{IIN: "871008401428", Surname: "A", Name: "B"}, {IIN: "871008401427", Surname: "A"}} {
		if err := Add(path, bad); err == nil {
			t.Errorf("added %+v", bad)
		}
	}
}
