package server_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/legalreg"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/transport/protocol"
)

// keyStorePassword follows NUC's rule: a-z and 0-9, with A-Z and a sign.
const keyStorePassword = "Aigerim.2026"

// The applicant's main path of remote EDS issuance in Chromium, in
// Russian, on a 390×844 phone: an individual with a БМГ phone. A bad check
// digit in the IIN is refused by the page with the catalog's sentence; the
// SMS code (read from the SMS stand-in) with its countdown and "send again"
// closed until it ends; Digital ID with the selfie taken by the fake camera
// (getUserMedia → canvas → JPEG), the liveness video recorded by
// MediaRecorder (WebM), the card's two sides chosen as files (the front
// carries the recognition stand-in's marker); the recognised fields
// confirmed; a password breaking NUC's rule refused in the page; the keys
// and requests made in the browser; the certificates issued; the PKCS#12
// key stores built in the browser, downloaded, opened in Go with
// pki.DecodePKCS12, and the AUTH key signs in to Senim. The page's idle
// session closed by the sign-in deadline before start is replaced quietly. A reload resumes
// the application with its token and builds the key stores again from the
// keys kept encrypted under the password.
func TestIssuanceApplicantInTheBrowser(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	// A short sign-in deadline: the page's session, which speaks for no
	// application before start, is closed while the form waits.
	w := newWorld(t, func(c *config.Config) { c.Limits.SigninTimeout = config.Duration(time.Second) })
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	bctx := browser(t)
	sc := newScreens(t, "ru")
	b := tab{t, bctx}
	if _, err := chromedp.Run(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2))); err != nil {
		t.Fatal(err)
	}
	ru := catalogOf(t, "ru")
	b.navigate(w.http + "/issuance/")
	b.until("the page is not ready", `document.body.classList.contains('ready') && !!document.getElementById('startForm')`)
	b.js(`document.getElementById('lang-ru').click()`)
	b.until("the language did not switch", `document.documentElement.lang === 'ru' && !!document.getElementById('startForm')`)
	sc.shot(b, "issuance-start", true)
	// The same form in Kazakh and English, by the switch, then back.
	for _, lang := range []string{"kk", "en"} {
		b.js(`document.getElementById('lang-` + lang + `').click()`)
		b.until("the language did not switch", `document.documentElement.lang === '`+lang+`' && document.querySelector('[data-k="iss.start"]').textContent === `+jsString(catalogOf(t, lang)["iss.start"]))
		newScreens(t, lang).shot(b, "issuance-start", true)
	}
	b.js(`document.getElementById('lang-ru').click()`)
	b.until("the language did not switch back", `document.documentElement.lang === 'ru' && document.querySelector('[data-k="iss.start"]').textContent === `+jsString(ru["iss.start"]))
	b.until("the page holds a session past the sign-in deadline", `window.senimIssuance.session === null`)
	if msg := js[string](t, bctx, `document.getElementById('alerts').textContent`); msg != "" {
		t.Fatalf("the closed idle session alarms the applicant: %q", msg)
	}

	// A wrong check digit: the page refuses it with the catalog's sentence.
	bad := clientIIN[:11] + fmt.Sprint((int(clientIIN[11]-'0')+1)%10)
	b.js(`document.getElementById('iin').value = '` + bad + `'`)
	b.click("iss.start", 0)
	b.until("no check-digit error next to the IIN", `document.getElementById('iinErr').textContent === `+jsString(ru["err.iss_iin_check"])+
		` && document.getElementById('iin').getAttribute('aria-invalid') === 'true'`)
	if n := len(w.srv.IssuanceDev.SMS.Messages(applicantPhone)); n != 0 {
		t.Fatalf("an application started with a bad IIN: %d SMS", n)
	}

	b.js(`document.getElementById('iin').value = '` + clientIIN + `'`)
	sent := len(w.smsCodes(applicantPhone)) // before the start: its code may come at once
	b.click("iss.start", 0)
	first := walkToKeyStores(t, w, b, sc, sent)

	// The keys are the applicant's EDS: the AUTH key signs in.
	var signer client.KeySigner
	for _, k := range first {
		k.Chain = w.client[0].Chain
		signer = append(signer, k)
	}
	c := w.dial()
	wel, err := c.SignInEDS(w.ctx(), "client", signer)
	if err != nil || wel.IIN != clientIIN {
		t.Fatalf("sign-in with the issued AUTH key: %+v, %v", wel, err)
	}

	// A reload resumes the application with its token; the key stores are
	// built again from the keys kept under the password.
	b.navigate(w.http + "/issuance/")
	b.until("the reload did not resume the application", `document.body.classList.contains('ready') && !!window.senimIssuance.st && window.senimIssuance.st.phase === 'issued' && !!document.getElementById('pw')`)
	b.js(`document.getElementById('pw').value = 'wrong.pass1'`)
	b.click("iss.store.make", 0)
	b.until("no wrong-password error", `document.getElementById('storeErr').textContent === `+jsString(ru["err.iss_password_wrong"]))
	// About one wrong password in 256 passes the cipher's padding and
	// decrypts to bytes that are no key, which forge throws on parsing:
	// still the wrong password, not "something went wrong".
	b.js(`document.getElementById('storeErr').textContent = ''; window.realDecrypt = forge.pki.decryptRsaPrivateKey; forge.pki.decryptRsaPrivateKey = () => { throw new Error('Too few bytes to parse DER.') }`)
	b.click("iss.store.make", 0)
	b.until("a key store that decrypts to no key is not a wrong password", `document.getElementById('storeErr').textContent === `+jsString(ru["err.iss_password_wrong"]))
	b.js(`forge.pki.decryptRsaPrivateKey = window.realDecrypt`)
	b.js(`document.getElementById('pw').value = '` + keyStorePassword + `'`)
	b.click("iss.store.make", 0)
	b.until("no key stores after the reload", `document.querySelectorAll('#stores a[download]').length === 2`)
	again := keyStores(t, b)
	for p, k := range first {
		if again[p] == nil || !again[p].Certificate.Equal(k.Certificate) {
			t.Errorf("the %s key store after the reload holds another certificate", p)
		}
	}
}

