package bank

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/internal/safepath"
)

// ErrNoInvoice is returned when paying an invoice the bank does not have.
var ErrNoInvoice = errors.New("bank: no such invoice")

// ErrBadKey is returned when the pay link's key is missing or wrong: only
// the payer, who got the link from Senim, may pay.
var ErrBadKey = errors.New("bank: the pay link's key is missing or wrong")

// What Senim answered to a payment's callback.
const (
	// StatusPending: Senim has not answered yet; the bank keeps retrying.
	StatusPending = "pending"
	// StatusAccepted: Senim recorded the payment (or already had it).
	StatusAccepted = "accepted"
	// StatusRefused: Senim refused it for good; a real bank refunds it.
	StatusRefused = "refused"
)

// Payment is a payment made at the stand-in and what Senim answered to its
// callback. Only StatusAccepted means the act is paid.
type Payment struct {
	Callback
	Status string `json:"status"`
	// Code and Message are Senim's refusal (StatusRefused), or why the last
	// delivery failed (StatusPending).
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// simRecord is one invoice's file: the invoice, its pay link's key and its
// payments. One small file per invoice keeps each write O(1), whatever the
// number of invoices.
type simRecord struct {
	Invoice  Invoice   `json:"invoice"`
	Key      string    `json:"key"`
	Payments []Payment `json:"payments"`
}

// Sim is the embedded bank stand-in, for development only. Its state is a
// directory: invoices/<id>.json per invoice, and pending/<id> for each
// invoice with a callback not yet answered, so that delivery resumes after
// a restart.
type Sim struct {
	dir    string
	secret []byte
	log    zerolog.Logger
	client *http.Client

	// mu serializes the read-modify-write of invoice files.
	mu   sync.Mutex
	base string // Senim's base URL: callbacks and pay links
	wg   sync.WaitGroup
	stop chan struct{}
	// Retry is the first delay between delivery attempts; it doubles up to
	// MaxRetry.
	Retry, MaxRetry time.Duration
}

// simState is the single state file of earlier versions, migrated on open.
type simState struct {
	Invoices map[string]Invoice  `json:"invoices"`
	Payments map[string]Callback `json:"payments"`
}

// OpenSim opens the stand-in's state in dir (created if missing). The HMAC
// secret is read from dir/secret, made on first start.
func OpenSim(dir string, log zerolog.Logger) (*Sim, error) {
	for _, d := range []string{dir, filepath.Join(dir, "invoices"), filepath.Join(dir, "pending")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("bank: %w", err)
		}
	}
	secret, err := loadSecret(filepath.Join(dir, "secret"))
	if err != nil {
		return nil, err
	}
	s := &Sim{dir: dir, secret: secret, log: log, client: &http.Client{Timeout: 10 * time.Second},
		stop: make(chan struct{}), Retry: 200 * time.Millisecond, MaxRetry: 30 * time.Second}
	if err := s.migrate(); err != nil {
		return nil, err
	}
	return s, nil
}

func loadSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	secret := []byte(randomHex(32))
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, fmt.Errorf("bank: %w", err)
	}
	return secret, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b)
}

// migrate moves an earlier version's state.json into one file per invoice.
// Its payments are marked pending, so that they are delivered once more and
// take the status Senim answers; state.json is kept as state.json.migrated.
func (s *Sim) migrate() error {
	old := filepath.Join(s.dir, "state.json")
	data, err := os.ReadFile(old)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	var st simState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("bank: state.json: %w", err)
	}
	for id, inv := range st.Invoices {
		if _, err := s.load(id); err == nil {
			continue
		}
		rec := simRecord{Invoice: inv, Key: randomHex(32)}
		for _, cb := range st.Payments {
			if cb.InvoiceID == id {
				rec.Payments = append(rec.Payments, Payment{Callback: cb, Status: StatusPending})
			}
		}
		if err := s.save(rec); err != nil {
			return err
		}
	}
	return os.Rename(old, old+".migrated")
}

// Secret is the HMAC key shared with Senim's callback handler.
func (s *Sim) Secret() []byte { return s.secret }

