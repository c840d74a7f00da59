package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/senim-kz/senim/bank"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/transport/protocol"
)

func postCallback(t *testing.T, w *world, cb bank.Callback, secret []byte) (int, string) {
	t.Helper()
	body, _ := json.Marshal(cb)
	req, _ := http.NewRequest(http.MethodPost, w.http+"/bank/callback", bytes.NewReader(body))
	req.Header.Set(bank.SignatureHeader, bank.Sign(secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The bank callback is authenticated, a wrong amount is refused and the act
// stays unpaid, and a repeated payment id changes nothing.
func TestBankCallback(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toApproval(t)
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_invoice", nil))
	inv := w.state(t, cl, actID).Invoice
	cb := bank.Callback{PaymentID: "PAY-test-1", InvoiceID: inv.ID, ActID: actID, Amount: int64(inv.Amount), PaidAt: time.Now()}

	if code, body := postCallback(t, w, cb, []byte("not the bank's secret")); code != http.StatusUnauthorized {
		t.Fatalf("forged callback: %d %s", code, body)
	}
	wrong := cb
	wrong.PaymentID, wrong.Amount = "PAY-test-0", cb.Amount-1
	if code, body := postCallback(t, w, wrong, w.srv.Bank.Secret()); code != http.StatusConflict || !bytes.Contains([]byte(body), []byte("amount_mismatch")) {
		t.Fatalf("wrong amount: %d %s", code, body)
	}
	if s := w.state(t, cl, actID); s.Paid() || len(s.Payments) != 0 {
		t.Fatal("a forged or wrong payment was recorded")
	}
	if code, body := postCallback(t, w, cb, w.srv.Bank.Secret()); code != http.StatusOK || !bytes.Contains([]byte(body), []byte(`"applied"`)) {
		t.Fatalf("payment: %d %s", code, body)
	}
	seq := w.state(t, cl, actID).Version
	if code, body := postCallback(t, w, cb, w.srv.Bank.Secret()); code != http.StatusOK || !bytes.Contains([]byte(body), []byte(`"duplicate"`)) {
		t.Fatalf("repeat: %d %s", code, body)
	}
	if s := w.state(t, cl, actID); !s.Paid() || s.Version != seq || len(s.Payments) != 1 {
		t.Fatalf("after the repeat: paid %v seq %d→%d payments %d", s.Paid(), seq, s.Version, len(s.Payments))
	}
}

func TestRefusalAndCancellation(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	refusedAct, cl, nt := w.toApproval(t)
	_, err := nt.Command(ctx, refusedAct, "refuse_act", map[string]any{})
	refused(t, err, "reason_required")
	mustOf[client.Ack](t)(nt.Command(ctx, refusedAct, "refuse_act", map[string]any{"reason": "Клиент не понимает последствий"}))
	if s := w.state(t, cl, refusedAct); s.Phase != act.PhaseRefused || s.EndReason == "" {
		t.Fatalf("refused act: %s %q", s.Phase, s.EndReason)
	}
	_, err = cl.Command(ctx, refusedAct, "cancel_act", map[string]any{"reason": "поздно"})
	refused(t, err, "not_allowed_in_state")

	cancelled := mustOf[string](t)(cl.Apply(ctx, w.client, "+77012345678", attorneyIIN))
	mustOf[client.Ack](t)(cl.Command(ctx, cancelled, "cancel_act", map[string]any{"reason": "Передумал"}))
	if s := w.state(t, cl, cancelled); s.Phase != act.PhaseCancelled {
		t.Fatalf("cancelled act: %s", s.Phase)
	}
	at := w.eds("attorney", w.attorney)
	cms := mustOf[string](t)(at.SignStep(ctx, w.attorney, cancelled, "consent", 0))
	_, err = at.Command(ctx, cancelled, "give_consent", map[string]any{"cms": cms})
	refused(t, err, "not_allowed_in_state")
}

// get fetches a URL and returns its status and body.
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func postForm(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The stand-in's pay link carries a per-invoice key that only the act's
// principal gets; without it nothing is paid. The page masks the payer's
// IIN and pays exactly the invoice.
func TestStandInPaysOnlyWithTheLinkKey(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toApproval(t)
	refused(t, func() error { _, err := cl.PaymentLink(ctx, actID); return err }(), "unknown_invoice")
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_invoice", nil))
	inv := w.state(t, cl, actID).Invoice

	// Nobody but the principal gets the link.
	at := w.eds("attorney", w.attorney)
	for _, c := range []*client.Client{nt, at, w.eds("client", w.stranger)} {
		_, err := c.PaymentLink(ctx, actID)
		if code := client.CodeOf(err); code != "forbidden" && code != "not_found" {
			t.Fatalf("someone else got the payment link: %v", err)
		}
	}
	link := mustOf[protocol.PaymentLink](t)(cl.PaymentLink(ctx, actID))
	u, err := url.Parse(link.URL)
	if err != nil || u.Path != "/bank/pay/"+inv.ID || len(u.Query().Get("key")) < 32 || link.Amount != int64(inv.Amount) {
		t.Fatalf("link %+v", link)
	}
	payURL := w.http + "/bank/pay/" + inv.ID
	key := u.Query().Get("key")
	wrong := key[:len(key)-1] + "0"
	if wrong == key {
		wrong = key[:len(key)-1] + "1"
	}
	for _, try := range []struct{ what, url string }{
		{"no key", payURL}, {"a wrong key", payURL + "?key=" + wrong},
	} {
		if code, body := get(t, try.url); code != http.StatusForbidden || !strings.Contains(body, "bad_pay_key") {
			t.Fatalf("the page with %s: %d %s", try.what, code, body)
		}
		if code, body := postForm(t, try.url, url.Values{"amount": {"1"}}); code != http.StatusForbidden || !strings.Contains(body, "bad_pay_key") {
			t.Fatalf("paying with %s: %d %s", try.what, code, body)
		}
	}
	if code, body := postForm(t, payURL, url.Values{"key": {wrong}}); code != http.StatusForbidden {
		t.Fatalf("paying with a wrong form key: %d %s", code, body)
	}
	if s := w.state(t, cl, actID); s.Paid() || len(s.Payments) != 0 {
		t.Fatal("a payment without the link's key was recorded")
	}

	// The page: masked IIN, the invoice's amount, no amount to type.
	code, page := get(t, link.URL)
	if code != http.StatusOK || !strings.Contains(page, "8710******27") || strings.Contains(page, clientIIN) ||
		strings.Contains(page, `name="amount"`) || !strings.Contains(page, "Оплатить 15\u00a0137,50\u00a0₸") {
		t.Fatalf("pay page: %d %s", code, page)
	}
	// An amount in the form is ignored: the invoice is paid exactly.
	code, page = postForm(t, payURL, url.Values{"key": {key}, "amount": {"100"}})
	if code != http.StatusOK || !strings.Contains(page, `data-status="accepted"`) {
		t.Fatalf("paying: %d %s", code, page)
	}
	s := w.state(t, cl, actID)
	if !s.Paid() || len(s.Payments) != 1 || s.Payments[0].Amount != inv.Amount {
		t.Fatalf("after paying: %+v", s.Payments)
	}
	// Paying again pays nothing more.
	if p := mustOf[client.Payment](t)(client.PayAtStandIn(ctx, link.URL)); p.Status != "accepted" {
		t.Fatalf("paying again: %+v", p)
	}
	if s2 := w.state(t, cl, actID); s2.Version != s.Version {
		t.Fatal("paying again changed the act")
	}
	refused(t, func() error { _, err := cl.PaymentLink(ctx, actID); return err }(), "already_paid")
}

// A payment Senim refuses is shown as refused, with Senim's code, never as
// paid.
func TestStandInShowsSenimsRefusal(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toApproval(t)
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_invoice", nil))
	link := mustOf[protocol.PaymentLink](t)(cl.PaymentLink(ctx, actID))
	// The notary changes the fees: the open invoice is voided, and a payment
	// of it is refused.
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "present_draft", map[string]any{"registry_number": "1-2026-0001",
		"powers": "Управлять и продать автомобиль", "term_months": 24, "services_fee": 100}))
	code, page := postForm(t, link.URL, nil)
	if code != http.StatusConflict || !strings.Contains(page, `data-status="refused"`) || !strings.Contains(page, "unknown_invoice") || strings.Contains(page, "Оплачено") {
		t.Fatalf("a refused payment: %d %s", code, page)
	}
	if code, page := get(t, link.URL); code != http.StatusOK || !strings.Contains(page, `data-status="refused"`) {
		t.Fatalf("the page after a refusal: %d %s", code, page)
	}
	if s := w.state(t, cl, actID); s.Paid() || len(s.Payments) != 0 {
		t.Fatal("a refused payment was recorded")
	}
}

// provider is a fake payment provider for bank.mode = "http": it answers
// 503 to its first `fail` requests, then keeps invoices.
type provider struct {
	mu       sync.Mutex
	fail     int
	calls    int
	invoices map[string]bank.CreateInvoiceRequest
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.fail > 0 || r.Header.Get("Authorization") != "Bearer provider-api-key" {
		p.fail--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/invoices":
		var req bank.CreateInvoiceRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		p.invoices[req.ID] = req
		_ = json.NewEncoder(w).Encode(bank.InvoiceResponse{ID: req.ID, PayURL: "https://pay.example/" + req.ID})
	case r.Method == http.MethodGet && p.invoices[strings.TrimPrefix(r.URL.Path, "/v1/invoices/")].ID != "":
		id := strings.TrimPrefix(r.URL.Path, "/v1/invoices/")
		_ = json.NewEncoder(w).Encode(bank.InvoiceResponse{ID: id, PayURL: "https://pay.example/" + id})
	default:
		http.NotFound(w, r)
	}
}

// With bank.mode = "http" invoices go to the provider (retried), the pay
// link is the provider's, the stand-in's pages do not exist, and callbacks
// are checked as in development.
func TestRealBankMode(t *testing.T) {
	prov := &provider{fail: 2, invoices: map[string]bank.CreateInvoiceRequest{}}
	fake := httptest.NewServer(prov)
	defer fake.Close()
	secrets := t.TempDir()
	secret := []byte(strings.Repeat("k", 40))
	keyFile, secretFile := filepath.Join(secrets, "api_key"), filepath.Join(secrets, "callback_secret")
	if err := os.WriteFile(keyFile, []byte("provider-api-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, func(c *config.Config) {
		c.Bank = config.Bank{Mode: "http", URL: fake.URL + "/v1", APIKeyFile: keyFile, SecretFile: secretFile,
			Timeout: config.Duration(5 * time.Second), Retries: 2, Backoff: config.Duration(time.Millisecond)}
	})
	if w.srv.BankSim != nil {
		t.Fatal("the stand-in runs in http mode")
	}
	for _, path := range []string{"/bank/pay/INV-X", "/bank/pay/INV-X?key=x"} {
		if code, _ := get(t, w.http+path); code != http.StatusNotFound {
			t.Fatalf("GET %s: %d", path, code)
		}
		if code, _ := postForm(t, w.http+path, nil); code != http.StatusNotFound {
			t.Fatalf("POST %s: %d", path, code)
		}
	}
	ctx := w.ctx()
	actID, cl, nt := w.toApproval(t)

	// The provider is down beyond the bound: the invoice is refused.
	prov.mu.Lock()
	prov.fail = 3
	prov.mu.Unlock()
	_, err := nt.Command(ctx, actID, "issue_invoice", nil)
	refused(t, err, "bank_unavailable")
	if s := w.state(t, cl, actID); s.Invoice != nil {
		t.Fatal("an invoice the bank did not take was recorded")
	}
	// Two failures, then the provider answers: the retries get through.
	prov.mu.Lock()
	prov.fail = 2
	prov.mu.Unlock()
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_invoice", nil))
	inv := w.state(t, cl, actID).Invoice
	prov.mu.Lock()
	got := prov.invoices[inv.ID]
	prov.mu.Unlock()
	if got.Amount != int64(inv.Amount) || got.ActID != actID || got.PayerIIN != clientIIN || !strings.HasSuffix(got.CallbackURL, "/bank/callback") {
		t.Fatalf("the provider got %+v for %+v", got, inv)
	}
	link := mustOf[protocol.PaymentLink](t)(cl.PaymentLink(ctx, actID))
	if link.URL != "https://pay.example/"+inv.ID {
		t.Fatalf("link %+v", link)
	}

	cb := bank.Callback{PaymentID: "PAY-real-1", InvoiceID: inv.ID, ActID: actID, Amount: int64(inv.Amount), PaidAt: time.Now()}
	if code, body := postCallback(t, w, cb, []byte("not the provider's secret")); code != http.StatusUnauthorized {
		t.Fatalf("forged callback: %d %s", code, body)
	}
	under := cb
	under.PaymentID, under.Amount = "PAY-real-0", cb.Amount-100
	if code, body := postCallback(t, w, under, secret); code != http.StatusConflict || !strings.Contains(body, "amount_mismatch") {
		t.Fatalf("under-payment: %d %s", code, body)
	}
	if s := w.state(t, cl, actID); s.Paid() || len(s.Payments) != 0 {
		t.Fatal("an under-payment was recorded")
	}
	if code, body := postCallback(t, w, cb, secret); code != http.StatusOK || !strings.Contains(body, `"applied"`) {
		t.Fatalf("payment: %d %s", code, body)
	}
	paid := w.state(t, cl, actID)
	if code, body := postCallback(t, w, cb, secret); code != http.StatusOK || !strings.Contains(body, `"duplicate"`) {
		t.Fatalf("replay: %d %s", code, body)
	}
	if s := w.state(t, cl, actID); !s.Paid() || s.Version != paid.Version || len(s.Payments) != 1 {
		t.Fatalf("the replay changed the act: seq %d→%d, %d payments", paid.Version, s.Version, len(s.Payments))
	}
}
