package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/egovmobile"
	"github.com/senim-kz/senim/egovmobile/standin"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/transport/protocol"
)

// phone signs a sign_link on the citizen's phone (the stand-in), reached
// through the QR text (another device) or the deep link (the same device),
// and returns the CMS the session was pushed, base64 as commands take it.
func (w *world) phone(t *testing.T, c *client.Client, actID string, q protocol.SignLinkQuery, keys client.KeySigner, deep bool) string {
	t.Helper()
	ctx := w.ctx()
	l := mustOf[client.Link](t)(c.SignLink(ctx, actID, q))
	for _, secret := range []string{clientIIN, attorneyIIN, "+7"} {
		if strings.Contains(l.URL, secret) || strings.Contains(l.QRPNG, secret) {
			t.Fatalf("the link's URL carries personal data: %s", l.URL)
		}
	}
	link := l.QR
	if deep {
		link = l.DeepLink
	}
	if err := standin.Sign(ctx, link, keys, standin.DevPIN, io.Discard); err != nil {
		t.Fatalf("phone, %s: %v", q.What, err)
	}
	cms := mustOf[[]byte](t)(c.WaitSigned(ctx, l))
	return base64.StdEncoding.EncodeToString(cms)
}

// A citizen signs in, applies, approves the draft and revokes the power of
// attorney with eGov mobile, and the attorney consents with it: once by
// the QR code, once by the deep link. The acts come out as with NCALayer.
func TestEgovMobileSignsTheWholeAct(t *testing.T) {
	for _, deep := range []bool{false, true} {
		name := "qr"
		if deep {
			name = "deep_link"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			ctx := w.ctx()
			cl := w.dial()
			cms := w.phone(t, cl, "", protocol.SignLinkQuery{What: "signin"}, w.client, deep)
			der, _ := base64.StdEncoding.DecodeString(cms)
			wel := mustOf[protocol.Welcome](t)(cl.SignInCMS(ctx, "client", der))
			if wel.IIN != clientIIN {
				t.Fatalf("welcome %+v", wel)
			}
			p := protocol.PrepareApplication{ActionType: "power_of_attorney", Phone: "+7 701 234 56 78", AttorneyIIN: attorneyIIN, Consent: true}
			var prep protocol.PreparedApplication
			if err := cl.Query(ctx, "prepare_application", "", p, &prep); err != nil {
				t.Fatal(err)
			}
			actID := prep.Act
			cms = w.phone(t, cl, "", protocol.SignLinkQuery{What: "application", Application: &protocol.SignLinkApplication{
				Act: actID, ActionType: p.ActionType, Phone: p.Phone, AttorneyIIN: p.AttorneyIIN, Consent: true}}, w.client, deep)
			mustOf[client.Ack](t)(cl.Command(ctx, actID, "submit_application", map[string]any{"action_type": p.ActionType, "phone": p.Phone,
				"attorney_iin": p.AttorneyIIN, "consent": true, "cms": cms}))

			at := w.eds("attorney", w.attorney)
			cms = w.phone(t, at, actID, protocol.SignLinkQuery{What: "consent"}, w.attorney, deep)
			mustOf[client.Ack](t)(at.Command(ctx, actID, "give_consent", map[string]any{"cms": cms}))

			nt := w.notaryIn("aliya", "aliya-password")
			must(t, 0, nt.Operator(ctx, "available", ""))
			mustOf[client.Ack](t)(cl.Command(ctx, actID, "request_call", nil))
			next(t, nt.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == actID })
			mustOf[client.Ack](t)(nt.Command(ctx, actID, "accept_call", nil))
			for _, c := range []string{"document_shown", "legal_capacity", "rights_explained"} {
				mustOf[client.Ack](t)(nt.Command(ctx, actID, "record_check", map[string]any{"check": c, "passed": true}))
			}
			mustOf[client.Ack](t)(nt.Command(ctx, actID, "present_draft", map[string]any{"registry_number": "1-2026-0001", "powers": "Управлять автомобилем", "term_months": 12}))
			cms = w.phone(t, cl, "", protocol.SignLinkQuery{What: "approval", Act: actID, Revision: 1}, w.client, deep)
			mustOf[client.Ack](t)(cl.Command(ctx, actID, "approve_draft", map[string]any{"revision": 1, "cms": cms}))

			mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_invoice", nil))
			w.pay(t, cl, actID)
			poll(t, "paid", func() bool { st := w.state(t, cl, actID); return st.Paid() })
			mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_document_code", nil))
			ncms := mustOf[string](t)(nt.SignStep(ctx, w.notary, actID, "document", 0))
			mustOf[client.Ack](t)(nt.Command(ctx, actID, "sign_act", map[string]any{"cms": ncms}))

			cms = w.phone(t, cl, actID, protocol.SignLinkQuery{What: "revocation"}, w.client, deep)
			mustOf[client.Ack](t)(cl.Command(ctx, actID, "revoke_poa", map[string]any{"reason": "Утратил доверие", "cms": cms}))
			if st := w.state(t, cl, actID); st.Phase != "revoked" {
				t.Fatalf("phase %s", st.Phase)
			}
		})
	}
}

