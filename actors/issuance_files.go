package actors

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"github.com/senim-kz/senim/domain/issuance"
)

// The files of an application (the selfie, the liveness video, the
// document photos) are read over HTTP by those who may read the
// application: its applicant, and the moderator of the case. The session
// checks who asks (the file query) and hands out a ticket: a random,
// single-use name for one file, good for fileTicketTTL. The HTTP handler
// redeems it; a ticket names nothing anyone else could guess.

const fileTicketTTL = 5 * time.Minute

// FileTicket is what a ticket opens: one stored upload of one application.
type FileTicket struct {
	AppID   string
	Upload  issuance.Upload
	expires time.Time
}

// fileTickets are the tickets not yet redeemed.
type fileTickets struct {
	mu sync.Mutex
	m  map[string]FileTicket
}

func (t *fileTickets) issue(f FileTicket, now time.Time) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	f.expires = now.Add(fileTicketTTL)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]FileTicket{}
	}
	for k, v := range t.m { // the expired go first; there are few at a time
		if now.After(v.expires) {
			delete(t.m, k)
		}
	}
	if len(t.m) >= 10000 {
		return ""
	}
	t.m[tok] = f
	return tok
}

// RedeemFileTicket spends a ticket: the file it opens, if it is valid.
func (s *System) RedeemFileTicket(tok string, now time.Time) (FileTicket, bool) {
	t := s.issuanceDeps.tickets
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.m[tok]
	delete(t.m, tok)
	if !ok || now.After(f.expires) {
		return FileTicket{}, false
	}
	return f, true
}
