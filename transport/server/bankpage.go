package server

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/bank"
	"github.com/senim-kz/senim/config"
)

type actorPID = actor.PID

// openBank opens the adapter bank.mode names: the stand-in in dev mode, the
// provider's HTTP API otherwise.
func (s *Server) openBank(cfg config.Config, log zerolog.Logger) error {
	b := cfg.Bank
	if b.Mode != "http" {
		sim, err := bank.OpenSim(filepath.Join(cfg.DataDir, "bank"), log)
		if err != nil {
			return err
		}
		s.Bank, s.BankSim = sim, sim
		log.Warn().Msg("payments go to the development bank stand-in; set bank.mode = \"http\" in production")
		return nil
	}
	apiKey, err := readSecretFile(b.APIKeyFile, 1)
	if err != nil {
		return fmt.Errorf("bank.api_key_file: %w", err)
	}
	secret, err := readSecretFile(b.SecretFile, 32)
	if err != nil {
		return fmt.Errorf("bank.secret_file: %w", err)
	}
	h, err := bank.NewHTTP(bank.HTTPConfig{URL: b.URL, APIKey: string(apiKey), Secret: secret,
		CallbackURL: strings.TrimSuffix(cfg.Document.PublicURL, "/") + "/bank/callback",
		Timeout:     b.Timeout.Std(), Retries: b.Retries, Backoff: b.Backoff.Std()})
	if err != nil {
		return err
	}
	s.Bank = h
	return nil
}

// readSecretFile reads a secret, without surrounding white space, of at
// least minLen bytes.
func readSecretFile(path string, minLen int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) < minLen {
		return nil, fmt.Errorf("%s: want at least %d bytes", path, minLen)
	}
	return b, nil
}

func (s *Server) closeBank() {
	if s.BankSim != nil {
		s.BankSim.Close()
	}
}

// bankRoutes mounts the stand-in's pay page in dev mode only: with a real
// provider, nobody can mark an invoice paid through Senim.
func (s *Server) bankRoutes(mux *http.ServeMux) {
	if s.BankSim == nil {
		// Explicit, so that no other route (the apps' files) answers there.
		mux.Handle("GET /bank/pay/", http.NotFoundHandler())
		mux.Handle("POST /bank/pay/", http.NotFoundHandler())
		return
	}
	mux.HandleFunc("GET /bank/pay/{invoice}", s.payPage)
	mux.HandleFunc("POST /bank/pay/{invoice}", s.pay)
}

var payTmpl = template.Must(template.New("pay").Parse(`<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Банк (стенд) — оплата {{.Inv.ID}}</title>
<link rel="stylesheet" href="/pages.css"></head>
<body class="pay"><h1>Оплата счёта</h1>
<p><small>Development bank stand-in of Senim. A real deployment uses the client's bank app.</small></p>
<table><tr><td>Счёт</td><td>{{.Inv.ID}}</td></tr><tr><td>Назначение</td><td>{{.Inv.Description}}</td></tr>
<tr><td>Плательщик (ИИН)</td><td>{{.IIN}}</td></tr><tr><td>Сумма</td><td>{{.Amount}} ₸</td></tr></table>
{{with .Payment}}{{if eq .Status "accepted"}}<p id="status" data-status="accepted"><b>Оплачено.</b> Senim подтвердил платёж {{.PaymentID}}.</p>
{{else if eq .Status "refused"}}<p id="status" data-status="refused"><b>Платёж не принят Senim: {{.Code}}</b> — {{.Message}}. Деньги будут возвращены.</p>
{{else}}<p id="status" data-status="pending"><b>Ожидает подтверждения.</b> Senim ещё не ответил на уведомление банка; банк повторяет его. Обновите страницу.</p>{{end}}
{{else}}<form method="post"><input type="hidden" name="key" value="{{$.Key}}"><button>Оплатить {{.Amount}} ₸</button></form>{{end}}
</body></html>`))

func tenge(tiyn int64) string { return fmt.Sprintf("%d.%02d", tiyn/100, tiyn%100) }

// maskIIN keeps the first four and the last two digits: enough for the
// payer to recognise, not enough to identify someone on a shared screen.
func maskIIN(iin string) string {
	if len(iin) < 12 {
		return strings.Repeat("*", len(iin))
	}
	return iin[:4] + strings.Repeat("*", len(iin)-6) + iin[len(iin)-2:]
}

// payError answers a refused pay request with a stable code.
func payError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, bank.ErrNoInvoice):
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "no_invoice", "message": err.Error()})
	case errors.Is(err, bank.ErrBadKey):
		writeJSON(w, http.StatusForbidden, map[string]string{"code": "bad_pay_key", "message": err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"code": "internal", "message": err.Error()})
	}
}

func (s *Server) renderPay(w http.ResponseWriter, status int, inv bank.Invoice, key string, p *bank.Payment) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = payTmpl.Execute(w, map[string]any{"Inv": inv, "IIN": maskIIN(inv.PayerIIN), "Amount": tenge(inv.Amount), "Key": key, "Payment": p})
}

// payPage is the stand-in bank's payment page for one invoice, shown only
// with the pay link's key.
func (s *Server) payPage(w http.ResponseWriter, r *http.Request) {
	// The key is in the address: keep it out of caches and Referer headers.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	key := r.URL.Query().Get("key")
	inv, pays, err := s.BankSim.Lookup(r.PathValue("invoice"), key)
	if err != nil {
		payError(w, err)
		return
	}
	var last *bank.Payment
	if len(pays) > 0 {
		last = &pays[len(pays)-1]
	}
	s.renderPay(w, http.StatusOK, inv, key, last)
}

// pay is the payer paying the whole invoice, with the pay link's key (form
// field or query parameter "key"). The answer is what Senim answered to the
// bank's callback: 200 accepted, 409 refused (with Senim's code), 202 not
// answered yet. It is JSON when asked for, the pay page otherwise.
func (s *Server) pay(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	id, key := r.PathValue("invoice"), r.FormValue("key")
	p, err := s.BankSim.Pay(id, key, time.Now())
	if err != nil {
		payError(w, err)
		return
	}
	status := http.StatusAccepted
	switch p.Status {
	case bank.StatusAccepted:
		status = http.StatusOK
	case bank.StatusRefused:
		status = http.StatusConflict
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, status, p)
		return
	}
	inv, _, err := s.BankSim.Lookup(id, key)
	if err != nil {
		payError(w, err)
		return
	}
	s.renderPay(w, status, inv, key, &p)
}
