package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/client"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/pki/ncalayer"
)

// browser starts headless Chromium with a fake camera and microphone.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := testtool.RequireTool(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", "new"),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// js runs an expression in the page (awaiting a promise) and returns its value.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// The notary holds the call in a real browser (headless Chromium, its fake
// camera and microphone, relay-only through Senim's TURN), with the app
// Senim serves; the client is a Go peer on the same protocol. Each side
// receives the other's media, the browser's VP8 is recorded as real VP8
// keyframes, and the recording notice is on the notary's screen.
func TestNotaryCallsFromABrowser(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	bctx := browser(t)
	actID, cl, _ := w.toCall(t)

	if err := chromedp.Do(bctx, chromedp.Navigate(w.http+"/")); err != nil {
		t.Fatal(err)
	}
	js[any](t, bctx, `document.getElementById('role').value = 'notary';
		document.getElementById('login').value = 'aliya';
		document.getElementById('password').value = 'aliya-password';
		document.getElementById('signinBtn').click()`)
	poll := func(what, expr string) {
		t.Helper()
		testtool.Eventually(t, 60*time.Second, 100*time.Millisecond, func() error {
			if ok := js[bool](t, bctx, expr); !ok {
				return fmt.Errorf("%s; page says %q", what, js[string](t, bctx, `document.getElementById('log').textContent`))
			}
			return nil
		})
	}
	poll("not signed in", `!!(window.senim.me && window.senim.me.role === 'notary')`)
	js[any](t, bctx, `document.getElementById('openId').value = '`+actID+`'; document.getElementById('openBtn').click()`)
	poll("the act is not open", `!!(window.senim.state && window.senim.state.call === 'active')`)
	js[any](t, bctx, `document.getElementById('relayOnly').checked = true; run(joinCall)`)
	poll("not in the call", `!!(window.senim.call && window.senim.call.pc)`) // the peer connection exists once joined arrives
	if got := js[string](t, bctx, `document.getElementById('notice').textContent`); got != act.RecordingNotice {
		t.Fatalf("notice on screen %q", got)
	}

	clientStream := sfu.StreamID("client:" + clientIIN)
	cCall, err := cl.StartCall(ctx, actID, webrtc.Configuration{}, clientStream, 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer cCall.Close()
	hears(t, cCall, sfu.StreamID("notary:aliya")) // the browser's camera and microphone
	testtool.Eventually(t, 60*time.Second, 200*time.Millisecond, func() error {
		n := js[float64](t, bctx, `(async () => {
			let n = 0;
			(await window.senim.call.pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.packetsReceived; });
			return n; })()`)
		if n < 30 {
			return fmt.Errorf("the browser received %v video packets", n)
		}
		return nil
	})
	relay := js[bool](t, bctx, `(async () => {
		let relay = false;
		const st = await window.senim.call.pc.getStats();
		st.forEach(r => { if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') {
			const local = st.get(r.localCandidateId); relay = relay || (local && local.candidateType === 'relay'); } });
		return relay; })()`)
	if !relay {
		t.Fatal("the browser's call does not go through the relay")
	}

	if _, err := cl.Command(ctx, actID, "end_call", nil); err != nil {
		t.Fatal(err)
	}
	poll("the page did not see the call end", `window.senim.call === null`)
	var s act.State
	testtool.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		s = w.state(t, cl, actID)
		if len(s.Recordings) != 1 || s.Recordings[0].FinishedAt.IsZero() {
			return fmt.Errorf("recordings %+v", s.Recordings)
		}
		return nil
	})
	found := false
	for _, f := range s.Recordings[0].Files {
		if f.Participant != "notary:aliya" || f.Kind != "video" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(w.dir, "recordings", actID, s.Recordings[0].ID, f.File))
		if err != nil {
			t.Fatal(err)
		}
		// IVF: a 32-byte file header, a 12-byte frame header, then the first
		// VP8 frame, which must be a keyframe with its start code.
		if len(data) < 44+10 || !bytes.Equal(data[44+3:44+6], []byte{0x9d, 0x01, 0x2a}) || data[44]&1 != 0 {
			t.Fatalf("%s does not start with a VP8 keyframe", f.File)
		}
		found = true
	}
	if !found {
		t.Fatalf("no recording of the browser's video: %+v", s.Recordings[0].Files)
	}
}

// ncalayerFor runs an NCALayer stand-in with one person's keys on a
// loopback port and returns its ws URL.
func ncalayerFor(t *testing.T, keys client.KeySigner) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = ncalayer.Serve(ctx, ln, &ncalayer.Signer{Keys: keys, Log: zerolog.Nop()}, nil) }()
	return "ws://" + ln.Addr().String()
}

// tab is one page of the browser app.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (b tab) js(expr string) { js[any](b.t, b.ctx, expr) }

// until polls a page condition.
func (b tab) until(what, expr string) {
	b.t.Helper()
	testtool.Eventually(b.t, 90*time.Second, 100*time.Millisecond, func() error {
		if !js[bool](b.t, b.ctx, expr) {
			return fmt.Errorf("%s; the page says %q", what, js[string](b.t, b.ctx, `document.getElementById('log').textContent`))
		}
		return nil
	})
}

