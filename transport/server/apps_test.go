package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/document"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/transport/server"
)

// resumeIn signs a fresh connection in with a resume token.
func (w *world) resumeIn(token, role string) (*client.Client, protocol.Welcome, error) {
	c := w.dial()
	body, _ := json.Marshal(protocol.SignIn{Method: "resume", Token: token, Role: role})
	ans, err := c.Do(w.ctx(), protocol.Envelope{Type: protocol.TypeSignIn, Body: body})
	var wel protocol.Welcome
	if err == nil {
		err = json.Unmarshal(ans.Body, &wel)
	}
	return c, wel, err
}

// A welcome's resume token signs the same identity in once, for its role
// only, and every resume hands out a new one.
func TestResumeTokenIsSingleUseAndBound(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	first := mustOf[protocol.Welcome](t)(w.dial().SignInEDS(ctx, "client", w.client))
	if len(first.ResumeToken) != 43 {
		t.Fatalf("welcome without a 256-bit resume token: %+v", first)
	}
	c, again, err := w.resumeIn(first.ResumeToken, "")
	if err != nil || again.Role != "client" || again.IIN != clientIIN || again.ResumeToken == "" || again.ResumeToken == first.ResumeToken {
		t.Fatalf("resume: %+v %v", again, err)
	}
	// The resumed session is the client's: their cabinet answers.
	var mine protocol.ActList
	must(t, 0, c.Query(ctx, "my_acts", "", nil, &mine))
	// Spent.
	_, _, err = w.resumeIn(first.ResumeToken, "")
	refused(t, err, protocol.CodeResumeExpired)
	// Another role than the token's is refused, and spends it.
	_, _, err = w.resumeIn(again.ResumeToken, "attorney")
	refused(t, err, protocol.CodeResumeExpired)
	_, _, err = w.resumeIn(again.ResumeToken, "client")
	refused(t, err, protocol.CodeResumeExpired)
	_, _, err = w.resumeIn("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "")
	refused(t, err, protocol.CodeResumeExpired)

	// A notary resumes too, and is back in operator mode's reach.
	nt := mustOf[protocol.Welcome](t)(w.dial().SignInPassword(ctx, "aliya", "aliya-password"))
	nc, back, err := w.resumeIn(nt.ResumeToken, "notary")
	if err != nil || back.Role != "notary" || back.Login != "aliya" {
		t.Fatalf("notary resume: %+v %v", back, err)
	}
	must(t, 0, nc.Operator(ctx, "available", ""))
}

// A certificate revoked after the sign-in makes its resume token useless:
// the certificate is judged again.
func TestResumeAfterRevocationIsRefused(t *testing.T) {
	w := recheckWorld(t)
	c := w.dial()
	wel := mustOf[protocol.Welcome](t)(c.SignInEDS(w.ctx(), "client", w.client))
	serial := pki.SerialHex(w.client[0].Certificate.SerialNumber)
	if _, err := w.srv.DevCA.Revoke(devca.Selector{Serial: serial}, time.Now()); err != nil {
		t.Fatal(err)
	}
	closedWith(t, c, string(pki.CodeRevoked)) // the server has seen the CRL
	_, _, err := w.resumeIn(wel.ResumeToken, "client")
	refused(t, err, string(pki.CodeRevoked))
}

// The attorney's list holds the consents asked of them, with the
// principal's name and the action, and no phone.
func TestAttorneySeesPendingConsents(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	cl := w.eds("client", w.client)
	actID := mustOf[string](t)(cl.Apply(ctx, w.client, "+7 701 234 56 78", attorneyIIN))
	at := w.eds("attorney", w.attorney)
	var list protocol.ActList
	must(t, 0, at.Query(ctx, "attorney_acts", "", nil, &list))
	if list.Total != 1 || len(list.Acts) != 1 {
		t.Fatalf("attorney_acts %+v", list)
	}
	a := list.Acts[0]
	if a.Act != actID || a.Phase != "awaiting_consent" || a.Principal != "СЕЙТҚАЛИ ӘЙГЕРІМ" || a.ActionType != "power_of_attorney" || a.Phone != "" {
		t.Fatalf("pending consent %+v", a)
	}
	cms := mustOf[string](t)(at.SignStep(ctx, w.attorney, actID, "consent", 0))
	mustOf[client.Ack](t)(at.Command(ctx, actID, "give_consent", map[string]any{"cms": cms}))
	must(t, 0, at.Query(ctx, "attorney_acts", "", nil, &list))
	if list.Total != 0 {
		t.Fatalf("a given consent is no longer pending: %+v", list)
	}
}

// queue_position tells the waiting principal their place, and no one else.
func TestQueuePosition(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	cl := w.eds("client", w.client)
	actID := mustOf[string](t)(cl.Apply(ctx, w.client, "+7 701 234 56 78", attorneyIIN))
	at := w.eds("attorney", w.attorney)
	cms := mustOf[string](t)(at.SignStep(ctx, w.attorney, actID, "consent", 0))
	mustOf[client.Ack](t)(at.Command(ctx, actID, "give_consent", map[string]any{"cms": cms}))
	var qp protocol.QueuePosition
	refused(t, cl.Query(ctx, "queue_position", actID, nil, &qp), protocol.CodeNotWaiting)
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "request_call", nil))
	must(t, 0, cl.Query(ctx, "queue_position", actID, nil, &qp))
	if qp.Position != 1 || qp.Waiting != 1 || qp.EstimateSeconds != 300 {
		t.Fatalf("queue position %+v", qp)
	}
	refused(t, at.Query(ctx, "queue_position", actID, nil, &qp), "forbidden")
	refused(t, cl.Query(ctx, "queue_position", "not-an-act", nil, &qp), "bad_act_id")
	other := w.eds("client", w.stranger)
	refused(t, other.Query(ctx, "queue_position", actID, nil, &qp), "forbidden")
	// Taken by a notary: no longer waiting.
	nt := w.notaryIn("aliya", "aliya-password")
	must(t, 0, nt.Operator(ctx, "available", ""))
	next(t, nt.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == actID })
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "accept_call", nil))
	refused(t, cl.Query(ctx, "queue_position", actID, nil, &qp), protocol.CodeNotWaiting)
}

