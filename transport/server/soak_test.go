package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/transport/protocol"
)

// signers are the sessions that take acts from application to signature, reused
// act after act.
type signers struct {
	w          *world
	cl, at, nt *client.Client
	ctx        context.Context
	pause      func(actID string) // called between steps (a test waits for a passivation there)
}

func (s *signers) step(t *testing.T, actID string, c *client.Client, name string, body any) client.Ack {
	t.Helper()
	ack, err := c.Command(s.ctx, actID, name, body)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ack
}

// act takes one act from the application to the notary's signature and
// returns it with the seq of act_signed.
func (s *signers) act(t *testing.T) (string, uint64) {
	t.Helper()
	// A context per act: what the test's clients hang on it goes with it,
	// so that the soak measures the server, not the test.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w := s.w
	s.ctx = ctx
	actID, err := s.cl.Apply(ctx, w.client, "+7 701 234 56 78", attorneyIIN)
	if err != nil {
		t.Fatal(err)
	}
	cms := mustOf[string](t)(s.at.SignStep(ctx, w.attorney, actID, "consent", 0))
	s.step(t, actID, s.at, "give_consent", map[string]any{"cms": cms})
	s.step(t, actID, s.cl, "request_call", nil)
	next(t, s.nt.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == actID })
	s.step(t, actID, s.nt, "accept_call", nil)
	s.pause(actID)
	for _, c := range []string{"document_shown", "legal_capacity", "rights_explained"} {
		s.step(t, actID, s.nt, "record_check", map[string]any{"check": c, "passed": true})
	}
	s.step(t, actID, s.nt, "present_draft", map[string]any{"registry_number": "1-2026-0001", "powers": "Управлять автомобилем", "term_months": 12})
	cms = mustOf[string](t)(s.cl.SignStep(ctx, w.client, actID, "draft", 1))
	s.step(t, actID, s.cl, "approve_draft", map[string]any{"revision": 1, "cms": cms})
	s.pause(actID)
	s.step(t, actID, s.nt, "issue_invoice", nil)
	link := mustOf[protocol.PaymentLink](t)(s.cl.PaymentLink(ctx, actID))
	if p := mustOf[client.Payment](t)(client.PayAtStandIn(ctx, link.URL)); p.Status != "accepted" {
		t.Fatalf("pay: %+v", p)
	}
	s.pause(actID)
	s.step(t, actID, s.nt, "issue_document_code", nil)
	cms = mustOf[string](t)(s.nt.SignStep(ctx, w.notary, actID, "document", 0))
	return actID, s.step(t, actID, s.nt, "sign_act", map[string]any{"cms": cms}).Seq
}

func newSigners(w *world) *signers {
	s := &signers{w: w, ctx: context.Background(), pause: func(string) {}}
	s.cl = w.eds("client", w.client)
	s.at = w.eds("attorney", w.attorney)
	s.nt = w.notaryIn("aliya", "aliya-password")
	must(w.t, 0, s.nt.Operator(s.ctx, "available", ""))
	return s
}

// An act passivated at several points (while the client is subscribed to
// it) is rebuilt by each next command and goes on to its signature; the
// subscriber gets every event once, in order.
func TestActPassivatedMidActContinuesToSigning(t *testing.T) {
	w := newWorld(t, func(c *config.Config) { c.Act.IdleAfter = config.Duration(time.Millisecond) })
	s := newSigners(w)
	subscribed := false
	s.pause = func(actID string) {
		t.Helper()
		if !subscribed {
			must(t, 0, s.cl.Subscribe(s.ctx, actID, 0))
			subscribed = true
		}
		before := w.metric(t, "senim_act_passivations_total")
		poll(t, "a passivation", func() bool { return w.metric(t, "senim_act_passivations_total") > before })
	}
	actID, signedSeq := s.act(t)
	var seqs []uint64
	for {
		e := next(t, s.cl.Events(), func(e protocol.Envelope) bool { return e.Act == actID })
		seqs = append(seqs, e.Seq)
		if e.Name == "act_signed" {
			break
		}
	}
	for i, q := range seqs {
		if q != uint64(i+1) {
			t.Fatalf("the subscriber got seqs %v: a gap or a repeat", seqs)
		}
	}
	if seqs[len(seqs)-1] != signedSeq {
		t.Fatalf("act_signed is seq %d, acked %d", seqs[len(seqs)-1], signedSeq)
	}
}

// TestSoak drives whole acts over the protocol and holds the server's heap
// (after GC) and goroutines flat once warmed up: finished acts must not
// stay in memory. SENIM_SOAK_ACTS sets the number of acts (default 120).
func TestSoak(t *testing.T) {
	n := 120
	if v, err := strconv.Atoi(os.Getenv("SENIM_SOAK_ACTS")); err == nil && v > 0 {
		n = v
	}
	if os.Getenv("SENIM_SOAK_PROFILE") != "" {
		runtime.MemProfileRate = 1
	}
	w := newWorld(t, func(c *config.Config) {
		c.Act.IdleAfter = config.Duration(time.Millisecond) // finished acts leave memory within a second
		c.Media.Record = false
		c.Limits.RatePerSecond, c.Limits.Burst = 10000, 10000 // the sessions are reused, fast
	})
	s := newSigners(w)
	warm := n / 3
	var xs, heap []float64
	var g0 int
	for i := 1; i <= n; i++ {
		s.act(t)
		if i < warm || i%10 != 0 {
			continue
		}
		// Wait until the finished acts have been passivated, then measure.
		poll(t, "acts passivated", func() bool { return w.metric(t, "senim_acts_live") <= 1 })
		h, g := heapAfterGC()
		if dir := os.Getenv("SENIM_SOAK_PROFILE"); dir != "" {
			// Heap profiles to compare (go tool pprof -base).
			if f, err := os.Create(filepath.Join(dir, fmt.Sprintf("heap-%d.prof", i))); err == nil {
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
		if g0 == 0 {
			g0 = g
		}
		xs, heap = append(xs, float64(i)), append(heap, float64(h))
		t.Logf("after %d acts: heap %.1f MB, %d goroutines", i, float64(h)/(1<<20), g)
		if g > g0+20 {
			t.Errorf("goroutines grew from %d to %d after %d acts", g0, g, i)
		}
	}
	slope := slopeOf(xs, heap)
	t.Logf("heap slope after warm-up: %.2f KB per act (%d acts)", slope/1024, n)
	if slope > 8<<10 {
		t.Errorf("the heap grows %.1f KB per finished act, want a flat heap (< 8 KB per act)", slope/1024)
	}
}

func heapAfterGC() (uint64, int) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, runtime.NumGoroutine()
}

// slopeOf is the least-squares slope of ys over xs.
// slopeOf is the Theil–Sen slope: the median of the slopes between every
// pair of samples. A leak grows the heap at every step, so most pairs see
// it; a bounded cache that fills once (a new, larger memtable; a pool) is a
// single step, which least squares would read as growth and the median
// does not.
func slopeOf(xs, ys []float64) float64 {
	var slopes []float64
	for i := range xs {
		for j := i + 1; j < len(xs); j++ {
			if xs[j] != xs[i] {
				slopes = append(slopes, (ys[j]-ys[i])/(xs[j]-xs[i]))
			}
		}
	}
	if len(slopes) == 0 {
		return 0
	}
	sort.Float64s(slopes)
	m := len(slopes) / 2
	if len(slopes)%2 == 0 {
		return (slopes[m-1] + slopes[m]) / 2
	}
	return slopes[m]
}
