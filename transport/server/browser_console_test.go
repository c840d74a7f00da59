package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/transport/protocol"
)

// catalogText is the catalog's text of key in lang with {vars} filled in,
// as the app's t() makes it.
func catalogText(t *testing.T, lang, key string, vars map[string]any) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(catalog(t, lang)), &m); err != nil {
		t.Fatal(err)
	}
	s, ok := m[key]
	if !ok {
		t.Fatalf("%s.json has no %s", lang, key)
	}
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{"+k+"}", fmt.Sprint(v))
	}
	return s
}

// signInNotary signs aliya in on a tab that shows the sign-in form.
func signInNotary(b tab) {
	b.t.Helper()
	b.until("the page is not ready", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`)
	b.js(`document.getElementById('password').value = 'aliya-password'`)
	b.click("signin.submit", 0)
	b.until("the notary is not signed in", `!!(window.senim.me && window.senim.me.role === 'notary')`)
}

// The notary reloads the console in the middle of an act: the page
// resumes the session, reopens the act, and the console is as they left
// it: available for calls (operator_state), and the act listed under
// "Acts in progress" with a button that opens it.
func TestNotaryReloadInTheBrowserKeepsModeAndAct(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	ctx := w.ctx()
	sc := newScreens(t, "ru")
	b := tab{t, browser(t)}
	b.navigate(w.http + "/?lang=ru")
	signInNotary(b)
	b.until("no operator_state: the list of acts in progress is not drawn",
		`window.senim.inProgress !== null && !!document.querySelector('#inProgress li[data-k="notary.inprogress.none"]')`)
	b.click("notary.available", 0)
	b.until("not available", `window.senim.operator === 'available'`)

	actID, c := w.readyAct(t)
	mustOf[client.Ack](t)(c.Command(ctx, actID, "request_call", nil))
	b.click("notary.accept", 0)
	b.until("the accepted act is not open", `!!(window.senim.state && window.senim.state.id === '`+actID+`' && window.senim.state.call === 'active') && location.hash === '#act/`+actID+`'`)
	sc.shot(b, "notary-act-before-reload", false)

	b.navigate(w.http + "/?lang=ru#act/" + actID) // the reload
	b.until("the reload did not resume the session and reopen the act",
		`!!(window.senim.me && window.senim.me.role === 'notary' && window.senim.state && window.senim.state.id === '`+actID+`') && document.getElementById('signin').hidden`)
	b.until("the mode was not restored", `window.senim.operator === 'available'`)
	sc.shot(b, "notary-act-after-reload", false)

	b.click("act.back", 0)
	on := catalogText(t, "ru", "notary.available.on", nil)
	b.until("the console does not say available", `document.getElementById('opState').textContent === `+jsString(on)+
		` && document.getElementById('availableBtn').disabled && !document.getElementById('awayBtn').disabled`)
	b.until("the act is not in progress on the console", `!!document.querySelector('#inProgress li[data-act="`+actID+`"] button[data-k="notary.inprogress.open"]')`)
	principal := w.state(t, c, actID).Principal.Name
	open := catalogText(t, "ru", "notary.inprogress.open", map[string]any{"principal": principal})
	if got := js[string](t, b.ctx, `document.querySelector('#inProgress li[data-act="`+actID+`"] button').textContent`); got != open {
		t.Fatalf("the open button reads %q, want %q", got, open)
	}
	sc.shot(b, "notary-console-restored", false)
	b.js(`document.querySelector('#inProgress li[data-act="` + actID + `"] button').click()`)
	b.until("the act did not open from the list", `!document.getElementById('actView').hidden && window.senim.state.id === '`+actID+`'`)

	// The live preview: the document as the client would sign it, while
	// the notary types, with the tariff's amount; a draft the server would
	// refuse says why beside it, in the catalog's words.
	typeIn := func(id, v string) {
		b.js(`(e => { e.value = ` + jsString(v) + `; e.dispatchEvent(new Event('input')); })(document.getElementById('` + id + `'))`)
	}
	typeIn("dReg", "1-2026-0099")
	typeIn("dPowers", "Управлять автомобилем Toyota")
	typeIn("dPowersKk", "Toyota көлігін басқару")
	live := `document.getElementById('livePreview').textContent`
	b.until("no live preview of the typed draft", live+`.includes('Управлять автомобилем Toyota') && `+live+`.includes('Toyota көлігін басқару') && `+
		live+`.includes('1-2026-0099') && `+live+`.includes('15\u00a0137,50\u00a0₸')`)
	sc.shot(b, "notary-live-preview", false)
	typeIn("dTerm", "999")
	tooLong := catalogText(t, "ru", "err.term_too_long", nil)
	b.until("a refused draft does not say why", `[...document.querySelectorAll('.draft-form .err')].some(e => e.textContent === `+jsString(tooLong)+`)`)
	typeIn("dTerm", "12")
	b.click("notary.present", 0)
	b.until("the presented revision is not the previewed one", `(window.senim.state.revisions || []).length === 1 && `+
		`window.senim.state.revisions[0].draft.powers === 'Управлять автомобилем Toyota'`)
}

// The register of actions in the real UI: 22 acts of the notary (one
// signed, one of another client, two refused, one with a draft) make two
// pages of 20; the pager moves between them; the status filter, the date
// filters and the search by name and by registry number narrow the list;
// the registry number and the amount are shown; the electronic register of
// completed acts lists the signed one.
func TestRegisterInTheBrowser(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	ctx := w.ctx()
	signed, _, _ := w.toSigned(t)
	nt := w.notaryIn("aliya", "aliya-password")
	must(t, 0, nt.Operator(ctx, "available", ""))
	cl := w.eds("client", w.client)
	other := w.eds("client", w.stranger)
	at := w.eds("attorney", w.attorney)
	take := func(c *client.Client, who client.KeySigner) string {
		id := mustOf[string](t)(c.Apply(ctx, who, "+7 701 234 56 78", attorneyIIN))
		cms := mustOf[string](t)(at.SignStep(ctx, w.attorney, id, "consent", 0))
		mustOf[client.Ack](t)(at.Command(ctx, id, "give_consent", map[string]any{"cms": cms}))
		mustOf[client.Ack](t)(c.Command(ctx, id, "request_call", nil))
		next(t, nt.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == id })
		mustOf[client.Ack](t)(nt.Command(ctx, id, "accept_call", nil))
		return id
	}
	var refused []string
	var drafted string
	for i := 0; i < 20; i++ {
		id := take(cl, w.client)
		if i < 2 {
			mustOf[client.Ack](t)(nt.Command(ctx, id, "refuse_act", map[string]any{"reason": "нет документов"}))
			refused = append(refused, id)
			continue
		}
		if i == 2 {
			mustOf[client.Ack](t)(nt.Command(ctx, id, "present_draft", map[string]any{"registry_number": "1-2026-0042", "powers": "Управлять автомобилем", "term_months": 12}))
			drafted = id
		}
		mustOf[client.Ack](t)(nt.Command(ctx, id, "end_call", nil))
	}
	stranger := take(other, w.stranger)
	must(t, 0, nt.Operator(ctx, "away", ""))
	strangerName := w.state(t, other, stranger).Principal.Name

	sc := newScreens(t, "ru")
	b := tab{t, browser(t)}
	b.navigate(w.http + "/?lang=ru")
	signInNotary(b)
	rows := `document.querySelectorAll('#register tr a[href^="#act/"]').length`
	pager := func(page, pages, total int) string {
		return `document.querySelector('#regPages span').textContent === ` +
			jsString(catalogText(t, "ru", "register.page", map[string]any{"page": page, "pages": pages, "total": total}))
	}
	b.until("page 1 is not 20 of 22", rows+` === 20 && `+pager(1, 2, 22))
	// The newest first: the other client's act, the last made, heads page 1.
	b.until("the newest act is not first", `document.querySelector('#register tr a').getAttribute('href') === '#act/`+stranger+`'`)
	b.until("Previous is enabled on the first page", `document.querySelector('#regPages button[data-k="register.prev"]').disabled`)
	sc.shot(b, "register-page-1", false)
	b.click("register.next", 0)
	b.until("page 2 is not the last two acts", rows+` === 2 && `+pager(2, 2, 22)+` && document.querySelector('#regPages button[data-k="register.next"]').disabled`+
		` && !!document.querySelector('#register a[href="#act/`+signed+`"]')`)
	sc.shot(b, "register-page-2", false)
	b.click("register.prev", 0)
	b.until("back on page 1", rows+` === 20 && `+pager(1, 2, 22))
	// The act with a draft shows its registry number and amount.
	amount := "15\u00a0137,50\u00a0₸"
	b.until("the registry number and the amount are not shown",
		`(r => r.children[1].textContent === '1-2026-0042' && r.children[5].textContent === '`+amount+`')(document.querySelector('#register a[href="#act/`+drafted+`"]').closest('tr'))`)

	// Status: refused.
	b.js(`document.getElementById('regStatus').value = 'refused'`)
	b.click("register.search", 0)
	b.until("the status filter does not keep the two refused acts", rows+` === 2 && `+pager(1, 1, 2))
	for _, id := range refused {
		b.until("a refused act is missing", `!!document.querySelector('#register a[href="#act/`+id+`"]')`)
	}
	phase := catalogText(t, "ru", "phase.refused", nil)
	b.until("the status column does not read the catalog's phase",
		`[...document.querySelectorAll('#register tr')].every(r => r.children[3].textContent === `+jsString(phase)+`)`)
	sc.shot(b, "register-refused", false)

	// Dates (Almaty): tomorrow on has nothing; today has them all.
	almaty := time.FixedZone("Asia/Almaty", 5*3600)
	today := time.Now().In(almaty)
	// Typed as dd.mm.yyyy whatever the browser's locale; a date that is
	// not one says how to type it.
	b.js(`document.getElementById('regStatus').value = ''; document.getElementById('regFrom').value = '31.02.2026'`)
	b.click("register.search", 0)
	b.until("a bad date does not say how to type it", `document.getElementById('regErr').textContent === `+jsString(catalogText(t, "ru", "err.bad_date_input", nil))+
		` && document.activeElement === document.getElementById('regFrom')`)
	b.js(`document.getElementById('regFrom').value = '` + today.AddDate(0, 0, 1).Format("02.01.2006") + `'`)
	b.click("register.search", 0)
	b.until("acts from tomorrow on", rows+` === 0 && !!document.querySelector('#register td[data-k="list.empty"], #register td.muted') && `+pager(1, 1, 0))
	sc.shot(b, "register-empty", false)
	b.js(`document.getElementById('regFrom').value = '` + today.Format("02.01.2006") + `'; document.getElementById('regTo').value = '` + today.Format("02.01.2006") + `'`)
	b.click("register.search", 0)
	b.until("today's acts", rows+` === 20 && `+pager(1, 2, 22)+` && document.getElementById('regErr').textContent === ''`)
	if ph := js[string](t, b.ctx, `document.getElementById('regFrom').placeholder`); ph != catalogText(t, "ru", "register.date_hint", nil) {
		t.Fatalf("the date fields' hint reads %q", ph)
	}

	// Search by the other client's surname, in lower case.
	surname := strings.ToLower(strings.Fields(strangerName)[0])
	b.js(`document.getElementById('regQ').value = ` + jsString(surname))
	b.click("register.search", 0)
	b.until("the search does not find the other client's act alone", rows+` === 1 && `+pager(1, 1, 1)+
		` && document.querySelector('#register a').getAttribute('href') === '#act/`+stranger+`' && document.querySelector('#register tr').children[2].textContent === `+jsString(strangerName))
	sc.shot(b, "register-search", false)
	b.js(`document.getElementById('regQ').value = '0042'`)
	b.click("register.search", 0)
	b.until("the search by registry number", rows+` === 1 && document.querySelector('#register a').getAttribute('href') === '#act/`+drafted+`'`)

	// The electronic register of completed acts: the signed act alone.
	b.js(`document.getElementById('regQ').value = ''; document.getElementById('regKind').value = 'completed'`)
	b.click("register.search", 0)
	b.until("the electronic register does not list the signed act alone", rows+` === 1 && `+pager(1, 1, 1)+
		` && document.querySelector('#register a').getAttribute('href') === '#act/`+signed+`'`)
	sc.shot(b, "register-completed", false)
	b.js(`document.querySelector('#register a').click()`)
	b.until("the act did not open from the register", `!document.getElementById('actView').hidden && window.senim.state.id === '`+signed+`'`)
}

// The console counts the citizens waiting also when their call is offered
// to another notary (desk_queue), and the count follows the desk: when the
// other notary takes the call, nobody waits.
func TestQueueCountInTheBrowser(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	ctx := w.ctx()
	bolat := w.notaryIn("bolat", "bolat-password")
	must(t, 0, bolat.Operator(ctx, "available", ""))
	id, c := w.readyAct(t)
	mustOf[client.Ack](t)(c.Command(ctx, id, "request_call", nil))
	next(t, bolat.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == id })

	sc := newScreens(t, "kk")
	b := tab{t, browser(t)}
	b.navigate(w.http + "/?lang=kk")
	signInNotary(b)
	tmpl := catalogText(t, "kk", "notary.queue", map[string]any{"n": 1})
	one := tmpl[:strings.Index(tmpl, "{")] // "Күтуде: 1. Ең ұзақ …" up to the time
	b.until("the console does not count the call offered to bolat", `document.getElementById('queueInfo').textContent.startsWith(`+jsString(one)+`) && window.senim.offers.size === 0`)
	sc.shot(b, "notary-queue-of-others", false)
	mustOf[client.Ack](t)(bolat.Command(ctx, id, "accept_call", nil))
	b.until("the count does not follow the desk", `document.getElementById('queueInfo').textContent === `+jsString(catalogText(t, "kk", "notary.queue.empty", nil)))
}

// The attorney finds the act waiting for their consent with the
// principal's name and what the consent is for (the kind of act); a signed
// act's public check opens in the app's language.
func TestAttorneyWaitingListInTheBrowser(t *testing.T) {
	t.Parallel() // a walk-through: see browser()
	w := newWorld(t)
	ctx := w.ctx()
	c := w.eds("client", w.client)
	id := mustOf[string](t)(c.Apply(ctx, w.client, "+7 701 234 56 78", attorneyIIN))
	principal := w.state(t, c, id).Principal.Name
	signed, _, _ := w.toSigned(t)

	sc := newScreens(t, "kk")
	b := tab{t, browser(t)}
	b.navigate(w.http + "/?lang=kk&ncalayer=" + ncalayerFor(t, w.attorney))
	b.until("the page is not ready", `document.body.classList.contains('ready') && !document.getElementById('signin').hidden`)
	b.js(`document.getElementById('role').value = 'attorney'; document.getElementById('role').dispatchEvent(new Event('change'))`)
	b.click("signin.submit", 0)
	b.until("the attorney is not signed in", `!!(window.senim.me && window.senim.me.iin === '`+attorneyIIN+`')`)
	item := `document.querySelector('#attorneyWaiting a[href="#act/` + id + `"]').textContent`
	b.until("the waiting act does not say whose it is and what for", item+`.includes(`+jsString(principal)+`) && `+
		item+`.includes(`+jsString(catalogText(t, "kk", "action.power_of_attorney", nil))+`)`)
	sc.shot(b, "attorney-waiting", false)

	// A signed power of attorney: its public check opens in the app's
	// language.
	b.js(`document.querySelector('#attorneyActs a[href="#act/` + signed + `"]').click()`)
	check := `document.querySelector('a[data-k="signed.check"]')`
	b.until("the check link does not carry the language", `!!`+check+` && `+check+`.href.endsWith('?lang=kk')`)
	b.until("the check does not open in Kazakh", `fetch(`+check+`.href).then(r => r.text()).then(h => h.includes('<html lang="kk"'))`)
	sc.shot(b, "attorney-signed", false)
	// The app's choice holds on the server's pages without ?lang= too
	// (the senim_lang cookie), over the browser's own language.
	b.until("the check form does not follow the app's language", `fetch('/verify/').then(r => r.text()).then(h => h.includes('<html lang="kk"'))`)
}
