package docrecog

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/outside"
	"github.com/senim-kz/senim/internal/outside/outsidetest"
	"github.com/senim-kz/senim/registry"
)

const person = "871008401427"

func openRegistry(t *testing.T) *registry.Sim {
	t.Helper()
	path := filepath.Join(t.TempDir(), "registry.json")
	err := registry.Add(path, registry.Person{IIN: person, Surname: "Сейтқали", Name: "Әйгерім", Patronymic: "Нұрланқызы",
		Document: registry.Document{Kind: "id_card", Number: "043521987", ValidUntil: "2031-05-01"}})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.OpenSim(path)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func page(marker string) []byte {
	return append([]byte("\xff\xd8\xff\xfe photo "), marker+" \xff\xd9"...)
}

func recognisers(t *testing.T) map[string]outsidetest.Adapter[Recogniser, *Dev] {
	reg := openRegistry(t)
	return outsidetest.Both(t, &Dev{Registry: reg}, &Dev{Registry: reg}, func(c outside.Client) Recogniser { return &HTTP{Client: c} })
}

func TestFieldsComeFromTheRegistry(t *testing.T) {
	ctx := context.Background()
	for name, a := range recognisers(t) {
		t.Run(name, func(t *testing.T) {
			f, err := a.Port.Recognise(ctx, issuance.DocumentIDCard, page("SENIM-IIN:"+person), page(""))
			if err != nil {
				t.Fatal(err)
			}
			want := issuance.DocumentFields{Kind: issuance.DocumentIDCard, IIN: person, Surname: "Сейтқали", Name: "Әйгерім",
				Patronymic: "Нұрланқызы", BirthDate: "1987-10-08", Number: "043521987", ValidUntil: "2031-05-01"}
			if f != want {
				t.Fatalf("fields %+v, want %+v", f, want)
			}
			// A passport photo of someone whose registry document is an ID
			// card reads as an ID card: the domain refuses the mix-up.
			if f, err := a.Port.Recognise(ctx, issuance.DocumentPassport, page("SENIM-IIN:"+person)); err != nil || f.Kind != issuance.DocumentIDCard {
				t.Fatalf("passport: %+v %v", f, err)
			}
		})
	}
}

func TestRefusalsAndFailures(t *testing.T) {
	ctx := context.Background()
	for name, a := range recognisers(t) {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				name  string
				kind  issuance.DocumentKind
				pages [][]byte
				want  error
			}{
				{"one side of an ID card", issuance.DocumentIDCard, [][]byte{page("SENIM-IIN:" + person)}, ErrBadInput},
				{"unknown kind", "licence", [][]byte{page("")}, ErrBadInput},
				{"empty page", issuance.DocumentPassport, [][]byte{{}}, ErrBadInput},
				{"no marker", issuance.DocumentPassport, [][]byte{page("")}, ErrUnreadable},
				{"unreadable", issuance.DocumentIDCard, [][]byte{page("SENIM-IIN:" + person), page(MarkerUnreadable)}, ErrUnreadable},
				{"bad check digit", issuance.DocumentPassport, [][]byte{page("SENIM-IIN:871008401428")}, ErrUnreadable},
				{"not in the registry", issuance.DocumentPassport, [][]byte{page("SENIM-IIN:760212350620")}, ErrUnreadable},
			} {
				if _, err := a.Port.Recognise(ctx, c.kind, c.pages...); !errors.Is(err, c.want) {
					t.Errorf("%s: %v, want %v", c.name, err, c.want)
				}
			}
			a.Dev.SetDown(true)
			if _, err := a.Port.Recognise(ctx, issuance.DocumentPassport, page("SENIM-IIN:"+person)); !errors.Is(err, ErrUnavailable) {
				t.Errorf("down: %v", err)
			}
			a.Dev.SetDown(false)
		})
	}
}

func TestRegistryOutage(t *testing.T) {
	reg := openRegistry(t)
	reg.SetDown(true)
	d := &Dev{Registry: reg}
	if _, err := d.Recognise(context.Background(), issuance.DocumentPassport, page("SENIM-IIN:"+person)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("registry down: %v", err)
	}
}

func TestLatencyPastTheDeadline(t *testing.T) {
	d := &Dev{Registry: openRegistry(t)}
	d.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Recognise(ctx, issuance.DocumentPassport, page("SENIM-IIN:"+person)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("slow service: %v", err)
	}
}
