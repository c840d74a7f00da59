package server_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/internal/testserver"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/transport/server"
)

// recheckWorld is a server that looks at its CRL and accounts files often,
// so that a revocation ends sessions within the test's patience.
func recheckWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	srv := testserver.Start(t, dir, func(cfg *config.Config) {
		cfg.TURN.Enabled = false
		cfg.Media.Enabled = false
		cfg.PKI.ReloadInterval = config.Duration(50 * time.Millisecond)
	})
	return worldOn(t, dir, srv)
}

// closedWith waits (with a deadline) for the server to close c, and checks
// the close code 1008 and that the reason starts with code.
func closedWith(t *testing.T, c *client.Client, code string) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("the session was not closed within 30s (want %s)", code)
	}
	var ce websocket.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.HasPrefix(ce.Reason, code+": ") {
		t.Fatalf("closed with %v, want 1008 %q", c.Err(), code)
	}
}

// alive proves a session still answers.
func alive(t *testing.T, w *world, c *client.Client) {
	t.Helper()
	var out any
	if err := c.Query(w.ctx(), "my_acts", "", nil, &out); err != nil && client.CodeOf(err) == "" {
		t.Fatalf("a session that should stay open is gone: %v", err)
	}
}

func TestRevokedCertificateEndsItsSession(t *testing.T) {
	w := recheckWorld(t)
	revoked := w.eds("client", w.client)
	kept := w.eds("attorney", w.attorney)
	serial := pki.SerialHex(w.client[0].Certificate.SerialNumber)
	if _, err := w.srv.DevCA.Revoke(devca.Selector{Serial: serial}, time.Now()); err != nil {
		t.Fatal(err)
	}
	closedWith(t, revoked, string(pki.CodeRevoked))
	alive(t, w, kept)
	// And the revoked key cannot sign in again.
	_, err := w.dial().SignInEDS(w.ctx(), "client", w.client)
	refused(t, err, string(pki.CodeRevoked))
}

func TestRemovedNotaryEndsTheirSession(t *testing.T) {
	w := recheckWorld(t)
	removed := w.notaryIn("aliya", "aliya-password")
	kept := w.notaryIn("bolat", "bolat-password")
	if err := accounts.Remove(server.AccountsPath(w.dir), "aliya"); err != nil {
		t.Fatal(err)
	}
	closedWith(t, removed, "account_removed")
	alive(t, w, kept)
}
