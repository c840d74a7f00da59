package server

import (
	"errors"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/senim-kz/senim/actors"
	"github.com/senim-kz/senim/document"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
)

// Check is what the public check by code shows: enough to tell a bank
// clerk or a court that the document exists and is what it says, with the
// parties' IINs masked.
type Check struct {
	Code           string     `json:"code"`
	Type           string     `json:"type"`
	Status         string     `json:"status"` // valid, revoked, not_signed, refused, cancelled, signature_invalid
	RevokedAt      *time.Time `json:"revoked_at,omitempty"`
	Date           *time.Time `json:"date,omitempty"`
	SignedAt       *time.Time `json:"signed_at,omitempty"`
	RegistryNumber string     `json:"registry_number,omitempty"`
	Notary         string     `json:"notary,omitempty"`
	Principal      string     `json:"principal_iin"`
	Attorney       string     `json:"attorney_iin"`
	ValidUntil     string     `json:"valid_until,omitempty"`
	Signature      string     `json:"signature"` // verified, or the refusal code (pki's, or unknown_document_format)
	DocumentSHA256 string     `json:"document_sha256,omitempty"`
}

// check builds the public check of a document code.
func (s *Server) check(code string) (Check, bool, error) {
	streams, err := s.Log.Lookup("code", code)
	if err != nil || len(streams) == 0 {
		return Check{}, false, err
	}
	st, err := actors.ReplayStream(s.Log, streams[0])
	if err != nil {
		return Check{}, false, err
	}
	c := Check{Code: code, Type: "Доверенность / Сенімхат (" + st.ActionType + ")", Status: string(st.Phase),
		Principal: iin.IIN(st.Principal.IIN).Masked(), Attorney: iin.IIN(st.Attorney.IIN).Masked(),
		Notary: st.Notary.Name, Signature: "none"}
	if cur := st.Current(); cur != nil {
		c.RegistryNumber = cur.Draft.RegistryNumber
	}
	if !st.DocumentDate.IsZero() {
		d := st.DocumentDate.UTC()
		c.Date = &d
	}
	switch st.Phase {
	case act.PhaseSigned, act.PhaseRevoked:
		// The document renders with what the act recorded when its code was
		// issued (place, public address, template version), never with
		// today's configuration; that stands in only for acts coded before
		// anything was recorded whose CMS does not carry the text.
		f := document.FactsOf(&st, act.DocumentInputs{Place: s.cfg.Document.Place, PublicURL: s.cfg.Document.PublicURL})
		text, err := document.Canonical(f)
		c.ValidUntil = f.ValidUntil().Format(time.DateOnly)
		c.DocumentSHA256 = act.SHA256Hex(text)
		signed := st.SignedAt.UTC()
		c.SignedAt = &signed
		// Judge the signature as an audit: at its signing time, over the
		// document as it renders from the log.
		if err != nil {
			c.Signature, c.Status, c.DocumentSHA256 = string(act.CodeUnknownDocumentFormat), "signature_invalid", ""
		} else if _, err := s.Trust.Verify(st.NotarySig.CMS, pki.VerifyOptions{Purpose: pki.PurposeSign, Content: text}); err != nil {
			c.Signature, c.Status = string(pki.CodeOf(err)), "signature_invalid"
		} else {
			c.Signature, c.Status = "verified", "valid"
		}
		if st.Phase == act.PhaseRevoked && c.Status == "valid" {
			r := st.RevokedAt.UTC()
			c.Status, c.RevokedAt = "revoked", &r
		}
	case act.PhaseRefused, act.PhaseCancelled:
	default:
		c.Status = "not_signed"
	}
	return c, true, nil
}

var checkTmpl = template.Must(template.New("check").Parse(`<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Проверка документа {{.Code}}</title>
<link rel="stylesheet" href="/pages.css"></head><body class="check">
<h1>Проверка нотариального документа / Нотариаттық құжатты тексеру</h1>
<p class="{{if eq .Status "valid"}}valid{{else}}bad{{end}}"><b>{{.Status}}</b></p>
<table>
<tr><td>Код / Код</td><td>{{.Code}}</td></tr>
<tr><td>Вид / Түрі</td><td>{{.Type}}</td></tr>
<tr><td>Дата / Күні</td><td>{{if .Date}}{{.Date.Format "02.01.2006"}}{{end}}</td></tr>
<tr><td>Реестровый номер / Тізілім нөмірі</td><td>{{.RegistryNumber}}</td></tr>
<tr><td>Нотариус</td><td>{{.Notary}}</td></tr>
<tr><td>Доверитель (ИИН) / Сенім білдіруші (ЖСН)</td><td>{{.Principal}}</td></tr>
<tr><td>Поверенный (ИИН) / Сенім білдірілген адам (ЖСН)</td><td>{{.Attorney}}</td></tr>
<tr><td>Действительна до / Жарамды</td><td>{{.ValidUntil}}</td></tr>
{{if .RevokedAt}}<tr><td>Отменена / Күші жойылды</td><td>{{.RevokedAt.Format "02.01.2006 15:04"}} UTC</td></tr>{{end}}
<tr><td>ЭЦП нотариуса / Нотариустың ЭЦҚ</td><td>{{.Signature}}</td></tr>
<tr><td>SHA-256</td><td><small>{{.DocumentSHA256}}</small></td></tr>
</table><p><small><a href="?format=json">JSON</a></small></p></body></html>`))

var notFoundTmpl = template.Must(template.New("nf").Parse(`<!doctype html><html lang="ru"><head><meta charset="utf-8">
<title>Документ не найден</title></head><body><h1>Документ с кодом {{.}} не найден / {{.}} кодты құжат табылмады</h1>
<p>Проверьте код на документе. / Құжаттағы кодты тексеріңіз.</p></body></html>`))

// verify serves GET /verify/{code}: HTML, or JSON with ?format=json or an
// Accept of application/json.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	if !s.checkLimiter.allow(clientIP(r), time.Now()) {
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"code": "rate_limited", "message": "too many checks; wait a minute"})
		return
	}
	code := r.PathValue("code")
	asJSON := r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json")
	c, found, err := s.check(code)
	switch {
	case errors.Is(err, eventlog.ErrCorrupt) || errors.Is(err, eventlog.ErrBrokenChain):
		// The public is told which, not where: the file and seq go to the log.
		ecode := actors.CodeStorageCorrupt
		if errors.Is(err, eventlog.ErrBrokenChain) {
			ecode = actors.CodeChainBroken
		}
		s.log.Error().Err(err).Str("code", ecode).Str("document_code", code).Msg("public check of a damaged act")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"code": ecode, "message": "this document's record cannot be checked now; the notary's office has been alerted"})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"code": "internal", "message": err.Error()})
	case !found && asJSON:
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "not_found", "message": "no document has the code " + code})
	case !found:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_ = notFoundTmpl.Execute(w, code)
	case asJSON:
		writeJSON(w, http.StatusOK, c)
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = checkTmpl.Execute(w, c)
	}
}

// ipLimiter is a token bucket per client IP for the public check, so that
// codes cannot be guessed by brute force. It forgets idle IPs.
type ipLimiter struct {
	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newIPLimiter(perMinute, burst int) *ipLimiter {
	return &ipLimiter{rate: float64(perMinute) / 60, burst: float64(burst), buckets: map[string]*bucket{}}
}

func (l *ipLimiter) allow(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > 100000 {
		for k, b := range l.buckets {
			if now.Sub(b.last) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
	}
	b := l.buckets[ip]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[ip] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * l.rate
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
