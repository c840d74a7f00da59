package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/bank"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/testserver"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/transport/gateway"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/transport/server"
)

// startBounded runs a server on defaults edited by edit.
func startBounded(t *testing.T, edit func(*config.Config)) *server.Server {
	t.Helper()
	return testserver.Start(t, t.TempDir(), edit)
}

// The websocket's connection limits: per client IP (429 with a code), and
// the keepalive that closes a peer that no longer answers pings.
func TestConnectionBounds(t *testing.T) {
	t.Run("per IP", func(t *testing.T) {
		srv := startBounded(t, func(c *config.Config) { c.Limits.MaxConnsPerIP = 2 })
		addr := srv.Addr()
		first, _ := raw(t, addr)
		raw(t, addr)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third connection from one IP: %v %v", resp, err)
		}
		var body struct{ Code string }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Code != gateway.CodeTooManyFromIP {
			t.Fatalf("body %+v, %v", body, err)
		}
		// A closed connection frees its slot.
		first.Close(websocket.StatusNormalClosure, "")
		testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
			c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Version}})
			if err != nil {
				return err
			}
			c.CloseNow()
			return nil
		})
	})
	t.Run("keepalive", func(t *testing.T) {
		srv := startBounded(t, func(c *config.Config) {
			c.Limits.PingInterval = config.Duration(time.Second)
			c.Limits.SigninTimeout = config.Duration(time.Hour) // not the sign-in deadline closing it
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A peer that never reads never answers a ping: a dead peer.
		c, _, err := websocket.Dial(ctx, "ws://"+srv.Addr()+"/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Version}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
			if n := srv.Gateway.Conns(); n != 0 {
				return fmt.Errorf("%d connections open", n)
			}
			return nil
		})
	})
}

// RFC 6455 §8.1: a text frame that is not UTF-8 closes the connection with
// 1007 and is never answered.
func TestInvalidUTF8Closes1007(t *testing.T) {
	srv := startBounded(t, func(*config.Config) {})
	c, _ := raw(t, srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte("{\"type\":\"query\",\"id\":\"\xff\xfe\",\"name\":\"my_acts\"}")); err != nil {
		t.Fatal(err)
	}
	_, data, err := c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusInvalidFramePayloadData {
		t.Fatalf("want close 1007, got %q, %v", data, err)
	}
}

// offsetClock is the real clock moved forward by a settable offset: a
// test jumps over a day without waiting for it.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) now() time.Time       { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) jump(d time.Duration) { c.offset.Add(int64(d)) }

// newWorldAt is newWorld on a server with the clock now.
func newWorldAt(t *testing.T, now func() time.Time, mods ...func(*config.Config)) *world {
	t.Helper()
	dir := t.TempDir()
	return worldOn(t, dir, testserver.Run(t, testserver.Config(dir, mods...), zerolog.Nop(), server.Options{Now: now}))
}

// A payment after the invoice expired is refused with invoice_expired
// (HTTP 409), refunded through the bank, and leaves the act unpaid; the
// notary issues a new invoice, which can be paid.
func TestPaymentAfterTheInvoiceExpired(t *testing.T) {
	clk := &offsetClock{}
	w := newWorldAt(t, clk.now, func(c *config.Config) { c.Act.InvoiceTTL = config.Duration(time.Hour) })
	ctx := w.ctx()
	actID, cl, nt := w.toApproval(t)
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_invoice", nil))
	inv := w.state(t, cl, actID).Invoice
	if inv.ExpiresAt == nil {
		t.Fatal("the invoice has no expiry")
	}
	clk.jump(2 * time.Hour)
	cb := bank.Callback{PaymentID: "PAY-late-1", InvoiceID: inv.ID, ActID: actID, Amount: int64(inv.Amount), PaidAt: clk.now()}
	code, body := postCallback(t, w, cb, w.srv.Bank.Secret())
	if code != http.StatusConflict || !bytes.Contains([]byte(body), []byte(act.CodeInvoiceExpired)) {
		t.Fatalf("late payment: %d %s", code, body)
	}
	if r, ok := w.srv.BankSim.Refunded(cb.PaymentID); !ok || r.Amount != cb.Amount || r.Reason != string(act.CodeInvoiceExpired) {
		t.Fatalf("refund %+v %v", r, ok)
	}
	if s := w.state(t, cl, actID); s.Paid() || len(s.Payments) != 0 {
		t.Fatal("a late payment was recorded")
	}
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_invoice", nil))
	inv = w.state(t, cl, actID).Invoice
	cb = bank.Callback{PaymentID: "PAY-in-time-1", InvoiceID: inv.ID, ActID: actID, Amount: int64(inv.Amount), PaidAt: clk.now()}
	if code, body := postCallback(t, w, cb, w.srv.Bank.Secret()); code != http.StatusOK {
		t.Fatalf("payment of the new invoice: %d %s", code, body)
	}
	if _, ok := w.srv.BankSim.Refunded(cb.PaymentID); ok {
		t.Fatal("a payment in time was refunded")
	}
}

// A call that lasts call.max_length is ended by the server through the act
// (call_ended by system, reason max_length), and its room closes.
func TestCallMaximumLength(t *testing.T) {
	w := newWorld(t, func(c *config.Config) { c.Call.MaxLength = config.Duration(time.Second) })
	ctx := w.ctx()
	actID, cl, _ := w.toCall(t)
	if err := cl.Subscribe(ctx, actID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.JoinCall(ctx, actID, false); err != nil { // the room opens
		t.Fatal(err)
	}
	ended := next(t, cl.Events(), func(e protocol.Envelope) bool { return e.Name == "call_ended" })
	var ce act.CallEnded
	if err := json.Unmarshal(ended.Body, &ce); err != nil || ce.Reason != act.ReasonMaxLength || ended.Actor != "system" {
		t.Fatalf("call_ended: %+v %v", ended, err)
	}
	// The room tells the participant it closed (the offer of the join came first).
	next(t, cl.Media(), func(e protocol.Envelope) bool {
		return e.Type == protocol.TypeMedia && bytes.Contains(e.Body, []byte(`"kind":"closed"`))
	})
}
