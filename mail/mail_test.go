package mail

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

var msg = Message{To: "aigerim@example.kz", Subject: "Senim: сертификаты выпущены / сертификаттар шығарылды",
	Body: "Здравствуйте!\nСертификаты ЭЦП по заявке 0123 выпущены.\n\nСәлеметсіз бе! ЭЦҚ сертификаттары шығарылды."}

func TestChecks(t *testing.T) {
	for _, to := range []string{"", "no-at", "Aigerim <a@example.kz>", "a@example.kz, b@example.kz", "a@example.kz\r\nBcc: x@evil", " a@example.kz", strings.Repeat("a", 250) + "@x.kz"} {
		if _, err := check(Message{To: to, Subject: "s", Body: "b"}); !errors.Is(err, ErrBadAddress) {
			t.Errorf("to %q: %v", to, err)
		}
	}
	for _, m := range []Message{{Subject: "", Body: "b"}, {Subject: "a\r\nBcc: x@evil", Body: "b"}, {Subject: strings.Repeat("я", MaxSubject+1), Body: "b"},
		{Subject: "s", Body: ""}, {Subject: "s", Body: strings.Repeat("b", MaxBody+1)}, {Subject: "s", Body: "\xff"}} {
		m.To = "a@example.kz"
		if _, err := check(m); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%q: %v", m.Subject, err)
		}
	}
}

// The stand-in writes each message whole into its outbox, where it reads
// back as sent; an outage takes nothing and says try again; a repeat
// delivers twice.
func TestDev(t *testing.T) {
	dir := t.TempDir()
	d, err := NewDev(dir, "noreply@senim.kz", zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := d.Send(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Messages(msg.To)
	if err != nil || len(got) != 1 {
		t.Fatalf("outbox %+v, %v", got, err)
	}
	if got[0].ID != id || got[0].Message != msg {
		t.Fatalf("read back %+v, want %+v (%s)", got[0], msg, id)
	}
	raw, _ := os.ReadFile(got[0].File)
	for _, want := range []string{"From: noreply@senim.kz\r\n", "Content-Type: text/plain; charset=utf-8\r\n", "Subject: =?utf-8?b?"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the file lacks %q:\n%s", want, raw)
		}
	}

	d.SetDown(true)
	if _, err := d.Send(ctx, msg); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("during an outage: %v", err)
	}
	d.SetDown(false)
	if _, err := d.Send(ctx, Message{To: "x", Subject: "s", Body: "b"}); !errors.Is(err, ErrBadAddress) {
		t.Fatalf("a bad address: %v", err)
	}
	d.SetRepeat(true)
	if _, err := d.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Messages(msg.To); len(got) != 3 || got[1].ID != got[2].ID {
		t.Fatalf("a repeat: %d messages", len(got))
	}
	if got, _ := d.Messages("other@example.kz"); len(got) != 0 {
		t.Fatalf("another's outbox: %d", len(got))
	}
}

// relay is a small SMTP server for the adapter's tests: STARTTLS with
// httptest's certificate, AUTH PLAIN, and the answers a test sets.
type relay struct {
	ln       net.Listener
	tls      *tls.Config
	roots    *x509.CertPool
	starttls bool
	rcptCode string // "" accepts

	mu       sync.Mutex
	got      []string // DATA received
	auth     string
	clearCmd []string // commands received before TLS
}

func newRelay(t *testing.T, starttls bool, rcptCode string) *relay {
	hs := httptest.NewUnstartedServer(http.NotFoundHandler())
	hs.StartTLS()
	t.Cleanup(hs.Close)
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, tls: &tls.Config{Certificates: hs.TLS.Certificates}, roots: roots, starttls: starttls, rcptCode: rcptCode}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *relay) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	rw := bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
	say := func(s string) { _, _ = rw.WriteString(s + "\r\n"); _ = rw.Flush() }
	secure := false
	say("220 relay.test ESMTP")
	for {
		line, err := rw.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		cmd := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		if !secure {
			r.mu.Lock()
			r.clearCmd = append(r.clearCmd, cmd)
			r.mu.Unlock()
		}
		switch {
		case cmd == "EHLO":
			if !secure && r.starttls {
				say("250-relay.test")
				say("250 STARTTLS")
			} else if secure {
				say("250-relay.test")
				say("250 AUTH PLAIN")
			} else {
				say("250 relay.test")
			}
		case cmd == "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(c, r.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			secure = true
			rw = bufio.NewReadWriter(bufio.NewReader(tc), bufio.NewWriter(tc))
		case cmd == "AUTH":
			f := strings.Fields(line)
			b, _ := base64.StdEncoding.DecodeString(f[len(f)-1])
			r.mu.Lock()
			r.auth = string(b)
			r.mu.Unlock()
			say("235 ok")
		case cmd == "MAIL":
			say("250 ok")
		case cmd == "RCPT":
			if r.rcptCode != "" {
				say(r.rcptCode + " no")
				continue
			}
			say("250 ok")
		case cmd == "DATA":
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := rw.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			r.mu.Lock()
			r.got = append(r.got, b.String())
			r.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 unknown")
		}
	}
}

func (r *relay) adapter() *SMTP {
	return &SMTP{Addr: r.ln.Addr().String(), From: "noreply@senim.kz", Username: "senim", Password: "secret",
		TLS: &tls.Config{RootCAs: r.roots, ServerName: "example.com"}, Timeout: 10 * time.Second}
}

// The adapter sends over STARTTLS only, authenticated, the message whole.
func TestSMTP(t *testing.T) {
	r := newRelay(t, true, "")
	id, err := r.adapter().Send(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 1 {
		t.Fatalf("the relay got %d messages", len(r.got))
	}
	m, gotID, err := Parse([]byte(r.got[0]))
	if err != nil || m != msg || gotID != id {
		t.Fatalf("the relay got %+v %s (%v), want %+v %s", m, gotID, err, msg, id)
	}
	if r.auth != "\x00senim\x00secret" {
		t.Fatalf("auth %q", r.auth)
	}
	for _, c := range r.clearCmd {
		if c != "EHLO" && c != "STARTTLS" {
			t.Fatalf("%s before TLS (%q)", c, r.clearCmd)
		}
	}
}

// A relay without STARTTLS gets nothing; a temporary refusal is "try again",
// a permanent one is not; a relay that is not there is "try again".
func TestSMTPFailures(t *testing.T) {
	ctx := context.Background()
	r := newRelay(t, false, "")
	if _, err := r.adapter().Send(ctx, msg); !errors.Is(err, ErrUnavailable) || len(r.got) != 0 {
		t.Fatalf("no STARTTLS: %v, %d sent", err, len(r.got))
	}
	if _, err := newRelay(t, true, "451").adapter().Send(ctx, msg); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("451: %v", err)
	}
	if _, err := newRelay(t, true, "550").adapter().Send(ctx, msg); !errors.Is(err, ErrRejected) {
		t.Fatalf("550: %v", err)
	}
	gone := newRelay(t, true, "")
	a := gone.adapter()
	gone.ln.Close()
	if _, err := a.Send(ctx, msg); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("no relay: %v", err)
	}
	if _, err := r.adapter().Send(ctx, Message{To: "a@example.kz\r\nRCPT TO:<x@evil>", Subject: "s", Body: "b"}); !errors.Is(err, ErrBadAddress) {
		t.Fatalf("an injected address: %v", err)
	}
}
