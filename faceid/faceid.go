// Package faceid is the port to the face-check service of Digital ID: the
// liveness test of the applicant's video, and the match of their selfie
// against the state registry's photo for their IIN. A failed liveness or a
// mismatch sends the application to a moderator (domain/issuance).
//
// Checker has two adapters: HTTP, for a JSON facade of the service, and
// Dev, the development stand-in. Dev cannot see faces: it decides from a
// marker in the file, so that tests and a developer can force each outcome
// with any picture or video that carries it:
//
//	SENIM-FACE:MISMATCH  the selfie does not match
//	SENIM-FACE:NOLIVE    the video fails the liveness test
//	SENIM-FACE:MATCH     (or no marker) match and live
//
// Dev shows the failures of the real service on demand (outside.Faults).
package faceid

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/senim-kz/senim/internal/outside"
)

// The markers the stand-in looks for.
const (
	MarkerMatch    = "SENIM-FACE:MATCH"
	MarkerMismatch = "SENIM-FACE:MISMATCH"
	MarkerNoLive   = "SENIM-FACE:NOLIVE"
)

// MaxInput bounds a file sent to the service (the largest upload the
// issuance rules allow is below it).
const MaxInput = 64 << 20

// Errors of the checks.
var (
	// ErrBadIIN: the IIN fails its format or check digit.
	ErrBadIIN = errors.New("faceid: bad IIN")
	// ErrBadInput: an empty file, or one larger than MaxInput.
	ErrBadInput = errors.New("faceid: empty or too large file")
	// ErrUnavailable: the service did not answer; try again later.
	ErrUnavailable = errors.New("faceid: unavailable")
)

// Liveness is the result of a liveness test.
type Liveness struct {
	Live   bool   `json:"live"`
	Detail string `json:"detail,omitempty"`
}

// Match is the result of a face match.
type Match struct {
	Match  bool    `json:"match"`
	Score  float64 `json:"score"` // 0..1, the service's confidence
	Detail string  `json:"detail,omitempty"`
}

// Checker runs the face checks.
type Checker interface {
	// Liveness tests the applicant's video.
	Liveness(ctx context.Context, video io.Reader) (Liveness, error)
	// Match compares the selfie with the state registry's photo of id.
	Match(ctx context.Context, id string, selfie io.Reader) (Match, error)
}

func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxInput+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	if len(b) == 0 || len(b) > MaxInput {
		return nil, ErrBadInput
	}
	return b, nil
}

func checkIIN(id string) error { return outside.CheckIIN(id, ErrBadIIN) }

// Dev is the development stand-in. Set its Faults to make it fail.
type Dev struct {
	outside.Faults
}

// Liveness implements Checker.
func (d *Dev) Liveness(ctx context.Context, video io.Reader) (Liveness, error) {
	b, err := readAll(video)
	if err != nil {
		return Liveness{}, err
	}
	if err := d.Before(ctx); err != nil {
		return Liveness{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if bytes.Contains(b, []byte(MarkerNoLive)) {
		return Liveness{Live: false, Detail: "development stand-in: " + MarkerNoLive}, nil
	}
	return Liveness{Live: true}, nil
}

// Match implements Checker.
func (d *Dev) Match(ctx context.Context, id string, selfie io.Reader) (Match, error) {
	if err := checkIIN(id); err != nil {
		return Match{}, err
	}
	b, err := readAll(selfie)
	if err != nil {
		return Match{}, err
	}
	if err := d.Before(ctx); err != nil {
		return Match{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if bytes.Contains(b, []byte(MarkerMismatch)) {
		return Match{Match: false, Score: 0.12, Detail: "development stand-in: " + MarkerMismatch}, nil
	}
	return Match{Match: true, Score: 0.97}, nil
}

// Handler serves the stand-in over HTTP with the API the HTTP adapter
// speaks: POST /liveness and POST /match/{iin}, the file as the body.
// token, if set, is required as a bearer token.
func (d *Dev) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /liveness", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		res, err := d.Liveness(r.Context(), http.MaxBytesReader(w, r.Body, MaxInput))
		if err != nil {
			codes.Write(w, err)
			return
		}
		outside.WriteJSON(w, http.StatusOK, res)
	}))
	mux.HandleFunc("POST /match/{iin}", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		res, err := d.Match(r.Context(), r.PathValue("iin"), http.MaxBytesReader(w, r.Body, MaxInput))
		if err != nil {
			codes.Write(w, err)
			return
		}
		outside.WriteJSON(w, http.StatusOK, res)
	}))
	return mux
}

// HTTP is the adapter for a service with the JSON API of Handler.
type HTTP struct {
	Client outside.Client
}

// codes are the errors' codes in the HTTP API.
var codes = outside.ErrorCodes{
	{Err: ErrBadIIN, Status: http.StatusBadRequest, Code: "bad_iin"},
	{Err: ErrBadInput, Status: http.StatusBadRequest, Code: "bad_input"},
}

func mapErr(err error) error { return codes.Map(err, ErrUnavailable) }

// Liveness implements Checker.
func (h *HTTP) Liveness(ctx context.Context, video io.Reader) (Liveness, error) {
	b, err := readAll(video)
	if err != nil {
		return Liveness{}, err
	}
	var out Liveness
	if err := h.Client.Do(ctx, http.MethodPost, "/liveness", "video/webm", b, &out); err != nil {
		return Liveness{}, mapErr(err)
	}
	return out, nil
}

// Match implements Checker.
func (h *HTTP) Match(ctx context.Context, id string, selfie io.Reader) (Match, error) {
	if err := checkIIN(id); err != nil {
		return Match{}, err
	}
	b, err := readAll(selfie)
	if err != nil {
		return Match{}, err
	}
	var out Match
	if err := h.Client.Do(ctx, http.MethodPost, "/match/"+id, http.DetectContentType(b), b, &out); err != nil {
		return Match{}, mapErr(err)
	}
	return out, nil
}
