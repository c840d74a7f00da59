package pki_test

import (
	"testing"
	"time"

	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

// A signer's chain is built once and kept (its signatures cannot change),
// while what can change is still judged on every signature: a revocation
// published after the chain was kept refuses the next one, and so does a
// signature judged past the certificate's validity.
func TestChainIsKeptButRevocationAndValidityAreJudgedEachTime(t *testing.T) {
	now := time.Now()
	k, err := fx.ca.Issue(devca.Request{IIN: "871008401427", Surname: "Kept", Name: "Chain", Validity: 48 * time.Hour}, devca.UsageSign, now)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := fx.ca.TrustStore()
	if err != nil {
		t.Fatal(err)
	}
	live := pki.VerifyOptions{Purpose: pki.PurposeSign, Live: true, Now: now}
	for i := range 3 {
		v, err := ts.Verify(mustSign(t, k, []byte("сенімхат"), false), live)
		if err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
		if len(v.Chain) != 3 || v.Chain[0].SerialNumber.Cmp(k.Certificate.SerialNumber) != 0 {
			t.Fatalf("signature %d: chain of %d", i, len(v.Chain))
		}
	}
	if n := pki.ChainBuilds(ts); n != 1 {
		t.Fatalf("three signatures of one signer built its chain %d times, want 1", n)
	}
	// Past the certificate's end: expired, though the chain was kept.
	der := mustSign(t, k, []byte("сенімхат"), false)
	later := live
	later.Now, later.MaxSkew = now.Add(72*time.Hour), 73*time.Hour
	if _, err := ts.Verify(der, later); pki.CodeOf(err) != pki.CodeExpired {
		t.Fatalf("past the certificate's validity: %v", err)
	}
	// Revoked after its chain was kept: refused.
	if _, err := fx.ca.Revoke(devca.Selector{Serial: pki.SerialHex(k.Certificate.SerialNumber)}, now); err != nil {
		t.Fatal(err)
	}
	live.Now = now.Add(time.Minute)
	if _, err := ts.Verify(mustSign(t, k, []byte("сенімхат"), false), live); pki.CodeOf(err) != pki.CodeRevoked {
		t.Fatalf("after revocation: %v", err)
	}
	// Another signer's chain is its own.
	if _, err := ts.Verify(mustSign(t, fx.person.Sign, []byte("сенімхат"), false), pki.VerifyOptions{Purpose: pki.PurposeSign, Live: true}); err != nil {
		t.Fatal(err)
	}
	if n := pki.ChainBuilds(ts); n < 2 {
		t.Fatalf("another signer's chain was not built (%d builds)", n)
	}
}
