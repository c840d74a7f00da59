package bmg

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/senim-kz/senim/internal/outside"
	"github.com/senim-kz/senim/internal/outside/outsidetest"
)

const (
	known   = "871008401427"
	unknown = "760212350620"
)

func newDev(t *testing.T) *Dev {
	t.Helper()
	d, err := NewDev(map[string]string{known: "8 701 234 56 78"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Both adapters answer the same way: the stand-in itself, and the HTTP
// adapter talking to the stand-in's handler.
func adapters(t *testing.T) map[string]outsidetest.Adapter[Database, *Dev] {
	return outsidetest.Both(t, newDev(t), newDev(t), func(c outside.Client) Database { return &HTTP{Client: c} })
}

func TestLookupAndRegister(t *testing.T) {
	ctx := context.Background()
	for name, a := range adapters(t) {
		t.Run(name, func(t *testing.T) {
			if p, err := a.Port.Lookup(ctx, known); err != nil || p != "+77012345678" {
				t.Fatalf("known: %q %v", p, err)
			}
			if _, err := a.Port.Lookup(ctx, unknown); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown: %v", err)
			}
			if _, err := a.Port.Lookup(ctx, "871008401428"); !errors.Is(err, ErrBadIIN) {
				t.Fatalf("bad check digit: %v", err)
			}
			if _, err := a.Port.Lookup(ctx, "../../admin"); !errors.Is(err, ErrBadIIN) {
				t.Fatalf("path in the IIN: %v", err)
			}
			if err := a.Port.Register(ctx, unknown, "+7 495 123 45 67"); !errors.Is(err, ErrBadPhone) {
				t.Fatalf("foreign phone: %v", err)
			}
			for i := 0; i < 2; i++ { // a repeated registration changes nothing
				if err := a.Port.Register(ctx, unknown, "+7 (702) 111-22-33"); err != nil {
					t.Fatalf("register: %v", err)
				}
			}
			if p, err := a.Port.Lookup(ctx, unknown); err != nil || p != "+77021112233" {
				t.Fatalf("registered: %q %v", p, err)
			}
			a.Dev.SetDown(true)
			if _, err := a.Port.Lookup(ctx, known); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("down: %v", err)
			}
			if err := a.Port.Register(ctx, known, "+77012345678"); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("register while down: %v", err)
			}
			a.Dev.SetDown(false)
			a.Dev.SetFailEvery(2)
			_, err1 := a.Port.Lookup(ctx, known)
			_, err2 := a.Port.Lookup(ctx, known)
			if err1 != nil || !errors.Is(err2, ErrUnavailable) {
				t.Fatalf("flaky: %v %v", err1, err2)
			}
		})
	}
}

func TestLatencyPastTheDeadline(t *testing.T) {
	d := newDev(t)
	d.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Lookup(ctx, known); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("slow database: %v", err)
	}
}

func TestNewDevRefusesBadEntries(t *testing.T) {
	if _, err := NewDev(map[string]string{"123": "+77012345678"}); !errors.Is(err, ErrBadIIN) {
		t.Fatalf("bad IIN: %v", err)
	}
	if _, err := NewDev(map[string]string{known: "1414"}); !errors.Is(err, ErrBadPhone) {
		t.Fatalf("bad phone: %v", err)
	}
}

func TestHTTPNeedsTheToken(t *testing.T) {
	d := newDev(t)
	srv := httptest.NewServer(d.Handler("tok"))
	defer srv.Close()
	h := &HTTP{Client: outside.Client{BaseURL: srv.URL, Token: "nope"}}
	if _, err := h.Lookup(context.Background(), known); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("wrong token: %v", err)
	}
}
