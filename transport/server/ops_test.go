package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/transport/server"
)

const (
	opsLogin    = "watch"
	opsPassword = "watch-password"
)

// opsHTTP is an HTTP client that does not follow redirects, so that tests
// see them.
var opsHTTP = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

func addOperator(t *testing.T, dir string) {
	t.Helper()
	if err := accounts.AddOperator(server.OperatorsPath(dir), accounts.Operator{Login: opsLogin, Name: "Дежурный"}, opsPassword, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// opsDo sends a request with the dashboard cookie (if any) and returns the
// response with its body read.
func opsDo(t *testing.T, method, u string, cookie *http.Cookie, form url.Values, accept string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	res, err := opsHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func opsSignIn(t *testing.T, base, login, password string) (*http.Response, string, *http.Cookie) {
	t.Helper()
	res, body := opsDo(t, "POST", base+"/ops/login", nil, url.Values{"login": {login}, "password": {password}}, "text/html")
	for _, c := range res.Cookies() {
		if c.Name == "senim_ops" && c.Value != "" {
			return res, body, c
		}
	}
	return res, body, nil
}

func opsSnapshot(t *testing.T, base string, cookie *http.Cookie) server.OpsSnapshot {
	t.Helper()
	res, body := opsDo(t, "GET", base+"/ops/snapshot", cookie, nil, "application/json")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("snapshot: %d %s", res.StatusCode, body)
	}
	var s server.OpsSnapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, clientIIN) || strings.Contains(body, notaryIIN) {
		t.Fatalf("a full IIN in the dashboard: %s", body)
	}
	return s
}

// Without a session every /ops path is closed: pages go to the sign-in,
// the API answers 401. A notary's credentials do not open it; an
// operator's do, with a cookie that is HttpOnly, SameSite=Strict, scoped
// to /ops and 256 random bits.
func TestOpsSignIn(t *testing.T) {
	w := newWorld(t)
	addOperator(t, w.dir)

	res, _ := opsDo(t, "GET", w.http+"/ops", nil, nil, "text/html")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ops/login" {
		t.Fatalf("the page without a session: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, p := range []string{"GET /ops/snapshot", "GET /ops/events", "GET /ops/ops.js", "POST /ops/anything", "DELETE /ops/x/y"} {
		method, path, _ := strings.Cut(p, " ")
		res, body := opsDo(t, method, w.http+path, nil, nil, "application/json")
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"ops_unauthorized"`) {
			t.Fatalf("%s without a session: %d %s", p, res.StatusCode, body)
		}
	}
	res, body := opsDo(t, "GET", w.http+"/ops/login", nil, nil, "text/html")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `action="/ops/login?lang=ru"`) || !strings.Contains(body, "Пароль") {
		t.Fatalf("the sign-in form (Russian by default): %d %s", res.StatusCode, body)
	}
	if _, body := opsDo(t, "GET", w.http+"/ops/login?lang=kk", nil, nil, "text/html"); !strings.Contains(body, "Құпиясөз") {
		t.Fatalf("the sign-in form in Kazakh: %s", body)
	}
	req, _ := http.NewRequest("GET", w.http+"/ops/login", nil)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	if res, err := opsHTTP.Do(req); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(b), `lang="en"`) || !strings.Contains(string(b), "Password") {
			t.Fatalf("the sign-in form in English: %s", b)
		}
	}

	// The notary's own, valid, credentials: refused like any wrong ones.
	res, body, cookie := opsSignIn(t, w.http, "aliya", "aliya-password")
	if res.StatusCode != http.StatusUnauthorized || cookie != nil || !strings.Contains(body, `data-code="ops_bad_login"`) {
		t.Fatalf("a notary's credentials: %d cookie=%v %s", res.StatusCode, cookie, body)
	}

	// Another site's form cannot sign this browser in (login CSRF).
	req, _ = http.NewRequest("POST", w.http+"/ops/login", strings.NewReader(url.Values{"login": {opsLogin}, "password": {opsPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, err := opsHTTP.Do(req); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 || !strings.Contains(string(b), `"ops_bad_origin"`) {
			t.Fatalf("a cross-site sign-in: %d %s", res.StatusCode, b)
		}
	}

	res, _, cookie = opsSignIn(t, w.http, opsLogin, opsPassword)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ops" || cookie == nil {
		t.Fatalf("the operator's sign-in: %d %q %v", res.StatusCode, res.Header.Get("Location"), cookie)
	}
	raw := res.Header.Get("Set-Cookie")
	for _, flag := range []string{"HttpOnly", "SameSite=Strict", "Path=/ops", "Max-Age=28800"} {
		if !strings.Contains(raw, flag) {
			t.Errorf("the cookie lacks %s: %s", flag, raw)
		}
	}
	if strings.Contains(raw, "Secure") {
		t.Errorf("Secure over plain HTTP would never come back: %s", raw)
	}
	if len(cookie.Value) != 43 { // base64url of 32 bytes
		t.Errorf("the session id %q is not 256 bits", cookie.Value)
	}

	res, body = opsDo(t, "GET", w.http+"/ops", cookie, nil, "text/html")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `src="/ops/ops.js"`) || strings.Contains(body, "<script>") {
		t.Fatalf("the page: %d %s", res.StatusCode, body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") {
		t.Fatalf("CSP %q", csp)
	}
	res, body = opsDo(t, "GET", w.http+"/ops/ops.js", cookie, nil, "")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "EventSource") {
		t.Fatalf("ops.js: %d", res.StatusCode)
	}

	// The cookie is no websocket credential: a connection carrying it is
	// still not signed in.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, w.url, client.Options{Header: http.Header{"Cookie": {cookie.String()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var out any
	refused(t, c.Query(ctx, "acts", "", nil, &out), protocol.CodeNotSignedIn)

	// Signing out ends the session on the server, not just in the browser.
	res, _ = opsDo(t, "POST", w.http+"/ops/logout", cookie, nil, "text/html")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ops/login" ||
		!strings.Contains(res.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %q %q", res.StatusCode, res.Header.Get("Location"), res.Header.Get("Set-Cookie"))
	}
	if res, _ := opsDo(t, "GET", w.http+"/ops/snapshot", cookie, nil, "application/json"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the old cookie after logout: %d", res.StatusCode)
	}

	// An operator removed from the file loses their open session.
	_, _, cookie = opsSignIn(t, w.http, opsLogin, opsPassword)
	if err := accounts.RemoveOperator(server.OperatorsPath(w.dir), opsLogin); err != nil {
		t.Fatal(err)
	}
	if res, _ := opsDo(t, "GET", w.http+"/ops/snapshot", cookie, nil, "application/json"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a removed operator's cookie: %d", res.StatusCode)
	}
}

// Failed sign-ins are counted per IP; past ops.max_login_failures even the
// right password is refused, before any hashing.
func TestOpsLoginLimit(t *testing.T) {
	w := newWorld(t, func(c *config.Config) { c.Ops.MaxLoginFailures = 2 })
	addOperator(t, w.dir)
	for i := 0; i < 2; i++ {
		if res, _, _ := opsSignIn(t, w.http, opsLogin, "wrong-password"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, res.StatusCode)
		}
	}
	res, body, cookie := opsSignIn(t, w.http, opsLogin, opsPassword)
	if res.StatusCode != http.StatusTooManyRequests || cookie != nil || !strings.Contains(body, `data-code="ops_login_limited"`) {
		t.Fatalf("past the limit: %d %v %s", res.StatusCode, cookie, body)
	}
}

// The snapshot follows the desk: a waiting call with the principal's IIN
// masked, the notary online and available, then in the call.
func TestOpsSnapshotFollowsTheDesk(t *testing.T) {
	w := newWorld(t)
	addOperator(t, w.dir)
	_, _, cookie := opsSignIn(t, w.http, opsLogin, opsPassword)
	if cookie == nil {
		t.Fatal("no session")
	}
	ctx := w.ctx()
	cl := w.eds("client", w.client)
	actID := mustOf[string](t)(cl.Apply(ctx, w.client, "+7 701 234 56 78", attorneyIIN))
	at := w.eds("attorney", w.attorney)
	cms := mustOf[string](t)(at.SignStep(ctx, w.attorney, actID, "consent", 0))
	mustOf[client.Ack](t)(at.Command(ctx, actID, "give_consent", map[string]any{"cms": cms}))
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "request_call", nil))

	masked := iin.IIN(clientIIN).Masked()
	testtool.Eventually(t, 20*time.Second, 100*time.Millisecond, func() error {
		s := opsSnapshot(t, w.http, cookie)
		if len(s.Calls) != 1 || s.Calls[0].ActID != actID || s.Calls[0].Principal != masked || s.Waiting != 1 {
			return fmt.Errorf("calls %+v", s.Calls)
		}
		if s.Sessions["client"] != 1 || s.Sessions["attorney"] != 1 {
			return fmt.Errorf("sessions %v", s.Sessions)
		}
		if s.Acts["ready"] != 1 {
			return fmt.Errorf("acts by phase %v", s.Acts)
		}
		return nil
	})

	nt := w.notaryIn("aliya", "aliya-password")
	must(t, 0, nt.Operator(ctx, "available", ""))
	next(t, nt.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == actID })
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "accept_call", nil))
	testtool.Eventually(t, 20*time.Second, 100*time.Millisecond, func() error {
		s := opsSnapshot(t, w.http, cookie)
		if len(s.Calls) != 0 || len(s.Online) != 1 {
			return fmt.Errorf("calls %+v online %+v", s.Calls, s.Online)
		}
		if n := s.Online[0]; n.Login != "aliya" || n.State != "in_call" || n.Act != actID || n.Sessions != 1 {
			return fmt.Errorf("online %+v", n)
		}
		if s.Notaries["busy"] != 1 || s.Sessions["notary"] != 1 {
			return fmt.Errorf("notaries %v sessions %v", s.Notaries, s.Sessions)
		}
		return nil
	})
}

// /ops/events starts with the history and then sends a snapshot each
// second, for a signed-in operator only.
func TestOpsEventStream(t *testing.T) {
	w := newWorld(t)
	addOperator(t, w.dir)
	_, _, cookie := opsSignIn(t, w.http, opsLogin, opsPassword)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", w.http+"/ops/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.AddCookie(cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(res.Body)
	var events []string
	for len(events) < 3 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %v: %v", events, err)
		}
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "event: "); ok {
			events = append(events, name)
			continue
		}
		if data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok && len(events) > 0 {
			var v any
			if err := json.Unmarshal([]byte(data), &v); err != nil {
				t.Fatalf("%s data is not JSON: %v", events[len(events)-1], err)
			}
		}
	}
	if events[0] != "history" || events[1] != "snapshot" || events[2] != "snapshot" {
		t.Fatalf("events %v", events)
	}
}