// walkToKeyStores takes the applicant's page from the code sent to the key
// stores: the countdown and "send again" closed until it ends, the code
// from the SMS stand-in, the ID card with the selfie by the fake camera, the
// liveness video by MediaRecorder, the card's sides as files (the front
// carries the recognition stand-in's marker), the fields confirmed, a
// password breaking NUC's rule refused, the keys made, issued, and the key
// stores built and opened in Go.
func walkToKeyStores(t *testing.T, w *world, b tab, sc *screens, sent int) map[string]*pki.Key {
	t.Helper()
	bctx := b.ctx
	ru := catalogOf(t, "ru")
	b.until("no code sent", `!!(window.senimIssuance.st && window.senimIssuance.st.phase === 'phone' && window.senimIssuance.st.phone && document.getElementById('code'))`)
	b.until("no countdown", `/[0-9]+/.test(document.getElementById('countdown').textContent)`)
	if !js[bool](t, bctx, `document.querySelector('#resendBox button').disabled`) {
		t.Fatal("send again is open before the countdown ends")
	}
	sc.shot(b, "issuance-code", true)
	code := w.waitCode(applicantPhone, sent+1)
	b.js(`document.getElementById('code').value = '` + code + `'`)
	b.click("iss.code.verify", 0)
	b.until("the phone is not verified", `window.senimIssuance.st.phase === 'identity'`)

	b.click("iss.document.id_card", 0)
	b.until("no capture cards", `!!document.querySelector('[data-capture="selfie"]')`)
	sc.shot(b, "issuance-identity", true)
	// The selfie by the fake camera.
	b.click("iss.camera.open", 0)
	b.until("the camera shows nothing", `(document.querySelector('[data-capture="selfie"] video') || {}).videoWidth > 0`)
	b.click("iss.camera.shoot", 0)
	uploaded := func(p string) string {
		return `(window.senimIssuance.st.uploads || []).includes('` + p + `')`
	}
	b.until("no selfie", uploaded("selfie"))
	// The liveness video by MediaRecorder.
	b.click("iss.liveness.record", 0)
	b.until("no liveness video", uploaded("liveness"))
	// The card's sides as files.
	for purpose, body := range map[string][]byte{"document_front": jpegWith("SENIM-IIN:" + clientIIN), "document_back": jpegWith("back")} {
		b.js(`(() => {
			const bytes = Uint8Array.from(atob('` + base64.StdEncoding.EncodeToString(body) + `'), c => c.charCodeAt(0));
			const dt = new DataTransfer();
			dt.items.add(new File([bytes], '` + purpose + `.jpg', { type: 'image/jpeg' }));
			const input = document.getElementById('file-` + purpose + `');
			input.files = dt.files;
			input.dispatchEvent(new Event('change'));
		})()`)
		b.until("no "+purpose, uploaded(purpose))
	}
	b.until("no recognised fields", `!!document.getElementById('fields')`)
	sc.shot(b, "issuance-fields", true)
	b.click("iss.fields.confirm", 0)
	b.until("not identified", `window.senimIssuance.st.phase === 'application' && !!document.getElementById('keysForm')`)

	// A password breaking NUC's rule is refused in the page.
	b.js(`document.getElementById('pw1').value = 'abcdefgh'; document.getElementById('pw2').value = 'abcdefgh'`)
	b.click("iss.keys.make", 0)
	b.until("no password error", `document.getElementById('keysErr').textContent === `+jsString(ru["err.iss_password_digit"]))
	b.js(`document.getElementById('email').value = 'aigerim@example.kz';
		document.getElementById('pw1').value = '` + keyStorePassword + `'; document.getElementById('pw2').value = '` + keyStorePassword + `'`)
	sc.shot(b, "issuance-keys", true)
	b.click("iss.keys.make", 0)
	b.until("not issued", `window.senimIssuance.st.phase === 'issued' && window.senimIssuance.st.status === 'issued' && !!document.getElementById('storeForm')`)
	sc.shot(b, "issuance-issued", true)
	b.click("iss.store.make", 0)
	b.until("no key stores", `document.querySelectorAll('#stores a[download]').length === 2`)
	sc.shot(b, "issuance-key-stores", true)
	first := keyStores(t, b)
	return first
}

