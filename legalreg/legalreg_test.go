package legalreg

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/senim-kz/senim/ca"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/outside"
	"github.com/senim-kz/senim/internal/outside/outsidetest"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

const (
	senimBIN      = "940140000385"
	senimHead     = "760212350620"
	romashkaBIN   = "070540001236"
	suspendedBIN  = "121040004564"
	liquidatedBIN = "980340007892"
	unknownBIN    = "150540003218" // valid, in no built-in seed
)

func newDev(t *testing.T) *Dev {
	t.Helper()
	d, err := NewDev(DevSeed().Entities)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Both adapters answer the same way: the stand-in itself, and the HTTP
// adapter talking to the stand-in's handler.
func adapters(t *testing.T) map[string]outsidetest.Adapter[Register, *Dev] {
	return outsidetest.Both(t, newDev(t), newDev(t), func(c outside.Client) Register { return &HTTP{Client: c} })
}

func TestLookup(t *testing.T) {
	ctx := context.Background()
	want := Entity{BIN: senimBIN, NameRu: "ТОО «Сенім»", NameKk: "«Сенім» ЖШС", LegalForm: "ТОО", Status: StatusActive,
		Registered: "1994-01-14", Head: Head{IIN: senimHead, Name: "ОМАРОВ ЕРЛАН"}}
	for name, a := range adapters(t) {
		t.Run(name, func(t *testing.T) {
			e, err := a.Port.Lookup(ctx, senimBIN)
			if err != nil || e != want {
				t.Fatalf("lookup: %+v %v", e, err)
			}
			if !e.Active() || !e.IsFirstHead(senimHead) || e.IsFirstHead("850315401231") || e.IsFirstHead("") ||
				e.Organization() != "ТОО «Сенім»" || !e.RegisteredAt().Equal(time.Date(1994, 1, 14, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("accessors of %+v", e)
			}
			for bin, st := range map[string]Status{suspendedBIN: StatusSuspended, liquidatedBIN: StatusLiquidated} {
				if e, err := a.Port.Lookup(ctx, bin); err != nil || e.Status != st || e.Active() {
					t.Fatalf("%s: %+v %v (a non-active entity is answered, and not Active)", bin, e, err)
				}
			}
			if _, err := a.Port.Lookup(ctx, unknownBIN); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown: %v", err)
			}
			for _, bad := range []string{"", "940140000381", "94014000038", "9401400003850", " 940140000385",
				"941340000385", "940170000385", "../../admin", "940140000385?x=1", "９４０１４０００００３８５"} {
				if _, err := a.Port.Lookup(ctx, bad); !errors.Is(err, ErrBadBIN) {
					t.Fatalf("bad BIN %q: %v", bad, err)
				}
			}

			// The register changes: the stand-in answers the new entry.
			liquidated := want
			liquidated.Status = StatusLiquidated
			if err := a.Dev.Put(liquidated); err != nil {
				t.Fatal(err)
			}
			if e, err := a.Port.Lookup(ctx, senimBIN); err != nil || e.Active() {
				t.Fatalf("after liquidation: %+v %v", e, err)
			}

			a.Dev.SetDown(true)
			if _, err := a.Port.Lookup(ctx, senimBIN); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("down: %v", err)
			}
			// A bad BIN is refused as such even during an outage: it never
			// reaches the service.
			if _, err := a.Port.Lookup(ctx, "940140000381"); !errors.Is(err, ErrBadBIN) {
				t.Fatalf("bad BIN while down: %v", err)
			}
			a.Dev.SetDown(false)
			a.Dev.SetFailEvery(2)
			_, err1 := a.Port.Lookup(ctx, romashkaBIN)
			_, err2 := a.Port.Lookup(ctx, romashkaBIN)
			_, err3 := a.Port.Lookup(ctx, romashkaBIN)
			if err1 != nil || !errors.Is(err2, ErrUnavailable) || err3 != nil {
				t.Fatalf("flaky: %v %v %v", err1, err2, err3)
			}
		})
	}
}

