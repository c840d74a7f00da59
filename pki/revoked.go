package pki

import (
	"bytes"
	"crypto/x509"
	"math/big"
	"slices"
	"sort"
	"time"
)

// revokedSet is the serial numbers one CRL revokes, each with the earliest
// time a CRL entry gives for it, sorted for a binary search. A national
// CA's CRL lists hundreds of thousands of certificates: a scan of its
// entries cost every verification about 11 µs per thousand, and the parsed
// entries (two copies each, as x509 fills both fields) about 300 bytes
// apiece. A set is about 45 bytes an entry and holds no pointer per entry,
// so the collector does not walk it.
type revokedSet struct {
	keys    []byte // every key (appendSerialKey), concatenated in order
	ends    []int  // ends[i] is where key i ends in keys
	times   []instant
	reasons []uint8 // the entry's reason code (RFC 5280 §5.3.1; 0 when it gives none)
}

// instant is a revocation time without a *time.Location.
type instant struct {
	sec  int64
	nsec int32
}

// newRevokedSet indexes entries. A serial listed more than once keeps its
// earliest revocation time, and that entry's reason: any entry at or before
// a moment revokes.
func newRevokedSet(entries []x509.RevocationListEntry) revokedSet {
	type rec struct {
		key    []byte
		at     instant
		reason uint8
	}
	recs := make([]rec, 0, len(entries))
	var arena []byte
	for i := range entries {
		e := &entries[i]
		if e.SerialNumber == nil {
			continue
		}
		start := len(arena)
		arena = appendSerialKey(arena, e.SerialNumber)
		recs = append(recs, rec{key: arena[start:len(arena):len(arena)], at: instant{e.RevocationTime.Unix(), int32(e.RevocationTime.Nanosecond())},
			reason: uint8(min(max(e.ReasonCode, 0), 255))})
	}
	slices.SortFunc(recs, func(a, b rec) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		return a.at.compare(b.at)
	})
	var s revokedSet
	s.keys = make([]byte, 0, len(arena))
	s.ends = make([]int, 0, len(recs))
	s.times = make([]instant, 0, len(recs))
	s.reasons = make([]uint8, 0, len(recs))
	for i, r := range recs {
		if i > 0 && bytes.Equal(r.key, recs[i-1].key) {
			continue // sorted: the first of equal keys is the earliest
		}
		s.keys = append(s.keys, r.key...)
		s.ends = append(s.ends, len(s.keys))
		s.times = append(s.times, r.at)
		s.reasons = append(s.reasons, r.reason)
	}
	return s
}

// appendSerialKey appends serial's key to dst: a sign byte (0 for zero and
// above, 1 below), then the magnitude big-endian without leading zeros. Two
// serials have the same key exactly when they are equal.
func appendSerialKey(dst []byte, serial *big.Int) []byte {
	sign := byte(0)
	if serial.Sign() < 0 {
		sign = 1
	}
	dst = append(dst, sign)
	start, n := len(dst), (serial.BitLen()+7)/8
	dst = slices.Grow(dst, n)[:start+n]
	serial.FillBytes(dst[start:]) // the absolute value
	return dst
}

func (a instant) compare(b instant) int {
	switch {
	case a.sec != b.sec:
		if a.sec < b.sec {
			return -1
		}
		return 1
	case a.nsec != b.nsec:
		if a.nsec < b.nsec {
			return -1
		}
		return 1
	}
	return 0
}

// key returns the i-th key.
func (s *revokedSet) key(i int) []byte {
	start := 0
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.keys[start:s.ends[i]]
}

// len is the number of distinct serials.
func (s *revokedSet) len() int { return len(s.ends) }

// lookup reports the earliest time a CRL entry gives for serial, and that
// entry's reason code, if serial is listed.
func (s *revokedSet) lookup(serial *big.Int) (time.Time, uint8, bool) {
	var buf [24]byte
	k := appendSerialKey(buf[:0], serial)
	n := s.len()
	i := sort.Search(n, func(i int) bool { return bytes.Compare(s.key(i), k) >= 0 })
	if i == n || !bytes.Equal(s.key(i), k) {
		return time.Time{}, 0, false
	}
	return time.Unix(s.times[i].sec, int64(s.times[i].nsec)), s.reasons[i], true
}
