package server

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
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
	// ActionType is the kind of act; Powers (and PowersKK, in Kazakh) and
	// TermMonths are what a signed document grants, for how long.
	ActionType     string `json:"action_type,omitempty"`
	Powers         string `json:"powers,omitempty"`
	PowersKK       string `json:"powers_kk,omitempty"`
	TermMonths     int    `json:"term_months,omitempty"`
	Signature      string `json:"signature"` // verified, or the refusal code (pki's, or unknown_document_format)
	DocumentSHA256 string `json:"document_sha256,omitempty"`
}

// maxCodeLen bounds a typed code before any look-up.
const maxCodeLen = 64

// check builds the public check of a document code, typed as it was
// printed or leniently (case, spaces, dashes: see normaliseCode).
func (s *Server) check(code string) (Check, bool, error) {
	if len(code) > maxCodeLen {
		return Check{}, false, nil
	}
	var streams []string
	for _, c := range []string{strings.TrimSpace(code), normaliseCode(code)} {
		if c == "" {
			continue
		}
		found, err := s.Log.Lookup("code", c)
		if err != nil {
			return Check{}, false, err
		}
		if len(found) > 0 {
			streams, code = found, c
			break
		}
	}
	if len(streams) == 0 {
		return Check{}, false, nil
	}
	st, err := actors.ReplayStream(s.Log, streams[0])
	if err != nil {
		return Check{}, false, err
	}
	c := Check{Code: code, Type: "Доверенность / Сенімхат (" + st.ActionType + ")", Status: string(st.Phase),
		Principal: iin.IIN(st.Principal.IIN).Masked(), Attorney: iin.IIN(st.Attorney.IIN).Masked(),
		Notary: st.Notary.Name, Signature: "none", ActionType: st.ActionType}
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
		c.ValidUntil = f.LastDay()
		c.Powers, c.PowersKK, c.TermMonths = f.Powers, f.PowersKK, f.TermMonths
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

var checkTmpl = template.Must(template.New("check").Parse(pageHead + `
<title>{{index .T "check.title"}}: {{.C.Code}}</title></head><body class="check">` + langSwitch + `
<h1>{{index .T "check.title"}}</h1>
<p class="status {{if eq .C.Status "valid"}}valid{{else}}bad{{end}}"><b>{{.Status}}</b></p>
<table>
<tr><th>{{index .T "field.code"}}</th><td>{{.C.Code}}</td></tr>
<tr><th>{{index .T "field.type"}}</th><td>{{.Type}}</td></tr>
<tr><th>{{index .T "field.date"}}</th><td>{{.Date}}</td></tr>
<tr><th>{{index .T "field.registry"}}</th><td>{{.C.RegistryNumber}}</td></tr>
<tr><th>{{index .T "field.notary"}}</th><td>{{.C.Notary}}</td></tr>
<tr><th>{{index .T "field.principal"}}</th><td>{{.C.Principal}}</td></tr>
<tr><th>{{index .T "field.attorney"}}</th><td>{{.C.Attorney}}</td></tr>
{{if .C.Powers}}<tr><th>{{index .T "field.powers"}}</th><td class="powers">{{.C.Powers}}</td></tr>{{end}}
{{if .C.PowersKK}}<tr><th>{{index .T "field.powers_kk"}}</th><td class="powers" lang="kk">{{.C.PowersKK}}</td></tr>{{end}}
{{if .C.TermMonths}}<tr><th>{{index .T "field.term"}}</th><td>{{.C.TermMonths}} {{index .T "term.months"}}</td></tr>{{end}}
{{if .ValidUntil}}<tr><th>{{index .T "field.valid_until"}}</th><td>{{.ValidUntil}}</td></tr>{{end}}
{{if .RevokedAt}}<tr><th>{{index .T "field.revoked_at"}}</th><td>{{.RevokedAt}}</td></tr>{{end}}
<tr><th>{{index .T "field.signature"}}</th><td>{{.Signature}}</td></tr>
</table>
{{if .C.DocumentSHA256}}<p class="tech">{{index .T "field.sha256"}}: {{.C.DocumentSHA256}}</p>{{end}}
<p class="tech"><a href="/verify/?lang={{.Lang}}">{{index .T "check.another"}}</a> · <a href="?format=json">{{index .T "check.json"}}</a></p>
</body></html>`))

var codeFormTmpl = template.Must(template.New("form").Parse(pageHead + `
<title>{{index .T "check.title"}}</title></head><body class="check">` + langSwitch + `
<h1>{{if .NotFound}}{{index .T "check.notfound.title"}}{{else}}{{index .T "check.title"}}{{end}}</h1>
{{if .NotFound}}<p class="bad">{{index .T "check.notfound.text"}}</p>{{end}}
<form method="get" action="/verify/"><input type="hidden" name="lang" value="{{.Lang}}">
<label for="code">{{index .T "check.form.label"}}</label>
<input id="code" name="code" value="{{.Code}}" maxlength="64" autocomplete="off" autocapitalize="characters" spellcheck="false" required>
<button>{{index .T "check.form.button"}}</button>
<p class="hint">{{index .T "check.form.hint"}}</p>
</form></body></html>`))

// checkView is the check as the page shows it, in the page's language:
// dates dd.mm.yyyy in Almaty time.
type checkView struct {
	pageText
	C                                                    Check
	Status, Type, Date, ValidUntil, RevokedAt, Signature string
}

func viewOf(p pageText, c Check) checkView {
	v := checkView{pageText: p, C: c, Status: p.T["status."+c.Status], Type: p.T["type."+c.ActionType]}
	if v.Status == "" {
		v.Status = c.Status
	}
	if v.Type == "" {
		v.Type = p.T["type.other"]
	}
	if c.Date != nil {
		v.Date = document.Date(*c.Date)
	}
	if d, err := time.Parse(time.DateOnly, c.ValidUntil); err == nil {
		v.ValidUntil = d.Format("02.01.2006") // a calendar day: no zone to convert
	}
	if c.RevokedAt != nil {
		v.RevokedAt = document.DateTime(*c.RevokedAt)
	}
	switch c.Signature {
	case "verified":
		v.Signature = p.T["signature.verified"]
	case "none":
		v.Signature = p.T["signature.none"]
	default:
		v.Signature = p.T["signature.failed"] + " (" + c.Signature + ")"
	}
	return v
}

// codeForm serves GET /verify/: a form to type a code; with ?code= it
// sends the browser on to that code's check.
func (s *Server) codeForm(w http.ResponseWriter, r *http.Request) {
	if code := r.URL.Query().Get("code"); code != "" && len(code) <= maxCodeLen {
		target := "/verify/" + url.PathEscape(normaliseCode(code))
		if l := r.URL.Query().Get("lang"); supportedLang(l) {
			target += "?lang=" + l
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	p := pageTextFor(w, r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = codeFormTmpl.Execute(w, map[string]any{"Lang": p.Lang, "T": p.T, "Langs": p.Langs, "NotFound": false, "Code": ""})
}

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
		p := pageTextFor(w, r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		shown := code
		if len(shown) > maxCodeLen {
			shown = ""
		}
		_ = codeFormTmpl.Execute(w, map[string]any{"Lang": p.Lang, "T": p.T, "Langs": p.Langs, "NotFound": true, "Code": shown})
	case asJSON:
		writeJSON(w, http.StatusOK, c)
	default:
		p := pageTextFor(w, r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = checkTmpl.Execute(w, viewOf(p, c))
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
