// Package outside holds what the ports to outside systems of remote EDS
// issuance (sms, bmg, faceid, docrecog) share: the failures their
// development stand-ins can be made to show, the IIN check, and JSON over
// HTTP (with one table of error codes per port) for their adapters.
//
// A stand-in must behave like the real service, failures included, so that
// the shell around it is built to survive them: Faults adds latency, an
// outage, an outage every n-th call, and repeated answers (a gateway that
// delivers or reports twice). Stand-ins run only in development.
package outside

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/senim-kz/senim/domain/iin"
)

// ErrDown is what a stand-in returns while Faults says the service is
// down. Each port wraps it in its own ErrUnavailable.
var ErrDown = errors.New("service unavailable")

// Faults are the failures a stand-in shows. The zero value shows none. It
// is safe for concurrent use.
type Faults struct {
	mu        sync.Mutex
	latency   time.Duration
	down      bool
	failEvery int
	calls     int
	repeat    bool
}

// SetLatency makes every call take at least d (or until its context ends).
func (f *Faults) SetLatency(d time.Duration) { f.mu.Lock(); f.latency = d; f.mu.Unlock() }

// SetDown makes every call fail with ErrDown, as an outage would.
func (f *Faults) SetDown(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

// SetFailEvery makes every n-th call fail with ErrDown (0: none): a flaky service.
func (f *Faults) SetFailEvery(n int) { f.mu.Lock(); f.failEvery, f.calls = n, 0; f.mu.Unlock() }

// SetRepeat makes the stand-in repeat its answers where the port can see
// repeats (an SMS delivered twice).
func (f *Faults) SetRepeat(on bool) { f.mu.Lock(); f.repeat = on; f.mu.Unlock() }

// Repeat reports whether answers are to be repeated.
func (f *Faults) Repeat() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.repeat }

// Before is called at the start of every stand-in call. It waits out the
// latency, and returns ErrDown during an outage, on a failing n-th call,
// or when ctx ends first.
func (f *Faults) Before(ctx context.Context) error {
	f.mu.Lock()
	lat, down := f.latency, f.down
	f.calls++
	if f.failEvery > 0 && f.calls%f.failEvery == 0 {
		down = true
	}
	f.mu.Unlock()
	if lat > 0 {
		t := time.NewTimer(lat)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ErrDown, ctx.Err())
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrDown, err)
	}
	if down {
		return ErrDown
	}
	return nil
}

// MaxResponse bounds the body of an answer an adapter reads.
const MaxResponse = 1 << 20

// StatusError is an answer with a status other than 2xx.
type StatusError struct {
	Status int
	Code   string // the "code" of a JSON error body, if any
}

// Error names the status and the code.
func (e *StatusError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Code)
	}
	return fmt.Sprintf("HTTP %d", e.Status)
}

// Client is the HTTP side of an adapter: JSON requests to one base URL,
// with an optional bearer token.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client // nil: a client with a 10 s timeout
}

var defaultHTTP = &http.Client{Timeout: 10 * time.Second}

// Do sends method path with body (JSON-encoded unless it is []byte or an
// io.Reader, sent as contentType) and decodes a 2xx JSON answer into out (if
// not nil). A transport failure or a 5xx answer is ErrDown; any other non-2xx
// answer is a *StatusError.
func (c *Client) Do(ctx context.Context, method, path, contentType string, body, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd, contentType = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDown, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDown, err)
	}
	if resp.StatusCode >= 500 {
		return fmt.Errorf("%w: HTTP %d", ErrDown, resp.StatusCode)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(data, &e)
		return &StatusError{Status: resp.StatusCode, Code: e.Code}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("bad answer: %w", err)
	}
	return nil
}

// WriteJSON writes v as a JSON answer with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes a JSON error {"code", "message"} with status.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, map[string]string{"code": code, "message": message})
}

// Authorized reports whether r carries the bearer token (always, if token is empty).
func Authorized(r *http.Request, token string) bool {
	return token == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) == 1
}

// MaxRequest bounds the JSON body a stand-in's handler reads.
const MaxRequest = 64 << 10

// DecodeJSON reads r's JSON body (at most MaxRequest bytes, no unknown
// fields) into v.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, MaxRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON body: %w", err)
	}
	return nil
}

// RequireToken serves h only to requests that carry the bearer token (all
// of them, if token is empty); the others get 401 unauthorized.
func RequireToken(token string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !Authorized(r, token) {
			WriteError(w, http.StatusUnauthorized, "unauthorized", "bearer token required")
			return
		}
		h(w, r)
	}
}

// ErrorCode ties one of a port's errors to the status and code its HTTP API
// gives it.
type ErrorCode struct {
	Err    error
	Status int
	Code   string
}

// ErrorCodes is a port's table of error codes. The stand-in's handler and
// the adapter both read it, so that what one writes the other reads back
// as the same error. An error not in the table is the service being
// unavailable.
type ErrorCodes []ErrorCode

// Write writes err as a JSON error: the status and code of the first entry
// it is (errors.Is), or 503 unavailable.
func (t ErrorCodes) Write(w http.ResponseWriter, err error) {
	for _, c := range t {
		if errors.Is(err, c.Err) {
			WriteError(w, c.Status, c.Code, err.Error())
			return
		}
	}
	WriteError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
}

// Map turns a non-nil error of Client.Do into the port's own: the error of
// the entry whose code the answer carries, or else unavailable wrapping err.
func (t ErrorCodes) Map(err, unavailable error) error {
	var se *StatusError
	if errors.As(err, &se) {
		for _, c := range t {
			if se.Code == c.Code {
				return c.Err
			}
		}
	}
	return fmt.Errorf("%w: %v", unavailable, err)
}

// CheckIIN returns nil for a valid IIN, and otherwise the port's bad error
// wrapped with the reason. Ports check an IIN before it goes anywhere, a
// URL path included.
func CheckIIN(id string, bad error) error {
	if _, err := iin.ParseIIN(id); err != nil {
		return fmt.Errorf("%w: %v", bad, err)
	}
	return nil
}
