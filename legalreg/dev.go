package legalreg

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/outside"
)

// Employee is a person of the development world who works for one of its
// entities, with the template their keys are for. The register keeps only
// the first head; the other employees are listed so that development keys
// can be made for a whole organisation (an HR employee and the first head of
// the same BIN approve an employee's application), and people put in the
// registry stand-in, consistently with the register.
type Employee struct {
	BIN        string            `json:"bin"`
	IIN        string            `json:"iin"`
	Surname    string            `json:"surname"`
	Name       string            `json:"name"`
	Patronymic string            `json:"patronymic,omitempty"`
	Template   issuance.Template `json:"template"`
}

// FullName is "SURNAME NAME PATRONYMIC" in capitals, as the register (and
// registry.Person.FullName) writes it.
func (p Employee) FullName() string {
	return strings.ToUpper(strings.TrimSpace(strings.Join([]string{p.Surname, p.Name, p.Patronymic}, " ")))
}

// Seed is what a stand-in starts with: the register's entries, and the
// development employees of those entities.
type Seed struct {
	Entities  []Entity   `json:"entities"`
	Employees []Employee `json:"employees,omitempty"`
}

//go:embed dev.json
var devJSON []byte

// DevSeed is the development world's register: ТОО «Сенім» (BIN
// 940140000385, first head 760212350620 ОМАРОВ ЕРЛАН, the README's first
// head; HR 850315401231; an employee with signing rights 930918405676) and
// ТОО «Ромашка» (BIN 070540001236, first head 781122307897, HR
// 900712304567), both active; АО «Дала Энерго» (121040004564), suspended;
// ТОО «Ескі базар» (980340007892), liquidated. It is the file dev.json.
func DevSeed() Seed {
	s, err := decodeSeed(bytes.NewReader(devJSON))
	if err != nil {
		panic("legalreg: the built-in dev.json: " + err.Error()) // a programmer's error, caught by the tests
	}
	return s
}

// MaxSeedFile bounds a seed file.
const MaxSeedFile = 1 << 20

