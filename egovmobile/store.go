package egovmobile

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/senim-kz/senim/pki"
)

// The kinds of thing a link signs (the sign_link query's "what").
const (
	KindSignIn      = "signin"
	KindApplication = "application"
	KindConsent     = "consent"
	KindDraft       = "draft"
	KindRevocation  = "revocation"
)

// Error is a refusal of the HTTP endpoints: a stable code, the HTTP
// status it is answered with, and a message for people.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func refuse(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrFull refuses a new link when the store holds Config.Max open links.
var ErrFull = errors.New("egovmobile: too many open signing links; try again shortly")

// Request is what a session asks a link for.
type Request struct {
	// Owner is the asking session; Key what the link is for within it
	// (kind, act, revision): a new link for the same Owner and Key
	// replaces the old one, which then answers link_used.
	Owner, Key string
	// Kind is one of the Kind constants; it picks the texts and the key.
	Kind string
	// SignerIIN is the session's person, whose certificate must sign; ""
	// for a sign-in, where the signature says who signs.
	SignerIIN string
	// Data are the exact bytes to sign.
	Data []byte
	// Meta are lines shown with the document (act, revision): no
	// personal data beyond what Data holds.
	Meta []Meta
	// Notify receives the outcome once: the accepted CMS, or the expiry.
	// It must not block (a session sends itself a message).
	Notify func(Outcome)
}

// Outcome is what becomes of a link.
type Outcome struct {
	LinkID  string
	CMS     []byte // the accepted CMS (DER); nil when Expired
	Expired bool
}

// Link is an issued link. Token is secret: it is the link's only
// credential, and the store keeps only its hash.
type Link struct {
	ID        string
	Token     string
	APIURL    string
	ExpiresAt time.Time
}

// Config configures a Store.
type Config struct {
	TTL     time.Duration
	Max     int
	Now     func() time.Time
	Trust   *pki.TrustStore
	MaxSkew time.Duration
	// Texts are the page catalogs by language (egov.* keys are used).
	Texts map[string]map[string]string
	// BIN is the organisation's business identification number shown on
	// the phone.
	BIN string
}

type state int

const (
	open state = iota
	used
	expiredNotified
)

type entry struct {
	req       Request
	id        string
	expiresAt time.Time
	state     state
}

// Store holds the open links in memory (a restart ends them: the app asks
// for a new one), at most Config.Max, each until its expiry and a grace
// period after it, in which it answers link_used or link_expired.
type Store struct {
	cfg   Config
	mu    sync.Mutex
	base  string
	links map[[32]byte]*entry
	byKey map[string][32]byte
}

// NewStore returns an empty store.
func NewStore(cfg Config) *Store {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Max <= 0 {
		cfg.Max = 10000
	}
	return &Store{cfg: cfg, links: map[[32]byte]*entry{}, byKey: map[string][32]byte{}}
}

// SetBaseURL sets the public base of the URLs the links name.
func (s *Store) SetBaseURL(base string) {
	s.mu.Lock()
	s.base = strings.TrimSuffix(base, "/")
	s.mu.Unlock()
}

// APIURL is the API URL of a token.
func (s *Store) APIURL(token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base + "/egov/sign/" + token
}

func hashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Create issues a link for req, replacing an earlier link of the same
// Owner and Key.
func (s *Store) Create(req Request) (Link, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gcLocked(now)
	if old, ok := s.byKey[req.Owner+"\x00"+req.Key]; ok {
		if e := s.links[old]; e != nil && e.state == open {
			e.state = used
		}
	}
	if len(s.links) >= s.cfg.Max {
		s.evictSpentLocked()
	}
	if len(s.links) >= s.cfg.Max || s.openOfLocked(req.Owner, now) >= MaxOpenPerOwner {
		return Link{}, ErrFull
	}
	token := random(32) // 256 bits
	h := hashToken(token)
	e := &entry{req: req, id: random(12), expiresAt: now.Add(s.cfg.TTL)}
	s.links[h] = e
	s.byKey[req.Owner+"\x00"+req.Key] = h
	return Link{ID: e.id, Token: token, APIURL: s.base + "/egov/sign/" + token, ExpiresAt: e.expiresAt}, nil
}