// The notary's register searches, filters and pages.
func TestRegisterSearchAndPaging(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	var ids []string
	numbers := []string{"7-2026-0101", "7-2026-0102", "7-2026-0103"}
	for i, n := range numbers {
		actID, _, nt := w.toCall(t)
		amount := map[string]any{"registry_number": n, "powers": "Управлять автомобилем", "term_months": 12,
			"state_duty": 1000 * (i + 1), "services_fee": 50}
		mustOf[client.Ack](t)(nt.Command(ctx, actID, "present_draft", amount))
		if i < 2 { // the last stays on the call
			mustOf[client.Ack](t)(nt.Command(ctx, actID, "end_call", nil))
		}
		ids = append(ids, actID)
	}
	nt := w.notaryIn("aliya", "aliya-password")
	list := func(body any) protocol.ActList {
		t.Helper()
		var l protocol.ActList
		must(t, 0, nt.Query(ctx, "register", "", body, &l))
		return l
	}
	all := list(nil)
	if all.Total != 3 || len(all.Acts) != 3 || all.Acts[0].Act != ids[2] {
		t.Fatalf("register %+v", all)
	}
	today := document.InAlmaty(time.Now())
	a := all.Acts[2]
	if a.RegistryNumber != numbers[0] || a.Amount != 1050 || a.Phone != "+77012345678" || a.Principal != "СЕЙТҚАЛИ ӘЙГЕРІМ" ||
		a.Date != today.Format("02.01.2006") || a.Phase != "with_notary" || a.Status != a.Phase {
		t.Fatalf("summary %+v", a)
	}
	if l := list(map[string]any{"q": "7-2026-0102"}); l.Total != 1 || l.Acts[0].Act != ids[1] {
		t.Fatalf("by registry number %+v", l)
	}
	if l := list(map[string]any{"q": "сейтқали"}); l.Total != 3 {
		t.Fatalf("by name, any case %+v", l)
	}
	if l := list(map[string]any{"q": "nobody"}); l.Total != 0 || l.Acts == nil {
		t.Fatalf("no match %+v", l)
	}
	if l := list(map[string]any{"per_page": 2, "page": 2}); l.Total != 3 || len(l.Acts) != 1 || l.Acts[0].Act != ids[0] {
		t.Fatalf("page 2 %+v", l)
	}
	day := today.Format("2006-01-02")
	if l := list(map[string]any{"from": day, "to": day}); l.Total != 3 {
		t.Fatalf("today %+v", l)
	}
	if l := list(map[string]any{"to": today.AddDate(0, 0, -1).Format("2006-01-02")}); l.Total != 0 {
		t.Fatalf("before today %+v", l)
	}
	if l := list(map[string]any{"status": "signed"}); l.Total != 0 {
		t.Fatalf("signed %+v", l)
	}
	for _, bad := range []map[string]any{{"from": "31.12.2026"}, {"per_page": 101}, {"page": -1}, {"status": "Robert'); DROP"}, {"from": "2026-02-02", "to": "2026-02-01"}} {
		var l protocol.ActList
		refused(t, nt.Query(ctx, "register", "", bad, &l), protocol.CodeBadQuery)
	}
	// The electronic register lists signed acts only.
	var done protocol.ActList
	must(t, 0, nt.Query(ctx, "completed", "", map[string]any{"q": "7-2026"}, &done))
	if done.Total != 0 {
		t.Fatalf("completed %+v", done)
	}
}

