package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/actors"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/transport/gateway"
	"github.com/senim-kz/senim/transport/protocol"
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
	// The Go client names it: overloaded, with the server's advice.
	_, err = client.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), client.Options{})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != protocol.CodeOverloaded || ce.RetryAfterMS != 3000 {
		t.Fatalf("client.Dial: %v", err)
	}
}
