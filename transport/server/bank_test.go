package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/senim-kz/senim/bank"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/act"
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