// putStatus PUTs documents to a link's document URL and returns the HTTP
// status and the refusal's code.
func putStatus(t *testing.T, docURL string, docs egovmobile.Documents) (int, string) {
	t.Helper()
	b, _ := json.Marshal(docs)
	req, _ := http.NewRequest(http.MethodPut, docURL, bytes.NewReader(b))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e egovmobile.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Code
}

// signWith replaces the document's data by a CMS over data made with k.
func signWith(t *testing.T, docs egovmobile.Documents, k *pki.Key, data []byte) egovmobile.Documents {
	t.Helper()
	cms, err := k.Sign(data, pki.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := docs
	out.DocumentsToSign = append([]egovmobile.DocumentToSign(nil), docs.DocumentsToSign...)
	out.DocumentsToSign[0].Document.File.Data = base64.StdEncoding.EncodeToString(cms)
	return out
}

// A signature by another person, over other bytes, with the wrong key, a
// second use of a link and a replaced link are refused with their codes,
// and nothing is signed twice; the refusals leave the link usable.
func TestEgovMobileRefusals(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	cl := w.eds("client", w.client)

	// Before sign-in only a sign-in link is given.
	fresh := w.dial()
	_, err := fresh.SignLink(ctx, "", protocol.SignLinkQuery{What: "draft", Act: strings.Repeat("a", 32), Revision: 1})
	refused(t, err, "not_signed_in")
	_, err = cl.SignLink(ctx, "", protocol.SignLinkQuery{What: "nonsense"})
	refused(t, err, "bad_message")
	_, err = cl.SignLink(ctx, "", protocol.SignLinkQuery{What: "application", Application: &protocol.SignLinkApplication{Act: "../x", AttorneyIIN: attorneyIIN}})
	refused(t, err, "bad_act_id")

	p := protocol.PrepareApplication{ActionType: "power_of_attorney", Phone: "+7 701 234 56 78", AttorneyIIN: attorneyIIN, Consent: true}
	var prep protocol.PreparedApplication
	if err := cl.Query(ctx, "prepare_application", "", p, &prep); err != nil {
		t.Fatal(err)
	}
	q := protocol.SignLinkQuery{What: "application", Application: &protocol.SignLinkApplication{Act: prep.Act, ActionType: p.ActionType, Phone: p.Phone, AttorneyIIN: p.AttorneyIIN, Consent: true}}
	old := mustOf[client.Link](t)(cl.SignLink(ctx, "", q))
	l := mustOf[client.Link](t)(cl.SignLink(ctx, "", q)) // replaces old
	_, docs, err := standin.Fetch(ctx, l.URL)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := base64.StdEncoding.DecodeString(docs.DocumentsToSign[0].Document.File.Data)
	if want, _ := base64.StdEncoding.DecodeString(prep.Data); !bytes.Equal(data, want) || docs.DocumentsToSign[0].Purpose() != egovmobile.PurposeSign {
		t.Fatalf("the link's bytes are not prepare_application's: %q", data)
	}
	docURL := l.URL + "/document"
	cases := []struct {
		name   string
		docs   egovmobile.Documents
		url    string
		status int
		code   string
	}{
		{"replaced link", signWith(t, docs, w.client[1], data), old.URL + "/document", http.StatusConflict, "link_used"},
		{"unknown link", signWith(t, docs, w.client[1], data), strings.TrimSuffix(l.URL, l.URL[len(l.URL)-4:]) + "AAAA/document", http.StatusNotFound, "link_unknown"},
		{"another person", signWith(t, docs, w.stranger[1], data), docURL, http.StatusForbidden, "signer_mismatch"},
		{"other bytes", signWith(t, docs, w.client[1], append([]byte("x"), data...)), docURL, http.StatusUnprocessableEntity, "content_mismatch"},
		{"authentication key", signWith(t, docs, w.client[0], data), docURL, http.StatusUnprocessableEntity, "wrong_key_usage"},
		{"not json", egovmobile.Documents{}, docURL, http.StatusBadRequest, "bad_request"},
	}
	for _, c := range cases {
		if status, code := putStatus(t, c.url, c.docs); status != c.status || code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, status, code, c.status, c.code)
		}
	}
	// The QR image is there while the link is open.
	resp, err := http.Get(w.http + l.QRPNG)
	if err != nil {
		t.Fatal(err)
	}
	png, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("qr: %d %q", resp.StatusCode, png[:min(8, len(png))])
	}

	good := signWith(t, docs, w.client[1], data)
	if status, code := putStatus(t, docURL, good); status != http.StatusOK {
		t.Fatalf("good signature: %d %s", status, code)
	}
	cms := mustOf[[]byte](t)(cl.WaitSigned(ctx, l))
	if status, code := putStatus(t, docURL, good); status != http.StatusConflict || code != "link_used" {
		t.Fatalf("replay: %d %s", status, code)
	}
	if resp, err := http.Get(w.http + l.QRPNG); err != nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("qr of a used link: %v %v", resp, err)
	}
	mustOf[client.Ack](t)(cl.Command(ctx, prep.Act, "submit_application", map[string]any{"action_type": p.ActionType, "phone": p.Phone,
		"attorney_iin": p.AttorneyIIN, "consent": true, "cms": base64.StdEncoding.EncodeToString(cms)}))
	if st := w.state(t, cl, prep.Act); st.Phase != "awaiting_consent" {
		t.Fatalf("phase %s after the phone's application", st.Phase)
	}
}

