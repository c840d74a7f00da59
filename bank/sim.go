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
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
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

// simRecord is one invoice's record: the invoice, its pay link's key and
// its payments.
type simRecord struct {
	Invoice  Invoice   `json:"invoice"`
	Key      string    `json:"key"`
	Payments []Payment `json:"payments"`
}

// The stand-in's store is a pebble database under dir/db, with these keys:
//
//	inv/<invoice id>   the invoice's simRecord (JSON)
//	pend/<invoice id>  present while a payment of the invoice waits for
//	                   Senim's answer, so that delivery resumes after a restart
//	ref/<payment id>   a refund (JSON)
//
// A real bank's ledger is a database, not a file per invoice: every write
// is one small batch, and pebble's commit pipeline puts the fsyncs of
// concurrent writers into one (group commit), where the earlier file per
// invoice paid three fsyncs per write (file, rename, directory) one after
// the other under one lock. Nothing is held in memory but pebble's bounded
// caches, so the stand-in's memory does not grow with its invoices.
const (
	invPrefix  = "inv/"
	pendPrefix = "pend/"
	refPrefix  = "ref/"
)

// stripes is how many locks share the invoices: a payment's read, check
// and write hold its invoice's stripe, never the whole bank.
const stripes = 64

// Sim is the embedded bank stand-in, for development only. Its state is a
// pebble database under dir/db; the HMAC secret is dir/secret.
type Sim struct {
	dir    string
	db     *pebble.DB
	secret []byte
	log    zerolog.Logger
	client *http.Client

	locks   [stripes]sync.Mutex
	closeDB sync.Once
	// mu guards base.
	mu   sync.Mutex
	base string // Senim's base URL: callbacks and pay links
	wg   sync.WaitGroup
	stop chan struct{}
	// Retry is the first delay between delivery attempts; it doubles up to
	// MaxRetry.
	Retry, MaxRetry time.Duration
}

// simState is the single state file of the first version, migrated on open.
type simState struct {
	Invoices map[string]Invoice  `json:"invoices"`
	Payments map[string]Callback `json:"payments"`
}

// OpenSim opens the stand-in's state in dir (created if missing). The HMAC
// secret is read from dir/secret, made on first start. The state of earlier
// versions (state.json, then invoices/<id>.json per invoice) is moved into
// the database.
func OpenSim(dir string, log zerolog.Logger) (*Sim, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bank: %w", err)
	}
	secret, err := loadSecret(filepath.Join(dir, "secret"))
	if err != nil {
		return nil, err
	}
	db, err := pebble.Open(filepath.Join(dir, "db"), &pebble.Options{Logger: pebbleLogger{log}})
	if err != nil {
		return nil, fmt.Errorf("bank: %w", err)
	}
	// Callbacks go to one server, many at once: keep their connections.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	s := &Sim{dir: dir, db: db, secret: secret, log: log, client: &http.Client{Timeout: 10 * time.Second, Transport: tr},
		stop: make(chan struct{}), Retry: 200 * time.Millisecond, MaxRetry: 30 * time.Second}
	err = s.migrateFiles()
	if err == nil {
		err = s.migrateState()
	}
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// pebbleLogger sends pebble's messages to the server's log.
type pebbleLogger struct{ log zerolog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.log.Debug().Str("component", "bank").Msgf(format, args...)
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.log.Error().Str("component", "bank").Msgf(format, args...)
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.log.Error().Str("component", "bank").Msgf(format, args...)
	panic(fmt.Sprintf("bank: pebble: "+format, args...))
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

// migrateState moves the first version's state.json into the database. Its
// payments are marked pending, so that they are delivered once more and
// take the status Senim answers; state.json is kept as state.json.migrated.
func (s *Sim) migrateState() error {
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
		if safepath.Check(id) != nil {
			continue
		}
		if _, err := s.load(id); err == nil {
			continue
		}
		rec := simRecord{Invoice: inv, Key: randomHex(32)}
		for _, cb := range st.Payments {
			if cb.InvoiceID == id {
				rec.Payments = append(rec.Payments, Payment{Callback: cb, Status: StatusPending})
			}
		}
		if err := s.save(rec, pebble.Sync); err != nil {
			return err
		}
	}
	return os.Rename(old, old+".migrated")
}

