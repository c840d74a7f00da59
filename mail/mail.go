// Package mail is the port to an e-mail relay. Remote EDS issuance tells an
// applicant who gave an e-mail address that their certificates are issued.
//
// Sender has two adapters: SMTP, for a relay speaking SMTP with STARTTLS
// (net/smtp; the message never crosses the network in clear), and Dev, the
// development stand-in, which writes each message as an RFC 5322 file into
// an outbox directory under data_dir, where a developer (or a test) reads
// it. Dev shows the failures of a real relay on demand (outside.Faults):
// latency, outages, flaky calls and messages delivered twice.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors of Send.
var (
	// ErrBadAddress: the recipient (or the configured sender) is not a
	// plain e-mail address.
	ErrBadAddress = errors.New("mail: not an e-mail address")
	// ErrBadMessage: an empty or overlong subject or body, or a subject
	// with control characters.
	ErrBadMessage = errors.New("mail: subject or body empty, too long or malformed")
	// ErrUnavailable: the relay did not take the message now (down, a
	// temporary 4xx answer); try again later.
	ErrUnavailable = errors.New("mail: relay unavailable")
	// ErrRejected: the relay refused the message for good (a 5xx answer,
	// such as an unknown mailbox). Trying again changes nothing.
	ErrRejected = errors.New("mail: relay refused the message")
)

// Bounds of a message.
const (
	MaxSubject = 200      // characters
	MaxBody    = 64 << 10 // bytes
	maxAddress = 254      // bytes (RFC 5321)
)

// Message is one e-mail: plain text in UTF-8.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Sender sends e-mail.
type Sender interface {
	// Send sends m and returns the message's id (its Message-ID without
	// the angle brackets).
	Send(ctx context.Context, m Message) (id string, err error)
}

// Address checks that s is one plain address (no display name, no list,
// nothing around it) and returns it.
func Address(s string) (string, error) {
	if s == "" || len(s) > maxAddress || !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n") {
		return "", ErrBadAddress
	}
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", ErrBadAddress
	}
	return a.Address, nil
}

// check validates m and returns its recipient.
func check(m Message) (string, error) {
	to, err := Address(m.To)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(m.Subject) == "" || utf8.RuneCountInString(m.Subject) > MaxSubject || !utf8.ValidString(m.Subject) ||
		strings.IndexFunc(m.Subject, unicode.IsControl) >= 0 {
		return "", ErrBadMessage
	}
	if strings.TrimSpace(m.Body) == "" || len(m.Body) > MaxBody || !utf8.ValidString(m.Body) {
		return "", ErrBadMessage
	}
	return to, nil
}

// newID is a random Message-ID at from's domain.
func newID(from string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	domain := "senim.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		domain = from[i+1:]
	}
	return hex.EncodeToString(b[:]) + "@" + domain
}

// compose renders m as an RFC 5322 message from from: encoded-word
// subject, quoted-printable UTF-8 body, CRLF line ends.
func compose(from string, m Message, id string, date time.Time) []byte {
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from)
	h("To", m.To)
	h("Subject", mime.BEncoding.Encode("utf-8", m.Subject))
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", "<"+id+">")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	q := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	_, _ = q.Write([]byte(body))
	_ = q.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}

// Parse reads a message compose wrote (an outbox file) back: the recipient,
// the decoded subject and body, and the id.
func Parse(raw []byte) (m Message, id string, err error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, "", err
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Message{}, "", err
	}
	var body bytes.Buffer
	if _, err := body.ReadFrom(quotedprintable.NewReader(msg.Body)); err != nil {
		return Message{}, "", fmt.Errorf("mail: body: %w", err)
	}
	text := strings.TrimSuffix(strings.ReplaceAll(body.String(), "\r\n", "\n"), "\n")
	return Message{To: msg.Header.Get("To"), Subject: subject, Body: text}, strings.Trim(msg.Header.Get("Message-ID"), "<>"), nil
}
