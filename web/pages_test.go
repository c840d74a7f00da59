package web

import (
	"sort"
	"testing"
)

// Every page string exists in every language, and none is empty: a page
// never shows a key, or a gap, to someone who reads Kazakh or English.
func TestPageCatalogsHaveTheSameKeys(t *testing.T) {
	cats, err := PageCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, c := range cats {
		for k := range c {
			keys[k] = true
		}
	}
	if len(keys) == 0 {
		t.Fatal("no page strings")
	}
	var missing []string
	for _, lang := range PageLanguages {
		for k := range keys {
			if cats[lang][k] == "" {
				missing = append(missing, lang+":"+k)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("missing or empty page strings: %v", missing)
	}
}