// migrateFiles moves the second version's files (invoices/<id>.json,
// pending/<id>, refunds/<payment id>.json) into the database; the
// directories are kept with the suffix .migrated.
func (s *Sim) migrateFiles() error {
	b := s.db.NewBatch()
	defer b.Close()
	moved := 0
	for _, d := range []struct{ dir, prefix, ext string }{
		{"invoices", invPrefix, ".json"}, {"pending", pendPrefix, ""}, {"refunds", refPrefix, ".json"},
	} {
		entries, err := os.ReadDir(filepath.Join(s.dir, d.dir))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("bank: %w", err)
		}
		for _, e := range entries {
			id, ok := strings.CutSuffix(e.Name(), d.ext)
			if !ok || strings.HasSuffix(e.Name(), ".tmp") || safepath.Check(id) != nil {
				continue
			}
			data, err := os.ReadFile(filepath.Join(s.dir, d.dir, e.Name()))
			if err != nil {
				return fmt.Errorf("bank: %w", err)
			}
			if d.ext == "" {
				data = nil
			} else if !json.Valid(data) {
				s.log.Warn().Str("file", filepath.Join(d.dir, e.Name())).Msg("bank: unreadable file not migrated")
				continue
			}
			if err := b.Set([]byte(d.prefix+id), data, nil); err != nil {
				return fmt.Errorf("bank: %w", err)
			}
			moved++
		}
	}
	if moved == 0 {
		return nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	for _, d := range []string{"invoices", "pending", "refunds"} {
		p := filepath.Join(s.dir, d)
		if _, err := os.Stat(p); err == nil {
			if err := os.Rename(p, p+".migrated"); err != nil {
				return fmt.Errorf("bank: %w", err)
			}
		}
	}
	s.log.Info().Int("records", moved).Msg("bank stand-in: files moved into its database")
	return nil
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

// Close stops redelivery, waits for deliveries under way and closes the
// database.
func (s *Sim) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
	s.closeDB.Do(func() {
		if err := s.db.Close(); err != nil {
			s.log.Warn().Err(err).Msg("bank stand-in: close")
		}
	})
}

// lock takes the stripe of an invoice (or payment) id.
func (s *Sim) lock(id string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	m := &s.locks[h.Sum32()%stripes]
	m.Lock()
	return m.Unlock
}

