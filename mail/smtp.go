package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"time"
)

// SMTP is the adapter for a relay (a submission port, usually 587): it
// upgrades every connection with STARTTLS before anything else, and sends
// nothing to a relay that does not offer it. With Username it
// authenticates (AUTH PLAIN, over TLS only).
type SMTP struct {
	// Addr is the relay, host:port.
	Addr string
	// From is the sender address (the envelope's and the header's).
	From string
	// Username and Password authenticate; none without Username.
	Username, Password string
	// Timeout bounds one message's whole conversation (0: 30s).
	Timeout time.Duration
	// TLS is the STARTTLS configuration; nil checks the relay's
	// certificate for its host name against the system's roots.
	TLS *tls.Config
	// LocalName is said in EHLO ("" says localhost).
	LocalName string
}

// Send implements Sender.
func (s *SMTP) Send(ctx context.Context, m Message) (string, error) {
	to, err := check(m)
	if err != nil {
		return "", err
	}
	if _, err := Address(s.From); err != nil {
		return "", fmt.Errorf("mail: the sender %q: %w", s.From, err)
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return "", fmt.Errorf("%w: relay address %q: %v", ErrUnavailable, s.Addr, err)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	// The context bounds the whole conversation: its end breaks off any
	// read or write.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return "", classify(err)
	}
	defer c.Close()
	local := s.LocalName
	if local == "" {
		local = "localhost"
	}
	if err := c.Hello(local); err != nil {
		return "", classify(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return "", fmt.Errorf("%w: the relay %s offers no STARTTLS; nothing is sent in clear", ErrUnavailable, s.Addr)
	}
	cfg := s.TLS
	if cfg == nil {
		cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if err := c.StartTLS(cfg); err != nil {
		return "", classify(err)
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return "", classify(err)
		}
	}
	id := newID(s.From)
	if err := c.Mail(s.From); err != nil {
		return "", classify(err)
	}
	if err := c.Rcpt(to); err != nil {
		return "", classify(err)
	}
	w, err := c.Data()
	if err != nil {
		return "", classify(err)
	}
	if _, err := w.Write(compose(s.From, m, id, time.Now())); err != nil {
		return "", classify(err)
	}
	if err := w.Close(); err != nil {
		return "", classify(err)
	}
	_ = c.Quit() // the relay has the message: a failed goodbye changes nothing
	return id, nil
}

// classify turns an SMTP conversation's error into ErrRejected (a
// permanent 5xx answer) or ErrUnavailable (a 4xx answer, the network).
func classify(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}
