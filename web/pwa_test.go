package web

import (
	"encoding/json"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// shellList reads the SHELL list of the service worker.
func shellList(t *testing.T) []string {
	t.Helper()
	src, err := fs.ReadFile(Static(), "sw.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)const SHELL = \[(.*?)\];`).FindSubmatch(src)
	if m == nil {
		t.Fatal("sw.js has no SHELL list")
	}
	var out []string
	for _, q := range regexp.MustCompile(`'([^']*)'`).FindAllSubmatch(m[1], -1) {
		out = append(out, string(q[1]))
	}
	return out
}

// The service worker's shell is exactly the app's own files: every module,
// catalog and icon the page needs (so it opens offline and installs), and
// nothing a server answers about people or acts.
func TestServiceWorkerShellIsTheAppOnly(t *testing.T) {
	shell := shellList(t)
	var want []string
	err := fs.WalkDir(Static(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch {
		case strings.HasPrefix(p, "js/"), strings.HasPrefix(p, "icons/"), strings.HasPrefix(p, "vendor/") && strings.HasSuffix(p, ".js"),
			p == "index.html", p == "style.css", p == "manifest.webmanifest",
			strings.HasPrefix(p, "i18n/") && !strings.HasPrefix(p, "i18n/pages."):
			want = append(want, "/"+p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, "/")
	slices.Sort(want)
	got := slices.Clone(shell)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("sw.js SHELL is %q, the app's files are %q", got, want)
	}
	for _, p := range shell {
		for _, never := range []string{"/ws", "/verify", "/bank", "/egov", "/ops", "/digidocs", "/pki", "/metrics", "?"} {
			if strings.HasPrefix(p, never) || strings.Contains(p, "?") {
				t.Errorf("the shell lists %s", p)
			}
		}
	}
}

// The manifest names the app and its drawn icons, and the page links it.
func TestManifest(t *testing.T) {
	data, err := fs.ReadFile(Static(), "manifest.webmanifest")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Name       string `json:"name"`
		StartURL   string `json:"start_url"`
		Display    string `json:"display"`
		ThemeColor string `json:"theme_color"`
		Icons      []struct {
			Src   string `json:"src"`
			Sizes string `json:"sizes"`
		} `json:"icons"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Name != "Senim" || m.StartURL != "/" || m.Display != "standalone" || m.ThemeColor == "" {
		t.Errorf("manifest %+v", m)
	}
	sizes := map[string]bool{}
	for _, ic := range m.Icons {
		if _, err := fs.Stat(Static(), strings.TrimPrefix(ic.Src, "/")); err != nil {
			t.Errorf("icon %s: %v", ic.Src, err)
		}
		sizes[ic.Sizes] = true
	}
	if !sizes["192x192"] || !sizes["512x512"] {
		t.Errorf("icons %v", sizes)
	}
	page, _ := fs.ReadFile(Static(), "index.html")
	for _, s := range []string{`<link rel="manifest" href="/manifest.webmanifest">`, `<meta name="theme-color" content="` + m.ThemeColor + `">`} {
		if !strings.Contains(string(page), s) {
			t.Errorf("index.html has no %s", s)
		}
	}
}
