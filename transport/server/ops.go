package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/metrics"
	opsweb "github.com/senim-kz/senim/web/ops"
)

// The operators' dashboard (/ops) answers these codes (PROTOCOL.md, "The
// operators' dashboard").
const (
	// CodeOpsUnauthorized: an /ops API request without a valid dashboard
	// session (HTTP 401). Pages redirect to /ops/login instead.
	CodeOpsUnauthorized = "ops_unauthorized"
	// CodeOpsBadLogin: a dashboard sign-in with an unknown login or a wrong
	// password (HTTP 401); a notary's credentials get the same answer.
	CodeOpsBadLogin = "ops_bad_login"
	// CodeOpsLoginLimited: too many failed sign-ins from the client's IP in
	// the last minute (HTTP 429); nothing is hashed.
	CodeOpsLoginLimited = "ops_login_limited"
	// CodeOpsBadOrigin: a sign-in or sign-out posted from another site's
	// page (HTTP 403): the Origin header names a host other than this one.
	CodeOpsBadOrigin = "ops_bad_origin"
	// CodeOpsTooManyStreams: more live event streams than the server keeps
	// (HTTP 503).
	CodeOpsTooManyStreams = "ops_too_many_streams"
)

// opsCookie names the dashboard's session cookie. It is scoped to /ops, so
// a browser never sends it to /ws, and the websocket never reads cookies.
const opsCookie = "senim_ops"

// opsLogins counts dashboard sign-ins by outcome (ok, bad_login, limited).
var opsLogins = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "senim", Name: "ops_logins_total", Help: "Sign-ins to the operators' dashboard by outcome (ok, bad_login, limited).",
}, []string{"outcome"})

func init() { metrics.Registry.MustRegister(opsLogins) }

// OperatorsPath is where the operators' accounts (the /ops dashboard) live
// under a data directory: a file apart from the notaries'.
func OperatorsPath(dataDir string) string { return filepath.Join(dataDir, "operators.json") }

// opsSession is one signed-in dashboard browser.
type opsSession struct {
	login, name      string
	created, expires time.Time
}

// opsSessions is the server-side store of dashboard sessions: the cookie
// holds 256 random bits, the store keeps their SHA-256 (so that a memory
// dump yields no usable cookie), each with an expiry, at most max of them.
type opsSessions struct {
	mu   sync.Mutex
	ttl  time.Duration
	max  int
	byID map[string]opsSession
}

func newOpsSessions(ttl time.Duration, max int) *opsSessions {
	return &opsSessions{ttl: ttl, max: max, byID: map[string]opsSession{}}
}

func opsKey(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(h[:])
}

// open makes a session and returns its cookie value. Past the cap the
// expired sessions go first, then the oldest.
func (s *opsSessions) open(o accounts.Operator, now time.Time) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= s.max {
		oldest, oldestAt := "", time.Time{}
		for k, v := range s.byID {
			if !now.Before(v.expires) {
				delete(s.byID, k)
				continue
			}
			if oldest == "" || v.created.Before(oldestAt) {
				oldest, oldestAt = k, v.created
			}
		}
		if len(s.byID) >= s.max {
			delete(s.byID, oldest)
		}
	}
	s.byID[opsKey(id)] = opsSession{login: o.Login, name: o.Name, created: now, expires: now.Add(s.ttl)}
	return id
}

func (s *opsSessions) get(cookie string, now time.Time) (opsSession, bool) {
	if cookie == "" {
		return opsSession{}, false
	}
	k := opsKey(cookie)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[k]
	if ok && !now.Before(v.expires) {
		delete(s.byID, k)
		return opsSession{}, false
	}
	return v, ok
}

func (s *opsSessions) close(cookie string) {
	s.mu.Lock()
	delete(s.byID, opsKey(cookie))
	s.mu.Unlock()
}

// opsFailures counts failed sign-ins per client IP in fixed one-minute
// windows; it forgets windows that ended, and holds at most 100k IPs.
type opsFailures struct {
	mu    sync.Mutex
	byIP  map[string]opsWindow
	limit int
}

type opsWindow struct {
	start time.Time
	n     int
}

func (f *opsFailures) blocked(ip string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.byIP[ip]
	return now.Sub(w.start) < time.Minute && w.n >= f.limit
}

func (f *opsFailures) fail(ip string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.byIP) > 100000 {
		for k, w := range f.byIP {
			if now.Sub(w.start) >= time.Minute {
				delete(f.byIP, k)
			}
		}
	}
	w := f.byIP[ip]
	if now.Sub(w.start) >= time.Minute {
		w = opsWindow{start: now}
	}
	w.n++
	f.byIP[ip] = w
}

var opsLoginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.T.title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/ops/login.css"></head>
<body class="login"><main>
<h1>{{.T.title}}</h1>
<p class="langs"><a href="/ops/login?lang=ru">Русский</a> · <a href="/ops/login?lang=kk">Қазақша</a> · <a href="/ops/login?lang=en">English</a></p>
{{if .Code}}<p class="error" role="alert" data-code="{{.Code}}">{{index .T .Code}}</p>{{end}}
<form method="post" action="/ops/login?lang={{.Lang}}">
<label>{{.T.login}} <input name="login" autocomplete="username" required maxlength="32" value="{{.Login}}"></label>
<label>{{.T.password}} <input name="password" type="password" autocomplete="current-password" required maxlength="256"></label>
<button type="submit">{{.T.signin}}</button>
</form>
<p class="note">{{.T.note}}</p>
</main></body></html>
`))

// opsLoginText is the sign-in page in the apps' three languages; the
// refusal's code stays in data-code for machines.
var opsLoginText = map[string]map[string]string{
	"en": {"title": "Senim operations", "login": "Login", "password": "Password", "signin": "Sign in",
		"note":          "An operator's account, made with senim operator add. A notary's login does not open this page.",
		CodeOpsBadLogin: "Wrong login or password.", CodeOpsLoginLimited: "Too many failed sign-ins from this address; wait a minute and try again.",
		"bad_request": "The sign-in form could not be read."},
	"ru": {"title": "Сенім: мониторинг", "login": "Логин", "password": "Пароль", "signin": "Войти",
		"note":          "Учётная запись оператора создаётся командой senim operator add. Логин нотариуса эту страницу не открывает.",
		CodeOpsBadLogin: "Неверный логин или пароль.", CodeOpsLoginLimited: "Слишком много неудачных попыток входа с этого адреса; подождите минуту.",
		"bad_request": "Не удалось прочитать форму входа."},
	"kk": {"title": "Сенім: бақылау", "login": "Логин", "password": "Құпиясөз", "signin": "Кіру",
		"note":          "Оператор тіркелгісі senim operator add командасымен жасалады. Нотариустың логині бұл бетті ашпайды.",
		CodeOpsBadLogin: "Логин немесе құпиясөз қате.", CodeOpsLoginLimited: "Бұл мекенжайдан сәтсіз кіру әрекеттері тым көп; бір минут күтіңіз.",
		"bad_request": "Кіру формасын оқу мүмкін болмады."},
}

// opsLang is the sign-in page's language: ?lang=, else the first of ru, kk
// and en that Accept-Language names, else Russian.
func opsLang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); opsLoginText[l] != nil {
		return l
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		l, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if l, _, _ = strings.Cut(strings.ToLower(l), "-"); opsLoginText[l] != nil {
			return l
		}
	}
	return "ru"
}

type opsLoginData struct {
	Code, Login, Lang string
	T                 map[string]string
}

// opsRoutes serves the dashboard: the sign-in, the page and its files, the
// latest snapshot and the live stream.
func (s *Server) opsRoutes(mux *http.ServeMux) {
	files := opsweb.Files()
	mux.HandleFunc("GET /ops/login", func(w http.ResponseWriter, r *http.Request) {
		s.opsLoginForm(w, r, http.StatusOK, opsLoginData{})
	})
	mux.HandleFunc("GET /ops/login.css", func(w http.ResponseWriter, r *http.Request) {
		serveOpsFile(w, files, "ops.css", "text/css; charset=utf-8")
	})
	mux.HandleFunc("POST /ops/login", s.opsLogin)
	mux.HandleFunc("POST /ops/logout", func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			writeJSON(w, http.StatusForbidden, map[string]string{"code": CodeOpsBadOrigin, "message": "posted from another site"})
			return
		}
		if c, err := r.Cookie(opsCookie); err == nil {
			s.opsSessions.close(c.Value)
		}
		http.SetCookie(w, s.opsCookie(r, "", -1))
		http.Redirect(w, r, "/ops/login", http.StatusSeeOther)
	})
	mux.Handle("GET /ops", s.opsAuth(func(w http.ResponseWriter, r *http.Request, _ opsSession) {
		serveOpsFile(w, files, "index.html", "text/html; charset=utf-8")
	}))
	mux.Handle("GET /ops/{file}", s.opsAuth(func(w http.ResponseWriter, r *http.Request, _ opsSession) {
		switch f := r.PathValue("file"); f {
		case "ops.js":
			serveOpsFile(w, files, f, "text/javascript; charset=utf-8")
		case "ops.css":
			serveOpsFile(w, files, f, "text/css; charset=utf-8")
		case "snapshot":
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, http.StatusOK, s.opsSampler.latest())
		case "events":
			s.opsEvents(w, r)
		default:
			writeJSON(w, http.StatusNotFound, map[string]string{"code": "not_found", "message": "no such dashboard path"})
		}
	}))
	// Anything else under /ops, of any method, still needs a session first:
	// no path there tells an outsider what exists.
	// (Per method: a method-less "/ops/" would conflict with "GET /".)
	notFound := s.opsAuth(func(w http.ResponseWriter, r *http.Request, _ opsSession) {
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "not_found", "message": "no such dashboard path"})
	})
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		mux.Handle(m+" /ops/", notFound)
	}
}

func serveOpsFile(w http.ResponseWriter, files fs.FS, name, contentType string) {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// sameOrigin reports whether a POST came from this server's own pages.
// Browsers say so in Sec-Fetch-Site; one that does not send it is judged
// by Origin, which must name r's Host (our Referrer-Policy makes browsers
// send "null" there, so Sec-Fetch-Site is what modern ones are judged by).
// A request with neither (curl) is let through: no page of another site
// can leave both out.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// opsCookie is the session cookie: HttpOnly (no script reads it),
// SameSite=Strict (no other site's page sends it), Secure under TLS,
// scoped to /ops. maxAge < 0 deletes it.
func (s *Server) opsCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: opsCookie, Value: value, Path: "/ops", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
}

// opsAuth runs h for a request with a valid dashboard session of an
// operator still in operators.json. Otherwise a page (GET asking for HTML)
// is sent to the sign-in, and anything else gets 401 ops_unauthorized.
func (s *Server) opsAuth(h func(http.ResponseWriter, *http.Request, opsSession)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.opsSession(r)
		if !ok {
			if r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html") {
				http.Redirect(w, r, "/ops/login", http.StatusSeeOther)
				return
			}
			writeJSON(w, http.StatusUnauthorized, map[string]string{"code": CodeOpsUnauthorized,
				"message": "sign in to the operators' dashboard at /ops/login first"})
			return
		}
		h(w, r, sess)
	})
}

// opsSession is r's dashboard session, if its cookie names a live one of
// an operator who still has an account.
func (s *Server) opsSession(r *http.Request) (opsSession, bool) {
	c, err := r.Cookie(opsCookie)
	if err != nil {
		return opsSession{}, false
	}
	sess, ok := s.opsSessions.get(c.Value, s.now())
	if !ok {
		return opsSession{}, false
	}
	if _, still := s.Operators.Get(sess.login); !still {
		s.opsSessions.close(c.Value)
		return opsSession{}, false
	}
	return sess, true
}

func (s *Server) opsLoginForm(w http.ResponseWriter, r *http.Request, status int, d opsLoginData) {
	d.Lang = opsLang(r)
	d.T = opsLoginText[d.Lang]
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = opsLoginPage.Execute(w, d)
}

// opsLogin checks an operator's password (argon2id), after the per-IP
// failure limit, and opens a session.
func (s *Server) opsLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		// Another site's form would sign this browser in as the attacker's
		// operator (login CSRF); SameSite does not stop a cookie being set.
		writeJSON(w, http.StatusForbidden, map[string]string{"code": CodeOpsBadOrigin, "message": "posted from another site"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		s.opsLoginForm(w, r, http.StatusBadRequest, opsLoginData{Code: "bad_request"})
		return
	}
	login, password := r.PostForm.Get("login"), r.PostForm.Get("password")
	if len(login) > 32 || len(password) > 256 {
		login, password = "", "" // refused below without hashing a huge input
	}
	ip, now := clientIP(r), s.now()
	if s.opsFailures.blocked(ip, now) {
		opsLogins.WithLabelValues("limited").Inc()
		s.log.Warn().Str("ip", ip).Msg("ops: sign-in refused, too many failures")
		s.opsLoginForm(w, r, http.StatusTooManyRequests, opsLoginData{Code: CodeOpsLoginLimited, Login: login})
		return
	}
	o, err := s.Operators.Authenticate(login, password)
	if err != nil {
		if !errors.Is(err, accounts.ErrBadLogin) {
			s.log.Error().Err(err).Msg("ops: operators' accounts unreadable")
		}
		s.opsFailures.fail(ip, now)
		opsLogins.WithLabelValues("bad_login").Inc()
		s.log.Info().Str("ip", ip).Msg("ops: sign-in refused")
		s.opsLoginForm(w, r, http.StatusUnauthorized, opsLoginData{Code: CodeOpsBadLogin, Login: login})
		return
	}
	opsLogins.WithLabelValues("ok").Inc()
	s.log.Info().Str("operator", o.Login).Str("ip", ip).Msg("ops: signed in")
	http.SetCookie(w, s.opsCookie(r, s.opsSessions.open(o, now), int(s.cfg.Ops.SessionTTL.Std()/time.Second)))
	http.Redirect(w, r, "/ops", http.StatusSeeOther)
}
