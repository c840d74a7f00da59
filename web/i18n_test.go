package web

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

var langs = []string{"ru", "kk", "en"}

func catalogs(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, l := range langs {
		data, err := fs.ReadFile(Static(), "i18n/"+l+".json")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s.json: %v", l, err)
		}
		out[l] = m
	}
	return out
}

var placeholder = regexp.MustCompile(`\{\w+\}`)

// Every key is in all three catalogs, none is empty, and each language
// fills the same placeholders.
func TestCatalogsHaveTheSameKeys(t *testing.T) {
	c := catalogs(t)
	for _, l := range langs {
		for k, v := range c[l] {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %s is empty", l, k)
			}
			for _, o := range langs {
				ov, ok := c[o][k]
				if !ok {
					t.Errorf("%s is in %s.json but not in %s.json", k, l, o)
					continue
				}
				a, b := placeholder.FindAllString(v, -1), placeholder.FindAllString(ov, -1)
				sort.Strings(a)
				sort.Strings(b)
				if !slices.Equal(a, b) {
					t.Errorf("%s: %s has %v, %s has %v", k, l, a, o, b)
				}
			}
		}
	}
}

// sources are the app's own scripts and page (not the vendored libraries).
func sources(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(Static(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p == "vendor" {
			return fs.SkipDir
		}
		if strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".html") {
			data, err := fs.ReadFile(Static(), p)
			if err != nil {
				return err
			}
			out[p] = string(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 5 {
		t.Fatalf("only %d sources", len(out))
	}
	return out
}

// A key written in the scripts or the page is in the catalogs.
func TestEveryKeyUsedIsInTheCatalogs(t *testing.T) {
	c := catalogs(t)
	uses := []*regexp.Regexp{
		regexp.MustCompile(`\bt\(\s*'([a-z_]+\.[a-z0-9_.]+)'`),
		regexp.MustCompile(`\btx\(\s*'\w+',\s*'([a-z0-9_.]+)'`),
		regexp.MustCompile(`\b(?:button|progress|confirmDialog)\(\s*'([a-z0-9_.]+)'`),
		regexp.MustCompile(`\b(?:disabled|confirm|busy|label):\s*'([a-z_]+\.[a-z0-9_.]+)'`),
		regexp.MustCompile(`data-i18n="([a-z0-9_.]+)"`),
		regexp.MustCompile(`data-k="([a-z0-9_.]+)"`),
		regexp.MustCompile(`data-i18n-attr="[a-z-]+:([a-z0-9_.]+)"`),
	}
	n := 0
	for file, src := range sources(t) {
		for _, re := range uses {
			for _, m := range re.FindAllStringSubmatch(src, -1) {
				if strings.HasSuffix(m[1], ".") {
					continue // a prefix completed at run time (call.state. + state): the lists below hold those
				}
				n++
				if _, ok := c["en"][m[1]]; !ok {
					t.Errorf("%s uses %q, which no catalog has", file, m[1])
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("found only %d uses of keys: the patterns no longer match the code", n)
	}
}

// Every error code, act phase and event type the server can send has a
// sentence in each language: people never see a raw code. The codes are
// read from the Go sources, so a new one without a sentence fails here.
func TestEveryCodeAndEventHasASentence(t *testing.T) {
	c := catalogs(t)
	code := regexp.MustCompile(`(?m)^\s*(?:const\s+)?Code\w*\s+(?:\w+\s+)?=\s*"([a-z_]+)"`)
	event := regexp.MustCompile(`EventType\(\) string\s*\{\s*return "([a-z_]+)"`)
	phase := regexp.MustCompile(`(?m)^\s*(?:const\s+)?Phase\w+\s+Phase\s*=\s*"([a-z_]+)"`)
	need := map[string]string{}
	err := filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// loadgen is an operator's command-line tool: its codes name its own
		// failures on a terminal, never on a person's screen.
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "loadgen" || strings.HasPrefix(d.Name(), ".")) && p != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range code.FindAllStringSubmatch(string(data), -1) {
			need["err."+m[1]] = p
		}
		for _, m := range event.FindAllStringSubmatch(string(data), -1) {
			need["ev."+m[1]] = p
		}
		for _, m := range phase.FindAllStringSubmatch(string(data), -1) {
			need["phase."+m[1]] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"err.not_allowed_in_state", "ev.act_signed", "phase.awaiting_consent", "ev.recording_started"} {
		if _, ok := need[k]; !ok {
			t.Fatalf("%s not found in the sources: the patterns no longer match the code", k)
		}
	}
	for k, where := range need {
		for _, l := range langs {
			if _, ok := c[l][k]; !ok {
				t.Errorf("%s.json has no %s (from %s)", l, k, where)
			}
		}
	}
}

// No text people read is written in the scripts or the page: it all comes
// from the catalogs. A string given to textContent, innerHTML, text:,
// title:, aria-label or placeholder, or any string with a letter of
// Cyrillic, must be technical (no letters); the page's own text is only the
// language names (each written in its own language) and the brand.
func TestNoHardCodedText(t *testing.T) {
	letters := regexp.MustCompile(`[A-Za-zА-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]`)
	cyrillic := regexp.MustCompile(`[А-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]`)
	sinks := regexp.MustCompile("(?:textContent|innerHTML|innerText)\\s*\\+?=\\s*(?:'([^']*)'|\"([^\"]*)\"|`([^`]*)`)" +
		"|\\b(?:text|title|placeholder|'aria-label'):\\s*(?:'([^']*)'|\"([^\"]*)\")" +
		"|\\bsay\\(\\s*(?:'([^']*)'|\"([^\"]*)\")")
	literal := regexp.MustCompile("'[^'\\n]*'|\"[^\"\\n]*\"|`[^`]*`")
	comment := regexp.MustCompile(`(?m)//.*$|/\*[\s\S]*?\*/`)
	allowedPage := []string{"Senim", "Рус", "Қаз", "Eng"}
	tag := regexp.MustCompile(`<[^>]*>`)
	for file, src := range sources(t) {
		if strings.HasSuffix(file, ".html") {
			text := tag.ReplaceAllString(src, " ")
			for _, w := range strings.Fields(text) {
				if letters.MatchString(w) && !slices.Contains(allowedPage, w) {
					t.Errorf("%s: text %q is not from the catalogs", file, w)
				}
			}
			continue
		}
		code := comment.ReplaceAllString(src, "")
		for _, m := range sinks.FindAllStringSubmatch(code, -1) {
			for _, g := range m[1:] {
				if letters.MatchString(g) {
					t.Errorf("%s: %q is shown to people but not from the catalogs", file, m[0])
				}
			}
		}
		for _, l := range literal.FindAllString(code, -1) {
			if cyrillic.MatchString(l) {
				t.Errorf("%s: %s: Russian or Kazakh text belongs in the catalogs", file, l)
			}
		}
	}
}

// No catalog names a key twice: JSON keeps the last silently, so a merge
// that brings the same key from two branches would hide a sentence.
func TestCatalogsHaveNoDuplicateKeys(t *testing.T) {
	for _, l := range langs {
		data, err := fs.ReadFile(Static(), "i18n/"+l+".json")
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(data)))
		seen := map[string]bool{}
		if _, err := dec.Token(); err != nil { // {
			t.Fatal(err)
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dec.Token(); err != nil {
				t.Fatal(err)
			}
			if seen[k.(string)] {
				t.Errorf("%s.json has %s twice", l, k)
			}
			seen[k.(string)] = true
		}
	}
}
