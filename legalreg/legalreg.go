// Package legalreg is the port to the state register of legal entities
// (ГБД ЮЛ, государственная база данных «Юридические лица»): a BIN's
// organisation, its names in Russian and Kazakh, its legal form, its status
// and its first head.
//
// Remote EDS issuance needs it twice. A first-head application is accepted
// only for the IIN the register names as the BIN's first head (the shell
// fills the core's start.head_iin from Lookup, never from the applicant),
// and the certificate's O= is the organisation's name as the register
// keeps it (Entity.Organization). An entity that is not active (liquidated
// or suspended) gets no keys: the caller refuses it (Entity.Active).
//
// Register has two adapters: HTTP, for a JSON facade of the service, and
// Dev, the development stand-in, an in-memory table seeded with the
// development world's organisations (DevEntities) or a JSON file, that
// shows the failures of the real service on demand (outside.Faults).
package legalreg

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/internal/outside"
)

// Errors of Lookup.
var (
	// ErrBadBIN: the BIN fails its format, entity type or check digit
	// (iin.ParseBIN). It never reaches the service.
	ErrBadBIN = errors.New("legalreg: bad BIN")
	// ErrNotFound: the register has no entity with that BIN.
	ErrNotFound = errors.New("legalreg: no legal entity with that BIN")
	// ErrUnavailable: the register did not answer, or answered something
	// that is not a valid entry for the BIN asked; try again later.
	ErrUnavailable = errors.New("legalreg: unavailable")
)

// ErrNotActive is LookupActive's refusal of an entity that is suspended or
// liquidated: it gets no keys.
var ErrNotActive = errors.New("legalreg: the legal entity is not active")

// ErrBadEntity is an entry that breaks Entity.Validate: a stand-in refuses
// it as a seed, and the HTTP adapter refuses it as an answer (then as
// ErrUnavailable).
var ErrBadEntity = errors.New("legalreg: bad entity")

// codes are the errors' codes in the HTTP API.
var codes = outside.ErrorCodes{
	{Err: ErrBadBIN, Status: http.StatusBadRequest, Code: "bad_bin"},
	{Err: ErrNotFound, Status: http.StatusNotFound, Code: "not_found"},
}

// Status is an entity's state in the register.
type Status string

// The statuses. Only an active entity gets keys.
const (
	StatusActive     Status = "active"
	StatusSuspended  Status = "suspended"  // activity suspended (приостановлена)
	StatusLiquidated Status = "liquidated" // struck off the register (ликвидирована)
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusActive, StatusSuspended, StatusLiquidated:
		return true
	}
	return false
}

// Bounds of an entry's text fields, in bytes. MaxName is the CA's bound on
// an organisation's name (ca.MaxOrganization), so that any valid name can
// go into a certificate.
const (
	MaxName      = 256
	MaxLegalForm = 64
)

// Head is the entity's first head (первый руководитель) as the register
// names them.
type Head struct {
	IIN  string `json:"iin"`
	Name string `json:"name"` // "SURNAME NAME PATRONYMIC", as the register writes it
}

// Entity is one entry of the register.
type Entity struct {
	BIN string `json:"bin"`
	// NameRu and NameKk are the names in Russian and Kazakh, each as the
	// register keeps it, the legal form included ("ТОО «Сенім»",
	// "«Сенім» ЖШС"). At least one is set.
	NameRu string `json:"name_ru,omitempty"`
	NameKk string `json:"name_kk,omitempty"`
	// LegalForm is the register's short organisational-legal form: "ТОО",
	// "АО", "ГУ", "ПК", "ОЮЛ"...
	LegalForm string `json:"legal_form"`
	Status    Status `json:"status"`
	// Registered is the date of state registration, YYYY-MM-DD.
	Registered string `json:"registered"`
	Head       Head   `json:"head"`
}

// Active reports whether the entity may act: an entity that is suspended
// or liquidated is refused by the caller.
func (e Entity) Active() bool { return e.Status == StatusActive }

// Organization is the name for the certificate's O=: the Russian name, or
// the Kazakh one if the register keeps no Russian name.
func (e Entity) Organization() string {
	if e.NameRu != "" {
		return e.NameRu
	}
	return e.NameKk
}

// IsFirstHead reports whether id is the IIN the register names as the
// entity's first head.
func (e Entity) IsFirstHead(id string) bool { return id != "" && e.Head.IIN == id }

// RegisteredAt is Registered as a date (UTC midnight), or the zero time
// for an entry that did not pass Validate.
func (e Entity) RegisteredAt() time.Time {
	t, _ := time.Parse(time.DateOnly, e.Registered)
	return t
}

