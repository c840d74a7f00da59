package server

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/bank"
)

type actorPID = actor.PID

var payTmpl = template.Must(template.New("pay").Parse(`<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Банк (стенд) — оплата {{.Inv.ID}}</title>
<link rel="stylesheet" href="/pages.css"></head>
<body class="pay"><h1>Оплата счёта</h1>
<p><small>Development bank stand-in of Senim. A real deployment uses the client's bank app.</small></p>
<table><tr><td>Счёт</td><td>{{.Inv.ID}}</td></tr><tr><td>Назначение</td><td>{{.Inv.Description}}</td></tr>
<tr><td>Плательщик (ИИН)</td><td>{{.Inv.PayerIIN}}</td></tr><tr><td>Сумма</td><td>{{.Amount}} ₸</td></tr></table>
{{if .Paid}}<p><b>Оплачено.</b></p>{{else}}
<form method="post"><input type="hidden" name="amount" value="{{.Inv.Amount}}"><button>Оплатить {{.Amount}} ₸</button></form>{{end}}
</body></html>`))

func tenge(tiyn int64) string { return fmt.Sprintf("%d.%02d", tiyn/100, tiyn%100) }

// payPage is the stand-in bank's payment page for one invoice.
func (s *Server) payPage(w http.ResponseWriter, r *http.Request) {
	inv, paid, ok := s.Bank.Invoice(r.PathValue("invoice"))
	if !ok {
		http.Error(w, "no such invoice", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = payTmpl.Execute(w, map[string]any{"Inv": inv, "Paid": paid, "Amount": tenge(inv.Amount)})
}

// pay is the payer paying: form field or query parameter "amount" in tiyn
// (the invoice's amount if absent). The bank then calls Senim back.
func (s *Server) pay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("invoice")
	inv, _, ok := s.Bank.Invoice(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "no_invoice", "message": "no such invoice"})
		return
	}
	amount := inv.Amount
	if v := r.FormValue("amount"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"code": "bad_amount", "message": "amount is a positive number of tiyn"})
			return
		}
		amount = n
	}
	cb, err := s.Bank.Pay(id, amount, time.Now())
	if errors.Is(err, bank.ErrNoInvoice) {
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "no_invoice", "message": err.Error()})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"code": "internal", "message": err.Error()})
		return
	}
	writeJSON(w, http.StatusAccepted, cb)
}