// MaxOpenPerOwner caps the open links of one session: a session cannot
// fill the store for everyone (a new link for the same thing replaces the
// old one, so an app needs few).
const MaxOpenPerOwner = 8

func (s *Store) openOfLocked(owner string, now time.Time) int {
	n := 0
	for _, e := range s.links {
		if e.req.Owner == owner && e.state == open && now.Before(e.expiresAt) {
			n++
		}
	}
	return n
}

// evictSpentLocked forgets the used and expired links kept for their
// grace period, so that replaced links cannot crowd out open ones; a
// forgotten one answers link_unknown, which refuses as well.
func (s *Store) evictSpentLocked() {
	for h, e := range s.links {
		if e.state != open {
			delete(s.links, h)
			if s.byKey[e.req.Owner+"\x00"+e.req.Key] == h {
				delete(s.byKey, e.req.Owner+"\x00"+e.req.Key)
			}
		}
	}
}

// DropOwner forgets the links of a session that closed: its phone can no
// longer deliver to it.
func (s *Store) DropOwner(owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, e := range s.links {
		if e.req.Owner == owner {
			delete(s.links, h)
		}
	}
}

// Len is the number of links held (open, used or expired in their grace).
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.links)
}

// gcLocked removes links past their grace period (one more TTL after
// expiry), after which they answer link_unknown.
func (s *Store) gcLocked(now time.Time) {
	for h, e := range s.links {
		if now.After(e.expiresAt.Add(s.cfg.TTL)) {
			delete(s.links, h)
			if s.byKey[e.req.Owner+"\x00"+e.req.Key] == h {
				delete(s.byKey, e.req.Owner+"\x00"+e.req.Key)
			}
		}
	}
}

// Sweep tells the owners of links that expired unused, once each, and
// forgets old links. The server calls it periodically.
func (s *Store) Sweep() {
	now := s.cfg.Now()
	var expired []*entry
	s.mu.Lock()
	for _, e := range s.links {
		if e.state == open && !now.Before(e.expiresAt) {
			e.state = expiredNotified
			expired = append(expired, e)
		}
	}
	s.gcLocked(now)
	s.mu.Unlock()
	for _, e := range expired {
		if e.req.Notify != nil {
			e.req.Notify(Outcome{LinkID: e.id, Expired: true})
		}
	}
}

// find returns an open link's entry (a copy), or the refusal for it.
func (s *Store) find(token string) (entry, *Error) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.links[hashToken(token)]
	switch {
	case !ok:
		return entry{}, refuse(http.StatusNotFound, CodeLinkUnknown, "no such signing link")
	case e.state == used:
		return entry{}, refuse(http.StatusConflict, CodeLinkUsed, "this link was used or replaced by a newer one; nothing is signed twice")
	case e.state == expiredNotified || !now.Before(e.expiresAt):
		return entry{}, refuse(http.StatusGone, CodeLinkExpired, "this link expired; ask for a new one in Senim")
	}
	return *e, nil
}

// Descriptor is the API URL's answer for token.
func (s *Store) Descriptor(token string) (Descriptor, error) {
	e, err := s.find(token)
	if err != nil {
		return Descriptor{}, err
	}
	return Descriptor{
		Description:  s.text("ru", "egov.what."+e.req.Kind) + " / " + s.text("kk", "egov.what."+e.req.Kind),
		ExpiryDate:   e.expiresAt.UTC(),
		Organisation: Organisation{NameRu: s.text("ru", "egov.org"), NameKz: s.text("kk", "egov.org"), NameEn: s.text("en", "egov.org"), BIN: s.cfg.BIN},
		Document:     DocumentRef{URI: s.APIURL(token) + "/document", AuthType: "None"},
	}, nil
}