// get reads one key; ok false if absent.
func (s *Sim) get(key string) ([]byte, bool, error) {
	v, closer, err := s.db.Get([]byte(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("bank: %w", err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// load reads one invoice's record; ErrNoInvoice if there is none. Call it
// with the invoice's stripe held when the record is to be written back.
func (s *Sim) load(id string) (simRecord, error) {
	if safepath.Check(id) != nil {
		return simRecord{}, ErrNoInvoice
	}
	data, ok, err := s.get(invPrefix + id)
	if err != nil {
		return simRecord{}, err
	}
	if !ok {
		return simRecord{}, ErrNoInvoice
	}
	var rec simRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return simRecord{}, fmt.Errorf("bank: invoice %s: %w", id, err)
	}
	return rec, nil
}

// save writes one invoice's record and, in the same batch, its pending
// marker: present while a payment waits for Senim's answer.
func (s *Sim) save(rec simRecord, opts *pebble.WriteOptions) error {
	if err := safepath.Check(rec.Invoice.ID); err != nil {
		return err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Set([]byte(invPrefix+rec.Invoice.ID), data, nil); err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	pending := false
	for _, pay := range rec.Payments {
		pending = pending || pay.Status == StatusPending
	}
	marker := []byte(pendPrefix + rec.Invoice.ID)
	if pending {
		err = b.Set(marker, nil, nil)
	} else {
		err = b.Delete(marker, nil)
	}
	if err == nil {
		err = b.Commit(opts)
	}
	if err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	return nil
}

// CreateInvoice implements Bank: the invoice is stored durably with a
// random key that its pay link carries.
func (s *Sim) CreateInvoice(_ context.Context, inv Invoice) error {
	if inv.ID == "" || inv.Amount <= 0 {
		return fmt.Errorf("bank: invoice needs an id and a positive amount")
	}
	if err := safepath.Check(inv.ID); err != nil {
		return fmt.Errorf("bank: invoice id: %w", err)
	}
	defer s.lock(inv.ID)()
	if _, err := s.load(inv.ID); err == nil {
		return nil
	} else if !errors.Is(err, ErrNoInvoice) {
		return err
	}
	return s.save(simRecord{Invoice: inv, Key: randomHex(32)}, pebble.Sync)
}

// Refund implements Bank: the stand-in records the refund (once; a repeat
// keeps the first).
func (s *Sim) Refund(_ context.Context, paymentID string, amount int64, reason string) error {
	if err := safepath.Check(paymentID); err != nil {
		return fmt.Errorf("bank: payment id: %w", err)
	}
	defer s.lock(paymentID)()
	if _, ok, err := s.get(refPrefix + paymentID); err != nil || ok {
		return err
	}
	data, err := json.Marshal(Refund{PaymentID: paymentID, Amount: amount, Reason: reason, At: time.Now().UTC()})
	if err != nil {
		return err
	}
	if err := s.db.Set([]byte(refPrefix+paymentID), data, pebble.Sync); err != nil {
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
	data, ok, err := s.get(refPrefix + paymentID)
	if err != nil || !ok {
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
	rec, err := s.load(invoiceID)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	if base == "" {
		return "", errors.New("bank: Senim's address is not known yet")
	}
	return base + "/bank/pay/" + url.PathEscape(invoiceID) + "?key=" + rec.Key, nil
}

// Lookup returns an invoice and its payments to the holder of its key.
func (s *Sim) Lookup(invoiceID, key string) (Invoice, []Payment, error) {
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
// first payment. The payment is recorded durably, reported to Senim once,
// and, if Senim did not answer, again in the background until it does. The
// result says what Senim answered.
func (s *Sim) Pay(invoiceID, key string, now time.Time) (Payment, error) {
	unlock := s.lock(invoiceID)
	rec, err := s.load(invoiceID)
	if err == nil && !keyMatches(rec.Key, key) {
		err = ErrBadKey
	}
	if err != nil {
		unlock()
		return Payment{}, err
	}
	if n := len(rec.Payments); n > 0 {
		unlock()
		return rec.Payments[n-1], nil
	}
	p := Payment{Callback: Callback{PaymentID: "PAY-" + randomHex(8), InvoiceID: invoiceID, ActID: rec.Invoice.ActID,
		Amount: rec.Invoice.Amount, PaidAt: now.UTC()}, Status: StatusPending}
	rec.Payments = append(rec.Payments, p)
	err = s.save(rec, pebble.Sync)
	unlock()
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
	rec, err := s.load(invoiceID)
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
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(pendPrefix), UpperBound: []byte(pendPrefix + "\xff")})
	if err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	var ids []string
	for it.First(); it.Valid(); it.Next() {
		ids = append(ids, strings.TrimPrefix(string(it.Key()), pendPrefix))
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	for _, id := range ids {
		rec, err := s.load(id)
		if err != nil {
			s.log.Warn().Err(err).Str("invoice", id).Msg("bank: pending payment unreadable")
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
//
// The answer is written without waiting for the disk: lost in a crash, the
// payment is still pending with its marker, so it is delivered again after
// the restart and Senim, which ignores duplicates, answers again. The
// payment itself (Pay) is written durably before anything is delivered.
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
	defer s.lock(p.InvoiceID)()
	rec, lerr := s.load(p.InvoiceID)
	if lerr != nil {
		s.log.Error().Err(lerr).Str("payment", p.PaymentID).Msg("bank: payment record unreadable")
		return next
	}
	for i := range rec.Payments {
		if rec.Payments[i].PaymentID != p.PaymentID {
			continue
		}
		if rec.Payments[i].Status == StatusAccepted || rec.Payments[i] == next {
			return rec.Payments[i]
		}
		rec.Payments[i] = next
		if serr := s.save(rec, pebble.NoSync); serr != nil {
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