// click presses the n-th button labelled label once it is on the page.
func (b tab) click(label string, n int) {
	b.t.Helper()
	sel := fmt.Sprintf(`[...document.querySelectorAll('button')].filter(b => b.textContent === %q)[%d]`, label, n)
	b.until("no button "+label, "!!"+sel)
	b.js(sel + ".click()")
}

// A whole notarial act in the browser app, as the README tells it: the
// client signs in and signs through an NCALayer stand-in, applies, calls;
// the notary takes the call from the desk; both are in the video call
// (real VP8 decoded on each side); checks, a draft, the client's signed
// approval, the bank, the notary's EDS signature. The attorney consents
// from the Go client.
func TestWholeActInTheBrowser(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	bctx := browser(t)
	if err := chromedp.Do(bctx, chromedp.Navigate(w.http+"/?ncalayer="+ncalayerFor(t, w.client))); err != nil {
		t.Fatal(err)
	}
	nctx, cancel := chromedp.NewContext(bctx) // a second tab in the running browser
	t.Cleanup(cancel)
	cTab, nTab := tab{t, bctx}, tab{t, nctx}
	if err := chromedp.Do(nTab.ctx, chromedp.Navigate(w.http+"/?ncalayer="+ncalayerFor(t, w.notary))); err != nil {
		t.Fatal(err)
	}
	cTab.js(`document.getElementById('role').value = 'client'; document.getElementById('role').dispatchEvent(new Event('change'))`)
	cTab.click("Sign in", 0)
	cTab.until("the client is not signed in", `!!(window.senim.me && window.senim.me.iin === '`+clientIIN+`')`)
	nTab.js(`document.getElementById('password').value = 'aliya-password'`)
	nTab.click("Sign in", 0)
	nTab.until("the notary is not signed in", `!!(window.senim.me && window.senim.me.role === 'notary')`)
	nTab.click("Available", 0)

	cTab.js(`document.getElementById('phone').value = '+7 701 234 56 78';
		document.getElementById('attorneyIIN').value = '` + attorneyIIN + `';
		document.getElementById('consent').checked = true`)
	cTab.click("Sign and submit the application", 0)
	cTab.until("no act", `!!(window.senim.state && window.senim.state.phase === 'awaiting_consent')`)
	actID := js[string](t, cTab.ctx, `window.senim.act`)
	at := w.eds("attorney", w.attorney)
	cms := mustOf[string](t)(at.SignStep(ctx, w.attorney, actID, "consent", 0))
	mustOf[client.Ack](t)(at.Command(ctx, actID, "give_consent", map[string]any{"cms": cms}))

	cTab.click("Call a notary", 0)
	nTab.click("Accept the call", 0)
	nTab.until("the notary's act is not open", `!!(window.senim.state && window.senim.state.call === 'active')`)
	cTab.until("the client does not see the call", `!!(window.senim.state && window.senim.state.call === 'active')`)
	nTab.click("Join the video call", 0)
	cTab.click("Join the video call", 0)
	decoded := `(async () => {
		if (!window.senim.call || !window.senim.call.pc) return false; // joined not here yet
		let n = 0;
		(await window.senim.call.pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0; });
		return n > 10; })()`
	cTab.until("the client decodes no video from the notary", decoded)
	nTab.until("the notary decodes no video from the client", decoded)

	for i := 0; i < 4; i++ {
		nTab.click("pass", i)
	}
	nTab.until("checks not recorded", `Object.keys(window.senim.state.checks || {}).length === 4`)
	nTab.js(`const f = document.querySelectorAll('#actions fieldset')[1];
		f.querySelector('input').value = '1-2026-0007';
		f.querySelector('textarea').value = 'Управлять и распоряжаться автомобилем'`)
	nTab.click("Show the draft to the client", 0)
	cTab.click("Approve revision 1 (EDS)", 0)
	nTab.until("not approved", `window.senim.state.approved === 1`)
	nTab.click("Issue the invoice", 0)
	cTab.until("no invoice on the client's page", `!!window.senim.state.invoice`)
	w.pay(t, cl(t, w), actID)
	nTab.until("not paid", `(window.senim.state.payments || []).length === 1`)
	nTab.click("Issue the document code", 0)
	nTab.until("no code", `!!window.senim.state.document_code`)
	nTab.click("Sign the act (EDS)", 0)
	cTab.until("the client's page does not show the signed act", `window.senim.state.phase === 'signed'`)
	cTab.until("the call did not end with the signature", `window.senim.call === null`)
	s := w.state(t, cl(t, w), actID)
	if s.Phase != act.PhaseSigned || s.NotarySig == nil || s.ApprovalSig == nil || len(s.Checks) != 4 {
		t.Fatalf("final state: %s", s.Phase)
	}
	testtool.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		s = w.state(t, cl(t, w), actID)
		if len(s.Recordings) != 1 || len(s.Recordings[0].Files) != 4 {
			return fmt.Errorf("recordings %+v", s.Recordings)
		}
		return nil
	})
}

func cl(t *testing.T, w *world) *client.Client { return w.eds("client", w.client) }