func (s *Store) text(lang, key string) string {
	if t := s.cfg.Texts[lang][key]; t != "" {
		return t
	}
	return key
}

func purposeOf(kind string) string {
	if kind == KindSignIn {
		return PurposeAuth
	}
	return PurposeSign
}

// Documents is the document URL's answer for token: one text document,
// signed with its data attached.
func (s *Store) Documents(token string) (Documents, error) {
	e, err := s.find(token)
	if err != nil {
		return Documents{}, err
	}
	meta := append([]Meta{{Name: "purpose", Value: purposeOf(e.req.Kind)}}, e.req.Meta...)
	return Documents{SignMethod: MethodWithData, Version: 1, DocumentsToSign: []DocumentToSign{{
		ID: 1, NameRu: s.text("ru", "egov.name."+e.req.Kind), NameKz: s.text("kk", "egov.name."+e.req.Kind), NameEn: s.text("en", "egov.name."+e.req.Kind),
		Meta:     meta,
		Document: DocumentBody{File: File{Mime: "text/plain", Data: base64.StdEncoding.EncodeToString(e.req.Data)}},
	}}}, nil
}

// Accept judges the phone's signed documents for token and, if the
// signature is good, spends the link and hands the CMS to its session. The
// CMS is judged as an NCALayer signature is: the trust store, the key usage
// of the purpose, a live signing time, the exact bytes, and (but for a
// sign-in) the session's person.
func (s *Store) Accept(token string, signed Documents) error {
	e, rerr := s.find(token)
	if rerr != nil {
		return rerr
	}
	if len(signed.DocumentsToSign) != 1 || signed.DocumentsToSign[0].ID != 1 {
		return refuse(http.StatusBadRequest, CodeBadRequest, "expected the one document (id 1) of this link")
	}
	der, err := base64.StdEncoding.DecodeString(signed.DocumentsToSign[0].Document.File.Data)
	if err != nil {
		return refuse(http.StatusUnprocessableEntity, string(pki.CodeMalformed), "document.file.data is not base64")
	}
	purpose := pki.PurposeSign
	if e.req.Kind == KindSignIn {
		purpose = pki.PurposeAuth
	}
	opts := pki.VerifyOptions{Purpose: purpose, Live: true, Now: s.cfg.Now(), MaxSkew: s.cfg.MaxSkew}
	if _, err := pki.EncapsulatedContent(der); err != nil {
		if e.req.Kind != KindSignIn {
			// The act keeps the signed bytes inside the CMS.
			return refuse(http.StatusUnprocessableEntity, string(pki.CodeMalformed), "the CMS must carry its data (CMS_WITH_DATA)")
		}
		opts.Content = e.req.Data // detached sign-in: the verifier supplies the bytes
	}
	v, err := s.cfg.Trust.Verify(der, opts)
	if err != nil {
		return refuse(http.StatusUnprocessableEntity, string(pki.CodeOf(err)), "%v", err)
	}
	if !bytes.Equal(v.Content, e.req.Data) {
		return refuse(http.StatusUnprocessableEntity, CodeContentMismatch, "the signature is not over this link's document")
	}
	if e.req.SignerIIN != "" && v.IIN.String() != e.req.SignerIIN {
		return refuse(http.StatusForbidden, CodeSignerMismatch, "the certificate is another person's than the one who asked for this signature")
	}
	// Spend the link, unless another PUT did while this one was judged.
	s.mu.Lock()
	cur, ok := s.links[hashToken(token)]
	if !ok || cur.state != open {
		s.mu.Unlock()
		return refuse(http.StatusConflict, CodeLinkUsed, "this link was used or replaced by a newer one; nothing is signed twice")
	}
	cur.state = used
	s.mu.Unlock()
	if e.req.Notify != nil {
		e.req.Notify(Outcome{LinkID: e.id, CMS: der})
	}
	return nil
}
