package egovmobile_test

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/senim-kz/senim/egovmobile"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStore(clk *clock, max int) *egovmobile.Store {
	s := egovmobile.NewStore(egovmobile.Config{TTL: time.Minute, Max: max, Now: clk.now})
	s.SetBaseURL("https://senim.example/")
	return s
}

func code(err error) string {
	var e *egovmobile.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// The phone may be given the QR text, the deep link or the bare URL;
// anything else is no link.
func TestAPIURLFromWhatThePhoneIsGiven(t *testing.T) {
	api := "https://senim.example/egov/sign/abc_-DEF"
	for _, in := range []string{api, egovmobile.QRText(api), egovmobile.DeepLink(api), " " + api + "\n"} {
		if got := egovmobile.APIURL(in); got != api {
			t.Errorf("%q: got %q", in, got)
		}
	}
	for _, in := range []string{"", "mobileSign:", "ftp://x/y", "javascript:alert(1)", egovmobile.DeepLinkBase + "?link=file:///etc/passwd"} {
		if got := egovmobile.APIURL(in); got != "" {
			t.Errorf("%q: got %q, want none", in, got)
		}
	}
}

// A link answers until its expiry, then link_expired; its owner is told
// once; later it is forgotten (link_unknown). Tokens are 256 bits and
// unique; the URL holds only the token.
func TestLinkLifecycle(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	s := newStore(clk, 100)
	var told []egovmobile.Outcome
	var mu sync.Mutex
	l, err := s.Create(egovmobile.Request{Owner: "s1", Key: "signin", Kind: egovmobile.KindSignIn, Data: []byte("x"),
		Notify: func(o egovmobile.Outcome) { mu.Lock(); told = append(told, o); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Token) != 43 || l.APIURL != "https://senim.example/egov/sign/"+l.Token {
		t.Fatalf("link %+v", l)
	}
	d, err := s.Descriptor(l.Token)
	if err != nil || d.Document.URI != l.APIURL+"/document" || !d.ExpiryDate.Equal(clk.now().Add(time.Minute)) {
		t.Fatalf("descriptor %+v %v", d, err)
	}
	docs, err := s.Documents(l.Token)
	if err != nil || docs.SignMethod != egovmobile.MethodWithData || docs.DocumentsToSign[0].Purpose() != egovmobile.PurposeAuth {
		t.Fatalf("documents %+v %v", docs, err)
	}
	if _, err := s.Descriptor(l.Token + "x"); code(err) != egovmobile.CodeLinkUnknown {
		t.Fatalf("unknown token: %v", err)
	}
	clk.add(time.Minute)
	if _, err := s.Documents(l.Token); code(err) != egovmobile.CodeLinkExpired {
		t.Fatalf("expired: %v", err)
	}
	s.Sweep()
	s.Sweep()
	if len(told) != 1 || !told[0].Expired || told[0].LinkID != l.ID {
		t.Fatalf("owner told %+v", told)
	}
	clk.add(2 * time.Minute)
	s.Sweep()
	if _, err := s.Documents(l.Token); code(err) != egovmobile.CodeLinkUnknown || s.Len() != 0 {
		t.Fatalf("forgotten: %v, %d held", err, s.Len())
	}
}

// A new link for the same thing replaces the old one (link_used); one
// session holds at most MaxOpenPerOwner open links, the store at most Max;
// a closed session's links go.
func TestReplacementAndCaps(t *testing.T) {
	clk := &clock{t: time.Now()}
	s := newStore(clk, 20)
	old, _ := s.Create(egovmobile.Request{Owner: "s1", Key: "draft:a:1", Kind: egovmobile.KindDraft})
	if _, err := s.Create(egovmobile.Request{Owner: "s1", Key: "draft:a:1", Kind: egovmobile.KindDraft}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Descriptor(old.Token); code(err) != egovmobile.CodeLinkUsed {
		t.Fatalf("replaced: %v", err)
	}
	for i := 0; i < egovmobile.MaxOpenPerOwner-1; i++ {
		if _, err := s.Create(egovmobile.Request{Owner: "s1", Key: strconv.Itoa(i), Kind: egovmobile.KindDraft}); err != nil {
			t.Fatal(i, err)
		}
	}
	if _, err := s.Create(egovmobile.Request{Owner: "s1", Key: "one more", Kind: egovmobile.KindDraft}); !errors.Is(err, egovmobile.ErrFull) {
		t.Fatalf("past the session's cap: %v", err)
	}
	for i := 0; s.Len() < 20; i++ {
		if _, err := s.Create(egovmobile.Request{Owner: "o" + strconv.Itoa(i), Key: "k", Kind: egovmobile.KindDraft}); err != nil {
			t.Fatal(err)
		}
	}
	// A full store first forgets the spent links it keeps for their grace.
	if _, err := s.Create(egovmobile.Request{Owner: "late", Key: "k0", Kind: egovmobile.KindDraft}); err != nil {
		t.Fatalf("a spent link was not given up for an open one: %v", err)
	}
	if _, err := s.Descriptor(old.Token); code(err) != egovmobile.CodeLinkUnknown {
		t.Fatalf("the replaced link, forgotten: %v", err)
	}
	if _, err := s.Create(egovmobile.Request{Owner: "late", Key: "k", Kind: egovmobile.KindDraft}); !errors.Is(err, egovmobile.ErrFull) {
		t.Fatalf("past the store's cap: %v", err)
	}
	s.DropOwner("s1")
	if _, err := s.Create(egovmobile.Request{Owner: "late", Key: "k", Kind: egovmobile.KindDraft}); err != nil {
		t.Fatalf("after a session closed: %v", err)
	}
}

// BenchmarkCreateFullStore measures a sign_link's cost in the store when
// it already holds Max-1 links (each Create scans them: expiry and the
// session's cap).
func BenchmarkCreateFullStore(b *testing.B) {
	clk := &clock{t: time.Now()}
	const max = 10000
	s := newStore(clk, max)
	for i := 0; i < max-1; i++ {
		if _, err := s.Create(egovmobile.Request{Owner: "o" + strconv.Itoa(i), Key: "k", Kind: egovmobile.KindDraft}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Create(egovmobile.Request{Owner: "bench", Key: "k", Kind: egovmobile.KindDraft}); err != nil {
			b.Fatal(err)
		}
	}
}