// A draft with the powers in Kazakh is approved over v2 bytes that carry
// them, and the signed document (template version 2) and the public check
// show them.
func TestDraftPowersInKazakhOverTheProtocol(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toCall(t)
	for _, c := range []string{"document_shown", "legal_capacity", "rights_explained"} {
		mustOf[client.Ack](t)(nt.Command(ctx, actID, "record_check", map[string]any{"check": c, "passed": true}))
	}
	const kk = "Автокөлікті басқару және сату"
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "present_draft", map[string]any{"registry_number": "1-2026-0001",
		"powers": "Управлять и продать автомобиль", "powers_kk": kk, "term_months": 12}))
	var ts protocol.ToSign
	must(t, 0, cl.Query(ctx, "to_sign", actID, map[string]any{"what": "draft", "revision": 1}, &ts))
	raw, _ := base64.StdEncoding.DecodeString(ts.Data)
	if !strings.HasPrefix(string(raw), `{"kind":"senim.draft.v2",`) || !strings.Contains(string(raw), `"powers_kk":"`+kk+`"`) {
		t.Fatalf("draft bytes %s", raw)
	}
	cms := mustOf[string](t)(cl.SignStep(ctx, w.client, actID, "draft", 1))
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "approve_draft", map[string]any{"revision": 1, "cms": cms}))
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_invoice", nil))
	w.pay(t, cl, actID)
	poll(t, "paid", func() bool { s := w.state(t, cl, actID); return s.Paid() })
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_document_code", nil))
	sig := mustOf[string](t)(nt.SignStep(ctx, w.notary, actID, "document", 0))
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "sign_act", map[string]any{"cms": sig}))
	st := w.state(t, cl, actID)
	text := string(signedText(t, st))
	if st.DocumentInputs.Format != document.FormatV2 || !strings.Contains(text, "өкілеттік береді:\n"+kk+"\n") || !strings.Contains(text, "Итого / Барлығы: ") {
		t.Fatalf("format %d, signed text:\n%s", st.DocumentInputs.Format, text)
	}
	var check server.Check
	getJSON(t, w.http+"/verify/"+st.DocumentCode+"?format=json", http.StatusOK, &check)
	if check.Status != "valid" || check.PowersKK != kk || check.TermMonths != 12 {
		t.Fatalf("check %+v", check)
	}
}
