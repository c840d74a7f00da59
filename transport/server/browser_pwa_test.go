package server_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// shellPath is a file of the app shell, the only thing the service worker
// may keep (web/static/sw.js).
var shellPath = regexp.MustCompile(`^/(index\.html|style\.css|manifest\.webmanifest|icons/icon-\d+\.png|i18n/(ru|kk|en)\.json|js/\w+\.js|vendor/(ncalayer-js-client/ncalayer-client|node-forge/forge\.min)\.js)?$`)

// assertShellOnly checks, after a signed act, that a service worker runs
// the page and that its caches hold app files only: not the act's check
// page fetched through it, not the page's query, nothing of the websocket.
// A shared phone keeps no one's data.
func assertShellOnly(b tab, code string) {
	b.t.Helper()
	b.until("no service worker runs the page", `!!navigator.serviceWorker.controller`)
	// The act's public check, fetched through the worker, must not be kept.
	b.until("the check page did not load", `fetch('/verify/' + encodeURIComponent(`+jsString(code)+`)).then(r => r.ok)`)
	cached := js[[]string](b.t, b.ctx, `(async () => {
		const out = [];
		for (const n of await caches.keys()) for (const r of await (await caches.open(n)).keys()) { const u = new URL(r.url); out.push(u.pathname + u.search); }
		return out; })()`)
	if len(cached) == 0 || !strings.Contains(strings.Join(cached, " "), "/js/app.js") {
		b.t.Fatalf("the service worker kept no app shell: %q", cached)
	}
	for _, p := range cached {
		if !shellPath.MatchString(p) {
			b.t.Errorf("the service worker kept %s, which is not the app shell", p)
		}
	}
}

// The app is installable: the manifest is served as a manifest, the
// service worker from the root (its scope is the whole app), and the CSP
// lets the page use both.
func TestAppIsInstallable(t *testing.T) {
	w := newWorld(t)
	for path, typ := range map[string]string{
		"/manifest.webmanifest": "application/manifest+json",
		"/sw.js":                "text/javascript",
		"/icons/icon-512.png":   "image/png",
	} {
		resp, err := http.Get(w.http + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), typ) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"worker-src 'self'", "manifest-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
	}
}
