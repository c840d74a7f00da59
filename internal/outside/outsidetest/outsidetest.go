// Package outsidetest runs the tests of a port to an outside system (sms,
// bmg, faceid, docrecog) against both of its adapters: the development
// stand-in itself, and the HTTP adapter talking to the stand-in's handler.
// Both must answer alike, so every case runs twice. Only tests import it.
package outsidetest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/senim-kz/senim/internal/outside"
)

// Token is the bearer token the served stand-in requires.
const Token = "tok"

// Adapter is one way a test reaches a port: Port, and Dev, the stand-in
// that answers behind it (to set its faults or read what it holds).
type Adapter[P any, D any] struct {
	Port P
	Dev  D
}

// StandIn is what Both needs of a port's stand-in: its HTTP handler.
type StandIn interface {
	Handler(token string) http.Handler
}

// Both returns the port two ways: "dev", the stand-in direct itself, and
// "http", the adapter made by overHTTP talking to served's handler (which
// requires Token) on a test server that closes with the test. D must
// implement P.
func Both[P any, D StandIn](t testing.TB, direct, served D, overHTTP func(outside.Client) P) map[string]Adapter[P, D] {
	t.Helper()
	srv := httptest.NewServer(served.Handler(Token))
	t.Cleanup(srv.Close)
	return map[string]Adapter[P, D]{
		"dev":  {Port: any(direct).(P), Dev: direct},
		"http": {Port: overHTTP(outside.Client{BaseURL: srv.URL, Token: Token}), Dev: served},
	}
}
