package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
)

// The SFU pauses video on a connection too weak for it and tells both
// apps: in a real browser (headless Chromium, the app Senim serves) the
// notary sees the catalog's words for it, and audio goes on. The floor is
// set above any estimate, so every connection is "weak" here.
func TestBrowserShowsAWeakConnection(t *testing.T) {
	w := newWorld(t, func(c *config.Config) {
		c.Media.VideoPauseBelow, c.Media.VideoResumeAbove = 25_000_000, 26_000_000
		c.Media.BWEInitial, c.Media.BWEMax = 27_000_000, 30_000_000
	})
	ctx := w.ctx()
	bctx := browser(t)
	actID, cl, _ := w.toCall(t)
	if err := chromedp.Do(bctx, chromedp.Navigate(w.http+"/")); err != nil {
		t.Fatal(err)
	}
	nTab := tab{t, bctx}
	nTab.until("the page is not ready", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`)
	js[any](t, bctx, `document.getElementById('role').value = 'notary';
		document.getElementById('login').value = 'aliya';
		document.getElementById('password').value = 'aliya-password'`)
	nTab.click("signin.submit", 0)
	nTab.until("not signed in", `!!(window.senim.me && window.senim.me.role === 'notary')`)
	js[any](t, bctx, `document.getElementById('openId').value = '`+actID+`'`)
	nTab.click("home.open", 0)
	nTab.until("the act is not open", `!!(window.senim.state && window.senim.state.call === 'active')`)
	nTab.click("call.join", 0)
	nTab.until("not in the call", `!!(window.senim.call && window.senim.call.pc)`)

	cCall, err := cl.StartCall(ctx, actID, webrtc.Configuration{}, sfu.StreamID("client:"+clientIIN), 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer cCall.Close()

	var words []string
	for _, lang := range []string{"en", "ru", "kk"} {
		b, err := os.ReadFile("../../web/static/i18n/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var cat map[string]string
		if err := json.Unmarshal(b, &cat); err != nil {
			t.Fatal(err)
		}
		words = append(words, cat["call.network.weak_self"], cat["call.network.weak_peer"])
	}
	testtool.Eventually(t, 60*time.Second, 200*time.Millisecond, func() error {
		shown := js[string](t, bctx, `(() => { const e = document.getElementById('network'); return e.hidden ? '' : e.textContent; })()`)
		if !slices.Contains(words, shown) {
			return fmt.Errorf("the page shows %q about the connection", shown)
		}
		return nil
	})
	// Audio goes on: the browser keeps receiving the client's.
	audio := func() float64 {
		return js[float64](t, bctx, `(async () => {
			let n = 0;
			(await window.senim.call.pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'audio') n += r.packetsReceived; });
			return n; })()`)
	}
	start := audio()
	testtool.Eventually(t, 30*time.Second, 200*time.Millisecond, func() error {
		if n := audio() - start; n < 50 {
			return fmt.Errorf("the browser received %v audio packets since", n)
		}
		return nil
	})
}
