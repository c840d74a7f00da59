package server_test

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/web"
)

// getLang fetches url with an Accept-Language header, without following
// redirects.
func getLang(t *testing.T, url, accept string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept-Language", accept)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, b.String()
}

// The public check speaks Kazakh and English too, finds a code typed
// loosely, and offers a form at /verify/.
func TestCheckPageLanguagesAndLenientCodes(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, _ := w.toSigned(t)
	code := w.state(t, cl, actID).DocumentCode
	cats, err := web.PageCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ query, accept, lang string }{
		{"?lang=kk", "", "kk"}, {"?lang=en", "ru", "en"}, {"", "en-GB,en;q=0.9", "en"},
		{"", "de, kk-KZ;q=0.8, ru;q=0.5", "kk"}, {"", "", "ru"}, {"?lang=xx", "fr", "ru"},
	} {
		status, hdr, page := getLang(t, w.http+"/verify/"+code+c.query, c.accept)
		T := cats[c.lang]
		for _, want := range []string{`<html lang="` + c.lang + `"`, `name="viewport"`, T["check.title"], T["status.valid"], T["type.power_of_attorney"],
			T["field.powers"], "Управлять и продать автомобиль", "24 " + T["term.months"], "8710******27", "Алия Нотариус", `href="?lang=`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s %q: the page lacks %q:\n%s", c.query, c.accept, want, page)
			}
		}
		if status != http.StatusOK || hdr.Get("Content-Language") != c.lang || strings.Contains(page, clientIIN) {
			t.Fatalf("%s %q: %d %v", c.query, c.accept, status, hdr)
		}
		// One date format: dd.mm.yyyy.
		if regexp.MustCompile(`\d{4}-\d{2}-\d{2}`).MatchString(page) {
			t.Errorf("a yyyy-mm-dd date on the page:\n%s", page)
		}
	}
	// Lenient codes: lower case, spaces, no dashes, O for 0.
	loose := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	loose = strings.ReplaceAll(loose, "0", "o")
	var check struct{ Code, Status string }
	getJSON(t, w.http+"/verify/"+strings.ReplaceAll(loose, " ", "%20")+"?format=json", http.StatusOK, &check)
	if check.Code != code || check.Status != "valid" {
		t.Fatalf("a loosely typed code: %+v", check)
	}
	// The form, and what it sends on.
	status, _, page := getLang(t, w.http+"/verify/?lang=en", "")
	if status != http.StatusOK || !strings.Contains(page, `<form method="get" action="/verify/">`) || !strings.Contains(page, cats["en"]["check.form.button"]) {
		t.Fatalf("form: %d\n%s", status, page)
	}
	status, hdr, _ := getLang(t, w.http+"/verify/?code="+strings.ReplaceAll(strings.ToLower(code), "-", "")+"&lang=kk", "")
	if status != http.StatusSeeOther || hdr.Get("Location") != "/verify/"+code+"?lang=kk" {
		t.Fatalf("form submit: %d %v", status, hdr.Get("Location"))
	}
	status, _, page = getLang(t, w.http+"/verify/NO-SUCH-CODE", "en")
	if status != http.StatusNotFound || !strings.Contains(page, cats["en"]["check.notfound.title"]) || !strings.Contains(page, `value="NO-SUCH-CODE"`) {
		t.Fatalf("not found in English: %d\n%s", status, page)
	}
	_ = ctx
}

// The bank stand-in's page speaks the three languages and keeps the pay
// key in its language links.
func TestPayPageLanguages(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toApproval(t)
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_invoice", nil))
	link := mustOf[protocol.PaymentLink](t)(cl.PaymentLink(ctx, actID))
	cats, _ := web.PageCatalogs()
	for lang, accept := range map[string]string{"ru": "", "kk": "kk", "en": "en-US"} {
		status, _, page := getLang(t, link.URL, accept)
		if status != http.StatusOK || !strings.Contains(page, `<html lang="`+lang+`"`) || !strings.Contains(page, cats[lang]["pay.button"]+" 15\u00a0137,50\u00a0₸") ||
			!strings.Contains(page, `name="viewport"`) {
			t.Fatalf("%s: %d\n%s", lang, status, page)
		}
		if n := len(regexp.MustCompile(`href="\?key=[0-9a-f]+&amp;lang=(ru|kk|en)"`).FindAllString(page, -1)); n != 2 {
			t.Fatalf("%s: the language links lose the key:\n%s", lang, page)
		}
	}
}

// Every string the page templates ask for is in the catalogs.
func TestPageTemplatesUseKnownKeys(t *testing.T) {
	cats, err := web.PageCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`index \$?\.T "([a-z_.]+)"`)
	for _, name := range []string{"verify.go", "bankpage.go", "pages.go"} {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range used.FindAllStringSubmatch(string(src), -1) {
			if cats["ru"][m[1]] == "" {
				t.Errorf("%s uses %q, which the catalogs lack", name, m[1])
			}
		}
	}
}

// The language chosen on a page (?lang=) or in the app (the senim_lang
// cookie it sets) holds for the next page without ?lang=, over the
// browser's Accept-Language; an unknown cookie value is ignored.
func TestPagesRememberTheLanguage(t *testing.T) {
	w := newWorld(t)
	get := func(url, cookie string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Accept-Language", "en")
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "senim_lang", Value: cookie})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp, b.String()
	}
	resp, html := get(w.http+"/verify/?lang=kk", "")
	var set *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "senim_lang" {
			set = c
		}
	}
	if !strings.Contains(html, `<html lang="kk">`) || set == nil || set.Value != "kk" || set.Path != "/" {
		t.Fatalf("?lang=kk: cookie %+v", set)
	}
	if _, html := get(w.http+"/verify/", "kk"); !strings.Contains(html, `<html lang="kk">`) {
		t.Fatal("the cookie's language does not hold without ?lang=")
	}
	if _, html := get(w.http+"/verify/?lang=ru", "kk"); !strings.Contains(html, `<html lang="ru">`) {
		t.Fatal("?lang= does not win over the cookie")
	}
	if _, html := get(w.http+"/verify/", "xx<script>"); !strings.Contains(html, `<html lang="en">`) {
		t.Fatal("an unknown cookie value is not ignored")
	}
}
