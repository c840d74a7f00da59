package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/transport/protocol"
)

// An operator opens /ops in Chromium: sent to the sign-in, refused with a
// notary's credentials, let in with their own; the page goes live on the
// server-sent snapshots, and its tiles and tables follow a small load (a
// call waits, a notary takes it) with the principal's IIN masked. The
// cookie is out of the page's reach (HttpOnly), and signing out closes
// the page.
func TestOpsDashboardInBrowser(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	addOperator(t, w.dir)
	bctx := browser(t)
	// A poll that meets the page between two documents (a sign-in
	// redirect, the sign-out) polls again: tab.until.
	poll := tab{t, bctx}.until
	signIn := func(login, password string) {
		t.Helper()
		js[any](t, bctx, `document.querySelector('input[name=login]').value = '`+login+`';
			document.querySelector('input[name=password]').value = '`+password+`';
			setTimeout(() => document.querySelector('form').submit())`)
	}

	if err := chromedp.Do(bctx, chromedp.Navigate(w.http+"/ops")); err != nil {
		t.Fatal(err)
	}
	poll("not sent to the sign-in", `location.pathname === '/ops/login' && !!document.querySelector('input[name=password]')`)
	signIn("aliya", "aliya-password")
	poll("a notary's credentials not refused", `!!document.querySelector('[data-code=ops_bad_login]')`)
	signIn(opsLogin, opsPassword)
	poll("the dashboard is not live", `location.pathname === '/ops' && document.getElementById('status').dataset.state === 'live'`)
	if js[bool](t, bctx, `document.cookie.includes('senim_ops')`) {
		t.Fatal("the page's script can read the session cookie")
	}
	tile := func(name string) string {
		return `document.querySelector('[data-tile=` + name + `] .v').textContent`
	}
	poll("no calls waiting yet", tile("waiting")+` === '0'`)

	// The load: a client asks for a notary.
	ctx := w.ctx()
	cl := w.eds("client", w.client)
	actID := mustOf[string](t)(cl.Apply(ctx, w.client, "+7 701 234 56 78", attorneyIIN))
	at := w.eds("attorney", w.attorney)
	cms := mustOf[string](t)(at.SignStep(ctx, w.attorney, actID, "consent", 0))
	mustOf[client.Ack](t)(at.Command(ctx, actID, "give_consent", map[string]any{"cms": cms}))
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "request_call", nil))
	masked := iin.IIN(clientIIN).Masked()
	poll("the waiting call is not shown", tile("waiting")+` === '1' && document.querySelector('#calls tbody').textContent.includes('`+masked+`')`)
	if body := js[string](t, bctx, `document.body.innerText`); strings.Contains(body, clientIIN) {
		t.Fatal("the dashboard shows a full IIN")
	}

	// A notary takes it: the queue empties, the notary shows in the call.
	nt := w.notaryIn("aliya", "aliya-password")
	must(t, 0, nt.Operator(ctx, "available", ""))
	next(t, nt.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == actID })
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "accept_call", nil))
	poll("the notary is not shown in the call", tile("waiting")+` === '0' &&
		!!document.querySelector('#online tbody td[data-state=in_call]') &&
		document.querySelector('#online tbody').textContent.includes('aliya')`)
	if n := js[float64](t, bctx, `document.querySelectorAll('#charts canvas').length`); n < 15 {
		t.Fatalf("%v charts", n)
	}
	// The append chart carries the WAL's syncs beside the appends, named
	// from the page's catalog (not by its key).
	poll("the append chart has no WAL sync series", `((s) => s.includes('WAL') && !s.includes('wal_sync'))((document.querySelector('#charts [data-series=wal_sync_p99]') || {}).textContent || '')`)

	js[any](t, bctx, `setTimeout(() => document.querySelector('header form button').click())`)
	poll("not signed out", `location.pathname === '/ops/login'`)
	if err := chromedp.Do(bctx, chromedp.Navigate(w.http+"/ops")); err != nil {
		t.Fatal(err)
	}
	poll("the page opens after signing out", `location.pathname === '/ops/login'`)
}
