package bank

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrUnavailable is returned when the provider did not answer successfully
// within the configured attempts: the caller may try again later.
var ErrUnavailable = errors.New("bank: the payment provider is unavailable")

// ErrRejected is returned when the provider refused a request for good
// (a 4xx other than 408 and 429, or an answer that does not decode).
var ErrRejected = errors.New("bank: the payment provider refused the request")

// HTTPConfig configures the adapter for a real payment provider (BANK.md).
type HTTPConfig struct {
	// URL is the provider's API base, e.g. "https://pay.example.kz/api/v1".
	URL string
	// APIKey authenticates Senim to the provider (Authorization: Bearer).
	APIKey string
	// Secret is the HMAC-SHA256 key the provider signs its callbacks with.
	Secret []byte
	// CallbackURL is Senim's public /bank/callback, sent with each invoice.
	CallbackURL string
	// Timeout bounds one attempt; Retries is how many attempts follow a
	// failed one; Backoff is the first pause between them, doubling.
	Timeout time.Duration
	Retries int
	Backoff time.Duration
}

// HTTP is the Bank adapter for a real payment provider's HTTP API.
type HTTP struct {
	cfg    HTTPConfig
	client *http.Client
}

// NewHTTP checks the configuration and returns the adapter.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("bank: url %q is not an http(s) URL", cfg.URL)
	}
	if cfg.APIKey == "" || len(cfg.Secret) == 0 {
		return nil, errors.New("bank: the http adapter needs an API key and a callback secret")
	}
	if cfg.Timeout <= 0 || cfg.Retries < 0 || cfg.Backoff <= 0 {
		return nil, errors.New("bank: timeout and backoff must be positive, retries not negative")
	}
	cfg.URL = strings.TrimSuffix(cfg.URL, "/")
	// Redirects are not followed: the API key must not travel elsewhere.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &HTTP{cfg: cfg, client: c}, nil
}

// Secret implements Bank.
func (h *HTTP) Secret() []byte { return h.cfg.Secret }

// CreateInvoiceRequest is the body of POST {url}/invoices.
type CreateInvoiceRequest struct {
	ID          string    `json:"id"`
	ActID       string    `json:"act_id"`
	PayerIIN    string    `json:"payer_iin"`
	Amount      int64     `json:"amount"` // tiyn
	Currency    string    `json:"currency"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
	CallbackURL string    `json:"callback_url"`
}

// InvoiceResponse is the provider's answer about one invoice.
type InvoiceResponse struct {
	ID     string `json:"id"`
	PayURL string `json:"pay_url"`
	Status string `json:"status"`
}

// CreateInvoice implements Bank. The invoice id is also the Idempotency-Key,
// so a retry after a lost answer does not bill twice.
func (h *HTTP) CreateInvoice(ctx context.Context, inv Invoice) error {
	body, err := json.Marshal(CreateInvoiceRequest{ID: inv.ID, ActID: inv.ActID, PayerIIN: inv.PayerIIN, Amount: inv.Amount,
		Currency: "KZT", Description: inv.Description, Created: inv.Created.UTC(), CallbackURL: h.cfg.CallbackURL})
	if err != nil {
		return err
	}
	var out InvoiceResponse
	if err := h.do(ctx, http.MethodPost, "/invoices", body, inv.ID, &out); err != nil {
		return fmt.Errorf("invoice %s: %w", inv.ID, err)
	}
	if out.ID != inv.ID {
		return fmt.Errorf("%w: asked for invoice %s, answered for %q", ErrRejected, inv.ID, out.ID)
	}
	return nil
}

// PaymentURL implements Bank: the provider's pay page for the invoice. Only
// an http(s) address is passed on, since apps open it as a link.
func (h *HTTP) PaymentURL(ctx context.Context, invoiceID string) (string, error) {
	var out InvoiceResponse
	if err := h.do(ctx, http.MethodGet, "/invoices/"+url.PathEscape(invoiceID), nil, "", &out); err != nil {
		return "", fmt.Errorf("invoice %s: %w", invoiceID, err)
	}
	u, err := url.Parse(out.PayURL)
	if out.ID != invoiceID || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%w: no usable pay_url for invoice %s", ErrRejected, invoiceID)
	}
	return out.PayURL, nil
}

// RefundResponse is the provider's answer to a refund.
type RefundResponse struct {
	PaymentID string `json:"payment_id"`
	Status    string `json:"status"`
}

// Refund implements Bank: POST {url}/refunds, the payment id as the
// Idempotency-Key, so a retry never refunds twice.
func (h *HTTP) Refund(ctx context.Context, paymentID string, amount int64, reason string) error {
	body, err := json.Marshal(Refund{PaymentID: paymentID, Amount: amount, Reason: reason})
	if err != nil {
		return err
	}
	var out RefundResponse
	if err := h.do(ctx, http.MethodPost, "/refunds", body, "refund-"+paymentID, &out); err != nil {
		return fmt.Errorf("refund of %s: %w", paymentID, err)
	}
	if out.PaymentID != paymentID {
		return fmt.Errorf("%w: asked to refund %s, answered for %q", ErrRejected, paymentID, out.PaymentID)
	}
	return nil
}

// do sends one request, retrying with doubling pauses after timeouts,
// network errors, 408, 429 and 5xx, at most Retries times.
func (h *HTTP) do(ctx context.Context, method, path string, body []byte, idempotencyKey string, out any) error {
	delay := h.cfg.Backoff
	for attempt := 1; ; attempt++ {
		retry, err := h.once(ctx, method, path, body, idempotencyKey, out)
		if err == nil || !retry {
			return err
		}
		if attempt > h.cfg.Retries {
			return fmt.Errorf("%w: %d attempts, the last: %v", ErrUnavailable, attempt, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v after %d attempts, the last: %v", ErrUnavailable, ctx.Err(), attempt, err)
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// once makes one attempt and says whether a failure is worth retrying.
func (h *HTTP) once(ctx context.Context, method, path string, body []byte, idempotencyKey string, out any) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.cfg.URL+path, rd)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.cfg.APIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return true, err
	}
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		if err := json.Unmarshal(raw, out); err != nil {
			return false, fmt.Errorf("%w: the answer does not decode: %v", ErrRejected, err)
		}
		return false, nil
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return true, fmt.Errorf("HTTP %d", s)
	default:
		return false, fmt.Errorf("%w: HTTP %d: %s", ErrRejected, s, strings.TrimSpace(string(raw[:min(len(raw), 200)])))
	}
}
