package legalreg

import (
	"context"
	"errors"
	"testing"

	"github.com/senim-kz/senim/internal/outside"
	"github.com/senim-kz/senim/internal/outside/outsidetest"
)

const (
	orgBIN  = "990240005438"
	headIIN = "061211600012"
)

func newDev(t *testing.T) *Dev {
	t.Helper()
	d := NewDev()
	if err := d.Set(orgBIN, headIIN); err != nil {
		t.Fatal(err)
	}
	return d
}

func adapters(t *testing.T) map[string]outsidetest.Adapter[Register, *Dev] {
	return outsidetest.Both(t, newDev(t), newDev(t), func(c outside.Client) Register { return &HTTP{Client: c} })
}

func TestFirstHead(t *testing.T) {
	ctx := context.Background()
	for name, a := range adapters(t) {
		t.Run(name, func(t *testing.T) {
			if h, err := a.Port.FirstHead(ctx, orgBIN); err != nil || h != headIIN {
				t.Fatalf("known: %q %v", h, err)
			}
			if _, err := a.Port.FirstHead(ctx, "940140000385"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown: %v", err)
			}
			if _, err := a.Port.FirstHead(ctx, "990240005439"); !errors.Is(err, ErrBadBIN) {
				t.Fatalf("bad check digit: %v", err)
			}
			if _, err := a.Port.FirstHead(ctx, "../../x/1234"); !errors.Is(err, ErrBadBIN) {
				t.Fatalf("a path as the BIN: %v", err)
			}
			a.Dev.SetDown(true)
			if _, err := a.Port.FirstHead(ctx, orgBIN); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("down: %v", err)
			}
			a.Dev.SetDown(false)
		})
	}
}

func TestSetChecksItsInput(t *testing.T) {
	d := NewDev()
	if err := d.Set(orgBIN, "123456789012"); !errors.Is(err, ErrBadIIN) {
		t.Fatalf("bad IIN: %v", err)
	}
	if err := d.Set("1", headIIN); !errors.Is(err, ErrBadBIN) {
		t.Fatalf("bad BIN: %v", err)
	}
}
