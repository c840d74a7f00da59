package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
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
