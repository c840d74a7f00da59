package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"github.com/senim-kz/senim/actors"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/egovmobile/standin"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/web/egovpage"
)

// phone390 is a 390×844 phone with touch and a phone's browser.
type phone390 struct{}

func (phone390) Device() device.Info {
	return device.Info{Name: "phone 390x844", Width: 390, Height: 844, Scale: 3, Mobile: true, Touch: true,
		UserAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"}
}

// asPhone makes a tab a 390×844 phone: a mobile viewport, touch, and a
// phone's browser.
func asPhone(t *testing.T, b tab) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Emulate(phone390{})); err != nil {
		t.Fatal(err)
	}
}

// navigate opens url in a tab.
func (b tab) navigate(u string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(u)); err != nil {
		b.t.Fatal(err)
	}
}

// egovOpen is the eGov mobile dialog with a link on screen (a fresh one:
// each signing draws its own).
const egovOpen = `(() => { const d = document.getElementById('dialog'); return d.open && !!d.querySelector('#egovOpen'); })()`

// deepLink waits for eGov mobile's "open" button on a phone and returns
// the deep link it opens.
func (b tab) deepLink() string {
	b.t.Helper()
	b.until("no eGov mobile link on the phone", egovOpen)
	return js[string](b.t, b.ctx, `document.querySelector('#dialog #egovOpen').href`)
}

// egovPhone is the citizen's eGov mobile: it opens a link and signs it
// with the dev PIN (what the phone's owner does after the app opens).
func egovPhone(t *testing.T, keys client.KeySigner, link string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := standin.Sign(ctx, link, keys, standin.DevPIN, io.Discard); err != nil {
		t.Fatalf("eGov mobile could not sign %s: %v", link, err)
	}
}