// With repeats on, the served API answers each request with the answer
// meant for the one before: the adapter must not pass another BIN's entry
// on (it would name the wrong first head).
func TestRepeatedAnswers(t *testing.T) {
	ctx := context.Background()
	for name, a := range adapters(t) {
		t.Run(name, func(t *testing.T) {
			a.Dev.SetRepeat(true)
			if e, err := a.Port.Lookup(ctx, senimBIN); err != nil || e.BIN != senimBIN {
				t.Fatalf("first: %+v %v", e, err)
			}
			e, err := a.Port.Lookup(ctx, romashkaBIN)
			switch name {
			case "dev": // a lookup through Dev itself is idempotent
				if err != nil || e.BIN != romashkaBIN {
					t.Fatalf("dev: %+v %v", e, err)
				}
			case "http": // the answer was Сенім's
				if !errors.Is(err, ErrUnavailable) || e != (Entity{}) {
					t.Fatalf("http, another BIN's answer: %+v %v", e, err)
				}
			}
			// The same request again gets its own answer, repeated.
			if e, err := a.Port.Lookup(ctx, romashkaBIN); err != nil || e.BIN != romashkaBIN {
				t.Fatalf("again: %+v %v", e, err)
			}
		})
	}
}

func TestLookupActive(t *testing.T) {
	ctx := context.Background()
	for name, a := range adapters(t) {
		t.Run(name, func(t *testing.T) {
			if e, err := LookupActive(ctx, a.Port, romashkaBIN); err != nil || e.BIN != romashkaBIN || e.Organization() != "ТОО «Ромашка»" {
				t.Fatalf("active: %+v %v", e, err)
			}
			for bin, st := range map[string]Status{suspendedBIN: StatusSuspended, liquidatedBIN: StatusLiquidated} {
				e, err := LookupActive(ctx, a.Port, bin)
				if !errors.Is(err, ErrNotActive) || !strings.Contains(err.Error(), string(st)) || e != (Entity{}) {
					t.Fatalf("%s: %+v %v", st, e, err)
				}
			}
			if _, err := LookupActive(ctx, a.Port, unknownBIN); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown: %v", err)
			}
			if _, err := LookupActive(ctx, a.Port, "940140000381"); !errors.Is(err, ErrBadBIN) {
				t.Fatalf("bad BIN: %v", err)
			}
			a.Dev.SetDown(true)
			if _, err := LookupActive(ctx, a.Port, senimBIN); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("down: %v", err)
			}
		})
	}
}

func TestHeads(t *testing.T) {
	ctx := context.Background()
	for name, a := range adapters(t) {
		t.Run(name, func(t *testing.T) {
			h := Heads{Register: a.Port}
			if id, err := h.FirstHead(ctx, senimBIN); err != nil || id != senimHead {
				t.Fatalf("head of %s: %q %v", senimBIN, id, err)
			}
			if id, err := h.FirstHead(ctx, liquidatedBIN); !errors.Is(err, ErrNotActive) || id != "" {
				t.Fatalf("head of a liquidated entity: %q %v", id, err)
			}
			if id, err := h.FirstHead(ctx, unknownBIN); !errors.Is(err, ErrNotFound) || id != "" {
				t.Fatalf("head of an unknown BIN: %q %v", id, err)
			}
			a.Dev.SetFailEvery(1)
			if id, err := h.FirstHead(ctx, senimBIN); !errors.Is(err, ErrUnavailable) || id != "" {
				t.Fatalf("head while down: %q %v", id, err)
			}
		})
	}
}

func TestOpenDev(t *testing.T) {
	d, err := OpenDev("")
	if err != nil || len(d.Entities()) != len(DevSeed().Entities) {
		t.Fatalf("built-in seed: %v", err)
	}
	p := filepath.Join(t.TempDir(), "seed.json")
	body := `{"entities":[{"bin":"150540003218","name_kk":"«Жаңа» ЖШС","legal_form":"ТОО","status":"active","registered":"2015-05-04","head":{"iin":"850315401231","name":"ЖҰМАБАЕВА ГҮЛНАР"}}]}`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err = OpenDev(p)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := d.Lookup(context.Background(), unknownBIN); err != nil || e.Organization() != "«Жаңа» ЖШС" {
		t.Fatalf("seeded from the file: %+v %v", e, err)
	}
	if _, err := d.Lookup(context.Background(), senimBIN); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the file replaces the built-in seed: %v", err)
	}
	if _, err := OpenDev(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLatencyPastTheDeadline(t *testing.T) {
	d := newDev(t)
	d.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Lookup(ctx, senimBIN); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("slow register: %v", err)
	}
}

