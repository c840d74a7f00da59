package pki

import (
	"crypto/x509"
	"math/big"
	"testing"
	"time"
)

func TestRevokedSetFindsEachSerialAtItsEarliestTime(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)
	big1 := new(big.Int).Lsh(big.NewInt(1), 159) // a 20-byte serial
	entries := []x509.RevocationListEntry{
		{SerialNumber: big.NewInt(5), RevocationTime: t0.Add(time.Hour)},
		{SerialNumber: big.NewInt(-5), RevocationTime: t0.Add(2 * time.Hour)},
		{SerialNumber: big.NewInt(0), RevocationTime: t0},
		{SerialNumber: big.NewInt(256), RevocationTime: t0.Add(3 * time.Hour)},
		{SerialNumber: big1, RevocationTime: t0.Add(4 * time.Hour)},
		{SerialNumber: big.NewInt(5), RevocationTime: t0.Add(30 * time.Minute)}, // listed twice: the earlier holds
		{SerialNumber: nil, RevocationTime: t0},                                 // no serial: ignored
		{SerialNumber: big.NewInt(7), RevocationTime: t0.Add(500 * time.Millisecond).In(time.FixedZone("ALMT", 5*3600))},
	}
	s := newRevokedSet(entries)
	if s.len() != 6 {
		t.Fatalf("%d serials indexed, want 6", s.len())
	}
	for _, c := range []struct {
		serial *big.Int
		want   time.Time
	}{
		{big.NewInt(5), t0.Add(30 * time.Minute)},
		{big.NewInt(-5), t0.Add(2 * time.Hour)},
		{big.NewInt(0), t0},
		{big.NewInt(256), t0.Add(3 * time.Hour)},
		{new(big.Int).Set(big1), t0.Add(4 * time.Hour)},
		{big.NewInt(7), t0.Add(500 * time.Millisecond)},
	} {
		got, _, ok := s.lookup(c.serial)
		if !ok || !got.Equal(c.want) {
			t.Errorf("serial %v: revoked at %v (%v), want %v", c.serial, got, ok, c.want)
		}
	}
	for _, n := range []*big.Int{big.NewInt(1), big.NewInt(-1), big.NewInt(6), big.NewInt(1), big.NewInt(255), big.NewInt(65536), new(big.Int).Add(big1, big.NewInt(1)), new(big.Int).Neg(big1)} {
		if got, _, ok := s.lookup(n); ok {
			t.Errorf("serial %v is not listed, found revoked at %v", n, got)
		}
	}
	empty := newRevokedSet(nil)
	if _, _, ok := empty.lookup(big.NewInt(0)); ok {
		t.Error("an empty set holds serial 0")
	}
}