// Validate checks every field of an entry: the BIN, the names (printable
// UTF-8, no surrounding spaces, bounded), the legal form, the status, the
// registration date, and the first head's IIN and name. What comes from the
// register is checked like a request: it goes into certificates and
// decides who may take a first head's keys.
func (e Entity) Validate() error {
	if _, err := iin.ParseBIN(e.BIN); err != nil {
		return fmt.Errorf("%w: %v", ErrBadEntity, err)
	}
	if e.NameRu == "" && e.NameKk == "" {
		return fmt.Errorf("%w: %s has no name", ErrBadEntity, e.BIN)
	}
	for _, f := range []struct {
		what, v string
		max     int
		need    bool
	}{
		{"Russian name", e.NameRu, MaxName, false},
		{"Kazakh name", e.NameKk, MaxName, false},
		{"legal form", e.LegalForm, MaxLegalForm, true},
		{"first head's name", e.Head.Name, MaxName, true},
	} {
		if f.v == "" {
			if f.need {
				return fmt.Errorf("%w: %s has no %s", ErrBadEntity, e.BIN, f.what)
			}
			continue
		}
		if !cleanText(f.v, f.max) {
			return fmt.Errorf("%w: %s's %s is longer than %d bytes, not printable or padded with spaces", ErrBadEntity, e.BIN, f.what, f.max)
		}
	}
	if !e.Status.Valid() {
		return fmt.Errorf("%w: %s has the unknown status %q", ErrBadEntity, e.BIN, e.Status)
	}
	if _, err := time.Parse(time.DateOnly, e.Registered); err != nil {
		return fmt.Errorf("%w: %s's registration date %q is not YYYY-MM-DD", ErrBadEntity, e.BIN, e.Registered)
	}
	if _, err := iin.ParseIIN(e.Head.IIN); err != nil {
		return fmt.Errorf("%w: %s's first head: %v", ErrBadEntity, e.BIN, err)
	}
	return nil
}

// cleanText: valid UTF-8 of printable characters, at most max bytes, with
// no leading or trailing space.
func cleanText(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

// Register looks legal entities up by BIN.
type Register interface {
	// Lookup returns the entity registered under bin (its BIN is bin),
	// ErrBadBIN, ErrNotFound or ErrUnavailable. A suspended or liquidated
	// entity is returned, not refused: the caller checks Active.
	Lookup(ctx context.Context, bin string) (Entity, error)
}

// LookupActive is what remote EDS issuance asks at the start of a legal
// entity's application: the entity, if it is active. A suspended or
// liquidated one is ErrNotActive (naming its status); the errors of Lookup
// pass through.
func LookupActive(ctx context.Context, r Register, bin string) (Entity, error) {
	e, err := r.Lookup(ctx, bin)
	if err != nil {
		return Entity{}, err
	}
	if !e.Active() {
		return Entity{}, fmt.Errorf("%w: %s is %s", ErrNotActive, bin, e.Status)
	}
	return e, nil
}

// Heads answers the IIN of an active entity's first head: the narrow view
// the issuance shell asks for start's head_iin (FirstHead(ctx, bin)). A
// suspended or liquidated entity has no head to answer (ErrNotActive), so a
// first-head application of it fails closed.
type Heads struct {
	Register Register
}

// FirstHead returns the first head's IIN of the active entity bin.
func (h Heads) FirstHead(ctx context.Context, bin string) (string, error) {
	e, err := LookupActive(ctx, h.Register, bin)
	if err != nil {
		return "", err
	}
	return e.Head.IIN, nil
}

func checkBIN(bin string) error {
	if _, err := iin.ParseBIN(bin); err != nil {
		return fmt.Errorf("%w: %v", ErrBadBIN, err)
	}
	return nil
}

// HTTP is the adapter for a service with the JSON API of Dev.Handler:
// GET /entities/{bin} answers the Entity; errors 400 bad_bin, 404
// not_found, 5xx unavailable.
type HTTP struct {
	Client outside.Client
}

// Lookup implements Register. The BIN is checked before it goes into the
// path, and the answer like a request: an entry that fails Validate or
// names another BIN (a gateway repeating an earlier answer) is
// ErrUnavailable, never passed on.
func (h *HTTP) Lookup(ctx context.Context, bin string) (Entity, error) {
	if err := checkBIN(bin); err != nil {
		return Entity{}, err
	}
	var e Entity
	if err := h.Client.Do(ctx, http.MethodGet, "/entities/"+bin, "", nil, &e); err != nil {
		return Entity{}, codes.Map(err, ErrUnavailable)
	}
	if err := e.Validate(); err != nil {
		return Entity{}, fmt.Errorf("%w: bad answer: %v", ErrUnavailable, err)
	}
	if e.BIN != bin {
		return Entity{}, fmt.Errorf("%w: asked for %s, the answer is for %s", ErrUnavailable, bin, e.BIN)
	}
	return e, nil
}