func TestHTTPNeedsTheToken(t *testing.T) {
	srv := httptest.NewServer(newDev(t).Handler("tok"))
	defer srv.Close()
	h := &HTTP{Client: outside.Client{BaseURL: srv.URL, Token: "nope"}}
	if _, err := h.Lookup(context.Background(), senimBIN); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("wrong token: %v", err)
	}
}

// The adapter checks the service's answer like a request: what is not a
// valid entry for the BIN asked is ErrUnavailable, and nothing of it is
// passed on.
func TestHTTPRefusesBadAnswers(t *testing.T) {
	good := `{"bin":"940140000385","name_ru":"ТОО «Сенім»","legal_form":"ТОО","status":"active","registered":"1994-01-14","head":{"iin":"760212350620","name":"ОМАРОВ ЕРЛАН"}}`
	cases := map[string]struct {
		status int
		body   string
		want   error
	}{
		"good":                 {200, good, nil},
		"extra fields ignored": {200, strings.Replace(good, `"status"`, `"okpo":"123","status"`, 1), nil},
		"not found":            {404, `{"code":"not_found"}`, ErrNotFound},
		"bad BIN":              {400, `{"code":"bad_bin"}`, ErrBadBIN},
		"unknown code":         {400, `{"code":"teapot"}`, ErrUnavailable},
		"server error":         {500, `oops`, ErrUnavailable},
		"not JSON":             {200, `<html>`, ErrUnavailable},
		"empty":                {200, `{}`, ErrUnavailable},
		"another BIN":          {200, strings.Replace(good, senimBIN, romashkaBIN, 1), ErrUnavailable},
		"unknown status":       {200, strings.Replace(good, `"active"`, `"reorganised"`, 1), ErrUnavailable},
		"no status":            {200, strings.Replace(good, `"status":"active",`, ``, 1), ErrUnavailable},
		"bad head IIN":         {200, strings.Replace(good, senimHead, "760212350621", 1), ErrUnavailable},
		"no head":              {200, strings.Replace(good, `"head":{"iin":"760212350620","name":"ОМАРОВ ЕРЛАН"}`, `"head":{}`, 1), ErrUnavailable},
		"no name":              {200, strings.Replace(good, `"name_ru":"ТОО «Сенім»",`, ``, 1), ErrUnavailable},
		"control in the name":  {200, strings.Replace(good, `ТОО «Сенім»`, `ТОО\u0000«Сенім»`, 1), ErrUnavailable},
		"padded name":          {200, strings.Replace(good, `ТОО «Сенім»`, ` ТОО «Сенім»`, 1), ErrUnavailable},
		"long name":            {200, strings.Replace(good, `ТОО «Сенім»`, strings.Repeat("Я", MaxName), 1), ErrUnavailable},
		"bad date":             {200, strings.Replace(good, `1994-01-14`, `14.01.1994`, 1), ErrUnavailable},
		"no legal form":        {200, strings.Replace(good, `"legal_form":"ТОО",`, ``, 1), ErrUnavailable},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/entities/"+senimBIN || r.Method != http.MethodGet {
					t.Errorf("request %s %s", r.Method, r.URL.Path)
				}
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			h := &HTTP{Client: outside.Client{BaseURL: srv.URL}}
			e, err := h.Lookup(context.Background(), senimBIN)
			if c.want == nil {
				if err != nil || e.BIN != senimBIN || e.Head.IIN != senimHead {
					t.Fatalf("%+v %v", e, err)
				}
				return
			}
			if !errors.Is(err, c.want) || e != (Entity{}) {
				t.Fatalf("want %v, got %+v %v", c.want, e, err)
			}
		})
	}
}

// A bad BIN never reaches the service: it is refused before the request,
// and nothing from it goes into a URL.
func TestHTTPChecksTheBINFirst(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	h := &HTTP{Client: outside.Client{BaseURL: srv.URL}}
	for _, bad := range []string{"../entities/940140000385", "940140000385/../x", "940140000381", "%2e%2e"} {
		if _, err := h.Lookup(context.Background(), bad); !errors.Is(err, ErrBadBIN) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d requests reached the service", n)
	}
}

