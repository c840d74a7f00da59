package server_test

import (
	"testing"
)

// A reload keeps the person signed in without a new signature: the page
// resumes with the token of its last welcome (sessionStorage, this tab
// only) and reopens the act in its address. The reloaded page points at
// an NCALayer that does not exist, so any signature would fail. Signing
// out forgets the token.
func TestReloadResumesWithoutANewSignature(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	bctx := browser(t)
	b := tab{t, bctx}
	b.navigate(w.http + "/?lang=en&ncalayer=" + ncalayerFor(t, w.client))
	b.until("the page is not ready", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`)
	b.js(`document.getElementById('role').value = 'client'; document.getElementById('role').dispatchEvent(new Event('change'))`)
	b.click("signin.submit", 0)
	b.until("the client is not signed in", `!!(window.senim.me && window.senim.me.iin === '`+clientIIN+`')`)
	b.js(`document.getElementById('phone').value = '+7 701 234 56 78';
		document.getElementById('attorneyIIN').value = '` + attorneyIIN + `';
		document.getElementById('consent').click()`)
	b.click("client.apply", 0)
	b.until("no act", `!!(window.senim.state && window.senim.state.phase === 'awaiting_consent')`)
	actID := js[string](t, bctx, `window.senim.act`)

	// No NCALayer at all from here on (port 9 is discard: nothing listens).
	b.navigate(w.http + "/?lang=en&ncalayer=ws://127.0.0.1:9#act/" + actID)
	b.until("the reload did not resume the session", `!!(window.senim.me && window.senim.me.iin === '`+clientIIN+`') && document.getElementById('signin').hidden`)
	b.until("the reload did not reopen the act", `!!(window.senim.state && window.senim.state.id === '`+actID+`')`)

	b.click("app.signout", 0)
	b.until("signing out did not forget the session", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden && !sessionStorage.getItem('senim.resume')`)
}
