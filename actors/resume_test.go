package actors

import (
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/act"
)

// A resume token expires after its TTL, works once, and a full store
// drops the tokens closest to expiry instead of growing.
func TestResumeStoreExpiryAndCap(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	who := act.Actor{Role: act.RoleClient, ID: "871008401427", IIN: "871008401427"}
	r := NewResumeStore(10*time.Minute, 2)
	a, _ := r.Issue(who, nil, nil, t0)
	if _, ok := r.Redeem(a, t0.Add(10*time.Minute)); ok {
		t.Fatal("a token redeemed at its expiry")
	}
	b, _ := r.Issue(who, nil, nil, t0)
	if e, ok := r.Redeem(b, t0.Add(9*time.Minute)); !ok || e.who != who {
		t.Fatalf("a fresh token: %+v %v", e, ok)
	}
	if _, ok := r.Redeem(b, t0.Add(9*time.Minute)); ok {
		t.Fatal("a token redeemed twice")
	}
	old, _ := r.Issue(who, nil, nil, t0)
	mid, _ := r.Issue(who, nil, nil, t0.Add(time.Minute))
	last, _ := r.Issue(who, nil, nil, t0.Add(2*time.Minute))
	if r.Len() != 2 {
		t.Fatalf("the store holds %d, cap 2", r.Len())
	}
	if _, ok := r.Redeem(old, t0.Add(3*time.Minute)); ok {
		t.Fatal("the oldest token survived a full store")
	}
	for _, tok := range []string{mid, last} {
		if _, ok := r.Redeem(tok, t0.Add(3*time.Minute)); !ok {
			t.Fatal("a newer token was dropped")
		}
	}
}
