// Package playback hands out links to a call's recording: a 256-bit token
// that names one act's one recording for a while, and nothing else. The
// app asks for a link over its session (the recording_link query, for the
// act's notary), and a <video> element plays it from the server's
// /recordings/{token} with range requests. The URL carries no IIN, no act
// id and no recording id; the store keeps only the tokens' SHA-256, so a
// memory dump yields no usable link.
package playback

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sync"
	"time"
)

// Link is what a token stands for.
type Link struct {
	Act       string
	Recording string
	Expires   time.Time
}

// Links is the store of issued links, at most max, each for ttl.
type Links struct {
	mu   sync.Mutex
	ttl  time.Duration
	max  int
	byID map[string]Link
}

// New returns a store whose links last ttl; past max links the expired go
// first, then the one that expires soonest.
func New(ttl time.Duration, max int) *Links {
	if max < 1 {
		max = 1
	}
	return &Links{ttl: ttl, max: max, byID: map[string]Link{}}
}

func key(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Issue makes a link to an act's recording and returns its token and when
// it expires.
func (l *Links) Issue(actID, recording string, now time.Time) (string, time.Time) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	exp := now.Add(l.ttl)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.byID) >= l.max {
		soonest, at := "", time.Time{}
		for k, v := range l.byID {
			if !now.Before(v.Expires) {
				delete(l.byID, k)
				continue
			}
			if soonest == "" || v.Expires.Before(at) {
				soonest, at = k, v.Expires
			}
		}
		if len(l.byID) >= l.max {
			delete(l.byID, soonest)
		}
	}
	l.byID[key(token)] = Link{Act: actID, Recording: recording, Expires: exp}
	return token, exp
}

// Resolve returns the link a token stands for, if it is one and has not
// expired.
func (l *Links) Resolve(token string, now time.Time) (Link, bool) {
	if len(token) != 43 { // 32 bytes, base64url without padding
		return Link{}, false
	}
	k := key(token)
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.byID[k]
	if !ok {
		return Link{}, false
	}
	if !now.Before(v.Expires) {
		delete(l.byID, k)
		return Link{}, false
	}
	return v, true
}
