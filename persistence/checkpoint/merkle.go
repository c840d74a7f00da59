package checkpoint

import (
	"crypto/sha256"
	"errors"
	"strconv"
)

// Hash is a SHA-256 value of the Merkle tree.
type Hash = [sha256.Size]byte

// Leaf is one stream's head at a checkpoint.
type Leaf struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Hash   string `json:"hash"` // the hash of the stream's record at Seq (hex)
}

// LeafData are the bytes a leaf's hash covers: the netstrings (len ":"
// bytes ",") of "senim.checkpoint.leaf.v1", stream, seq (decimal) and
// hash (hex), as the event records' canonical bytes are made.
func (l Leaf) LeafData() []byte {
	var b []byte
	for _, f := range []string{"senim.checkpoint.leaf.v1", l.Stream, strconv.FormatUint(l.Seq, 10), l.Hash} {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, ',')
	}
	return b
}

// LeafHash is RFC 6962's leaf hash: SHA-256(0x00 || LeafData).
func (l Leaf) LeafHash() Hash {
	return sha256.Sum256(append([]byte{0x00}, l.LeafData()...))
}

// nodeHash is RFC 6962's interior node: SHA-256(0x01 || left || right).
func nodeHash(left, right Hash) Hash {
	b := make([]byte, 0, 1+2*sha256.Size)
	b = append(b, 0x01)
	b = append(b, left[:]...)
	b = append(b, right[:]...)
	return sha256.Sum256(b)
}

// split is RFC 6962's k: the largest power of two smaller than n (n > 1).
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// Root is the Merkle tree hash (RFC 6962 section 2.1) of the leaf hashes;
// the hash of the empty string for none.
func Root(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return nodeHash(Root(leaves[:k]), Root(leaves[k:]))
}

// Proof is the audit path of leaf m (RFC 6962 section 2.1.1, PATH(m, D[n])).
func Proof(leaves []Hash, m int) []Hash {
	n := len(leaves)
	if n <= 1 || m < 0 || m >= n {
		return nil
	}
	k := split(n)
	if m < k {
		return append(Proof(leaves[:k], m), Root(leaves[k:]))
	}
	return append(Proof(leaves[k:], m-k), Root(leaves[:k]))
}

// ErrProof: an inclusion proof that does not lead to a root.
var ErrProof = errors.New("checkpoint: the inclusion proof is malformed")

// RootFromProof recomputes the root from a leaf hash, its index, the tree
// size and its audit path, as RFC 9162 section 2.1.3.2 verifies inclusion;
// the caller compares the result with the signed root.
func RootFromProof(index, size uint64, leaf Hash, proof []Hash) (Hash, error) {
	if index >= size {
		return Hash{}, ErrProof
	}
	fn, sn, r := index, size-1, leaf
	for _, p := range proof {
		if sn == 0 {
			return Hash{}, ErrProof
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return Hash{}, ErrProof
	}
	return r, nil
}