// The whole act from a phone browser, in Russian: the client at 390×844
// (a touch screen, a phone's browser, a fake front camera) signs every step
// in eGov mobile (the stand-in signs what the deep link names): sign-in,
// application, approval and at last the revocation; the attorney, on a
// phone too, signs in and consents the same way; the notary works at a
// computer. Every screen of the phones is photographed, checked against the
// catalog and axe-core, and must not scroll sideways.
func TestWholeActOnAPhone(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	bctx := browser(t)
	sc := newScreens(t, "ru")
	cTab := tab{t, bctx}
	asPhone(t, cTab)
	cTab.navigate(w.http + "/?lang=ru")
	nctx, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	nTab := tab{t, nctx}
	nTab.navigate(w.http + "/?lang=ru&ncalayer=" + ncalayerFor(t, w.notary))

	ready := `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`
	cTab.until("the page is not ready", ready)
	cTab.js(`document.getElementById('role').value = 'client'; document.getElementById('role').dispatchEvent(new Event('change'))`)
	// On a phone NCALayer cannot run: eGov mobile is offered first.
	cTab.until("eGov mobile is not the phone's signer", `!document.getElementById('signerBox').hidden && document.getElementById('signerSel').value === 'egov'`)
	sc.shot(cTab, "phone-signin", true)
	cTab.click("signin.submit", 0)
	link := cTab.deepLink()
	if !strings.HasPrefix(link, "https://mgovsign.page.link/?link=") {
		t.Fatalf("deep link %q", link)
	}
	sc.shot(cTab, "phone-egov-signin", true)
	egovPhone(t, w.client, link)
	cTab.until("the client is not signed in", `!!(window.senim.me && window.senim.me.iin === '`+clientIIN+`')`)

	nTab.until("the page is not ready", ready)
	nTab.js(`document.getElementById('password').value = 'aliya-password'`)
	nTab.click("signin.submit", 0)
	nTab.until("the notary is not signed in", `!!(window.senim.me && window.senim.me.role === 'notary')`)
	nTab.click("notary.available", 0)

	cTab.js(`document.getElementById('phone').value = '+7 701 234 56 78';
		document.getElementById('attorneyIIN').value = '` + attorneyIIN + `';
		document.getElementById('consent').click()`)
	sc.shot(cTab, "phone-home", true)
	cTab.click("client.apply", 0)
	egovPhone(t, w.client, cTab.deepLink())
	cTab.until("no act", `!!(window.senim.state && window.senim.state.phase === 'awaiting_consent')`)
	sc.shot(cTab, "phone-awaiting-consent", true)
	actID := js[string](t, cTab.ctx, `window.senim.act`)

	// The attorney, on a phone too, signs in and consents in eGov mobile.
	actx, cancelA := chromedp.NewContext(bctx)
	t.Cleanup(cancelA)
	aTab := tab{t, actx}
	asPhone(t, aTab)
	aTab.navigate(w.http + "/?lang=ru")
	aTab.until("the page is not ready", ready)
	aTab.js(`document.getElementById('role').value = 'attorney'; document.getElementById('role').dispatchEvent(new Event('change'))`)
	aTab.click("signin.submit", 0)
	egovPhone(t, w.attorney, aTab.deepLink())
	aTab.until("the attorney is not signed in", `!!(window.senim.me && window.senim.me.iin === '`+attorneyIIN+`')`)
	aTab.until("the act is not in Waiting for your consent", `!!document.querySelector('#attorneyWaiting a[href="#act/`+actID+`"]')`)
	aTab.js(`document.querySelector('#attorneyWaiting a[href="#act/` + actID + `"]').click()`)
	aTab.click("attorney.consent", 0)
	sc.shot(aTab, "phone-attorney-egov-consent", true)
	egovPhone(t, w.attorney, aTab.deepLink())
	aTab.until("no consent", `window.senim.state.phase === 'ready'`)

	cTab.until("the client does not see the consent", `window.senim.state.phase === 'ready'`)
	cTab.click("client.call", 0)
	cTab.until("not waiting", `window.senim.state.call === 'waiting'`)
	// The citizen sees their place in the queue.
	var queue string
	for _, line := range strings.Split(catalog(t, "ru"), "\n") {
		if strings.Contains(line, `"client.queue"`) {
			queue = strings.NewReplacer("{position}", "1", "{waiting}", "1").Replace(strings.Split(line, `": "`)[1])
			queue = strings.TrimSuffix(strings.TrimSuffix(queue, ","), `"`)
		}
	}
	cTab.until("no queue position", `document.querySelector('.waiting').textContent.includes(`+jsString(queue)+`)`)
	sc.shot(cTab, "phone-waiting", true)
	nTab.until("no offer", `window.senim.offers.size === 1`)
	nTab.click("notary.accept", 0)
	cTab.until("the client does not see the call", `!!(window.senim.state && window.senim.state.call === 'active')`)
	nTab.click("call.join", 0)
	cTab.click("call.join", 0)
	decoded := `(async () => {
		if (!window.senim.call || !window.senim.call.pc) return false;
		let n = 0;
		(await window.senim.call.pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0; });
		return n > 10; })()`
	cTab.until("the phone decodes no video from the notary", decoded)
	nTab.until("the notary decodes no video from the phone", decoded)
	// The front camera; the notary's picture first, above the own one and
	// above the act's steps.
	cTab.until("not the front camera", `window.senim.call.stream.getVideoTracks()[0].getConstraints().facingMode === 'user'`)
	cTab.until("the other person's video does not come first", `(() => {
		const r = document.getElementById('remoteVideo').getBoundingClientRect(), l = document.getElementById('localVideo').getBoundingClientRect(),
			w = document.getElementById('work').getBoundingClientRect();
		return r.height > 0 && r.top < l.top && r.top < w.top && r.width > l.width; })()`)
	sc.shot(cTab, "phone-call", true)

	for i := 0; i < 4; i++ {
		nTab.click("check.pass", i)
		nTab.until("check not recorded", fmt.Sprintf(`Object.keys(window.senim.state.checks || {}).length === %d`, i+1))
	}
	nTab.click("notary.lookup", 0)
	nTab.until("no registry card", `!!document.querySelector('#registryCard dl')`)
	nTab.js(`const set = (id, v) => { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('input')); };
		set('dReg', '1-2026-0007'); set('dPowers', 'Управлять и распоряжаться автомобилем'); set('dPowersKk', 'Автокөлікті басқаруға және оған билік етуге')`)
	nTab.click("notary.present", 0)
	cTab.until("the phone does not show the draft in full", `!!document.querySelector('.draft .doc') && document.querySelector('.draft .doc').textContent.includes('Управлять и распоряжаться автомобилем')`)
	sc.shot(cTab, "phone-draft", true)
	cTab.click("client.approve", 0)
	approve := cTab.deepLink()
	sc.shot(cTab, "phone-egov-approval", true)
	egovPhone(t, w.client, approve)
	nTab.until("not approved", `window.senim.state.approved === 1`)
	nTab.click("notary.invoice", 0)
	cTab.until("no invoice on the phone", `!!window.senim.state.invoice && !!document.querySelector('.invoice')`)
	sc.shot(cTab, "phone-invoice", true)
	// Pay opens the bank's page. It is closed again: a page left in front
	// would keep the phone's tab from painting (its screenshots hang).
	cTab.click("client.pay", 0)
	var bank target.ID
	testtool.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		infos, err := chromedp.Targets(bctx)
		if err != nil {
			return err
		}
		for _, i := range infos {
			if strings.Contains(i.URL, "/bank/pay/") {
				bank = i.TargetID
				return nil
			}
		}
		return fmt.Errorf("the bank's page did not open")
	})
	bctxBank, closeBank := chromedp.NewContext(bctx, chromedp.WithTargetID(bank))
	if err := chromedp.Do(bctxBank); err != nil {
		t.Fatal(err)
	}
	closeBank()
	w.pay(t, cl(t, w), actID)
	nTab.until("not paid", `(window.senim.state.payments || []).length === 1`)
	cTab.until("a stale Pay button after payment", `(window.senim.state.payments || []).length === 1 && !document.querySelector('button[data-k="client.pay"]')`)
	nTab.click("notary.code", 0)
	nTab.until("no code", `!!window.senim.state.document_code`)
	nTab.click("notary.sign", 0)
	cTab.until("the phone does not show the signed act", `window.senim.state.phase === 'signed' && !!document.querySelector('.signed')`)
	sc.shot(cTab, "phone-signed", true)
	// The citizen keeps the document in Digital documents (seed 000, step 8).
	cTab.click("signed.save", 0)
	testtool.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		recs, err := w.srv.Log.ReadAll(actors.StreamOf(actID))
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Type == "document_saved" {
				return nil
			}
		}
		return fmt.Errorf("no document_saved in the act after the phone's Save to Digital documents")
	})
	cTab.click("act.back", 0)
	cTab.until("My acts does not show the signed act", `document.getElementById('myActs').textContent.includes(window.senim.state.document_code)`)
	sc.shot(cTab, "phone-my-acts", true)

	s := w.state(t, cl(t, w), actID)
	if s.Phase != act.PhaseSigned || s.ApprovalSig == nil || s.Consent == nil {
		t.Fatalf("final state: %s", s.Phase)
	}
	assertShellOnly(cTab, s.DocumentCode)

	cTab.js(`document.querySelector('#myActs a[href="#act/` + actID + `"]').click()`)
	cTab.click("client.revoke", 0)
	cTab.js(`document.getElementById('dlgReason').value = 'Отзываю'; document.querySelector('#dialog button[data-k="dialog.yes"]').click()`)
	egovPhone(t, w.client, cTab.deepLink())
	cTab.until("the revocation signed in eGov mobile did not revoke the act", `window.senim.state.phase === 'revoked'`)
	sc.shot(cTab, "phone-revoked", true)
}

