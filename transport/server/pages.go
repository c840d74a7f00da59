package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/senim-kz/senim/web"
)

// The server-rendered pages (the public check, the bank stand-in) speak
// Russian, Kazakh and English. The language comes from ?lang=, else from
// the senim_lang cookie (the last choice, on these pages or in the app),
// else Accept-Language, else Russian; each page links to itself in the
// others.

// langCookie remembers the language chosen on a page or in the app (which
// sets it beside its localStorage): a language code, nothing personal.
const langCookie = web.LangCookie

// pageLang is one entry of a page's language switch.
type pageLang struct {
	Code, Name, Href string
	Current          bool
}

// pageText is what every page template gets: the language, its strings
// and the switch.
type pageText struct {
	Lang  string
	T     map[string]string
	Langs []pageLang
}

// pickLanguage chooses the page language (web.PickLanguage: ?lang=, the
// cookie, Accept-Language, Russian).
func pickLanguage(r *http.Request) string { return web.PickLanguage(r) }

func supportedLang(l string) bool { return web.SupportedLanguage(l) }

// pageTextFor is the strings and the switch of a page for r. The switch's
// links keep the request's other parameters (the pay page's key).
func pageTextFor(w http.ResponseWriter, r *http.Request) pageText {
	lang := pickLanguage(r)
	cats, err := web.PageCatalogs()
	if err != nil {
		cats = map[string]map[string]string{} // a build without catalogs shows keys, never fails
	}
	p := pageText{Lang: lang, T: cats[lang]}
	for _, l := range web.PageLanguages {
		q := url.Values{}
		for k, v := range r.URL.Query() {
			q[k] = v
		}
		q.Set("lang", l)
		p.Langs = append(p.Langs, pageLang{Code: l, Name: cats[l]["lang.name"], Href: "?" + q.Encode(), Current: l == lang})
	}
	if supportedLang(r.URL.Query().Get("lang")) {
		// The switch's choice holds for the next pages without ?lang=.
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode})
	}
	w.Header().Set("Content-Language", lang)
	w.Header().Add("Vary", "Accept-Language")
	w.Header().Add("Vary", "Cookie")
	return p
}

// pageHead is the start of every page: language, viewport, stylesheet.
const pageHead = `<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/pages.css">`

// langSwitch is every page's language switch.
const langSwitch = `<nav class="lang" aria-label="{{index .T "lang.switch"}}">{{range .Langs}}{{if .Current}}<b lang="{{.Code}}">{{.Name}}</b>{{else}}<a href="{{.Href}}" lang="{{.Code}}" hreflang="{{.Code}}">{{.Name}}</a>{{end}} {{end}}</nav>`

// normaliseCode turns a typed document code into its printed form:
// letters upper-case, separators dropped, the letters Crockford base32
// reads as digits (O, I, L) made digits, and 16 characters grouped by
// four with dashes, as codes are issued.
func normaliseCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == 'O':
			b.WriteByte('0')
		case r == 'I' || r == 'L':
			b.WriteByte('1')
		case r >= '0' && r <= '9' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		}
	}
	c := b.String()
	if len(c) == 16 {
		return c[:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:]
	}
	return c
}
