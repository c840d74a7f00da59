// Package egovpage is the stand-in for eGov mobile as a web page, for
// development and the browser tests: the "phone" that a desktop QR is
// scanned with. Its owner pastes (or opens by ?link=) a signing link — the
// QR text, the deep link or the API URL —, reads the documents, enters the
// PIN and signs; the page then calls package egovmobile/standin on the
// server side with the keys it was started with. It renders on the server
// in Russian, Kazakh or English (the language chosen in the app, by the
// senim_lang cookie, as the other server pages) and has no script at all.
//
// It holds real signing keys: it serves only the person who started it
// (`senim dev egov-mobile-page` listens on loopback), and a sign request
// from another site's page is refused.
package egovpage

import (
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/senim-kz/senim/document"
	"github.com/senim-kz/senim/egovmobile"
	"github.com/senim-kz/senim/egovmobile/standin"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/web"
)

//go:embed page.html page.css i18n.json
var files embed.FS

var (
	page     = template.Must(template.ParseFS(files, "page.html"))
	css, _   = files.ReadFile("page.css")
	catalogs = mustCatalogs()
)

// langs are the page's languages, the first the default: the server
// pages' own.
var langs = web.PageLanguages

func mustCatalogs() map[string]map[string]string {
	data, err := files.ReadFile("i18n.json")
	if err != nil {
		panic(err)
	}
	var c map[string]map[string]string
	if err := json.Unmarshal(data, &c); err != nil {
		panic(err)
	}
	return c
}

// maxLink bounds a pasted link: a real one is under 300 bytes.
const maxLink = 2048

// Handler serves the page with keys (the owner's AUTH and signing keys).
func Handler(keys []*pki.Key) http.Handler {
	mux := http.NewServeMux()
	h := &handler{keys: keys}
	mux.HandleFunc("GET /{$}", h.show)
	mux.HandleFunc("POST /sign", h.sign)
	mux.HandleFunc("GET /page.css", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(css)
	})
	return secure(mux)
}

// secure sets the headers of a page with no script that nobody may frame.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

type handler struct{ keys []*pki.Key }

// view is what the template shows.
type view struct {
	Lang, Link  string
	T           map[string]string
	Langs       []langLink
	Fetched     bool
	Description string
	Org         string
	Expires     string
	Docs        []docView
	Error       string
	Signed      bool
}

type langLink struct {
	Code, Name, URL string
	Current         bool
}

type docView struct {
	Name string
	Meta []egovmobile.Meta
	Text string
}

// pick chooses the page's language as the other server pages do
// (web.PickLanguage): the form's lang (the switch, or the sign form's
// hidden field), else the senim_lang cookie the app and the pages set, else
// Accept-Language, else Russian.
func pick(r *http.Request) string {
	if q := r.FormValue("lang"); web.SupportedLanguage(q) {
		return q
	}
	return web.PickLanguage(r)
}

func (h *handler) newView(w http.ResponseWriter, r *http.Request, link string) *view {
	lang := pick(r)
	if web.SupportedLanguage(r.FormValue("lang")) {
		// The switch's choice holds here and in the app, as on the other pages.
		http.SetCookie(w, &http.Cookie{Name: web.LangCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode})
	}
	w.Header().Set("Content-Language", lang)
	w.Header().Add("Vary", "Accept-Language")
	w.Header().Add("Vary", "Cookie")
	v := &view{Lang: lang, Link: link, T: catalogs[lang]}
	for _, l := range langs {
		q := url.Values{"lang": {l}}
		if link != "" {
			q.Set("link", link)
		}
		v.Langs = append(v.Langs, langLink{Code: l, Name: catalogs[l]["lang.name"], URL: "/?" + q.Encode(), Current: l == lang})
	}
	return v
}

// refusal is the sentence for an error: the server's code in the page's
// language where the catalog has it, else the generic one with the code.
func (v *view) refusal(err error) string {
	code := standin.CodeOf(err)
	switch {
	case errors.Is(err, standin.ErrWrongPIN):
		code = "wrong_pin"
	case errors.Is(err, standin.ErrNoKey):
		code = "no_key"
	case code == "" && errors.Is(err, errNotALink):
		code = "not_a_link"
	case code == "":
		code = "unreachable"
	}
	if s, ok := v.T["err."+code]; ok {
		return s
	}
	return v.T["err.other"] + " (" + code + ")"
}

var errNotALink = errors.New("egovpage: not a signing link")

// load fetches what a link asks to sign and fills the view.
func (h *handler) load(ctx context.Context, v *view) (egovmobile.Descriptor, egovmobile.Documents, error) {
	if len(v.Link) > maxLink || !utf8.ValidString(v.Link) || egovmobile.APIURL(v.Link) == "" {
		return egovmobile.Descriptor{}, egovmobile.Documents{}, errNotALink
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d, docs, err := standin.Fetch(ctx, v.Link)
	if err != nil {
		return d, docs, err
	}
	v.Fetched = true
	v.Description = d.Description
	v.Org = d.Organisation.NameRu
	switch v.Lang {
	case "kk":
		v.Org = d.Organisation.NameKz
	case "en":
		v.Org = d.Organisation.NameEn
	}
	v.Expires = document.InAlmaty(d.ExpiryDate).Format("02.01.2006 15:04:05") // Almaty time, as every time shown
	for _, doc := range docs.DocumentsToSign {
		dv := docView{Name: doc.NameRu, Meta: doc.Meta}
		switch v.Lang {
		case "kk":
			dv.Name = doc.NameKz
		case "en":
			dv.Name = doc.NameEn
		}
		if data, err := base64.StdEncoding.DecodeString(doc.Document.File.Data); err == nil && doc.Document.File.Mime == "text/plain" && utf8.Valid(data) {
			dv.Text = string(data)
		}
		v.Docs = append(v.Docs, dv)
	}
	return d, docs, nil
}

func (h *handler) show(w http.ResponseWriter, r *http.Request) {
	v := h.newView(w, r, strings.TrimSpace(r.FormValue("link")))
	if v.Link != "" {
		if _, _, err := h.load(r.Context(), v); err != nil {
			v.Error = v.refusal(err)
		}
	}
	render(w, v)
}

func (h *handler) sign(w http.ResponseWriter, r *http.Request) {
	// Another site's page may not make this page sign: the browser says
	// where a form comes from (Sec-Fetch-Site; Origin is "null" under
	// no-referrer).
	if !sameSite(r) {
		http.Error(w, "forbidden: cross-site request", http.StatusForbidden)
		return
	}
	v := h.newView(w, r, strings.TrimSpace(r.PostFormValue("link")))
	d, docs, err := h.load(r.Context(), v)
	if err == nil && r.PostFormValue("pin") != standin.DevPIN {
		err = standin.ErrWrongPIN
	}
	if err == nil {
		var signed egovmobile.Documents
		if signed, err = standin.SignDocuments(docs, h.keys); err == nil {
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			err = standin.Put(ctx, d.Document.URI, signed)
			cancel()
		}
	}
	if err != nil {
		v.Error = v.refusal(err)
		render(w, v)
		return
	}
	v.Signed, v.Fetched = true, false
	render(w, v)
}

// sameSite says whether a request comes from this page itself (or from no
// page at all: a tool on the owner's machine).
func sameSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	return o == "" || o == "null" || o == "http://"+r.Host || o == "https://"+r.Host
}

func render(w http.ResponseWriter, v *view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page.Execute(w, v)
}
