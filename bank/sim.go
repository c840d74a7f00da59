package bank

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// ErrNoInvoice is returned when paying an invoice the bank does not have.
var ErrNoInvoice = errors.New("bank: no such invoice")

// Sim is the embedded bank stand-in.
type Sim struct {
	dir    string
	secret []byte
	log    zerolog.Logger
	client *http.Client

	mu          sync.Mutex
	callbackURL string
	invoices    map[string]Invoice
	payments    map[string]Callback
	wg          sync.WaitGroup
	stop        chan struct{}
	// Retry is the first delay between delivery attempts; it doubles up to
	// MaxRetry.
	Retry, MaxRetry time.Duration
}

type simState struct {
	Invoices map[string]Invoice  `json:"invoices"`
	Payments map[string]Callback `json:"payments"`
}

// OpenSim opens the stand-in's state in dir (created if missing). The HMAC
// secret is read from dir/secret, made on first start.
func OpenSim(dir string, log zerolog.Logger) (*Sim, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bank: %w", err)
	}
	secret, err := loadSecret(filepath.Join(dir, "secret"))
	if err != nil {
		return nil, err
	}
	s := &Sim{dir: dir, secret: secret, log: log, client: &http.Client{Timeout: 10 * time.Second},
		invoices: map[string]Invoice{}, payments: map[string]Callback{}, stop: make(chan struct{}),
		Retry: 200 * time.Millisecond, MaxRetry: 30 * time.Second}
	data, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err == nil {
		var st simState
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("bank: state.json: %w", err)
		}
		if st.Invoices != nil {
			s.invoices = st.Invoices
		}
		if st.Payments != nil {
			s.payments = st.Payments
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("bank: %w", err)
	}
	return s, nil
}

func loadSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	secret := []byte(hex.EncodeToString(b))
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, fmt.Errorf("bank: %w", err)
	}
	return secret, nil
}

// Secret is the HMAC key shared with Senim's callback handler.
func (s *Sim) Secret() []byte { return s.secret }

// SetCallbackURL says where payments are reported (Senim's /bank/callback).
func (s *Sim) SetCallbackURL(u string) {
	s.mu.Lock()
	s.callbackURL = u
	s.mu.Unlock()
}

// Close stops redelivery and waits for deliveries under way.
func (s *Sim) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}

// save writes the state durably (temp file, fsync, rename).
func (s *Sim) save() error {
	data, err := json.MarshalIndent(simState{Invoices: s.invoices, Payments: s.payments}, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.dir, "state.json.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	return os.Rename(tmp, filepath.Join(s.dir, "state.json"))
}

// CreateInvoice implements Bank.
func (s *Sim) CreateInvoice(_ context.Context, inv Invoice) error {
	if inv.ID == "" || inv.Amount <= 0 {
		return fmt.Errorf("bank: invoice needs an id and a positive amount")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.invoices[inv.ID]; ok {
		return nil
	}
	s.invoices[inv.ID] = inv
	return s.save()
}

// Invoice returns an invoice and whether it has been paid.
func (s *Sim) Invoice(id string) (Invoice, bool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invoices[id]
	paid := false
	for _, p := range s.payments {
		paid = paid || p.InvoiceID == id
	}
	return inv, paid, ok
}

// Pay is the payer paying an invoice in their bank's app, with the amount
// they entered. The payment is recorded, then reported to Senim in the
// background until Senim answers.
func (s *Sim) Pay(invoiceID string, amount int64, now time.Time) (Callback, error) {
	s.mu.Lock()
	inv, ok := s.invoices[invoiceID]
	if !ok {
		s.mu.Unlock()
		return Callback{}, ErrNoInvoice
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	cb := Callback{PaymentID: "PAY-" + hex.EncodeToString(b), InvoiceID: invoiceID, ActID: inv.ActID, Amount: amount, PaidAt: now.UTC()}
	s.payments[cb.PaymentID] = cb
	err := s.save()
	s.mu.Unlock()
	if err != nil {
		return Callback{}, err
	}
	s.deliverInBackground(cb)
	return cb, nil
}

// Redeliver reports a payment again, as banks do when unsure of an earlier
// delivery.
func (s *Sim) Redeliver(paymentID string) error {
	s.mu.Lock()
	cb, ok := s.payments[paymentID]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("bank: no payment %s", paymentID)
	}
	s.deliverInBackground(cb)
	return nil
}

func (s *Sim) deliverInBackground(cb Callback) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		delay := s.Retry
		for {
			status, err := s.Deliver(context.Background(), cb)
			switch {
			case err == nil && status < 300:
				return
			case err == nil && status < 500:
				// Senim refused it for good (wrong amount, unknown invoice):
				// a real bank would refund; the stand-in logs it.
				s.log.Warn().Str("payment", cb.PaymentID).Int("status", status).Msg("bank: callback refused; payment to be refunded")
				return
			}
			s.log.Info().Err(err).Int("status", status).Dur("retry_in", delay).Msg("bank: callback not delivered")
			select {
			case <-s.stop:
				return
			case <-time.After(delay):
			}
			if delay *= 2; delay > s.MaxRetry {
				delay = s.MaxRetry
			}
		}
	}()
}

// Deliver posts one callback and returns Senim's HTTP status.
func (s *Sim) Deliver(ctx context.Context, cb Callback) (int, error) {
	s.mu.Lock()
	url := s.callbackURL
	s.mu.Unlock()
	if url == "" {
		return 0, errors.New("bank: no callback URL yet")
	}
	body, _ := json.Marshal(cb)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(s.secret, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