// ReadSeed reads a seed file with the shape of dev.json (at most
// MaxSeedFile bytes, no unknown fields), and validates it.
func ReadSeed(path string) (Seed, error) {
	f, err := os.Open(path)
	if err != nil {
		return Seed{}, fmt.Errorf("legalreg: %w", err)
	}
	defer f.Close()
	s, err := decodeSeed(io.LimitReader(f, MaxSeedFile+1))
	if err != nil {
		return Seed{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func decodeSeed(r io.Reader) (Seed, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Seed{}, fmt.Errorf("legalreg: %w", err)
	}
	if len(data) > MaxSeedFile {
		return Seed{}, fmt.Errorf("%w: the seed is larger than %d bytes", ErrBadEntity, MaxSeedFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Seed
	if err := dec.Decode(&s); err != nil {
		return Seed{}, fmt.Errorf("%w: %v", ErrBadEntity, err)
	}
	if err := s.Validate(); err != nil {
		return Seed{}, err
	}
	return s, nil
}

// Validate checks every entity (Entity.Validate, one per BIN) and every
// employee: a valid IIN and name, the BIN of an entity of the seed, a
// known template, and a first head who is the one the entity names.
func (s Seed) Validate() error {
	byBIN := map[string]Entity{}
	for _, e := range s.Entities {
		if err := e.Validate(); err != nil {
			return err
		}
		if _, dup := byBIN[e.BIN]; dup {
			return fmt.Errorf("%w: %s is listed twice", ErrBadEntity, e.BIN)
		}
		byBIN[e.BIN] = e
	}
	for _, p := range s.Employees {
		e, ok := byBIN[p.BIN]
		if !ok {
			return fmt.Errorf("%w: employee %s works for %q, which is not in the seed", ErrBadEntity, p.IIN, p.BIN)
		}
		if _, err := iin.ParseIIN(p.IIN); err != nil {
			return fmt.Errorf("%w: employee of %s: %v", ErrBadEntity, p.BIN, err)
		}
		if p.Surname == "" || p.Name == "" || !cleanText(p.FullName(), MaxName) {
			return fmt.Errorf("%w: employee %s needs a printable surname and name", ErrBadEntity, p.IIN)
		}
		if !validTemplate(p.Template) {
			return fmt.Errorf("%w: employee %s has the unknown template %q", ErrBadEntity, p.IIN, p.Template)
		}
		if p.Template == issuance.TemplateFirstHead && (!e.IsFirstHead(p.IIN) || p.FullName() != e.Head.Name) {
			return fmt.Errorf("%w: employee %s is not the first head %s names", ErrBadEntity, p.IIN, p.BIN)
		}
	}
	return nil
}

func validTemplate(t issuance.Template) bool {
	switch t {
	case issuance.TemplateFirstHead, issuance.TemplateSigningRights, issuance.TemplateFinancial,
		issuance.TemplateHR, issuance.TemplateEmployee, issuance.TemplateTreasuryClient:
		return true
	}
	return false
}

// Dev is the development stand-in: an in-memory register. Set its Faults
// to make it fail; Put changes an entry (to liquidate one, say). Repeats
// (SetRepeat) show on the served API only: each answer there is the one
// meant for the request before it, as a gateway that mixes up answers
// would give, which the HTTP adapter must catch. A lookup through Dev
// itself is idempotent, so a repeated delivery changes nothing.
type Dev struct {
	outside.Faults
	mu       sync.Mutex
	entities map[string]Entity
	served   *Entity // the last answer the handler computed, for repeats
}

// NewDev makes a stand-in holding entities (each must pass Validate, one
// per BIN).
func NewDev(entities []Entity) (*Dev, error) {
	if err := (Seed{Entities: entities}).Validate(); err != nil {
		return nil, err
	}
	d := &Dev{entities: make(map[string]Entity, len(entities))}
	for _, e := range entities {
		d.entities[e.BIN] = e
	}
	return d, nil
}

// OpenDev makes the stand-in from the seed file at path (ReadSeed), or
// from DevSeed if path is empty: what a development server starts.
func OpenDev(path string) (*Dev, error) {
	s := DevSeed()
	if path != "" {
		var err error
		if s, err = ReadSeed(path); err != nil {
			return nil, err
		}
	}
	return NewDev(s.Entities)
}

// Put adds e, or replaces the entry with its BIN.
func (d *Dev) Put(e Entity) error {
	if err := e.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	d.entities[e.BIN] = e
	d.mu.Unlock()
	return nil
}

// Entities lists the entries, by BIN.
func (d *Dev) Entities() []Entity {
	d.mu.Lock()
	out := make([]Entity, 0, len(d.entities))
	for _, e := range d.entities {
		out = append(out, e)
	}
	d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].BIN < out[j].BIN })
	return out
}

// Lookup implements Register.
func (d *Dev) Lookup(ctx context.Context, bin string) (Entity, error) {
	if err := checkBIN(bin); err != nil {
		return Entity{}, err
	}
	if err := d.Before(ctx); err != nil {
		return Entity{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.entities[bin]
	if !ok {
		return Entity{}, ErrNotFound
	}
	return e, nil
}

// Handler serves the stand-in over HTTP with the API the HTTP adapter
// speaks: GET /entities/{bin} answers the Entity, or an error {code,
// message}: 400 bad_bin, 404 not_found, 401 unauthorized, 503
// unavailable. token, if set, is required as a bearer token.
func (d *Dev) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /entities/{bin}", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		e, err := d.Lookup(r.Context(), r.PathValue("bin"))
		if err != nil {
			codes.Write(w, err)
			return
		}
		outside.WriteJSON(w, http.StatusOK, d.answer(e))
	}))
	return mux
}

// answer is e, or with repeats on the answer computed for the request
// before.
func (d *Dev) answer(e Entity) Entity {
	d.mu.Lock()
	defer d.mu.Unlock()
	prev := d.served
	d.served = &e
	if d.Repeat() && prev != nil {
		return *prev
	}
	return e
}