// SetBaseURL says where Senim is: callbacks go to base/bank/callback and
// pay links point at base/bank/pay/.
func (s *Sim) SetBaseURL(base string) {
	s.mu.Lock()
	s.base = strings.TrimSuffix(base, "/")
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

func (s *Sim) invoicePath(id string) (string, error) {
	if err := safepath.Check(id); err != nil {
		return "", err
	}
	return safepath.Join(s.dir, "invoices", id+".json")
}

// load reads one invoice's record; ErrNoInvoice if there is none.
func (s *Sim) load(id string) (simRecord, error) {
	p, err := s.invoicePath(id)
	if err != nil {
		return simRecord{}, ErrNoInvoice
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return simRecord{}, ErrNoInvoice
	}
	if err != nil {
		return simRecord{}, fmt.Errorf("bank: %w", err)
	}
	var rec simRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return simRecord{}, fmt.Errorf("bank: invoice %s: %w", id, err)
	}
	return rec, nil
}

// save writes one invoice's record durably (temp file, fsync, rename, fsync
// of the directory), and keeps its pending marker in step with it.
func (s *Sim) save(rec simRecord) error {
	p, err := s.invoicePath(rec.Invoice.ID)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := writeDurably(p, data); err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	marker, err := safepath.Join(s.dir, "pending", rec.Invoice.ID)
	if err != nil {
		return err
	}
	pending := false
	for _, pay := range rec.Payments {
		pending = pending || pay.Status == StatusPending
	}
	if pending {
		err = writeDurably(marker, nil)
	} else if err = os.Remove(marker); errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	return nil
}

