package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// chainCacheMax bounds the chains a trust store keeps (a signer's entry
// holds its parsed certificate, a few KiB): past it the cache starts
// afresh. A signer signs several times in a short while: a sign-in, then
// an application or an approval.
const chainCacheMax = 1024

// chainCache keeps the chains x509 built from a signer's certificate to a
// root, by the certificate's bytes and the CA certificates that came with
// it, so that a signer's next signature skips building and checking them
// again (the RSA signatures of every certificate on the path). Only what
// cannot change is kept: the certificates' bytes, so their signatures and
// the path. What can change is judged on every call: each certificate's
// validity at the time of the signature, and revocation (judgeChain).
type chainCache struct {
	mu     sync.Mutex
	m      map[[sha256.Size]byte][][]*x509.Certificate
	builds atomic.Int64 // chains built by x509 (cache misses), for tests
}

// chainKey names a leaf with the extra CA certificates offered with it:
// both decide which chains x509 finds.
func chainKey(leaf *x509.Certificate, extra []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, c := range append([]*x509.Certificate{leaf}, extra...) {
		binary.BigEndian.PutUint64(n[:], uint64(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// get returns the chains kept for key if every certificate on every one
// of them is valid at at; otherwise the caller builds them afresh (and
// gets x509's own refusal when one is not valid).
func (cc *chainCache) get(key [sha256.Size]byte, at time.Time) ([][]*x509.Certificate, bool) {
	cc.mu.Lock()
	chains, ok := cc.m[key]
	cc.mu.Unlock()
	if !ok {
		return nil, false
	}
	for _, chain := range chains {
		for _, c := range chain {
			if at.Before(c.NotBefore) || at.After(c.NotAfter) {
				return nil, false
			}
		}
	}
	return chains, true
}

func (cc *chainCache) put(key [sha256.Size]byte, chains [][]*x509.Certificate) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.m == nil || len(cc.m) >= chainCacheMax {
		cc.m = make(map[[sha256.Size]byte][][]*x509.Certificate)
	}
	cc.m[key] = chains
}
