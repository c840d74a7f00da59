package digidocs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/internal/safepath"
)

// HTTP is the adapter to a real Digital documents API (format in the
// package comment).
type HTTP struct {
	base    string
	apiKey  string
	client  *http.Client
	maxBody int64
}

// NewHTTP returns the adapter for the API at base (https, or http on
// loopback for tests), authenticating with apiKey.
func NewHTTP(base, apiKey string, timeout time.Duration) (*HTTP, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("digidocs: url %q is not an http(s) URL", base)
	}
	if apiKey == "" {
		return nil, errors.New("digidocs: an api key is required")
	}
	return &HTTP{base: strings.TrimSuffix(base, "/"), apiKey: apiKey, client: &http.Client{Timeout: timeout}, maxBody: 32 << 20}, nil
}

func (h *HTTP) url(person string, id ...string) (string, error) {
	if _, err := iin.ParseIIN(person); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	u := h.base + "/people/" + person + "/documents"
	for _, i := range id {
		if err := safepath.Check(i); err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		u += "/" + url.PathEscape(i)
	}
	return u, nil
}

func (h *HTTP) do(ctx context.Context, method, u string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+h.apiKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, h.maxBody))
	switch {
	case err != nil:
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	case resp.StatusCode == http.StatusNotFound:
		return ErrNotFound
	case resp.StatusCode >= 500:
		return fmt.Errorf("%w: HTTP %d", ErrUnavailable, resp.StatusCode)
	case resp.StatusCode >= 300:
		return fmt.Errorf("digidocs: %s: HTTP %d", method, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("digidocs: the answer is not the expected JSON: %w", err)
	}
	return nil
}

// Save puts the document at the service.
func (h *HTTP) Save(ctx context.Context, person string, doc Document) error {
	u, err := h.url(person, doc.ID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return h.do(ctx, http.MethodPut, u, b, nil)
}

// List returns the person's documents (without data).
func (h *HTTP) List(ctx context.Context, person string) ([]Document, error) {
	u, err := h.url(person)
	if err != nil {
		return nil, err
	}
	var out struct {
		Documents []Document `json:"documents"`
	}
	if err := h.do(ctx, http.MethodGet, u, nil, &out); err != nil {
		return nil, err
	}
	if out.Documents == nil {
		out.Documents = []Document{}
	}
	return out.Documents, nil
}

// Open returns one document with its data.
func (h *HTTP) Open(ctx context.Context, person, id string) (Document, error) {
	var d Document
	u, err := h.url(person, id)
	if err != nil {
		return d, err
	}
	err = h.do(ctx, http.MethodGet, u, nil, &d)
	return d, err
}
