package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/transport/protocol"
)

// A session an act under way needs is signed in again after the server
// shed it (HTTP 503 + Retry-After), as the app does; an act's first sign-in
// is not retried, so that a shed act counts as overloaded.
func TestShedSignInIsRetriedMidAct(t *testing.T) {
	srv, dir := startServer(t)
	target, err := url.Parse("http://" + srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var shed atomic.Int32 // upgrades still to refuse
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" && shed.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	now := time.Now()
	ca, err := openCA(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	people, err := issue(ca, dir, iins(0, 1), true, now)
	if err != nil {
		t.Fatal(err)
	}
	g := &generator{opts: smallRun(srv.Addr(), dir), wsURL: "ws" + strings.TrimPrefix(front.URL, "http") + "/ws"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	shed.Store(1)
	if _, err := g.signIn(ctx, "client", people[0]); client.CodeOf(err) != protocol.CodeOverloaded {
		t.Fatalf("a shed first sign-in: %v, want overloaded", err)
	}
	shed.Store(2)
	c, err := g.signInRetrying(ctx, "attorney", people[0])
	if err != nil {
		t.Fatalf("shed twice, then let in: %v", err)
	}
	c.CloseNow()
	if n := shed.Load(); n >= 0 {
		t.Fatalf("%d refusals left: the sign-in was not tried again", n+1)
	}
}

// In the active scenario a shed command is sent again after the server's
// retry-after and the act goes on; any other refusal ends the step.
func TestActiveStepRetriesShedCommands(t *testing.T) {
	g := &generator{rec: newRecorder(time.Now())}
	a := &heldAct{actRun: actRun{g: g}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sent := 0
	err := a.retrying(ctx, func() error {
		sent++
		if sent <= 2 {
			return &client.Error{Code: protocol.CodeOverloaded, RetryAfterMS: 1}
		}
		return nil
	})
	if err != nil || sent != 3 || g.rec.errors["overloaded_retried"] != 2 {
		t.Fatalf("err %v after %d sends, %v counted", err, sent, g.rec.errors)
	}
	sent = 0
	err = a.retrying(ctx, func() error { sent++; return &client.Error{Code: protocol.CodeBadMessage} })
	if client.CodeOf(err) != protocol.CodeBadMessage || sent != 1 {
		t.Fatalf("a refusal other than overloaded: %v after %d sends", err, sent)
	}
}
