package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// PageLanguages are the languages of the server-rendered pages (the public
// check, the bank stand-in), the default first. Their strings are in
// static/i18n/pages.<lang>.json, apart from the browser app's catalogs.
var PageLanguages = []string{"ru", "kk", "en"}

var (
	pagesOnce sync.Once
	pages     map[string]map[string]string
	pagesErr  error
)

// PageCatalogs returns the pages' strings by language and key, read once
// from the embedded files. The maps are shared: callers must not change them.
func PageCatalogs() (map[string]map[string]string, error) {
	pagesOnce.Do(func() {
		pages = map[string]map[string]string{}
		for _, lang := range PageLanguages {
			b, err := fs.ReadFile(Static(), "i18n/pages."+lang+".json")
			if err != nil {
				pagesErr = fmt.Errorf("web: page catalog %s: %w", lang, err)
				return
			}
			m := map[string]string{}
			if err := json.Unmarshal(b, &m); err != nil {
				pagesErr = fmt.Errorf("web: page catalog %s: %w", lang, err)
				return
			}
			pages[lang] = m
		}
	})
	return pages, pagesErr
}

// LangCookie remembers the language a person chose, on a server page or in
// the app (which sets it beside its localStorage): a language code, nothing
// personal. Every page that renders on the server honours it.
const LangCookie = "senim_lang"

// PickLanguage chooses a page's language for r: a supported ?lang= wins,
// then the LangCookie, then the best-weighted supported language of
// Accept-Language, then Russian.
func PickLanguage(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); SupportedLanguage(l) {
		return l
	}
	if c, err := r.Cookie(LangCookie); err == nil && SupportedLanguage(c.Value) {
		return c.Value
	}
	type weighted struct {
		lang string
		q    float64
	}
	var cands []weighted
	for i, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		if i >= 32 { // a header is hostile too: look at a sane number of entries
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if !SupportedLanguage(primary) {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q > 0 {
			cands = append(cands, weighted{primary, q})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].q > cands[j].q })
	if len(cands) > 0 {
		return cands[0].lang
	}
	return PageLanguages[0]
}

// SupportedLanguage reports whether l is one of PageLanguages.
func SupportedLanguage(l string) bool {
	for _, s := range PageLanguages {
		if l == s {
			return true
		}
	}
	return false
}
