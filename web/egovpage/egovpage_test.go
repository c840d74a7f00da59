package egovpage

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/egovmobile"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

// fakeSenim serves one signing link over eGov mobile's protocol and keeps
// what the phone PUTs back.
type fakeSenim struct {
	*httptest.Server
	mu  sync.Mutex
	put []egovmobile.Documents
}

const signed = "Доверенность: управлять автомобилем"

func newFake(t *testing.T) *fakeSenim {
	f := &fakeSenim{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /egov/sign/tok", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(egovmobile.Descriptor{Description: "Одобрение проекта", ExpiryDate: time.Now().Add(time.Minute),
			Organisation: egovmobile.Organisation{NameRu: "Senim RU", NameKz: "Senim KZ", NameEn: "Senim EN", BIN: "000000000000"},
			Document:     egovmobile.DocumentRef{URI: f.URL + "/egov/sign/tok/document", AuthType: "None"}})
	})
	mux.HandleFunc("GET /egov/sign/tok/document", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(egovmobile.Documents{SignMethod: egovmobile.MethodWithData, Version: 1,
			DocumentsToSign: []egovmobile.DocumentToSign{{ID: 1, NameRu: "Проект", NameKz: "Жоба", NameEn: "Draft",
				Meta:     []egovmobile.Meta{{Name: "purpose", Value: "sign"}},
				Document: egovmobile.DocumentBody{File: egovmobile.File{Mime: "text/plain", Data: base64.StdEncoding.EncodeToString([]byte(signed))}}}}})
	})
	mux.HandleFunc("PUT /egov/sign/tok/document", func(w http.ResponseWriter, r *http.Request) {
		var d egovmobile.Documents
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.mu.Lock()
		f.put = append(f.put, d)
		f.mu.Unlock()
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /egov/sign/old", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusGone)
		_, _ = io.WriteString(w, `{"code":"link_expired","message":"expired"}`)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func keys(t *testing.T) []*pki.Key {
	ca, err := devca.Open(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := ca.IssuePair(devca.Request{IIN: iin.IIN("871008401427"), Surname: "Сейтқали", Name: "Әйгерім"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return []*pki.Key{p.Auth, p.Sign}
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The page shows what a link asks to sign in the chosen language; a wrong
// PIN signs nothing; the right one sends back an attached CMS over the
// exact bytes; a refusal reads as a sentence; another site cannot make it
// sign.
func TestStandInPage(t *testing.T) {
	f := newFake(t)
	page := httptest.NewServer(Handler(keys(t)))
	t.Cleanup(page.Close)
	link := egovmobile.DeepLink(f.URL + "/egov/sign/tok")

	resp, err := http.Get(page.URL + "/?lang=kk&link=" + url.QueryEscape(link))
	if err != nil {
		t.Fatal(err)
	}
	got := body(t, resp)
	for _, want := range []string{`<html lang="kk">`, "Жоба", "Senim KZ", signed, catalogs["kk"]["sign"], `id="signForm"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(got, "<script") {
		t.Errorf("CSP %q, or a script on the page", csp)
	}

	post := func(form url.Values, hdr map[string]string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, page.URL+"/sign", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body(t, resp)
	}
	form := url.Values{"lang": {"en"}, "link": {link}, "pin": {"123456"}}
	if _, got := post(form, nil); !strings.Contains(got, catalogs["en"]["err.wrong_pin"]) || len(f.put) != 0 {
		t.Fatalf("a wrong PIN: %d sent; page %s", len(f.put), got)
	}
	form.Set("pin", "000000")
	if resp, _ := post(form, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); resp.StatusCode != http.StatusForbidden || len(f.put) != 0 {
		t.Fatalf("a cross-site form: %d, %d sent", resp.StatusCode, len(f.put))
	}
	if _, got := post(form, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"}); !strings.Contains(got, `id="done"`) || len(f.put) != 1 {
		t.Fatalf("the right PIN: %d sent; page %s", len(f.put), got)
	}
	cms, err := base64.StdEncoding.DecodeString(f.put[0].DocumentsToSign[0].Document.File.Data)
	if err != nil {
		t.Fatal(err)
	}
	content, err := pki.EncapsulatedContent(cms)
	if err != nil || string(content) != signed {
		t.Fatalf("the CMS holds %q, %v", content, err)
	}

	for link, code := range map[string]string{f.URL + "/egov/sign/old": "err.link_expired", "file:///etc/passwd": "err.not_a_link"} {
		resp, err := http.Get(page.URL + "/?lang=ru&link=" + url.QueryEscape(link))
		if err != nil {
			t.Fatal(err)
		}
		if got := body(t, resp); !strings.Contains(got, catalogs["ru"][code]) {
			t.Errorf("%s: no %s on the page", link, code)
		}
	}
}

// The three languages have the same sentences.
func TestStandInPageCatalogs(t *testing.T) {
	for _, l := range langs {
		for k := range catalogs["en"] {
			if strings.TrimSpace(catalogs[l][k]) == "" {
				t.Errorf("%s has no %s", l, k)
			}
		}
		if len(catalogs[l]) != len(catalogs["en"]) {
			t.Errorf("%s has %d sentences, en %d", l, len(catalogs[l]), len(catalogs["en"]))
		}
	}
}

// The page speaks the language the person chose in the app or on another
// page (the senim_lang cookie), over the browser's; then Accept-Language;
// then Russian. Its own switch remembers the choice the same way.
func TestStandInPageLanguage(t *testing.T) {
	page := httptest.NewServer(Handler(keys(t)))
	t.Cleanup(page.Close)
	for _, c := range []struct {
		query, cookie, accept, want string
	}{
		{cookie: "kk", accept: "ru-RU,ru;q=0.9,en;q=0.8", want: "kk"},
		{cookie: "en", want: "en"},
		{query: "?lang=ru", cookie: "kk", want: "ru"},
		{cookie: "de", accept: "kk-KZ", want: "kk"},
		{accept: "fr, en;q=0.5, kk;q=0.9", want: "kk"},
		{want: "ru"},
	} {
		req, _ := http.NewRequest(http.MethodGet, page.URL+"/"+c.query, nil)
		if c.cookie != "" {
			req.AddCookie(&http.Cookie{Name: "senim_lang", Value: c.cookie})
		}
		if c.accept != "" {
			req.Header.Set("Accept-Language", c.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got := body(t, resp)
		if !strings.Contains(got, `<html lang="`+c.want+`">`) || !strings.Contains(got, "<title>"+catalogs[c.want]["title"]+"</title>") {
			t.Errorf("%+v: the page is not in %s", c, c.want)
		}
		if l := resp.Header.Get("Content-Language"); l != c.want {
			t.Errorf("%+v: Content-Language %q", c, l)
		}
		var set string
		for _, ck := range resp.Cookies() {
			if ck.Name == "senim_lang" {
				set = ck.Value
			}
		}
		if want := strings.TrimPrefix(c.query, "?lang="); set != want {
			t.Errorf("%+v: the page set the cookie to %q, want %q", c, set, want)
		}
	}
}
