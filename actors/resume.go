package actors

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/senim-kz/senim/domain/act"
)

// ResumeStore holds the resume tokens of welcomes: a reloaded page signs
// the same identity in again without a new EDS signature or password. A
// token is 256 random bits, spent on first use, and valid for a short TTL;
// the store keeps only its SHA-256 (a memory dump yields no usable token),
// in memory only (a restart signs everyone out), and at most max of them.
type ResumeStore struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[[sha256.Size]byte]resumeEntry
	issued  int
}

// resumeEntry is what a token restores: the identity and, for an EDS
// sign-in, the certificate to judge again.
type resumeEntry struct {
	who     act.Actor
	cert    []byte   // the sign-in certificate, DER (nil for a notary)
	chain   [][]byte // its chain's certificates the trust store does not hold, DER
	expires time.Time
}

// NewResumeStore makes a store of tokens valid for ttl, holding at most max.
func NewResumeStore(ttl time.Duration, max int) *ResumeStore {
	return &ResumeStore{ttl: ttl, max: max, entries: map[[sha256.Size]byte]resumeEntry{}}
}

// Issue makes a token for who (with the sign-in certificate and chain of
// an EDS session). When the store is full, expired tokens go first, then
// the one closest to expiry: a flood of sign-ins costs the oldest tokens,
// never memory without bound.
func (r *ResumeStore) Issue(who act.Actor, cert []byte, chain [][]byte, now time.Time) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	r.mu.Lock()
	defer r.mu.Unlock()
	// Expired tokens hold certificates: drop them now and then, not
	// only when the store is full.
	if r.issued++; len(r.entries) >= r.max || r.issued%256 == 0 {
		r.sweep(now)
	}
	for len(r.entries) >= r.max {
		var oldest [sha256.Size]byte
		first := true
		for k, e := range r.entries {
			if first || e.expires.Before(r.entries[oldest].expires) {
				oldest, first = k, false
			}
		}
		delete(r.entries, oldest)
	}
	r.entries[sha256.Sum256([]byte(token))] = resumeEntry{who: who, cert: cert, chain: chain, expires: now.Add(r.ttl)}
	return token, nil
}

// Redeem spends token: it reports what it restores if it was issued,
// unused and unexpired. Any attempt spends it, so a guessed or stolen
// token works at most once, for whoever comes first.
func (r *ResumeStore) Redeem(token string, now time.Time) (resumeEntry, bool) {
	k := sha256.Sum256([]byte(token))
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[k]
	delete(r.entries, k)
	if !ok || !now.Before(e.expires) {
		return resumeEntry{}, false
	}
	return e, true
}

// Len is the number of tokens held.
func (r *ResumeStore) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

func (r *ResumeStore) sweep(now time.Time) {
	for k, e := range r.entries {
		if !now.Before(e.expires) {
			delete(r.entries, k)
		}
	}
}
