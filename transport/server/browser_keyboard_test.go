package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/transport/protocol"
)

// press sends keys to whatever has the focus.
func (b tab) press(keys string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.KeyEvent(keys)); err != nil {
		b.t.Fatal(err)
	}
}

// tabTo presses Tab until the focus is on the element matching sel, as a
// person without a mouse would; it fails if Tab never gets there.
func (b tab) tabTo(sel string) {
	b.t.Helper()
	at := fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, sel)
	for i := 0; i < 80; i++ {
		if js[bool](b.t, b.ctx, at) {
			return
		}
		b.press(kb.Tab)
	}
	b.t.Fatalf("Tab never reaches %s; the focus is on %s", sel, js[string](b.t, b.ctx, `document.activeElement.outerHTML.slice(0, 200)`))
}

// The client signs in, applies, calls a notary, reads the draft and
// approves it with the keyboard alone (Tab, typing, Space, Enter). The
// attorney and the notary are Go clients.
func TestClientWithTheKeyboardOnly(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	ctx := w.ctx()
	bctx := browser(t)
	b := tab{t, bctx}
	if err := chromedp.Do(bctx, chromedp.Navigate(w.http+"/?lang=ru&ncalayer="+ncalayerFor(t, w.client))); err != nil {
		t.Fatal(err)
	}
	b.until("the page is not ready", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`)
	b.tabTo("#role")
	b.press(kb.ArrowDown) // notary → client
	b.until("the role is not client", `document.getElementById('role').value === 'client'`)
	// Where the focus is once the sign-in is taken, before anything the page
	// asks the server next can answer (a microtask after the app's state
	// names the person): a person on a slow connection types from there.
	js[bool](t, bctx, `(() => { let me = window.senim.me; Object.defineProperty(window.senim, 'me', { configurable: true,
		get: () => me, set: (v) => { me = v; if (v) queueMicrotask(() => { window.focusAtSignIn ??= document.activeElement ? document.activeElement.id : ''; }); } });
		return true; })()`)
	b.tabTo("#signinBtn")
	b.press(kb.Enter)
	b.until("the client is not signed in", `!!(window.senim.me && window.senim.me.iin === '`+clientIIN+`')`)
	// The focus is on the home page as soon as the person is signed in, not
	// moved there later (once "My acts" arrives) while they type in the form.
	if id := js[string](t, bctx, `String(window.focusAtSignIn)`); id != "homeTitle" {
		t.Fatalf("signed in, the focus is on %q, not the home page's title", id)
	}

	b.tabTo("#phone")
	b.press("+7 701 234 56 78")
	b.tabTo("#attorneyIIN")
	b.press(attorneyIIN)
	b.tabTo("#consent")
	b.press(" ")
	b.until("the consent box is not ticked", `document.getElementById('consent').checked && !document.getElementById('applyBtn').disabled`)
	b.tabTo("#applyBtn")
	b.press(kb.Enter)
	b.until("no act", `!!(window.senim.state && window.senim.state.phase === 'awaiting_consent')`)
	actID := js[string](t, bctx, `window.senim.act`)

	at := w.eds("attorney", w.attorney)
	cms := mustOf[string](t)(at.SignStep(ctx, w.attorney, actID, "consent", 0))
	mustOf[client.Ack](t)(at.Command(ctx, actID, "give_consent", map[string]any{"cms": cms}))
	nt := w.notaryIn("aliya", "aliya-password")
	must(t, 0, nt.Operator(ctx, "available", ""))

	b.until("the consent is not on the page", `window.senim.state.phase === 'ready' && !!document.querySelector('button[data-k="client.call"]:not([disabled])')`)
	b.tabTo(`button[data-k="client.call"]`)
	b.press(kb.Enter)
	next(t, nt.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == actID })
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "accept_call", nil))
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "present_draft", map[string]any{"registry_number": "1-2026-0003", "powers": "Получать пенсию", "term_months": 6}))

	b.until("the draft is not shown in full", `!!document.querySelector('.draft .doc') && document.querySelector('.draft .doc').textContent.includes('Получать пенсию')`)
	b.tabTo(`button[data-k="client.approve"]`)
	b.press(kb.Enter)
	testtool.Eventually(t, 60*time.Second, 100*time.Millisecond, func() error {
		if s := w.state(t, nt, actID); s.Approved != 1 || s.ApprovalSig == nil {
			return fmt.Errorf("approved %d", s.Approved)
		}
		return nil
	})
}
