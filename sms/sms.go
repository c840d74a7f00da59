// Package sms is the port to an SMS gateway. Remote EDS issuance sends its
// one-time codes through it (from 1414 in the real service), and the
// moderation outcome.
//
// Gateway has two adapters: HTTP, for a gateway with a JSON API, and Dev, the
// development stand-in, which keeps the messages for a development page and
// writes them to the log so that a developer can read a code. Dev shows the
// failures of a real gateway on demand (outside.Faults): latency, outages,
// flaky calls and messages delivered twice.
package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/outside"
)

// Errors of Send.
var (
	// ErrBadPhone: not a Kazakh mobile number.
	ErrBadPhone = errors.New("sms: not a Kazakh mobile number")
	// ErrBadText: an empty text, or longer than MaxText characters.
	ErrBadText = errors.New("sms: text empty or too long")
	// ErrUnavailable: the gateway did not take the message; try again later.
	ErrUnavailable = errors.New("sms: gateway unavailable")
)

// MaxText is the longest text, in characters (a few concatenated SMS).
const MaxText = 480

// Gateway sends text messages.
type Gateway interface {
	// Send sends text to phone (any form act.NormalizePhone accepts) and
	// returns the gateway's message id.
	Send(ctx context.Context, phone, text string) (id string, err error)
}

// Message is one message the stand-in took.
type Message struct {
	ID    string    `json:"id"`
	Phone string    `json:"phone"`
	Text  string    `json:"text"`
	At    time.Time `json:"at"`
}

func check(phone, text string) (string, error) {
	p, ok := act.NormalizePhone(phone)
	if !ok {
		return "", ErrBadPhone
	}
	if text == "" || utf8.RuneCountInString(text) > MaxText || !utf8.ValidString(text) {
		return "", ErrBadText
	}
	return p, nil
}

// Dev is the development stand-in. It keeps the last Keep messages in
// memory. Set its Faults to make it fail.
type Dev struct {
	outside.Faults
	log  zerolog.Logger
	now  func() time.Time
	keep int

	mu   sync.Mutex
	msgs []Message
}

// NewDev makes a stand-in that keeps the last keep messages (at least 1),
// logging each one with log. now is the clock (nil: time.Now).
func NewDev(log zerolog.Logger, keep int, now func() time.Time) *Dev {
	if keep < 1 {
		keep = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Dev{log: log, keep: keep, now: now}
}

// Send implements Gateway. With Faults' repeat on, the message is
// delivered twice, as gateways sometimes do.
func (d *Dev) Send(ctx context.Context, phone, text string) (string, error) {
	p, err := check(phone, text)
	if err != nil {
		return "", err
	}
	if err := d.Before(ctx); err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	m := Message{ID: hex.EncodeToString(b[:]), Phone: p, Text: text, At: d.now()}
	n := 1
	if d.Repeat() {
		n = 2
	}
	d.mu.Lock()
	for i := 0; i < n; i++ {
		d.msgs = append(d.msgs, m)
	}
	if over := len(d.msgs) - d.keep; over > 0 {
		d.msgs = append([]Message(nil), d.msgs[over:]...)
	}
	d.mu.Unlock()
	// Development only: the text is logged so that a developer can read a code.
	d.log.Info().Str("sms_id", m.ID).Str("phone", p).Str("text", text).Msg("development SMS")
	return m.ID, nil
}

// Messages returns the kept messages to phone, oldest first (all of them
// if phone is empty).
func (d *Dev) Messages(phone string) []Message {
	p, _ := act.NormalizePhone(phone)
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Message
	for _, m := range d.msgs {
		if phone == "" || m.Phone == p {
			out = append(out, m)
		}
	}
	return out
}

// SendRequest is the body of POST /send.
type SendRequest struct {
	Phone string `json:"phone"`
	Text  string `json:"text"`
}

// SendResponse is the answer to POST /send.
type SendResponse struct {
	ID string `json:"id"`
}

// Handler serves the stand-in over HTTP with the API the HTTP adapter
// speaks: POST /send, and GET /messages?phone= for the development page.
// token, if set, is required as a bearer token.
func (d *Dev) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /send", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		var req SendRequest
		if err := outside.DecodeJSON(r, &req); err != nil {
			outside.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		id, err := d.Send(r.Context(), req.Phone, req.Text)
		if err != nil {
			codes.Write(w, err)
			return
		}
		outside.WriteJSON(w, http.StatusOK, SendResponse{ID: id})
	}))
	mux.HandleFunc("GET /messages", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		msgs := d.Messages(r.URL.Query().Get("phone"))
		if msgs == nil {
			msgs = []Message{}
		}
		outside.WriteJSON(w, http.StatusOK, msgs)
	}))
	return mux
}

// codes are the errors' codes in the HTTP API.
var codes = outside.ErrorCodes{
	{Err: ErrBadPhone, Status: http.StatusBadRequest, Code: "bad_phone"},
	{Err: ErrBadText, Status: http.StatusBadRequest, Code: "bad_text"},
}

// HTTP is the adapter for a gateway with the JSON API of Handler.
type HTTP struct {
	Client outside.Client
}

// Send implements Gateway.
func (h *HTTP) Send(ctx context.Context, phone, text string) (string, error) {
	p, err := check(phone, text)
	if err != nil {
		return "", err
	}
	var out SendResponse
	err = h.Client.Do(ctx, http.MethodPost, "/send", "", SendRequest{Phone: p, Text: text}, &out)
	switch {
	case err != nil:
		return "", codes.Map(err, ErrUnavailable)
	case out.ID == "":
		return "", fmt.Errorf("%w: no message id in the answer", ErrUnavailable)
	}
	return out.ID, nil
}
