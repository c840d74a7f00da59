package bank

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// BenchmarkSimInvoiceAndPay is the stand-in's part of an act: an invoice,
// its pay link, a payment and the callback's answer recorded, from many
// acts at once (b.SetParallelism). Senim's side is an HTTP handler that
// answers 200 at once, so what is measured is the stand-in's own cost.
func BenchmarkSimInvoiceAndPay(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	s, err := OpenSim(b.TempDir(), zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.SetBaseURL(srv.URL)
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			id := fmt.Sprintf("INV-%d", n.Add(1))
			if err := s.CreateInvoice(ctx, Invoice{ID: id, ActID: "a", Amount: 500}); err != nil {
				b.Error(err)
				return
			}
			link, err := s.PaymentURL(ctx, id)
			if err != nil {
				b.Error(err)
				return
			}
			key := link[len(link)-64:]
			if p, err := s.Pay(id, key, time.Now()); err != nil || p.Status != StatusAccepted {
				b.Errorf("pay: %+v %v", p, err)
				return
			}
		}
	})
}
