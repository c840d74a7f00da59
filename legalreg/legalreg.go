// Package legalreg is the port to the state register of legal entities
// (ГБД ЮЛ): who an organisation's first head is. Remote EDS issuance asks it
// when someone applies for the first head's keys of a BIN (the first-head
// template): nobody takes a first head's keys by saying so, and without an
// answer the core refuses the application (domain/issuance, not_first_head).
//
// Register has two adapters: HTTP, for a JSON facade of the register, and
// Dev, the development stand-in, an in-memory table that shows the failures
// of the real service on demand (outside.Faults).
package legalreg

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/internal/outside"
)

// Errors of the register.
var (
	// ErrBadBIN: the BIN fails its format or check digit.
	ErrBadBIN = errors.New("legalreg: bad BIN")
	// ErrBadIIN: the head's IIN fails its format or check digit.
	ErrBadIIN = errors.New("legalreg: bad IIN")
	// ErrNotFound: the register has no such organisation.
	ErrNotFound = errors.New("legalreg: no such organisation")
	// ErrUnavailable: the register did not answer; try again later.
	ErrUnavailable = errors.New("legalreg: unavailable")
)

// codes are the errors' codes in the HTTP API.
var codes = outside.ErrorCodes{
	{Err: ErrBadBIN, Status: http.StatusBadRequest, Code: "bad_bin"},
	{Err: ErrBadIIN, Status: http.StatusBadRequest, Code: "bad_iin"},
	{Err: ErrNotFound, Status: http.StatusNotFound, Code: "not_found"},
}

// Register answers who heads an organisation.
type Register interface {
	// FirstHead returns the IIN of the first head of the organisation bin,
	// or ErrNotFound.
	FirstHead(ctx context.Context, bin string) (string, error)
}

// Entity is an organisation as the API carries it.
type Entity struct {
	BIN          string `json:"bin"`
	FirstHeadIIN string `json:"first_head_iin"`
}

func checkBIN(bin string) error {
	if _, err := iin.ParseBIN(bin); err != nil {
		return fmt.Errorf("%w: %v", ErrBadBIN, err)
	}
	return nil
}

// Dev is the development stand-in. Set its Faults to make it fail.
type Dev struct {
	outside.Faults
	mu    sync.Mutex
	heads map[string]string
}

// NewDev makes an empty stand-in.
func NewDev() *Dev { return &Dev{heads: map[string]string{}} }

// Set records head as the first head of bin.
func (d *Dev) Set(bin, head string) error {
	if err := checkBIN(bin); err != nil {
		return err
	}
	if _, err := iin.ParseIIN(head); err != nil {
		return fmt.Errorf("%w: %v", ErrBadIIN, err)
	}
	d.mu.Lock()
	d.heads[bin] = head
	d.mu.Unlock()
	return nil
}

// FirstHead implements Register.
func (d *Dev) FirstHead(ctx context.Context, bin string) (string, error) {
	if err := checkBIN(bin); err != nil {
		return "", err
	}
	if err := d.Before(ctx); err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	h, ok := d.heads[bin]
	if !ok {
		return "", ErrNotFound
	}
	return h, nil
}

// Handler serves the stand-in over HTTP with the API the HTTP adapter
// speaks: GET and PUT /entities/{bin}. token, if set, is required as a
// bearer token.
func (d *Dev) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /entities/{bin}", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		h, err := d.FirstHead(r.Context(), r.PathValue("bin"))
		if err != nil {
			codes.Write(w, err)
			return
		}
		outside.WriteJSON(w, http.StatusOK, Entity{BIN: r.PathValue("bin"), FirstHeadIIN: h})
	}))
	mux.HandleFunc("PUT /entities/{bin}", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		var e Entity
		if err := outside.DecodeJSON(r, &e); err != nil {
			outside.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		if err := d.Set(r.PathValue("bin"), e.FirstHeadIIN); err != nil {
			codes.Write(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	return mux
}

// HTTP is the adapter for a register with the JSON API of Handler.
type HTTP struct {
	Client outside.Client
}

// FirstHead implements Register.
func (h *HTTP) FirstHead(ctx context.Context, bin string) (string, error) {
	// The BIN is checked before it goes into the path: 12 digits only.
	if err := checkBIN(bin); err != nil {
		return "", err
	}
	var out Entity
	if err := h.Client.Do(ctx, http.MethodGet, "/entities/"+bin, "", nil, &out); err != nil {
		return "", codes.Map(err, ErrUnavailable)
	}
	if _, err := iin.ParseIIN(out.FirstHeadIIN); err != nil {
		return "", fmt.Errorf("%w: the answer holds no valid IIN", ErrUnavailable)
	}
	return out.FirstHeadIIN, nil
}
