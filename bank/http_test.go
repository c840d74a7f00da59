package bank

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// provider is a fake payment provider: it fails the first `fail` requests
// with 503, leaves the next `hang` unanswered until the client gives up,
// then creates and describes invoices.
type provider struct {
	mu       sync.Mutex
	fail     int
	hang     int
	calls    int
	invoices map[string]CreateInvoiceRequest
	refunds  map[string]Refund
	bad      []string // what the provider found wrong in a request
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.calls++
	if r.Header.Get("Authorization") != "Bearer test-api-key" {
		p.bad = append(p.bad, "authorization "+r.Header.Get("Authorization"))
	}
	switch {
	case p.fail > 0:
		p.fail--
		p.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case p.hang > 0:
		p.hang--
		p.mu.Unlock()
		// With the body read, the server notices when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		return
	}
	defer p.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/invoices":
		var req CreateInvoiceRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Amount <= 0 {
			http.Error(w, `{"code":"bad_request"}`, http.StatusBadRequest)
			return
		}
		if r.Header.Get("Idempotency-Key") != req.ID {
			p.bad = append(p.bad, "idempotency key "+r.Header.Get("Idempotency-Key"))
		}
		if p.invoices == nil {
			p.invoices = map[string]CreateInvoiceRequest{}
		}
		p.invoices[req.ID] = req
		_ = json.NewEncoder(w).Encode(InvoiceResponse{ID: req.ID, PayURL: "https://pay.example/i/" + req.ID, Status: "open"})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/invoices/"):
		id := strings.TrimPrefix(r.URL.Path, "/api/invoices/")
		if _, ok := p.invoices[id]; !ok {
			http.Error(w, `{"code":"not_found"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(InvoiceResponse{ID: id, PayURL: "https://pay.example/i/" + id, Status: "open"})
	case r.Method == http.MethodPost && r.URL.Path == "/api/refunds":
		var req Refund
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.PaymentID == "" {
			http.Error(w, `{"code":"bad_request"}`, http.StatusBadRequest)
			return
		}
		if r.Header.Get("Idempotency-Key") != "refund-"+req.PaymentID {
			p.bad = append(p.bad, "idempotency key "+r.Header.Get("Idempotency-Key"))
		}
		if p.refunds == nil {
			p.refunds = map[string]Refund{}
		}
		p.refunds[req.PaymentID] = req
		_ = json.NewEncoder(w).Encode(RefundResponse{PaymentID: req.PaymentID, Status: "refunded"})
	default:
		http.NotFound(w, r)
	}
}

func (p *provider) stats() (int, int, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, len(p.invoices), append([]string(nil), p.bad...)
}

func newHTTPBank(t *testing.T, p *provider, retries int) *HTTP {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	h, err := NewHTTP(HTTPConfig{URL: srv.URL + "/api/", APIKey: "test-api-key", Secret: []byte(strings.Repeat("s", 32)),
		CallbackURL: "https://senim.example/bank/callback", Timeout: 200 * time.Millisecond, Retries: retries, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var testInvoice = Invoice{ID: "INV-ABC", ActID: "a1", PayerIIN: "871008401427", Amount: 1513750, Description: "x", Created: time.Now()}

// 5xx and timeouts are retried until the provider answers.
func TestHTTPRetriesUntilSuccess(t *testing.T) {
	p := &provider{fail: 2, hang: 1}
	h := newHTTPBank(t, p, 3)
	if err := h.CreateInvoice(context.Background(), testInvoice); err != nil {
		t.Fatal(err)
	}
	calls, n, bad := p.stats()
	if calls != 4 || n != 1 || len(bad) != 0 {
		t.Fatalf("%d calls, %d invoices, wrong requests %v; want 4 calls (2×503, 1 timeout, 1 success)", calls, n, bad)
	}
	if got := p.invoices["INV-ABC"]; got.Amount != 1513750 || got.Currency != "KZT" || got.CallbackURL != "https://senim.example/bank/callback" {
		t.Fatalf("the provider got %+v", got)
	}
	link, err := h.PaymentURL(context.Background(), "INV-ABC")
	if err != nil || link != "https://pay.example/i/INV-ABC" {
		t.Fatalf("pay link %q %v", link, err)
	}
}

// After the bound the adapter gives up with ErrUnavailable; a 4xx is not
// retried at all.
func TestHTTPGivesUpAfterTheBound(t *testing.T) {
	p := &provider{fail: 1, hang: 100}
	h := newHTTPBank(t, p, 2)
	err := h.CreateInvoice(context.Background(), testInvoice)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("want ErrUnavailable after 3 attempts, got %v", err)
	}
	if calls, n, _ := p.stats(); calls != 3 || n != 0 {
		t.Fatalf("%d calls, %d invoices", calls, n)
	}

	p2 := &provider{}
	h2 := newHTTPBank(t, p2, 5)
	bad := testInvoice
	bad.Amount = 0
	if err := h2.CreateInvoice(context.Background(), bad); !errors.Is(err, ErrRejected) {
		t.Fatalf("a refused invoice: %v", err)
	}
	if _, err := h2.PaymentURL(context.Background(), "INV-NONE"); !errors.Is(err, ErrRejected) {
		t.Fatalf("an unknown invoice's link: %v", err)
	}
	if calls, _, _ := p2.stats(); calls != 2 {
		t.Fatalf("4xx answers were retried: %d calls", calls)
	}
}

// A pay_url that is not http(s) never reaches an app as a link.
func TestHTTPRefusesAnUnsafePayURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(InvoiceResponse{ID: "INV-ABC", PayURL: "javascript:alert(1)"})
	}))
	defer srv.Close()
	h, err := NewHTTP(HTTPConfig{URL: srv.URL, APIKey: "k", Secret: []byte("s"), Timeout: time.Second, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if link, err := h.PaymentURL(context.Background(), "INV-ABC"); !errors.Is(err, ErrRejected) {
		t.Fatalf("link %q %v", link, err)
	}
}

// A refund is posted to {url}/refunds with the payment as its idempotency
// key, and retried like every request.
func TestHTTPRefund(t *testing.T) {
	p := &provider{fail: 1}
	h := newHTTPBank(t, p, 2)
	if err := h.Refund(context.Background(), "PAY-1", 1513750, "invoice_expired"); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.refunds["PAY-1"]; r.Amount != 1513750 || r.Reason != "invoice_expired" || len(p.bad) > 0 {
		t.Fatalf("refund %+v, problems %v", r, p.bad)
	}
}