// The QR flow with two browsers: the client's computer shows the QR, and
// the phone (the stand-in eGov mobile page in another browser context)
// opens the link and signs; the computer's page goes on by itself. A
// wrong PIN signs nothing, and the computer keeps waiting.
func TestEgovMobileQRFromTheDesktop(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	bctx := browser(t)
	sc := newScreens(t, "en")
	phoneSrv := httptest.NewServer(egovpage.Handler(w.client))
	t.Cleanup(phoneSrv.Close)
	desk := tab{t, bctx}
	desk.navigate(w.http + "/?lang=en")
	pctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	phone := tab{t, pctx}
	asPhone(t, phone)

	qr := `(() => { const d = document.getElementById('dialog'), i = d.querySelector('img.qr');
		return d.open && !!i && i.complete && i.naturalWidth > 100; })()`
	// scan photographs the QR, opens its text on the phone and signs there.
	n := 0
	scan := func(step, pin string) {
		desk.until("no QR on the computer", qr)
		sc.shot(desk, "desktop-qr-"+step, false)
		text := js[string](t, desk.ctx, `document.querySelector('#dialog img.qr').dataset.link`)
		if !strings.HasPrefix(text, "mobileSign:"+w.http+"/egov/sign/") && !strings.HasPrefix(text, "mobileSign:http") {
			t.Fatalf("QR text %q", text)
		}
		phone.navigate(phoneSrv.URL + "/?lang=en&link=" + url.QueryEscape(text))
		phone.until("the phone does not show the document", `!!document.getElementById('signForm') && document.querySelectorAll('.doc').length === 1`)
		// Typed and tapped as a person does; the answer is a new page.
		if err := chromedp.Do(phone.ctx, chromedp.SendKeys(chromedp.ID("pin"), pin), chromedp.Click(chromedp.ID("signBtn")),
			chromedp.WaitReady(chromedp.CSS("#done, #error"))); err != nil {
			t.Fatal(err)
		}
		n++
		buf, err := chromedp.Run(phone.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sc.dir, fmt.Sprintf("phone-%02d-%s.png", n, step)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	desk.until("the page is not ready", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`)
	desk.js(`document.getElementById('role').value = 'client'; document.getElementById('role').dispatchEvent(new Event('change'))`)
	desk.until("NCALayer is not the computer's signer", `document.getElementById('signerSel').value === 'ncalayer'`)
	desk.js(`document.getElementById('signerSel').value = 'egov'; document.getElementById('signerSel').dispatchEvent(new Event('change'))`)
	desk.click("signin.submit", 0)
	scan("signin", standin.DevPIN)
	desk.until("the computer did not sign in after the phone signed", `!!(window.senim.me && window.senim.me.iin === '`+clientIIN+`')`)

	desk.js(`document.getElementById('phone').value = '+7 701 234 56 78';
		document.getElementById('attorneyIIN').value = '` + attorneyIIN + `';
		document.getElementById('consent').click()`)
	desk.click("client.apply", 0)
	scan("application-wrong-pin", "123456")
	if !js[bool](t, phone.ctx, `!!document.getElementById('error') && !document.getElementById('done')`) {
		t.Fatal("a wrong PIN was not refused")
	}
	if !js[bool](t, desk.ctx, `document.getElementById('dialog').open && !window.senim.state`) {
		t.Fatal("the computer did not keep waiting after a wrong PIN")
	}
	scan("application", standin.DevPIN)
	desk.until("no act after the phone signed", `!!(window.senim.state && window.senim.state.phase === 'awaiting_consent')`)
	sc.shot(desk, "desktop-applied", false)
}

// A code not scanned in time expires: the computer says so and offers a
// new code, which is a new link.
func TestEgovMobileCodeExpires(t *testing.T) {
	w := newWorld(t, func(c *config.Config) { c.Egov.LinkTTL = config.Duration(time.Second) })
	bctx := browser(t)
	desk := tab{t, bctx}
	desk.navigate(w.http + "/?lang=kk")
	desk.until("the page is not ready", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`)
	desk.js(`document.getElementById('role').value = 'attorney'; document.getElementById('role').dispatchEvent(new Event('change'));
		document.getElementById('signerSel').value = 'egov'; document.getElementById('signerSel').dispatchEvent(new Event('change'))`)
	desk.click("signin.submit", 0)
	desk.until("no QR", `!!document.querySelector('#dialog img.qr')`)
	first := js[string](t, desk.ctx, `document.querySelector('#dialog img.qr').dataset.link`)
	desk.click("egov.renew", 0) // shown once the code expires
	desk.until("no new QR", `!!document.querySelector('#dialog img.qr') && document.querySelector('#dialog img.qr').dataset.link !== `+jsString(first))
	desk.click("egov.cancel", 0)
	desk.until("cancelling did not close the dialog", `!document.getElementById('dialog').open && !window.senim.me`)
}
