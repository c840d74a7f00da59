package bank

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

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

func TestPayDeliversAtLeastOnceWithRetries(t *testing.T) {
	rcv := &receiver{failFirst: 2}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	dir := t.TempDir()
	s, err := OpenSim(dir, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Retry = time.Millisecond
	s.SetCallbackURL(srv.URL)
	if _, err := s.Pay("nope", 1, time.Now()); !errors.Is(err, ErrNoInvoice) {
		t.Fatalf("unknown invoice: %v", err)
	}
	if err := s.CreateInvoice(context.Background(), Invoice{ID: "INV-1", ActID: "a1", Amount: 1513750}); err != nil {
		t.Fatal(err)
	}
	cb, err := s.Pay("INV-1", 1513750, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		calls, got := rcv.count()
		if got == 1 {
			if calls != 3 {
				t.Fatalf("%d attempts, want 2 failures and 1 success", calls)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %d attempts", calls)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Redeliver(cb.PaymentID); err != nil {
		t.Fatal(err)
	}
	for _, got := rcv.count(); got != 2; _, got = rcv.count() {
		if time.Now().After(deadline) {
			t.Fatal("redelivery did not arrive")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The bank's state survives a restart: invoice, payment and secret.
	s.Close()
	s2, err := OpenSim(dir, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, paid, ok := s2.Invoice("INV-1"); !ok || !paid {
		t.Fatal("invoice or payment lost across a restart")
	}
	if string(s2.Secret()) != string(s.Secret()) {
		t.Fatal("the HMAC secret changed across a restart")
	}
}
