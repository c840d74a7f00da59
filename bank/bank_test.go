package bank

import (
	"context"
	"errors"
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

	"github.com/cockroachdb/pebble/v2"
	"github.com/rs/zerolog"
)

func TestSignVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"payment_id":"p"}`)
	h := Sign(secret, body)
	if err := Verify(secret, body, h); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		body []byte
		h    string
	}{
		{[]byte(`{"payment_id":"q"}`), h},
		{body, "sha256=00"},
		{body, "md5=" + h[7:]},
		{body, ""},
		{body, Sign([]byte("other"), body)},
	} {
		if err := Verify(secret, bad.body, bad.h); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%q accepted", bad.h)
		}
	}
}

// receiver is Senim's callback endpoint in miniature: it fails the first
// `failFirst` deliveries with 503, then records and accepts.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	got       []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls <= r.failFirst {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	r.got = append(r.got, req.Header.Get(SignatureHeader)+" "+string(body))
}

func (r *receiver) count() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, len(r.got)
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func openSim(t *testing.T, dir, base string) *Sim {
	t.Helper()
	s, err := OpenSim(dir, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.Retry = time.Millisecond
	s.SetBaseURL(base)
	return s
}

// keyOf returns the key of an invoice's pay link.
func keyOf(t *testing.T, s *Sim, invoiceID string) string {
	t.Helper()
	link, err := s.PaymentURL(context.Background(), invoiceID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(link)
	if err != nil || len(u.Query().Get("key")) < 32 {
		t.Fatalf("pay link %q carries no key", link)
	}
	return u.Query().Get("key")
}

func TestPayDeliversAtLeastOnceWithRetries(t *testing.T) {
	rcv := &receiver{failFirst: 2}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	dir := t.TempDir()
	s := openSim(t, dir, srv.URL)
	if _, err := s.Pay("nope", "k", time.Now()); !errors.Is(err, ErrNoInvoice) {
		t.Fatalf("unknown invoice: %v", err)
	}
	if err := s.CreateInvoice(context.Background(), Invoice{ID: "INV-1", ActID: "a1", Amount: 1513750}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Pay("INV-1", keyOf(t, s, "INV-1"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if p.Amount != 1513750 || p.Status != StatusPending {
		t.Fatalf("first attempt answered 503: %+v", p)
	}
	waitFor(t, "delivery", func() bool { _, got := rcv.count(); return got == 1 })
	if calls, _ := rcv.count(); calls != 3 {
		t.Fatalf("%d attempts, want 2 failures and 1 success", calls)
	}
	if err := s.Redeliver("INV-1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "redelivery", func() bool { _, got := rcv.count(); return got == 2 })
	// A database, not one file of everything rewritten on every payment.
	if _, err := os.Stat(filepath.Join(dir, "state.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a whole-state file: %v", err)
	}
	// The bank's state survives a restart: invoice, payment and secret.
	s.Close()
	s2 := openSim(t, dir, srv.URL)
	_, pays, err := s2.Lookup("INV-1", keyOf(t, s2, "INV-1"))
	if err != nil || len(pays) != 1 || pays[0].Status != StatusAccepted || pays[0].PaymentID != p.PaymentID {
		t.Fatalf("invoice or payment lost across a restart: %+v %v", pays, err)
	}
	if string(s2.Secret()) != string(s.Secret()) {
		t.Fatal("the HMAC secret changed across a restart")
	}
}

// Only the pay link's key pays, the amount is the invoice's, an invoice is
// paid once, and a refusal from Senim is kept as a refusal, never as paid.
func TestPayNeedsTheKeyAndReportsSenimsAnswer(t *testing.T) {
	var mu sync.Mutex
	answer := http.StatusConflict
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(answer)
		if answer == http.StatusConflict {
			_, _ = io.WriteString(w, `{"code":"unknown_invoice","message":"no open invoice"}`)
		}
	}))
	defer srv.Close()
	s := openSim(t, t.TempDir(), srv.URL)
	for _, id := range []string{"INV-1", "INV-2"} {
		if err := s.CreateInvoice(context.Background(), Invoice{ID: id, ActID: "a1", Amount: 500}); err != nil {
			t.Fatal(err)
		}
	}
	key1, key2 := keyOf(t, s, "INV-1"), keyOf(t, s, "INV-2")
	if key1 == key2 {
		t.Fatal("two invoices share a key")
	}
	for _, bad := range []string{"", key2, key1[:len(key1)-1], key1 + "0"} {
		if _, err := s.Pay("INV-1", bad, time.Now()); !errors.Is(err, ErrBadKey) {
			t.Fatalf("key %q: %v", bad, err)
		}
		if _, _, err := s.Lookup("INV-1", bad); !errors.Is(err, ErrBadKey) {
			t.Fatalf("lookup with key %q: %v", bad, err)
		}
	}
	if _, err := s.Pay("../secret", key1, time.Now()); !errors.Is(err, ErrNoInvoice) {
		t.Fatalf("a path as invoice id: %v", err)
	}
	p, err := s.Pay("INV-1", key1, time.Now())
	if err != nil || p.Status != StatusRefused || p.Code != "unknown_invoice" || p.Amount != 500 {
		t.Fatalf("refused payment: %+v %v", p, err)
	}
	mu.Lock()
	answer = http.StatusOK
	mu.Unlock()
	again, err := s.Pay("INV-1", key1, time.Now())
	if err != nil || again.PaymentID != p.PaymentID || again.Status != StatusRefused {
		t.Fatalf("paying twice: %+v %v", again, err)
	}
	if _, pays, _ := s.Lookup("INV-1", key1); len(pays) != 1 || pays[0].Status != StatusRefused {
		t.Fatalf("stored: %+v", pays)
	}
}

// A payment Senim has not answered is delivered again after a restart.
func TestPendingDeliveryResumesAfterRestart(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	dir := t.TempDir()
	s := openSim(t, dir, down.URL)
	if err := s.CreateInvoice(context.Background(), Invoice{ID: "INV-1", ActID: "a1", Amount: 500}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Pay("INV-1", keyOf(t, s, "INV-1"), time.Now()); err != nil || p.Status != StatusPending {
		t.Fatalf("pay: %+v %v", p, err)
	}
	s.Close()

	rcv := &receiver{}
	up := httptest.NewServer(rcv)
	defer up.Close()
	s2 := openSim(t, dir, up.URL)
	if err := s2.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery after the restart", func() bool { _, got := rcv.count(); return got == 1 })
	waitFor(t, "status saved", func() bool {
		_, pays, _ := s2.Lookup("INV-1", keyOf(t, s2, "INV-1"))
		return len(pays) == 1 && pays[0].Status == StatusAccepted
	})
	if left := pendingMarkers(t, s2); len(left) != 0 {
		t.Fatalf("pending markers left: %v", left)
	}
}

// pendingMarkers lists the invoices marked as waiting for Senim's answer.
func pendingMarkers(t *testing.T, s *Sim) []string {
	t.Helper()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(pendPrefix), UpperBound: []byte(pendPrefix + "\xff")})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var ids []string
	for it.First(); it.Valid(); it.Next() {
		ids = append(ids, string(it.Key()))
	}
	return ids
}

// The second version's files (one per invoice, pending markers, refunds)
// move into the database: the invoice keeps its key, its pending payment is
// delivered again, and its refund is still known.
func TestInvoiceFilesAreMigrated(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"invoices/INV-1.json": `{"invoice":{"id":"INV-1","act_id":"a1","amount":500},"key":"` + strings.Repeat("k", 64) + `",
			"payments":[{"payment_id":"PAY-1","invoice_id":"INV-1","act_id":"a1","amount":500,"status":"pending"}]}`,
		"invoices/INV-2.json":     `{"invoice":{"id":"INV-2","act_id":"a2","amount":700},"key":"` + strings.Repeat("q", 64) + `","payments":null}`,
		"invoices/INV-3.json.tmp": `{"half":`,
		"pending/INV-1":           "",
		"refunds/PAY-0.json":      `{"payment_id":"PAY-0","amount":300,"reason":"invoice_expired"}`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	s := openSim(t, dir, srv.URL)
	inv, pays, err := s.Lookup("INV-1", strings.Repeat("k", 64))
	if err != nil || inv.Amount != 500 || len(pays) != 1 || pays[0].PaymentID != "PAY-1" || pays[0].Status != StatusPending {
		t.Fatalf("migrated: %+v %+v %v", inv, pays, err)
	}
	if inv, _, err := s.Lookup("INV-2", strings.Repeat("q", 64)); err != nil || inv.Amount != 700 {
		t.Fatalf("second invoice: %+v %v", inv, err)
	}
	if r, ok := s.Refunded("PAY-0"); !ok || r.Amount != 300 {
		t.Fatalf("refund lost: %+v %v", r, ok)
	}
	for _, d := range []string{"invoices", "pending", "refunds"} {
		if _, err := os.Stat(filepath.Join(dir, d+".migrated")); err != nil {
			t.Fatalf("%s not kept as %s.migrated: %v", d, d, err)
		}
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "migrated payment delivered", func() bool { _, got := rcv.count(); return got == 1 })
	waitFor(t, "status saved", func() bool {
		_, pays, _ := s.Lookup("INV-1", strings.Repeat("k", 64))
		return len(pays) == 1 && pays[0].Status == StatusAccepted
	})
	// Opened again, nothing is migrated twice and nothing is lost.
	s.Close()
	s2 := openSim(t, dir, srv.URL)
	if _, pays, err := s2.Lookup("INV-1", strings.Repeat("k", 64)); err != nil || len(pays) != 1 || pays[0].Status != StatusAccepted {
		t.Fatalf("after reopening: %+v %v", pays, err)
	}
}

// The single state file of earlier versions becomes one file per invoice;
// its payments are delivered again to learn Senim's answer.
func TestOldStateFileIsMigrated(t *testing.T) {
	dir := t.TempDir()
	old := `{"invoices":{"INV-1":{"id":"INV-1","act_id":"a1","amount":500}},
		"payments":{"PAY-1":{"payment_id":"PAY-1","invoice_id":"INV-1","act_id":"a1","amount":500}}}`
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	s := openSim(t, dir, srv.URL)
	inv, pays, err := s.Lookup("INV-1", keyOf(t, s, "INV-1"))
	if err != nil || inv.Amount != 500 || len(pays) != 1 || pays[0].PaymentID != "PAY-1" || pays[0].Status != StatusPending {
		t.Fatalf("migrated: %+v %+v %v", inv, pays, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.json.migrated")); err != nil {
		t.Fatal("the old state file is not kept")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "migrated payment delivered", func() bool { _, got := rcv.count(); return got == 1 })
}

// The stand-in records a refund once; a repeat keeps the first.
func TestSimRefund(t *testing.T) {
	s, err := OpenSim(t.TempDir(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.Refunded("PAY-1"); ok {
		t.Fatal("refunded before any refund")
	}
	ctx := context.Background()
	if err := s.Refund(ctx, "PAY-1", 500, "invoice_expired"); err != nil {
		t.Fatal(err)
	}
	if err := s.Refund(ctx, "PAY-1", 999, "other"); err != nil {
		t.Fatal(err)
	}
	if r, ok := s.Refunded("PAY-1"); !ok || r.Amount != 500 || r.Reason != "invoice_expired" {
		t.Fatalf("refund %+v %v", r, ok)
	}
	if err := s.Refund(ctx, "../x", 1, "r"); err == nil {
		t.Fatal("a payment id with a path was accepted")
	}
}
