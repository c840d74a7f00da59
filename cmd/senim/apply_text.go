package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/senim-kz/senim/web"
)

// texts are the sentences of one language from the apps' catalogs
// (web/static/i18n/<lang>.json): `senim client apply` shows people only
// those.
type texts map[string]string

// pickLang is the language asked for, else the one of LANG (kk_KZ.UTF-8,
// en_US…), else Russian.
func pickLang(flagLang string) string {
	for _, l := range []string{flagLang, os.Getenv("LC_ALL"), os.Getenv("LANG")} {
		l = strings.ToLower(l)
		for _, known := range []string{"ru", "kk", "en"} {
			if strings.HasPrefix(l, known) {
				return known
			}
		}
	}
	return "ru"
}

func loadTexts(lang string) (texts, error) {
	b, err := fs.ReadFile(web.Static(), "i18n/"+lang+".json")
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", lang, err)
	}
	var t texts
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", lang, err)
	}
	return t, nil
}

// get is the sentence of key, or the key itself when no catalog has it
// (web/i18n_test.go keeps that from happening to codes and phases).
func (t texts) get(key string) string {
	if s, ok := t[key]; ok {
		return s
	}
	return key
}

// f is the sentence of key with its {name} placeholders filled from the
// pairs name, value.
func (t texts) f(key string, pairs ...string) string {
	s := t.get(key)
	for i := 0; i+1 < len(pairs); i += 2 {
		s = strings.ReplaceAll(s, "{"+pairs[i]+"}", pairs[i+1])
	}
	return s
}

// code is the sentence of a refusal code, else the server's message.
func (t texts) code(code string, err error) string {
	if s, ok := t["err."+code]; ok {
		return s
	}
	if err != nil {
		return err.Error()
	}
	return code
}