func TestEntityValidate(t *testing.T) {
	base := DevSeed().Entities[0]
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Entity)) Entity { e := base; f(&e); return e }
	bad := map[string]Entity{
		"bad BIN":             with(func(e *Entity) { e.BIN = "940140000381" }),
		"no names":            with(func(e *Entity) { e.NameRu, e.NameKk = "", "" }),
		"bad Kazakh name":     with(func(e *Entity) { e.NameKk = "a\tb" }),
		"invalid UTF-8":       with(func(e *Entity) { e.NameRu = "\xff" }),
		"long legal form":     with(func(e *Entity) { e.LegalForm = strings.Repeat("x", MaxLegalForm+1) }),
		"no legal form":       with(func(e *Entity) { e.LegalForm = "" }),
		"unknown status":      with(func(e *Entity) { e.Status = "Active" }),
		"bad date":            with(func(e *Entity) { e.Registered = "1994-13-01" }),
		"head IIN of a BIN":   with(func(e *Entity) { e.Head.IIN = senimBIN }),
		"no head name":        with(func(e *Entity) { e.Head.Name = "" }),
		"trailing newline":    with(func(e *Entity) { e.Head.Name = "ОМАРОВ ЕРЛАН\n" }),
		"name over the bound": with(func(e *Entity) { e.NameRu = strings.Repeat("ж", MaxName/2+1) }),
	}
	for name, e := range bad {
		if err := e.Validate(); !errors.Is(err, ErrBadEntity) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Only a Kazakh name: it is the organisation's name for the certificate.
	kk := with(func(e *Entity) { e.NameRu = "" })
	if err := kk.Validate(); err != nil || kk.Organization() != "«Сенім» ЖШС" {
		t.Fatalf("Kazakh name only: %q %v", kk.Organization(), err)
	}
	// Any valid name fits the CA's bound on the organisation.
	if MaxName > ca.MaxOrganization {
		t.Fatalf("MaxName %d > ca.MaxOrganization %d", MaxName, ca.MaxOrganization)
	}
}

// The development world: for each active entity, its first head and an
// HR employee of the same BIN exist, so that an employee's application can
// be approved in order; the first head is the one the register names.
func TestDevSeed(t *testing.T) {
	s := DevSeed()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	byBIN := map[string]Entity{}
	for _, e := range s.Entities {
		byBIN[e.BIN] = e
	}
	for _, st := range []Status{StatusActive, StatusSuspended, StatusLiquidated} {
		found := false
		for _, e := range s.Entities {
			found = found || e.Status == st
		}
		if !found {
			t.Errorf("no %s entity", st)
		}
	}
	roles := map[string]map[issuance.Template]bool{}
	for _, p := range s.Employees {
		if roles[p.BIN] == nil {
			roles[p.BIN] = map[issuance.Template]bool{}
		}
		roles[p.BIN][p.Template] = true
		if p.Template == issuance.TemplateFirstHead && !byBIN[p.BIN].IsFirstHead(p.IIN) {
			t.Errorf("%s is not the first head of %s", p.IIN, p.BIN)
		}
	}
	for _, bin := range []string{senimBIN, romashkaBIN} {
		if !byBIN[bin].Active() || !roles[bin][issuance.TemplateFirstHead] || !roles[bin][issuance.TemplateHR] {
			t.Errorf("%s: active %v, employees %v", bin, byBIN[bin].Active(), roles[bin])
		}
	}
	// The README's first head of ТОО «Сенім».
	if byBIN[senimBIN].Head.IIN != senimHead {
		t.Errorf("head of %s: %s", senimBIN, byBIN[senimBIN].Head.IIN)
	}
}