func writeDurably(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// CreateInvoice implements Bank: the invoice gets its own file and a random
// key that its pay link carries.
func (s *Sim) CreateInvoice(_ context.Context, inv Invoice) error {
	if inv.ID == "" || inv.Amount <= 0 {
		return fmt.Errorf("bank: invoice needs an id and a positive amount")
	}
	if err := safepath.Check(inv.ID); err != nil {
		return fmt.Errorf("bank: invoice id: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.load(inv.ID); err == nil {
		return nil
	} else if !errors.Is(err, ErrNoInvoice) {
		return err
	}
	return s.save(simRecord{Invoice: inv, Key: randomHex(32)})
}

// Refund implements Bank: the stand-in records the refund in
// refunds/<payment id>.json (once; a repeat keeps the first).
func (s *Sim) Refund(_ context.Context, paymentID string, amount int64, reason string) error {
	if err := safepath.Check(paymentID); err != nil {
		return fmt.Errorf("bank: payment id: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := filepath.Join(s.dir, "refunds")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	p, err := safepath.Join(dir, paymentID+".json")
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	data, err := json.Marshal(Refund{PaymentID: paymentID, Amount: amount, Reason: reason, At: time.Now().UTC()})
	if err != nil {
		return err
	}
	if err := writeDurably(p, data); err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	s.log.Info().Str("payment", paymentID).Int64("amount", amount).Str("reason", reason).Msg("bank stand-in: payment refunded")
	return nil
}

// Refunded returns the refund of a payment, if the stand-in made one.
func (s *Sim) Refunded(paymentID string) (Refund, bool) {
	if safepath.Check(paymentID) != nil {
		return Refund{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := safepath.Join(filepath.Join(s.dir, "refunds"), paymentID+".json")
	if err != nil {
		return Refund{}, false
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return Refund{}, false
	}
	var r Refund
	if json.Unmarshal(data, &r) != nil {
		return Refund{}, false
	}
	return r, true
}

// PaymentURL implements Bank: the pay page's address with the invoice's key.
func (s *Sim) PaymentURL(_ context.Context, invoiceID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.load(invoiceID)
	if err != nil {
		return "", err
	}
	if s.base == "" {
		return "", errors.New("bank: Senim's address is not known yet")
	}
	return s.base + "/bank/pay/" + url.PathEscape(invoiceID) + "?key=" + rec.Key, nil
}

// Lookup returns an invoice and its payments to the holder of its key.
func (s *Sim) Lookup(invoiceID, key string) (Invoice, []Payment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.load(invoiceID)
	if err != nil {
		return Invoice{}, nil, err
	}
	if !keyMatches(rec.Key, key) {
		return Invoice{}, nil, ErrBadKey
	}
	return rec.Invoice, rec.Payments, nil
}

func keyMatches(want, got string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// Pay is the payer paying an invoice in full in their bank's app, with the
// key of the pay link. An invoice is paid once: paying again returns the
// first payment. The payment is recorded, reported to Senim once, and, if
// Senim did not answer, again in the background until it does. The result
// says what Senim answered.
func (s *Sim) Pay(invoiceID, key string, now time.Time) (Payment, error) {
	s.mu.Lock()
	rec, err := s.load(invoiceID)
	if err == nil && !keyMatches(rec.Key, key) {
		err = ErrBadKey
	}
	if err != nil {
		s.mu.Unlock()
		return Payment{}, err
	}
	if n := len(rec.Payments); n > 0 {
		s.mu.Unlock()
		return rec.Payments[n-1], nil
	}
	p := Payment{Callback: Callback{PaymentID: "PAY-" + randomHex(8), InvoiceID: invoiceID, ActID: rec.Invoice.ActID,
		Amount: rec.Invoice.Amount, PaidAt: now.UTC()}, Status: StatusPending}
	rec.Payments = append(rec.Payments, p)
	err = s.save(rec)
	s.mu.Unlock()
	if err != nil {
		return Payment{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if p = s.attempt(ctx, p); p.Status == StatusPending {
		s.deliverInBackground(p)
	}
	return p, nil
}

// Redeliver reports an invoice's payment again, as banks do when unsure of
// an earlier delivery.
func (s *Sim) Redeliver(invoiceID string) error {
	s.mu.Lock()
	rec, err := s.load(invoiceID)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if len(rec.Payments) == 0 {
		return fmt.Errorf("bank: invoice %s has no payment", invoiceID)
	}
	s.deliverInBackground(rec.Payments[len(rec.Payments)-1])
	return nil
}

// Resume delivers again every payment Senim has not answered yet, after a
// restart. Call it once Senim's address is set.
func (s *Sim) Resume() error {
	entries, err := os.ReadDir(filepath.Join(s.dir, "pending"))
	if err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		s.mu.Lock()
		rec, err := s.load(e.Name())
		s.mu.Unlock()
		if err != nil {
			s.log.Warn().Err(err).Str("invoice", e.Name()).Msg("bank: pending payment unreadable")
			continue
		}
		for _, p := range rec.Payments {
			if p.Status == StatusPending {
				s.deliverInBackground(p)
			}
		}
	}
	return nil
}

func (s *Sim) deliverInBackground(p Payment) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		delay := s.Retry
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			p = s.attempt(ctx, p)
			cancel()
			if p.Status != StatusPending {
				return
			}
			s.log.Info().Str("payment", p.PaymentID).Str("reason", p.Message).Dur("retry_in", delay).Msg("bank: callback not delivered")
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

// attempt delivers one callback and records what Senim answered. A payment
// Senim accepted stays accepted whatever a later delivery hears.
func (s *Sim) attempt(ctx context.Context, p Payment) Payment {
	status, ans, err := s.Deliver(ctx, p.Callback)
	next := p
	next.Code, next.Message = ans.Code, ans.Message
	switch {
	case err != nil:
		next.Status, next.Code, next.Message = StatusPending, "", err.Error()
	case status < 300:
		next.Status, next.Code, next.Message = StatusAccepted, "", ""
	case status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		// Senim refused it for good (wrong amount, unknown invoice): a real
		// bank would refund; the stand-in logs it.
		next.Status = StatusRefused
		s.log.Warn().Str("payment", p.PaymentID).Int("status", status).Str("code", ans.Code).Msg("bank: callback refused; payment to be refunded")
	default:
		next.Status = StatusPending
		if next.Message == "" {
			next.Message = fmt.Sprintf("HTTP %d", status)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, lerr := s.load(p.InvoiceID)
	if lerr != nil {
		s.log.Error().Err(lerr).Str("payment", p.PaymentID).Msg("bank: payment record unreadable")
		return next
	}
	for i := range rec.Payments {
		if rec.Payments[i].PaymentID != p.PaymentID {
			continue
		}
		if rec.Payments[i].Status == StatusAccepted {
			return rec.Payments[i]
		}
		rec.Payments[i] = next
		if serr := s.save(rec); serr != nil {
			s.log.Error().Err(serr).Str("payment", p.PaymentID).Msg("bank: payment status not saved")
		}
	}
	return next
}

// Answer is Senim's JSON answer to a callback.
type Answer struct {
	Status  string `json:"status"` // applied or duplicate
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Deliver posts one callback and returns Senim's HTTP status and answer.
func (s *Sim) Deliver(ctx context.Context, cb Callback) (int, Answer, error) {
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	if base == "" {
		return 0, Answer{}, errors.New("bank: Senim's address is not known yet")
	}
	body, _ := json.Marshal(cb)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/bank/callback", bytes.NewReader(body))
	if err != nil {
		return 0, Answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(s.secret, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, Answer{}, err
	}
	defer resp.Body.Close()
	var ans Answer
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(raw, &ans)
	return resp.StatusCode, ans, nil
}
