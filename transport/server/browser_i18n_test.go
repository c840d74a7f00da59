package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/transport/protocol"
)

// artifacts is where a test's screenshots go: $SENIM_ARTIFACTS/<test> when
// set (CI keeps them), else the test's temporary directory.
func artifacts(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("SENIM_ARTIFACTS"); d != "" {
		dir := filepath.Join(d, regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// catalog reads the app's catalog of one language.
func catalog(t *testing.T, lang string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "web", "static", "i18n", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return string(data)
}

// screens checks and photographs every screen of one language's walk.
type screens struct {
	t       *testing.T
	lang    string
	dir     string
	cat, en string
	axe     string
	n       int
}

func newScreens(t *testing.T, lang string) *screens {
	axe, err := os.ReadFile(filepath.Join("testdata", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	return &screens{t: t, lang: lang, dir: artifacts(t), cat: catalog(t, lang), en: catalog(t, "en"), axe: string(axe)}
}

// textCheck lists what on the page does not come from the catalog: a
// catalog-keyed control whose text differs, a raw code (a key's last part,
// like awaiting_consent) in the visible text, an English sentence on a
// Russian or Kazakh page, or <html lang> not following the language.
const textCheck = `((cat, en, lang) => {
	const bad = [];
	if (document.documentElement.lang !== lang) bad.push('html lang ' + document.documentElement.lang);
	for (const e of document.querySelectorAll('[data-k]')) {
		if (e.offsetParent === null) continue;
		const v = cat[e.dataset.k];
		if (v === undefined) bad.push('no key ' + e.dataset.k);
		else if (!v.includes('{') && e.textContent !== v) bad.push(e.dataset.k + ' reads ' + JSON.stringify(e.textContent));
	}
	const text = document.body.innerText;
	for (const k of Object.keys(cat)) {
		const code = k.split('.').pop();
		if (code.includes('_') && new RegExp('\\b' + code + '\\b').test(text)) bad.push('raw code ' + code);
	}
	if (lang !== 'en') for (const [k, v] of Object.entries(en)) {
		if (v.length > 14 && !v.includes('{') && v !== cat[k] && text.includes(v)) bad.push('English on the page: ' + v);
	}
	return bad;
})`

// shot saves a screenshot of the tab's screen and asserts that its texts
// come from the catalog, that axe-core finds no serious or critical
// violation, and (phone) that nothing scrolls sideways.
func (s *screens) shot(b tab, name string, phone bool) {
	s.t.Helper()
	s.n++
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatal(err)
	}
	file := filepath.Join(s.dir, fmt.Sprintf("%02d-%s-%s.png", s.n, s.lang, name))
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		s.t.Fatal(err)
	}
	if bad := js[[]string](s.t, b.ctx, textCheck+"("+s.cat+","+s.en+",'"+s.lang+"')"); len(bad) > 0 {
		s.t.Errorf("%s (%s): texts not from the catalog: %q", name, file, bad)
	}
	s.axeAndWidth(b, name, file, phone)
}

// axeAndWidth asserts that axe-core finds no serious or critical violation
// on the tab's page and (phone) that nothing scrolls sideways.
func (s *screens) axeAndWidth(b tab, name, file string, phone bool) {
	s.t.Helper()
	if !js[bool](s.t, b.ctx, `!!window.axe`) {
		js[any](s.t, b.ctx, s.axe+";true")
	}
	v := js[[]string](s.t, b.ctx, `axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations
		.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))`)
	if len(v) > 0 {
		s.t.Errorf("%s (%s): axe-core: %q", name, file, v)
	}
	if phone {
		if w := js[string](s.t, b.ctx, `document.documentElement.scrollWidth + ' > ' + window.innerWidth + ': ' +
			[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
				.slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className).join(' ')`); js[bool](s.t, b.ctx, `document.documentElement.scrollWidth > window.innerWidth`) {
			s.t.Errorf("%s (%s): the page scrolls sideways on a phone: %s", name, file, w)
		}
	}
}

// page photographs one of the server's own pages (the public check, the
// bank's page, the operators' sign-in: their texts come from the pages'
// catalogs), asserts <html lang>, that axe-core finds no serious or
// critical violation and (phone) that nothing scrolls sideways.
func (s *screens) page(b tab, name string, phone bool) {
	s.t.Helper()
	s.n++
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatal(err)
	}
	file := filepath.Join(s.dir, fmt.Sprintf("%02d-%s-%s.png", s.n, s.lang, name))
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		s.t.Fatal(err)
	}
	if got := js[string](s.t, b.ctx, `document.documentElement.lang`); got != s.lang {
		s.t.Errorf("%s: <html lang=%q>, want %q", name, got, s.lang)
	}
	s.axeAndWidth(b, name, file, phone)
}

// A whole notarial act in the browser app, as the README tells it, in
// Russian: the client, the attorney and the notary each in their own tab
// with their own NCALayer stand-in; the video call (real VP8 decoded on
// each side); checks, a draft in two languages, the client's signed
// approval of the draft shown in full, the bank, the notary's signature.
func TestWholeActInTheBrowser(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	wholeActInBrowser(t, "ru", false)
}

// The same act in Kazakh, the client on a 390×844 phone screen and the
// attorney on a 360×740 one.
func TestWholeActInTheBrowserKazakh(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	wholeActInBrowser(t, "kk", true)
}

func wholeActInBrowser(t *testing.T, lang string, phone bool) {
	w := newWorld(t)
	bctx := browser(t)
	sc := newScreens(t, lang)
	cTab := tab{t, bctx}
	if phone {
		if _, err := chromedp.Run(cTab.ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2))); err != nil {
			t.Fatal(err)
		}
	}
	// The client picks the language with the switch; the others by ?lang=.
	if err := chromedp.Do(cTab.ctx, chromedp.Navigate(w.http+"/?ncalayer="+ncalayerFor(t, w.client))); err != nil {
		t.Fatal(err)
	}
	newTab := func() tab {
		c, cancel := chromedp.NewContext(bctx) // another tab in the running browser
		t.Cleanup(cancel)
		return tab{t, c}
	}
	nTab, aTab := newTab(), newTab()
	if err := chromedp.Do(nTab.ctx, chromedp.Navigate(w.http+"/?lang="+lang+"&ncalayer="+ncalayerFor(t, w.notary))); err != nil {
		t.Fatal(err)
	}
	ready := `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`
	cTab.until("the page is not ready", ready)
	cTab.js(`document.getElementById('lang-` + lang + `').click()`)
	cTab.until("the language did not switch", `document.documentElement.lang === '`+lang+`' && localStorage.getItem('senim.lang') === '`+lang+`'`)
	cTab.js(`document.getElementById('role').value = 'client'; document.getElementById('role').dispatchEvent(new Event('change'))`)
	sc.shot(cTab, "client-signin", phone)
	cTab.click("signin.submit", 0)
	cTab.until("the client is not signed in", `!!(window.senim.me && window.senim.me.iin === '`+clientIIN+`')`)

	nTab.until("the page is not ready", ready)
	nTab.js(`document.getElementById('password').value = 'aliya-password'`)
	sc.shot(nTab, "notary-signin", false)
	nTab.click("signin.submit", 0)
	nTab.until("the notary is not signed in", `!!(window.senim.me && window.senim.me.role === 'notary')`)
	nTab.click("notary.available", 0)
	sc.shot(nTab, "notary-console", false)

	// A mistyped digit in the attorney's IIN is told next to the field,
	// before any signature.
	var cat map[string]string
	if err := json.Unmarshal([]byte(sc.cat), &cat); err != nil {
		t.Fatal(err)
	}
	cTab.js(`document.getElementById('phone').value = '+7 701 234 56 78';
		document.getElementById('attorneyIIN').value = '` + attorneyIIN[:11] + fmt.Sprint((int(attorneyIIN[11]-'0')+1)%10) + `'`)
	cTab.until("the apply button is enabled without the consent box", `document.getElementById('applyBtn').disabled`)
	cTab.js(`document.getElementById('consent').click()`)
	cTab.click("client.apply", 0)
	cTab.until("no check-digit error next to the attorney's IIN", `document.getElementById('attorneyIINErr').textContent === `+jsString(cat["err.bad_iin_checksum"])+
		` && document.getElementById('attorneyIIN').getAttribute('aria-invalid') === 'true' && document.activeElement.id === 'attorneyIIN'`)
	sc.shot(cTab, "client-home-bad-iin", phone)
	cTab.js(`document.getElementById('attorneyIIN').value = '` + attorneyIIN + `'`)
	sc.shot(cTab, "client-home", phone)
	cTab.click("client.apply", 0)
	cTab.until("no act", `!!(window.senim.state && window.senim.state.phase === 'awaiting_consent')`)
	sc.shot(cTab, "client-awaiting-consent", phone)
	actID := js[string](t, cTab.ctx, `window.senim.act`)

	// The attorney signs in once the act exists and finds it waiting (on
	// the smallest phone, in the phone walk).
	if phone {
		if _, err := chromedp.Run(aTab.ctx, chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2))); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(aTab.ctx, chromedp.Navigate(w.http+"/?lang="+lang+"&ncalayer="+ncalayerFor(t, w.attorney))); err != nil {
		t.Fatal(err)
	}
	aTab.until("the page is not ready", ready)
	aTab.js(`document.getElementById('role').value = 'attorney'; document.getElementById('role').dispatchEvent(new Event('change'))`)
	aTab.click("signin.submit", 0)
	aTab.until("the attorney is not signed in", `!!(window.senim.me && window.senim.me.iin === '`+attorneyIIN+`')`)
	sc.shot(aTab, "attorney-home", phone)
	// The act waits for the attorney in "Waiting for your consent": they
	// open it from there, not by its number.
	aTab.until("the act is not in Waiting for your consent", `!!document.querySelector('#attorneyWaiting a[href="#act/`+actID+`"]')`)
	aTab.js(`document.querySelector('#attorneyWaiting a[href="#act/` + actID + `"]').click()`)
	aTab.until("the attorney's act is not open", `!!(window.senim.state && window.senim.state.id === '`+actID+`')`)
	sc.shot(aTab, "attorney-consent", phone)
	aTab.click("attorney.consent", 0)
	aTab.until("no consent", `window.senim.state.phase === 'ready'`)

	cTab.until("the client does not see the consent", `window.senim.state.phase === 'ready'`)
	cTab.click("client.call", 0)
	cTab.until("not waiting", `window.senim.state.call === 'waiting'`)
	sc.shot(cTab, "client-waiting", phone)
	nTab.until("no offer", `window.senim.offers.size === 1 && document.title !== document.querySelector('[data-i18n="signin.title"]').textContent`)
	sc.shot(nTab, "notary-offer", false)
	nTab.click("notary.accept", 0)
	nTab.until("the notary's act is not open", `!!(window.senim.state && window.senim.state.call === 'active')`)
	cTab.until("the client does not see the call", `!!(window.senim.state && window.senim.state.call === 'active')`)
	nTab.click("call.join", 0)
	cTab.click("call.join", 0)
	decoded := `(async () => {
		if (!window.senim.call || !window.senim.call.pc) return false; // joined not here yet
		let n = 0;
		(await window.senim.call.pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0; });
		return n > 10; })()`
	cTab.until("the client decodes no video from the notary", decoded)
	nTab.until("the notary decodes no video from the client", decoded)
	sc.shot(cTab, "client-call", phone)

	for i := 0; i < 4; i++ {
		nTab.click("check.pass", i)
		nTab.until("check not recorded", fmt.Sprintf(`Object.keys(window.senim.state.checks || {}).length === %d`, i+1))
	}
	nTab.click("notary.lookup", 0)
	nTab.until("no registry card", `!!document.querySelector('#registryCard dl')`)
	nTab.js(`const set = (id, v) => { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('input')); };
		set('dReg', '1-2026-0007'); set('dPowers', 'Управлять и распоряжаться автомобилем'); set('dPowersKk', 'Автокөлікті басқаруға және оған билік етуге')`)
	sc.shot(nTab, "notary-act", false)
	nTab.click("notary.present", 0)
	cTab.until("the client does not see the draft in full", `!!document.querySelector('.draft .doc') && document.querySelector('.draft .doc').textContent.includes('Управлять и распоряжаться автомобилем')`)
	sc.shot(cTab, "client-draft", phone)
	// The draft as a PDF: the app saves what the server answered through
	// a download link, caught here rather than followed.
	for _, b := range []struct {
		tab tab
		key string
	}{{cTab, "client.draft.pdf"}, {nTab, "notary.draft.pdf"}} {
		b.tab.js(`window.__saved = null; const follow = HTMLAnchorElement.prototype.click;
			HTMLAnchorElement.prototype.click = function () { if (this.download) { window.__saved = this.href; return; } return follow.call(this); }`)
		b.tab.click(b.key, 0)
		b.tab.until("the draft's PDF was not saved", `(window.__saved || '').startsWith('data:application/pdf;base64,JVBERi0')`) // %PDF-
	}
	cTab.click("client.approve", 0)
	nTab.until("not approved", `window.senim.state.approved === 1`)
	nTab.click("notary.invoice", 0)
	cTab.until("no invoice on the client's page", `!!window.senim.state.invoice && !!document.querySelector('.invoice')`)
	sc.shot(cTab, "client-invoice", phone)
	// The bank stand-in's page, in the walk's language, before paying.
	link := mustOf[protocol.PaymentLink](t)(cl(t, w).PaymentLink(w.ctx(), actID))
	pages := newTab()
	pages.navigate(link.URL + "&lang=" + lang)
	sc.page(pages, "bank-page", phone)
	w.pay(t, cl(t, w), actID)
	nTab.until("not paid", `(window.senim.state.payments || []).length === 1`)
	cTab.until("a stale Pay button after payment", `(window.senim.state.payments || []).length === 1 && !document.querySelector('button[data-k="client.pay"]')`)
	nTab.click("notary.code", 0)
	nTab.until("no code", `!!window.senim.state.document_code`)
	sc.shot(nTab, "notary-ready-to-sign", false)
	nTab.click("notary.sign", 0)
	cTab.until("the client's page does not show the signed act", `window.senim.state.phase === 'signed' && !!document.querySelector('.signed')`)
	cTab.until("the call did not end with the signature", `window.senim.call === null`)
	sc.shot(cTab, "client-signed", phone)
	aTab.until("the attorney's page does not show the signed act", `window.senim.state.phase === 'signed' && !!document.querySelector('.signed')`)
	sc.shot(aTab, "attorney-signed", phone)
	sc.shot(nTab, "notary-signed", false)
	cTab.click("act.back", 0)
	cTab.until("My acts does not show the signed act", `document.getElementById('myActs').textContent.includes(window.senim.state.document_code)`)
	sc.shot(cTab, "client-my-acts", phone)

	s := w.state(t, cl(t, w), actID)
	if s.Phase != act.PhaseSigned || s.NotarySig == nil || s.ApprovalSig == nil || s.Consent == nil || len(s.Checks) != 4 {
		t.Fatalf("final state: %s", s.Phase)
	}
	// The server's own pages in the walk's language: the public check (what
	// the QR code opens), the form to type a code, the operators' sign-in.
	for name, path := range map[string]string{"public-check": "/verify/" + s.DocumentCode, "check-form": "/verify/", "ops-signin": "/ops/login"} {
		pages.navigate(w.http + path + "?lang=" + lang)
		sc.page(pages, name, phone)
	}
	assertShellOnly(cTab, s.DocumentCode)
	if got := s.Current().Draft.Powers; !strings.Contains(got, "автомобилем") {
		t.Fatalf("powers %q", got)
	}
	testtool.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		s = w.state(t, cl(t, w), actID)
		if len(s.Recordings) != 1 || len(s.Recordings[0].Files) != 5 {
			return fmt.Errorf("recordings %+v", s.Recordings)
		}
		return nil
	})
}