// A link expires after egov.link_ttl: the phone is refused with
// link_expired, the session is told so, and a new link works.
func TestEgovMobileLinkExpires(t *testing.T) {
	clk := &offsetClock{}
	w := newWorldAt(t, clk.now, func(c *config.Config) { c.Egov.LinkTTL = config.Duration(time.Minute) })
	ctx := w.ctx()
	cl := w.dial()
	l := mustOf[client.Link](t)(cl.SignLink(ctx, "", protocol.SignLinkQuery{What: "signin"}))
	clk.jump(2 * time.Minute)
	err := standin.Sign(ctx, l.DeepLink, w.client, standin.DevPIN, io.Discard)
	if standin.CodeOf(err) != "link_expired" {
		t.Fatalf("expired link: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = cl.WaitSigned(wctx, l)
	refused(t, err, "link_expired")
	cms := w.phone(t, cl, "", protocol.SignLinkQuery{What: "signin"}, w.client, false)
	der, _ := base64.StdEncoding.DecodeString(cms)
	mustOf[protocol.Welcome](t)(cl.SignInCMS(ctx, "client", der))
}

// The stand-in refuses a wrong PIN and signs nothing.
func TestEgovStandInWrongPIN(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	cl := w.dial()
	l := mustOf[client.Link](t)(cl.SignLink(ctx, "", protocol.SignLinkQuery{What: "signin"}))
	var out strings.Builder
	if err := standin.Sign(ctx, l.URL, w.client, "123456", &out); err != standin.ErrWrongPIN {
		t.Fatalf("wrong PIN: %v", err)
	}
	if !strings.Contains(out.String(), "Вход в Senim") || !strings.Contains(out.String(), "Senim-ге кіру") {
		t.Fatalf("the phone did not show what is signed in Russian and Kazakh:\n%s", out.String())
	}
	if err := standin.Sign(ctx, l.URL, w.client, standin.DevPIN, io.Discard); err != nil {
		t.Fatalf("the link was spent by a refused PIN: %v", err)
	}
}
