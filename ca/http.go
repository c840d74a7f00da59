package ca

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/outside"
)

// codes are the errors' codes in the HTTP API of the CA facade.
var codes = outside.ErrorCodes{
	{Err: ErrBadCSR, Status: http.StatusBadRequest, Code: "bad_csr"},
	{Err: ErrWeakKey, Status: http.StatusBadRequest, Code: "weak_key"},
	{Err: ErrBadRequest, Status: http.StatusBadRequest, Code: "bad_request"},
	{Err: ErrUnknown, Status: http.StatusNotFound, Code: "unknown_reference"},
}

// submitted is the answer to POST /requests.
type submitted struct {
	Reference string `json:"reference"`
}

// fetched is the answer to GET /requests/{reference}: status pending,
// issued (with the certificates) or refused (with the refusal).
type fetched struct {
	Status       string                 `json:"status"`
	Certificates []issuance.Certificate `json:"certificates,omitempty"`
	Refusal      *Refused               `json:"refusal,omitempty"`
}

// seen is the answer to GET /keys/{fingerprint}.
type seen struct {
	Seen bool `json:"seen"`
}

// Handler serves the development CA over HTTP with the API the HTTP
// adapter speaks:
//
//	POST /requests              a Request (JSON)   → {"reference"}
//	GET  /requests/{reference}                     → {"status": "pending"|"issued"|"refused", "certificates", "refusal"}
//	GET  /keys/{fingerprint}                       → {"seen"}
//
// Errors are {"code", "message"}: 400 bad_request, bad_csr, weak_key; 404
// unknown_reference; 503 unavailable. token, if set, is required as a
// bearer token.
func (d *Dev) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /requests", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		var req Request
		if err := outside.DecodeJSON(r, &req); err != nil {
			outside.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		ref, err := d.Submit(r.Context(), req)
		if err != nil {
			codes.Write(w, err)
			return
		}
		outside.WriteJSON(w, http.StatusOK, submitted{Reference: ref})
	}))
	mux.HandleFunc("GET /requests/{reference}", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		certs, err := d.Fetch(r.Context(), r.PathValue("reference"))
		var refused *Refused
		switch {
		case err == nil:
			outside.WriteJSON(w, http.StatusOK, fetched{Status: statusIssued, Certificates: certs})
		case errors.Is(err, ErrPending):
			outside.WriteJSON(w, http.StatusOK, fetched{Status: statusPending})
		case errors.As(err, &refused):
			outside.WriteJSON(w, http.StatusOK, fetched{Status: statusRefused, Refusal: refused})
		default:
			codes.Write(w, err)
		}
	}))
	mux.HandleFunc("GET /keys/{fingerprint}", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		ok, err := d.KeySeen(r.Context(), r.PathValue("fingerprint"))
		if err != nil {
			codes.Write(w, err)
			return
		}
		outside.WriteJSON(w, http.StatusOK, seen{Seen: ok})
	}))
	return mux
}

// HTTP is the adapter for a CA facade with the JSON API of Dev.Handler.
type HTTP struct {
	Client outside.Client
}

var (
	_ CA          = (*HTTP)(nil)
	_ KeyRegister = (*HTTP)(nil)
	_ CA          = (*Dev)(nil)
	_ KeyRegister = (*Dev)(nil)
)

// MaxReference bounds a reference the adapter sends back to the CA.
const MaxReference = 128

func mapErr(err error) error { return codes.Map(err, ErrUnavailable) }

// Submit implements CA.
func (h *HTTP) Submit(ctx context.Context, r Request) (string, error) {
	var out submitted
	if err := h.Client.Do(ctx, http.MethodPost, "/requests", "", r, &out); err != nil {
		return "", mapErr(err)
	}
	if out.Reference == "" || len(out.Reference) > MaxReference {
		return "", fmt.Errorf("%w: the CA answered no usable reference", ErrUnavailable)
	}
	return out.Reference, nil
}

// Fetch implements CA.
func (h *HTTP) Fetch(ctx context.Context, reference string) ([]issuance.Certificate, error) {
	if reference == "" || len(reference) > MaxReference {
		return nil, fmt.Errorf("%w: %q", ErrUnknown, reference)
	}
	var out fetched
	if err := h.Client.Do(ctx, http.MethodGet, "/requests/"+url.PathEscape(reference), "", nil, &out); err != nil {
		return nil, mapErr(err)
	}
	switch out.Status {
	case statusIssued:
		if len(out.Certificates) == 0 {
			return nil, fmt.Errorf("%w: the CA answered issued without certificates", ErrUnavailable)
		}
		return out.Certificates, nil
	case statusPending:
		return nil, ErrPending
	case statusRefused:
		if out.Refusal == nil || out.Refusal.Reason == "" {
			return nil, &Refused{Reason: "the CA refused the request without a reason"}
		}
		return nil, out.Refusal
	}
	return nil, fmt.Errorf("%w: the CA answered an unknown status %q", ErrUnavailable, out.Status)
}

// KeySeen implements KeyRegister.
func (h *HTTP) KeySeen(ctx context.Context, fingerprint string) (bool, error) {
	if !isHex64(fingerprint) {
		return false, fmt.Errorf("%w: a key fingerprint is 64 hex digits", ErrBadRequest)
	}
	var out seen
	if err := h.Client.Do(ctx, http.MethodGet, "/keys/"+fingerprint, "", nil, &out); err != nil {
		return false, mapErr(err)
	}
	return out.Seen, nil
}
