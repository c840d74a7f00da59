package mail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/internal/outside"
)

// Dev is the development stand-in of a relay: each message it takes is
// written to its outbox directory as <time>-<id>.eml, whole, as the relay
// would send it. Set its Faults to make it fail: latency, an outage
// (ErrUnavailable), every n-th call failing, and a message delivered twice
// (two files), as relays sometimes do.
type Dev struct {
	outside.Faults
	dir, from string
	log       zerolog.Logger
	now       func() time.Time
	mu        sync.Mutex
}

// NewDev makes a stand-in writing to dir (made if missing, for its owner
// only) as from. now is the clock (nil: time.Now).
func NewDev(dir, from string, log zerolog.Logger, now func() time.Time) (*Dev, error) {
	if _, err := Address(from); err != nil {
		return nil, fmt.Errorf("mail: the sender %q: %w", from, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Dev{dir: dir, from: from, log: log, now: now}, nil
}

// Dir is the outbox.
func (d *Dev) Dir() string { return d.dir }

// Send implements Sender.
func (d *Dev) Send(ctx context.Context, m Message) (string, error) {
	if _, err := check(m); err != nil {
		return "", err
	}
	if err := d.Before(ctx); err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	at := d.now()
	id := newID(d.from)
	raw := compose(d.from, m, id, at)
	n := 1
	if d.Repeat() {
		n = 2
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-%s-%d.eml", at.UTC().Format("20060102T150405.000000000"), id[:32], i+1)
		if err := writeFile(filepath.Join(d.dir, name), raw); err != nil {
			return "", fmt.Errorf("%w: the outbox: %v", ErrUnavailable, err)
		}
	}
	// Development only: where to read it.
	d.log.Info().Str("mail_id", id).Str("to", m.To).Str("outbox", d.dir).Msg("development e-mail")
	return id, nil
}

// writeFile writes a whole file or none (a reader never sees half).
func writeFile(path string, b []byte) error {
	tmp := path + ".part"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Sent is one message in the outbox.
type Sent struct {
	File string
	ID   string
	Message
}

// Messages reads the outbox's messages to to (all if empty), oldest first.
func (d *Dev) Messages(to string) ([]Sent, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	names, err := filepath.Glob(filepath.Join(d.dir, "*.eml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Sent
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		m, id, err := Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if to == "" || strings.EqualFold(m.To, to) {
			out = append(out, Sent{File: name, ID: id, Message: m})
		}
	}
	return out, nil
}
