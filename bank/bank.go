// Package bank is Senim's side of the bank: invoices go out, payments come
// back as callbacks authenticated with an HMAC over the body (BANK.md).
//
// Bank is the port; it has two adapters. HTTP talks to a real payment
// provider's API (bank.mode = "http"). Sim is the embedded stand-in for
// development only (bank.mode = "dev"): it behaves as a payment provider
// does, failures included. It keeps each invoice durably in its own file,
// lets only the holder of the invoice's pay link pay, pays exactly the
// invoice, and delivers each callback at least once, retrying with backoff
// while Senim does not answer, so Senim sees duplicates and must ignore them.
package bank

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// Invoice is a bill for one act.
type Invoice struct {
	ID          string    `json:"id"`
	ActID       string    `json:"act_id"`
	PayerIIN    string    `json:"payer_iin"`
	Amount      int64     `json:"amount"` // tiyn
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
}

// Callback is what the bank posts to Senim when a payment is made.
type Callback struct {
	PaymentID string    `json:"payment_id"`
	InvoiceID string    `json:"invoice_id"`
	ActID     string    `json:"act_id"`
	Amount    int64     `json:"amount"`
	PaidAt    time.Time `json:"paid_at"`
}

// Bank is what Senim needs from a bank.
type Bank interface {
	// CreateInvoice registers an invoice the payer can then pay in their
	// bank's app. Creating the same invoice id twice is not an error.
	CreateInvoice(ctx context.Context, inv Invoice) error
	// PaymentURL is where the payer pays an invoice. Whoever holds it can
	// pay, so Senim hands it only to the act's principal.
	PaymentURL(ctx context.Context, invoiceID string) (string, error)
	// Secret is the HMAC key the bank's callbacks are signed with.
	Secret() []byte
	// Refund returns a payment Senim refused for good (an expired invoice)
	// to the payer. The payment id is the idempotency key: refunding the
	// same payment again is not an error and pays nothing twice.
	Refund(ctx context.Context, paymentID string, amount int64, reason string) error
}

// Refund is a payment given back.
type Refund struct {
	PaymentID string    `json:"payment_id"`
	Amount    int64     `json:"amount"` // tiyn
	Reason    string    `json:"reason"` // Senim's refusal code, e.g. invoice_expired
	At        time.Time `json:"at,omitzero"`
}

// SignatureHeader carries the HMAC of a callback body.
const SignatureHeader = "X-Senim-Signature"

// Sign returns the header value for body: "sha256=" and the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned for a callback whose HMAC does not match.
var ErrBadSignature = errors.New("bank: callback signature does not match")

// Verify checks a callback's header against its body in constant time.
func Verify(secret, body []byte, header string) error {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return ErrBadSignature
	}
	mac, err := hex.DecodeString(got)
	if err != nil {
		return ErrBadSignature
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}
