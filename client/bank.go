package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/senim-kz/senim/transport/protocol"
)

// PaymentLink asks where the act's principal pays the act's open invoice
// (the payment_link query). Only the principal gets it.
func (c *Client) PaymentLink(ctx context.Context, act string) (protocol.PaymentLink, error) {
	var l protocol.PaymentLink
	err := c.Query(ctx, "payment_link", act, nil, &l)
	return l, err
}

// Payment is the development bank stand-in's answer to a payment: the
// payment, and what Senim answered to the bank's callback.
type Payment struct {
	PaymentID string `json:"payment_id"`
	InvoiceID string `json:"invoice_id"`
	Amount    int64  `json:"amount"`
	// Status is accepted (the act is paid), refused (Code and Message say
	// why) or pending (Senim has not answered; the bank retries).
	Status  string `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// PayAtStandIn pays the whole invoice at a pay link of the development bank
// stand-in, as the payer's bank app would. A refusal of the payment itself
// (wrong key, no invoice) is an *Error with its code.
func PayAtStandIn(ctx context.Context, link string) (Payment, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, link, nil)
	if err != nil {
		return Payment{}, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Payment{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK, http.StatusAccepted, http.StatusConflict:
		var p Payment
		if err := json.Unmarshal(raw, &p); err != nil || p.Status == "" {
			return Payment{}, fmt.Errorf("bank: HTTP %d: %s", resp.StatusCode, raw)
		}
		return p, nil
	}
	e := &Error{}
	if json.Unmarshal(raw, e) != nil || e.Code == "" {
		return Payment{}, fmt.Errorf("bank: HTTP %d: %s", resp.StatusCode, raw)
	}
	return Payment{}, e
}