// keyStores reads the files behind the page's download links (the CSP
// keeps fetch from blob: URLs, so from the blobs the links were made of)
// and opens each PKCS#12 in Go: the key matches its certificate (DecodePKCS12 checks), the subject
// is the applicant's, and the file is named as NUC names it.
func keyStores(t *testing.T, b tab) map[string]*pki.Key {
	t.Helper()
	var links []struct{ Purpose, Name, B64 string }
	raw := js[string](t, b.ctx, `(async () => JSON.stringify(await Promise.all([...document.querySelectorAll('#stores a[download]')].map(async (a) => {
		const store = window.senimIssuance.stores.find((x) => x.url === a.href);
		const bytes = new Uint8Array(await store.blob.arrayBuffer());
		let s = ''; for (const x of bytes) s += String.fromCharCode(x);
		return { Purpose: a.dataset.store, Name: a.download, B64: btoa(s) };
	}))))()`)
	if err := json.Unmarshal([]byte(raw), &links); err != nil {
		t.Fatal(err)
	}
	out := map[string]*pki.Key{}
	for _, l := range links {
		der, err := base64.StdEncoding.DecodeString(l.B64)
		if err != nil {
			t.Fatal(err)
		}
		k, err := pki.DecodePKCS12(der, keyStorePassword)
		if err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
		if _, err := pki.DecodePKCS12(der, "other.pass1"); err == nil {
			t.Fatalf("%s opens with another password", l.Name)
		}
		if k.Certificate.Subject.SerialNumber != "IIN"+clientIIN {
			t.Errorf("%s names %q", l.Name, k.Certificate.Subject.SerialNumber)
		}
		if l.Name != pki.KeyStoreFileName(k.Certificate) {
			t.Errorf("the key store is named %s, NUC names it %s", l.Name, pki.KeyStoreFileName(k.Certificate))
		}
		// The store carries the certificate's chain, as the server gave it.
		var b64 []string
		for _, c := range k.Chain {
			b64 = append(b64, base64.StdEncoding.EncodeToString(c.Raw))
		}
		issuedChain(t, k.Certificate, b64)
		auth := slices.Contains(k.Certificate.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		if auth != (l.Purpose == "AUTH") {
			t.Errorf("%s (%s): clientAuth %v", l.Name, l.Purpose, auth)
		}
		out[l.Purpose] = k
	}
	if len(out) != 2 || out["AUTH"] == nil || out["SIGN"] == nil {
		t.Fatalf("key stores %v", out)
	}
	return out
}

// catalogOf is one language's catalog as a map.
func catalogOf(t *testing.T, lang string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(catalog(t, lang)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The moderator's page in Chromium, in Russian: a case whose face did not
// match is offered to the moderator in operator mode, taken, shown with the
// registry's data, and approved with a reason; the applicant goes on to the
// requests and is told by SMS.
func TestIssuanceModeratorInTheBrowser(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	a := w.toApplication(clientIIN, "SENIM-FACE:MISMATCH")
	a.waitPhase(issuance.PhaseModeration)
	w.staffIn("moderator1", accounts.RoleModerator)
	sent := len(w.srv.IssuanceDev.SMS.Messages(applicantPhone))

	bctx := browser(t)
	sc := newScreens(t, "ru")
	b := tab{t, bctx}
	b.navigate(w.http + "/issuance/staff.html?lang=ru")
	b.until("the page is not ready", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`)
	b.js(`document.getElementById('role').value = 'moderator'; document.getElementById('role').dispatchEvent(new Event('change'));
		document.getElementById('login').value = 'moderator1'; document.getElementById('password').value = 'moderator1-password'`)
	sc.shot(b, "staff-signin", false)
	b.click("signin.submit", 0)
	b.until("not signed in", `!!window.senimStaff.me && document.getElementById('signin').hidden`)
	b.until("the queue does not show the case", `window.senimStaff.cases.length === 1`)
	b.click("notary.available", 0)
	b.until("no offer", `window.senimStaff.offers.has('`+a.app+`')`)
	sc.shot(b, "moderator-offer", false)
	b.click("iss.staff.take", 0)
	b.until("the case does not show the registry's data", `!!document.querySelector('#case #registry') && document.querySelector('#case #registry').textContent.includes('`+clientIIN+`')`)
	// The selfie, the card's sides and the video, beside the data: each is
	// the file the applicant sent.
	b.until("the case does not show the files", `document.querySelectorAll('#case [data-file] img').length === 3 && !!document.querySelector('#case [data-file="liveness"] video')`)
	for purpose, want := range map[string][]byte{"selfie": jpegWith("SENIM-FACE:MISMATCH"), "document_front": jpegWith("SENIM-IIN:" + clientIIN), "document_back": jpegWith("back")} {
		src := js[string](t, bctx, `document.querySelector('#case [data-file="`+purpose+`"] img').src`)
		got, err := base64.StdEncoding.DecodeString(src[strings.Index(src, ",")+1:])
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("the moderator's %s is not the applicant's file (%d bytes, %v)", purpose, len(got), err)
		}
	}
	// The CSP keeps fetch from blob: URLs: the video's is the blob the page read.
	if n := js[int](t, bctx, `document.querySelector('#case [data-file="liveness"] video').src === window.senimStaff.files.liveness ? window.senimStaff.blobs.liveness.size : -1`); n != len(webmWith("SENIM-FACE:MISMATCH")) {
		t.Errorf("the moderator's video has %d bytes", n)
	}
	sc.shot(b, "moderator-case", false)
	b.js(`document.getElementById('modReason').value = 'лицо совпадает с фото в удостоверении'`)
	b.click("iss.staff.approve", 0)
	b.until("the decision is not shown", `window.senimStaff.st && window.senimStaff.st.phase === 'application'`)
	sc.shot(b, "moderator-decided", false)
	a.waitPhase(issuance.PhaseApplication)
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		if n := len(w.srv.IssuanceDev.SMS.Messages(applicantPhone)); n <= sent {
			return fmt.Errorf("%d SMS, no news of the decision", n)
		}
		return nil
	})
}

// Not in БМГ, in Chromium, in Russian: the applicant's page (on a phone)
// says so and puts the application in the registration queue; the
// registration operator's page (a second tab) is offered the call, takes
// it, and both join the video call through the SFU (each decodes the
// other's fake camera); the operator records the phone, which БМГ then
// has, and the applicant's page goes on to Digital ID.
func TestIssuanceRegistrationCallInTheBrowser(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	w.staffIn("registrar1", accounts.RoleRegistrar)
	bctx := browser(t)
	sc := newScreens(t, "ru")
	aTab := tab{t, bctx}
	if _, err := chromedp.Run(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2))); err != nil {
		t.Fatal(err)
	}
	aTab.navigate(w.http + "/issuance/?lang=ru")
	aTab.until("the page is not ready", `document.body.classList.contains('ready') && !!document.getElementById('startForm')`)
	aTab.js(`document.getElementById('iin').value = '` + clientIIN + `'`)
	aTab.click("iss.start", 0)
	aTab.until("not told the phone is not in БМГ", `!!window.senimIssuance.st && window.senimIssuance.st.phase === 'phone' && !!window.senimIssuance.seen.phone_not_found && !!document.querySelector('[data-k="err.phone_unknown"]')`)
	sc.shot(aTab, "issuance-not-in-bmg", true)
	aTab.click("iss.registration.request", 0)
	aTab.until("not in the registration queue", `window.senimIssuance.st.phase === 'registration_waiting'`)
	sc.shot(aTab, "issuance-registration-queue", true)
	app := js[string](t, bctx, `window.senimIssuance.app`)

	rctx, cancel := chromedp.NewContext(bctx) // another tab in the running browser
	t.Cleanup(cancel)
	rTab := tab{t, rctx}
	rTab.navigate(w.http + "/issuance/staff.html?lang=ru")
	rTab.until("the staff page is not ready", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`)
	rTab.js(`document.getElementById('login').value = 'registrar1'; document.getElementById('password').value = 'registrar1-password'`)
	rTab.click("signin.submit", 0)
	rTab.until("not signed in", `!!window.senimStaff.me`)
	rTab.click("notary.available", 0)
	rTab.until("no offer", `window.senimStaff.offers.has('`+app+`')`)
	rTab.click("iss.staff.take", 0)
	rTab.until("the case is not in hand", `!!window.senimStaff.st && window.senimStaff.st.phase === 'registration_call' && !!document.getElementById('outcomeForm')`)
	rTab.click("call.join", 0)
	aTab.until("the applicant's page does not show the call", `window.senimIssuance.st.phase === 'registration_call' && !document.getElementById('call').hidden`)
	aTab.click("call.join", 0)
	decoded := func(who string) string {
		return `(async () => {
		const c = window.` + who + `.call;
		if (!c || !c.pc) return false;
		let n = 0;
		(await c.pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0; });
		return n > 10; })()`
	}
	aTab.until("the applicant decodes no video from the operator", decoded("senimIssuance"))
	rTab.until("the operator decodes no video from the applicant", decoded("senimStaff"))
	sc.shot(aTab, "issuance-registration-call", true)
	sc.shot(rTab, "registrar-call", false)

	// The registrar's page reloads in the middle of the call: signed in
	// again, the case they hold opens by itself and they rejoin the call.
	rTab.navigate(w.http + "/issuance/staff.html?lang=ru")
	rTab.until("the staff page is not ready again", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`)
	rTab.js(`document.getElementById('login').value = 'registrar1'; document.getElementById('password').value = 'registrar1-password'`)
	rTab.click("signin.submit", 0)
	rTab.until("the held case does not open after a reload", `window.senimStaff.app === '`+app+`' && !!window.senimStaff.st && window.senimStaff.st.phase === 'registration_call' && !!document.getElementById('outcomeForm')`)
	rTab.click("call.join", 0)
	rTab.until("the operator decodes no video after rejoining", decoded("senimStaff"))

	rTab.js(`document.getElementById('regPhone').value = '` + applicantPhone + `'`)
	rTab.click("iss.staff.record", 0)
	aTab.until("the applicant's page does not go on to Digital ID", `window.senimIssuance.st.phase === 'identity' && window.senimIssuance.st.phone_verified && window.senimIssuance.call === null`)
	rTab.until("the operator's page does not show the decision", `window.senimStaff.st.phase === 'identity' && window.senimStaff.call === null`)
	sc.shot(rTab, "registrar-recorded", false)
	if phone, err := w.srv.IssuanceDev.BMG.Lookup(w.ctx(), clientIIN); err != nil || phone != applicantPhone {
		t.Fatalf("БМГ after the call: %q, %v", phone, err)
	}
}

// The approvers' page in Chromium, in Russian: a legal entity's employee
// waits for approvals; HR signs in with the EDS through NCALayer (the
// stand-in with HR's keys), sees the request, approves it by EDS; then the
// first head does the same in another tab, and the certificates are issued.
func TestIssuanceApproversInTheBrowser(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	if err := w.srv.IssuanceDev.LegalReg.Put(legalreg.Entity{BIN: orgBIN, NameRu: "ТОО «Тест»", LegalForm: "ТОО", Status: legalreg.StatusActive,
		Registered: "2001-02-03", Head: legalreg.Head{IIN: notaryIIN, Name: "НОТАРИУС АЛИЯ"}}); err != nil {
		t.Fatal(err)
	}
	emp := w.toApplicationAs(protocol.IssuanceStart{Kind: "legal_entity", Template: "employee", BIN: orgBIN, IIN: clientIIN}, "SENIM-FACE:MATCH")
	emp.waitPhase(issuance.PhaseApplication)
	_, auth := csr(t, 2048, "IIN"+clientIIN, "BIN"+orgBIN)
	_, sign := csr(t, 2048, "IIN"+clientIIN, "BIN"+orgBIN)
	emp.must("submit_requests", protocol.IssuanceRequests{CSRs: []protocol.IssuanceCSR{{Purpose: "AUTH", DER: auth}, {Purpose: "SIGN", DER: sign}}})
	emp.waitPhase(issuance.PhaseApprovals)
	_, hrKeys := w.approverIn(attorneyIIN, orgBIN, pki.RoleHR)
	_, headKeys := w.approverIn(notaryIIN, orgBIN, pki.RoleFirstHead)

	bctx := browser(t)
	sc := newScreens(t, "ru")
	for i, keys := range []client.KeySigner{{hrKeys.Auth, hrKeys.Sign}, {headKeys.Auth, headKeys.Sign}} {
		ctx := bctx
		if i > 0 {
			c, cancel := chromedp.NewContext(bctx) // another tab in the running browser
			t.Cleanup(cancel)
			ctx = c
		}
		b := tab{t, ctx}
		b.navigate(w.http + "/issuance/staff.html?lang=ru&ncalayer=" + ncalayerFor(t, keys))
		b.until("the page is not ready", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`)
		b.js(`document.getElementById('role').value = 'approver'; document.getElementById('role').dispatchEvent(new Event('change'))`)
		b.click("signin.submit", 0)
		b.until("the approver is not signed in", `!!window.senimStaff.me && !!window.senimStaff.me.iin`)
		b.until("the request is not waiting", `!!document.querySelector('#approvals li[data-app="`+emp.app+`"]')`)
		sc.shot(b, fmt.Sprintf("approver-%d-waiting", i+1), false)
		b.click("iss.staff.approve_eds", 0)
		b.until("the approval is not shown", `window.senimStaff.done.has('`+emp.app+`') && !document.querySelector('button[data-k="iss.staff.approve_eds"]')`)
		sc.shot(b, fmt.Sprintf("approver-%d-approved", i+1), false)
		if i == 0 {
			if st := emp.status(); st.NextApproval != "first_head" {
				t.Fatalf("after HR's approval: %+v", st)
			}
		}
	}
	if st := emp.waitPhase(issuance.PhaseIssued); st.Status != "issued" {
		t.Fatalf("after both approvals: %+v", st)
	}
}

// A legal entity's first head in Chromium: the start form's legal entity,
// template and BIN (a wrong BIN check digit refused by the page), then the
// same walk; the requests made in the browser name the BIN, and the
// certificates, issued without approvals, carry it.
func TestIssuanceFirstHeadInTheBrowser(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	if err := w.srv.IssuanceDev.LegalReg.Put(legalreg.Entity{BIN: orgBIN, NameRu: "ТОО «Тест»", LegalForm: "ТОО", Status: legalreg.StatusActive,
		Registered: "2001-02-03", Head: legalreg.Head{IIN: clientIIN, Name: "СЕЙТҚАЛИ ӘЙГЕРІМ"}}); err != nil {
		t.Fatal(err)
	}
	bctx := browser(t)
	sc := newScreens(t, "ru")
	b := tab{t, bctx}
	ru := catalogOf(t, "ru")
	b.navigate(w.http + "/issuance/?lang=ru")
	b.until("the page is not ready", `document.body.classList.contains('ready') && !!document.getElementById('startForm')`)
	b.js(`document.getElementById('kind-legal_entity').click()`)
	b.until("no legal entity's fields", `!document.getElementById('legal').hidden`)
	badBIN := orgBIN[:11] + fmt.Sprint((int(orgBIN[11]-'0')+1)%10)
	b.js(`document.getElementById('template').value = 'first_head'; document.getElementById('bin').value = '` + badBIN + `';
		document.getElementById('iin').value = '` + clientIIN + `'`)
	sc.shot(b, "issuance-start-legal", false)
	b.click("iss.start", 0)
	b.until("no BIN check-digit error next to the BIN", `document.getElementById('binErr').textContent === `+jsString(ru["err.iss_bin_check"])+
		` && document.getElementById('bin').getAttribute('aria-invalid') === 'true' && document.getElementById('iinErr').textContent === ''`)
	b.js(`document.getElementById('bin').value = '` + orgBIN + `'`)
	sent := len(w.smsCodes(applicantPhone)) // before the start: its code may come at once
	b.click("iss.start", 0)
	keys := walkToKeyStores(t, w, b, sc, sent)
	for p, k := range keys {
		if ou := k.Certificate.Subject.OrganizationalUnit; !slices.Contains(ou, "BIN"+orgBIN) {
			t.Errorf("the %s certificate's OU is %q", p, ou)
		}
	}
}

// An outage of БМГ in Chromium: the applicant's page says "try again
// later" while Senim retries, not a stuck screen, and goes on to the code
// by itself once БМГ answers again.
func TestIssuanceOutageInTheBrowser(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	w.srv.IssuanceDev.BMG.SetDown(true)
	bctx := browser(t)
	sc := newScreens(t, "ru")
	b := tab{t, bctx}
	b.navigate(w.http + "/issuance/?lang=ru")
	b.until("the page is not ready", `document.body.classList.contains('ready') && !!document.getElementById('startForm')`)
	b.js(`document.getElementById('iin').value = '` + clientIIN + `'`)
	b.click("iss.start", 0)
	b.until("no 'try again later'", `!!document.querySelector('[data-k="iss.waiting"]') && (window.senimIssuance.st.waiting || []).length > 0`)
	sc.shot(b, "issuance-outage", false)
	w.srv.IssuanceDev.BMG.SetDown(false)
	b.until("the page did not go on after the outage", `window.senimIssuance.st.phase === 'phone' && !!window.senimIssuance.st.phone && !!document.getElementById('code') && !document.querySelector('[data-k="iss.waiting"]')`)
}
