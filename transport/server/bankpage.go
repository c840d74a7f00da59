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
	"github.com/senim-kz/senim/document"
	"github.com/senim-kz/senim/domain/act"
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

var payTmpl = template.Must(template.New("pay").Parse(pageHead + `
<title>{{index .T "pay.title"}}: {{.Inv.ID}}</title></head>
<body class="pay">` + langSwitch + `<h1>{{index .T "pay.title"}}</h1>
<p class="hint">{{index .T "pay.standin"}}</p>
<table><tr><th>{{index .T "pay.invoice"}}</th><td>{{.Inv.ID}}</td></tr><tr><th>{{index .T "pay.purpose"}}</th><td>{{.Inv.Description}}</td></tr>
<tr><th>{{index .T "pay.payer"}}</th><td>{{.IIN}}</td></tr><tr><th>{{index .T "pay.amount"}}</th><td>{{.Amount}}</td></tr></table>
{{with .Payment}}{{if eq .Status "accepted"}}<p id="status" data-status="accepted"><b>{{index $.T "pay.accepted"}}</b> {{.PaymentID}}.</p>
{{else if eq .Status "refused"}}<p id="status" data-status="refused"><b>{{index $.T "pay.refused"}}: {{.Code}}</b> ({{.Message}}). {{index $.T "pay.refund"}}</p>
{{else}}<p id="status" data-status="pending"><b>{{index $.T "pay.pending"}}</b></p>{{end}}
{{else}}<form method="post" action="?lang={{$.Lang}}"><input type="hidden" name="key" value="{{$.Key}}"><button>{{index $.T "pay.button"}} {{.Amount}}</button></form>{{end}}
</body></html>`))

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

func (s *Server) renderPay(w http.ResponseWriter, r *http.Request, status int, inv bank.Invoice, key string, p *bank.Payment) {
	t := pageTextFor(w, r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = payTmpl.Execute(w, map[string]any{"Lang": t.Lang, "T": t.T, "Langs": t.Langs,
		"Inv": inv, "IIN": maskIIN(inv.PayerIIN), "Amount": document.Tenge(act.Money(inv.Amount)), "Key": key, "Payment": p})
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
	s.renderPay(w, r, http.StatusOK, inv, key, last)
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
	s.renderPay(w, r, status, inv, key, &p)
}
