// Package bmg is the port to the mobile-citizen database (база мобильных
// граждан, БМГ): the phone registered to an IIN. Remote EDS issuance sends
// its one-time code only to that phone; a person not in БМГ registers by a
// video call with an operator, who then records the phone here.
//
// Database has two adapters: HTTP, for a JSON facade of the service, and
// Dev, the development stand-in, an in-memory table that shows the failures
// of the real service on demand (outside.Faults).
package bmg

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/outside"
)

// Errors of the database.
var (
	// ErrBadIIN: the IIN fails its format or check digit.
	ErrBadIIN = errors.New("bmg: bad IIN")
	// ErrBadPhone: not a Kazakh mobile number.
	ErrBadPhone = errors.New("bmg: not a Kazakh mobile number")
	// ErrNotFound: no phone is registered to the IIN.
	ErrNotFound = errors.New("bmg: no phone registered to the IIN")
	// ErrUnavailable: the database did not answer; try again later.
	ErrUnavailable = errors.New("bmg: unavailable")
)

// codes are the errors' codes in the HTTP API.
var codes = outside.ErrorCodes{
	{Err: ErrBadIIN, Status: http.StatusBadRequest, Code: "bad_iin"},
	{Err: ErrBadPhone, Status: http.StatusBadRequest, Code: "bad_phone"},
	{Err: ErrNotFound, Status: http.StatusNotFound, Code: "not_found"},
}

// Database looks up and registers phones by IIN.
type Database interface {
	// Lookup returns the phone (+77XXXXXXXXX) registered to id, or ErrNotFound.
	Lookup(ctx context.Context, id string) (phone string, err error)
	// Register records phone for id, replacing an earlier one. Registering
	// the same phone again changes nothing.
	Register(ctx context.Context, id, phone string) error
}

func checkIIN(id string) error { return outside.CheckIIN(id, ErrBadIIN) }

// Dev is the development stand-in. Set its Faults to make it fail.
type Dev struct {
	outside.Faults
	mu     sync.Mutex
	phones map[string]string
}

// NewDev makes a stand-in holding phones (IIN to phone; entries that are
// not a valid IIN and Kazakh mobile number are an error).
func NewDev(phones map[string]string) (*Dev, error) {
	d := &Dev{phones: map[string]string{}}
	for id, p := range phones {
		if err := checkIIN(id); err != nil {
			return nil, err
		}
		n, ok := act.NormalizePhone(p)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrBadPhone, p)
		}
		d.phones[id] = n
	}
	return d, nil
}

// Lookup implements Database.
func (d *Dev) Lookup(ctx context.Context, id string) (string, error) {
	if err := checkIIN(id); err != nil {
		return "", err
	}
	if err := d.Before(ctx); err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.phones[id]
	if !ok {
		return "", ErrNotFound
	}
	return p, nil
}

// Register implements Database.
func (d *Dev) Register(ctx context.Context, id, phone string) error {
	if err := checkIIN(id); err != nil {
		return err
	}
	p, ok := act.NormalizePhone(phone)
	if !ok {
		return ErrBadPhone
	}
	if err := d.Before(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	d.mu.Lock()
	d.phones[id] = p
	d.mu.Unlock()
	return nil
}

// Phone is the JSON body of the HTTP API.
type Phone struct {
	Phone string `json:"phone"`
}

// Handler serves the stand-in over HTTP with the API the HTTP adapter
// speaks: GET and PUT /phones/{iin}. token, if set, is required as a
// bearer token.
func (d *Dev) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /phones/{iin}", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		p, err := d.Lookup(r.Context(), r.PathValue("iin"))
		if err != nil {
			codes.Write(w, err)
			return
		}
		outside.WriteJSON(w, http.StatusOK, Phone{Phone: p})
	}))
	mux.HandleFunc("PUT /phones/{iin}", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		var body Phone
		if err := outside.DecodeJSON(r, &body); err != nil {
			outside.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		if err := d.Register(r.Context(), r.PathValue("iin"), body.Phone); err != nil {
			codes.Write(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	return mux
}

// HTTP is the adapter for a service with the JSON API of Handler.
type HTTP struct {
	Client outside.Client
}

func mapErr(err error) error { return codes.Map(err, ErrUnavailable) }

// Lookup implements Database.
func (h *HTTP) Lookup(ctx context.Context, id string) (string, error) {
	// The IIN is checked before it goes into the path: 12 digits only.
	if err := checkIIN(id); err != nil {
		return "", err
	}
	var out Phone
	if err := h.Client.Do(ctx, http.MethodGet, "/phones/"+id, "", nil, &out); err != nil {
		return "", mapErr(err)
	}
	p, ok := act.NormalizePhone(out.Phone)
	if !ok {
		return "", fmt.Errorf("%w: the answer holds no Kazakh mobile number", ErrUnavailable)
	}
	return p, nil
}

// Register implements Database.
func (h *HTTP) Register(ctx context.Context, id, phone string) error {
	if err := checkIIN(id); err != nil {
		return err
	}
	p, ok := act.NormalizePhone(phone)
	if !ok {
		return ErrBadPhone
	}
	if err := h.Client.Do(ctx, http.MethodPut, "/phones/"+id, "", Phone{Phone: p}, nil); err != nil {
		return mapErr(err)
	}
	return nil
}