func TestSeedValidate(t *testing.T) {
	good := DevSeed()
	with := func(f func(*Seed)) Seed {
		s := Seed{Entities: append([]Entity(nil), good.Entities...), Employees: append([]Employee(nil), good.Employees...)}
		f(&s)
		return s
	}
	bad := map[string]Seed{
		"twice the same BIN":    with(func(s *Seed) { s.Entities = append(s.Entities, s.Entities[0]) }),
		"a bad entity":          with(func(s *Seed) { s.Entities[1].Status = "" }),
		"employee of no entity": with(func(s *Seed) { s.Employees[1].BIN = unknownBIN }),
		"employee's bad IIN":    with(func(s *Seed) { s.Employees[1].IIN = "850315401232" }),
		"employee without name": with(func(s *Seed) { s.Employees[1].Name = "" }),
		"unknown template":      with(func(s *Seed) { s.Employees[1].Template = "boss" }),
		"not the head":          with(func(s *Seed) { s.Employees[1].Template = issuance.TemplateFirstHead }),
		"head's other name":     with(func(s *Seed) { s.Employees[0].Name = "Марат" }),
	}
	for name, s := range bad {
		if err := s.Validate(); !errors.Is(err, ErrBadEntity) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The stand-in refuses bad entries too.
	for name, s := range map[string]Seed{"twice": bad["twice the same BIN"], "bad entity": bad["a bad entity"]} {
		if _, err := NewDev(s.Entities); !errors.Is(err, ErrBadEntity) {
			t.Errorf("NewDev, %s: %v", name, err)
		}
	}
}

func TestReadSeed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s, err := ReadSeed(write("dev.json", string(devJSON)))
	if err != nil || len(s.Entities) != len(DevSeed().Entities) || len(s.Employees) != len(DevSeed().Employees) {
		t.Fatalf("the dev seed as a file: %d %d %v", len(s.Entities), len(s.Employees), err)
	}
	entity := `{"bin":"940140000385","name_ru":"X","legal_form":"ТОО","status":"active","registered":"1994-01-14","head":{"iin":"760212350620","name":"Y"}}`
	for name, body := range map[string]string{
		"unknown field": `{"entities":[],"people":[]}`,
		"not JSON":      `entities`,
		"bad entity":    `{"entities":[` + strings.Replace(entity, "active", "closed", 1) + `]}`,
		"too large":     `{"entities":[` + entity + `]}` + strings.Repeat(" ", MaxSeedFile),
	} {
		if _, err := ReadSeed(write(name, body)); !errors.Is(err, ErrBadEntity) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ReadSeed(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// Every development employee can be given keys by the development CA, as
// `senim dev issue` (and a later `senim setup`) would: the organisation's
// name from the register, the template's role, and the BIN.
func TestDevEmployeesCanBeGivenKeys(t *testing.T) {
	now := time.Now()
	authority, err := devca.Open(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	s := DevSeed()
	reg, err := NewDev(s.Entities)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Employees {
		e, err := LookupActive(context.Background(), reg, p.BIN)
		if err != nil {
			t.Fatalf("%s works for %s: %v", p.IIN, p.BIN, err)
		}
		role, ok := devca.TemplateRole(p.Template)
		if !ok {
			t.Fatalf("%s: template %q", p.IIN, p.Template)
		}
		k, err := authority.Issue(devca.Request{IIN: iin.IIN(p.IIN), Surname: p.Surname, Name: p.Name, Patronymic: p.Patronymic,
			BIN: iin.BIN(p.BIN), Organization: e.Organization(), Role: role}, devca.UsageSign, now)
		if err != nil {
			t.Fatalf("%s: %v", p.IIN, err)
		}
		sub, err := pki.SubjectOf(k.Certificate)
		if err != nil || sub.IIN.String() != p.IIN || sub.BIN.String() != p.BIN || k.Certificate.Subject.Organization[0] != e.Organization() {
			t.Fatalf("%s: subject %+v %v", p.IIN, sub, err)
		}
		if roles := pki.RolesOf(k.Certificate); !slices.Contains(roles, role) {
			t.Fatalf("%s: roles %v, want %s", p.IIN, roles, role)
		}
	}
}

// The stand-in's API gives every bad request a clear JSON error with a
// stable code.
func TestHandlerErrors(t *testing.T) {
	d := newDev(t)
	srv := httptest.NewServer(d.Handler("tok"))
	defer srv.Close()
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != http.StatusOK && body.Message == "" {
			t.Errorf("%s: status %d without a message", path, resp.StatusCode)
		}
		return resp.StatusCode, body.Code
	}
	for _, c := range []struct {
		path, token string
		status      int
		code        string
	}{
		{"/entities/" + senimBIN, "tok", 200, ""},
		{"/entities/" + senimBIN, "", 401, "unauthorized"},
		{"/entities/" + senimBIN, "nope", 401, "unauthorized"},
		{"/entities/940140000381", "tok", 400, "bad_bin"},
		{"/entities/abc", "tok", 400, "bad_bin"},
		{"/entities/" + unknownBIN, "tok", 404, "not_found"},
	} {
		if st, code := get(c.path, c.token); st != c.status || code != c.code {
			t.Errorf("%s (token %q): %d %q, want %d %q", c.path, c.token, st, code, c.status, c.code)
		}
	}
	d.SetDown(true)
	if st, code := get("/entities/"+senimBIN, "tok"); st != 503 || code != "unavailable" {
		t.Errorf("down: %d %q", st, code)
	}
}
