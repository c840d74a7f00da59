package devca_test

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

func TestOpenCreatesOnceAndReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "devca")
	now := time.Now()
	a, err := devca.Open(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := devca.Open(dir, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Root().Equal(b.Root()) || !a.Intermediate().Equal(b.Intermediate()) {
		t.Fatal("second Open made a new CA instead of reusing the first")
	}
	if err := a.Intermediate().CheckSignatureFrom(a.Root()); err != nil {
		t.Fatalf("intermediate not issued by root: %v", err)
	}
	if !a.Root().IsCA || a.Root().MaxPathLen != 1 || !a.Intermediate().IsCA || !a.Intermediate().MaxPathLenZero {
		t.Fatal("CA path-length constraints are not NUC's two levels")
	}
}

func TestIssueRequestValidation(t *testing.T) {
	ca, err := devca.Open(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bad := []devca.Request{
		{IIN: "940140000380", Surname: "A", Name: "B"},                                                           // bad IIN
		{IIN: "871008401427", Surname: "A"},                                                                      // no name
		{IIN: "871008401427", Surname: "A", Name: "B", BIN: "940140000385", Role: "hr"},                          // no organisation
		{IIN: "871008401427", Surname: "A", Name: "B", BIN: "940140000385", Organization: "O"},                   // no role
		{IIN: "871008401427", Surname: "A", Name: "B", BIN: "940140000381", Organization: "O", Role: pki.RoleHR}, // bad BIN
		{IIN: "871008401427", Surname: "A", Name: "B", Role: pki.RoleFirstHead},                                  // role without BIN
	}
	for i, r := range bad {
		if _, err := ca.Issue(r, devca.UsageSign, time.Now()); err == nil {
			t.Errorf("case %d: issued %+v", i, r)
		}
	}
	entries, err := ca.Entries()
	if err != nil || len(entries) != 0 {
		t.Fatalf("refused requests left index entries: %v %v", entries, err)
	}
}

func TestRevokeByIINAndCRL(t *testing.T) {
	now := time.Now()
	ca, err := devca.Open(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.IssuePair(devca.Request{IIN: "871008401427", Surname: "A", Name: "B", DigitalID: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	roles := pki.RolesOf(pair.Sign.Certificate)
	if len(roles) != 2 || roles[1] != pki.RoleDigitalID {
		t.Fatalf("roles %v, want individual and digital-id", roles)
	}
	ts, err := ca.TrustStore()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := pair.Auth.Sign([]byte("nonce"), pki.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Verify(sig, pki.VerifyOptions{Purpose: pki.PurposeAuth, Live: true}); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	done, err := ca.Revoke(devca.Selector{IIN: "871008401427"}, now)
	if err != nil || len(done) != 2 {
		t.Fatalf("revoked %d (%v), want both keys", len(done), err)
	}
	if _, err := ts.Verify(sig, pki.VerifyOptions{Purpose: pki.PurposeAuth, Live: true}); pki.CodeOf(err) != pki.CodeRevoked {
		t.Fatalf("after revocation: %v", err)
	}
	again, err := ca.Revoke(devca.Selector{IIN: "871008401427"}, now)
	if err != nil || len(again) != 0 {
		t.Fatalf("second revocation: %v %v", again, err)
	}
	if _, err := ca.Revoke(devca.Selector{Serial: "abcdef"}, now); !errors.Is(err, devca.ErrNotFound) {
		t.Fatalf("unknown serial: %v", err)
	}
}

func TestConcurrentIssueKeepsEveryIndexEntry(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	var wg sync.WaitGroup
	const n = 6
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine opens the CA itself, as separate processes would.
			ca, err := devca.Open(dir, now)
			if err == nil {
				_, err = ca.Issue(devca.Request{IIN: "871008401427", Surname: "A", Name: "B"}, devca.UsageAuth, now)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ca, err := devca.Open(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ca.Entries()
	if err != nil || len(entries) != n {
		t.Fatalf("index has %d entries (%v), want %d", len(entries), err, n)
	}
}
