package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/senim-kz/senim/actors"
	"github.com/senim-kz/senim/transport/gateway"
)

// While the server's work in flight is at its bound, a new websocket is
// answered HTTP 503 with a Retry-After (whole seconds, rounded up) before
// any session is made for it.
func TestOverloadedServerRefusesNewConnections(t *testing.T) {
	g := &gateway.Gateway{
		Session: actors.SessionDeps{Admission: actors.NewAdmission(0, 2500*time.Millisecond)}, // always full
		Limits:  gateway.DefaultLimits(),
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if g.Conns() != 0 {
		t.Fatalf("%d connections counted", g.Conns())
	}
}
