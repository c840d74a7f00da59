package digidocs_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/digidocs"
)

const alice, bob = "871008401427", "760212350620"

// The stand-in keeps each person's documents apart, replaces a document
// saved again under its id, and refuses ids that would leave its directory.
func TestSimKeepsEachPersonsDocuments(t *testing.T) {
	ctx := context.Background()
	s, err := digidocs.OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	doc := digidocs.Document{ID: "senim-1", Title: "power_of_attorney", MIME: "application/pdf", Data: []byte("%PDF-1"), SavedAt: time.Unix(1, 0)}
	for i := 0; i < 2; i++ {
		if err := s.Save(ctx, alice, doc); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List(ctx, alice)
	if err != nil || len(list) != 1 || list[0].Data != nil {
		t.Fatalf("alice's list %+v %v", list, err)
	}
	if got, err := s.Open(ctx, alice, "senim-1"); err != nil || string(got.Data) != "%PDF-1" {
		t.Fatalf("open %+v %v", got, err)
	}
	if list, _ := s.List(ctx, bob); len(list) != 0 {
		t.Fatalf("bob sees %+v", list)
	}
	if _, err := s.Open(ctx, bob, "senim-1"); !errors.Is(err, digidocs.ErrNotFound) {
		t.Fatalf("bob opens alice's: %v", err)
	}
	for _, bad := range []struct{ iin, id string }{{alice, "../x"}, {"../../etc", "x"}, {alice, ""}} {
		if err := s.Save(ctx, bad.iin, digidocs.Document{ID: bad.id}); !errors.Is(err, digidocs.ErrBadRequest) {
			t.Errorf("save %q/%q: %v", bad.iin, bad.id, err)
		}
	}
	s.SetFailing(true)
	if _, err := s.List(ctx, alice); !errors.Is(err, digidocs.ErrUnavailable) {
		t.Fatalf("outage: %v", err)
	}
}

// The HTTP adapter speaks the documented format with its key, and maps
// 404 and 5xx to ErrNotFound and ErrUnavailable.
func TestHTTPAdapterFormat(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k3y" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		seen = append(seen, r.Method+" "+r.URL.Path)
		switch {
		case r.Method == http.MethodPut:
			var d digidocs.Document
			if json.NewDecoder(r.Body).Decode(&d) != nil || string(d.Data) != "pdf" {
				w.WriteHeader(http.StatusBadRequest)
			}
		case strings.HasSuffix(r.URL.Path, "/documents"):
			_, _ = w.Write([]byte(`{"documents":[{"id":"senim-1","sha256":"ab"}]}`))
		case strings.HasSuffix(r.URL.Path, "/down"):
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	h, err := digidocs.NewHTTP(srv.URL, "k3y", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := h.Save(ctx, alice, digidocs.Document{ID: "senim-1", Data: []byte("pdf")}); err != nil {
		t.Fatal(err)
	}
	if l, err := h.List(ctx, alice); err != nil || len(l) != 1 || l[0].ID != "senim-1" {
		t.Fatalf("list %+v %v", l, err)
	}
	if _, err := h.Open(ctx, alice, "nope"); !errors.Is(err, digidocs.ErrNotFound) {
		t.Fatalf("open missing: %v", err)
	}
	if _, err := h.Open(ctx, alice, "down"); !errors.Is(err, digidocs.ErrUnavailable) {
		t.Fatalf("open on an outage: %v", err)
	}
	if _, err := h.Open(ctx, alice, "../x"); !errors.Is(err, digidocs.ErrBadRequest) {
		t.Fatalf("open ../x: %v", err)
	}
	want := "PUT /people/" + alice + "/documents/senim-1"
	if len(seen) == 0 || seen[0] != want {
		t.Fatalf("requests %v, want first %q", seen, want)
	}
}
