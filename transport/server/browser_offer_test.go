package server_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/senim-kz/senim/client"
)

// The same notary in two tabs: both show the incoming call (with the
// tab title changed), and when the offer is withdrawn (here the client
// cancels the act) it vanishes from both: no stale Accept button is left.
// Then a second call is accepted in one tab, and it vanishes from the
// other (the desk withdraws it from every session of the notary who took
// it).
func TestWithdrawnOfferVanishesFromEveryTab(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	ctx := w.ctx()
	bctx := browser(t)
	if err := chromedp.Do(bctx, chromedp.Navigate(w.http+"/?lang=ru")); err != nil {
		t.Fatal(err)
	}
	second, cancel := chromedp.NewContext(bctx) // a tab in the running browser: it must run first
	t.Cleanup(cancel)
	if err := chromedp.Do(second, chromedp.Navigate(w.http+"/?lang=ru")); err != nil {
		t.Fatal(err)
	}
	tabs := []tab{{t, bctx}, {t, second}}
	for i, b := range tabs {
		b.until("the page is not ready", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`)
		b.js(`document.getElementById('password').value = 'aliya-password'`)
		b.click("signin.submit", 0)
		b.until("the notary is not signed in", `!!(window.senim.me && window.senim.me.role === 'notary')`)
		if i == 0 {
			b.click("notary.available", 0)
		}
		// The second tab opens as the notary is: available (operator_state).
		b.until("not available", `window.senim.operator === 'available' && document.getElementById('availableBtn').disabled`)
	}
	title := js[string](t, bctx, `document.title`)

	cl := w.eds("client", w.client)
	actID := mustOf[string](t)(cl.Apply(ctx, w.client, "+7 701 234 56 78", attorneyIIN))
	at := w.eds("attorney", w.attorney)
	cms := mustOf[string](t)(at.SignStep(ctx, w.attorney, actID, "consent", 0))
	mustOf[client.Ack](t)(at.Command(ctx, actID, "give_consent", map[string]any{"cms": cms}))
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "request_call", nil))

	offered := `window.senim.offers.has('` + actID + `') && document.querySelectorAll('#offers button[data-k="notary.accept"]').length === 1 && document.title !== ` + jsString(title)
	for _, b := range tabs {
		b.until("the call is not offered in every tab", offered)
	}
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "cancel_act", map[string]any{"reason": "передумал"}))
	for _, b := range tabs {
		b.until("the offer did not vanish",
			`window.senim.offers.size === 0 && !document.querySelector('#offers button[data-k="notary.accept"]') && document.title === `+jsString(title))
	}

	actB := mustOf[string](t)(cl.Apply(ctx, w.client, "+7 701 234 56 78", attorneyIIN))
	cms = mustOf[string](t)(at.SignStep(ctx, w.attorney, actB, "consent", 0))
	mustOf[client.Ack](t)(at.Command(ctx, actB, "give_consent", map[string]any{"cms": cms}))
	mustOf[client.Ack](t)(cl.Command(ctx, actB, "request_call", nil))
	offered = `window.senim.offers.has('` + actB + `') && document.querySelectorAll('#offers button[data-k="notary.accept"]').length === 1`
	for _, b := range tabs {
		b.until("the second call is not offered in every tab", offered)
	}
	tabs[0].click("notary.accept", 0)
	tabs[0].until("the accepting tab did not open the call", `!!(window.senim.state && window.senim.state.id === '`+actB+`' && window.senim.state.call === 'active')`)
	tabs[1].until("the accepted offer did not vanish from the other tab",
		`window.senim.offers.size === 0 && !document.querySelector('#offers button[data-k="notary.accept"]') && document.title === `+jsString(title))
}

// jsString quotes s for a script.
func jsString(s string) string {
	b := []byte{'"'}
	for _, r := range s {
		switch r {
		case '"', '\\':
			b = append(b, '\\', byte(r))
		default:
			b = append(b, string(r)...)
		}
	}
	return string(append(b, '"'))
}
