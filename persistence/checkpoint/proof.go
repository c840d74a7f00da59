package checkpoint

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
)

// ProofFormat names the inclusion proof's layout (checkpoint.json).
const ProofFormat = "senim.checkpoint.proof.v1"

// InclusionProof shows that one stream's record is under a signed root.
type InclusionProof struct {
	Format string `json:"format"`
	// Number is the checkpoint's number; Stream, Seq and Hash the leaf: the
	// stream's record at Seq carries Hash.
	Number uint64 `json:"checkpoint"`
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Hash   string `json:"hash"`
	// LeafIndex and TreeSize place the leaf; Leaf is its hash
	// (SHA-256(0x00 || leaf data)), Path its audit path (RFC 6962), Root
	// the tree hash they give, which the CMS signs.
	LeafIndex uint64   `json:"leaf_index"`
	TreeSize  uint64   `json:"tree_size"`
	Leaf      string   `json:"leaf"`
	Path      []string `json:"path"`
	Root      string   `json:"root"`
}

// ProofFor is the inclusion proof of stream in the last checkpoint of st,
// and that checkpoint's CMS; ok is false when no checkpoint covers stream.
func ProofFor(st *State, stream string) (p InclusionProof, cms []byte, ok bool) {
	i := sort.Search(len(st.Leaves), func(i int) bool { return st.Leaves[i].Stream >= stream })
	if i == len(st.Leaves) || st.Leaves[i].Stream != stream {
		return InclusionProof{}, nil, false
	}
	hs := leafHashes(st.Leaves)
	lf := st.Leaves[i]
	p = InclusionProof{Format: ProofFormat, Number: st.Latest.Number, Stream: lf.Stream, Seq: lf.Seq, Hash: lf.Hash,
		LeafIndex: uint64(i), TreeSize: uint64(len(hs)), Leaf: hex.EncodeToString(hs[i][:]), Root: st.Latest.Root}
	for _, h := range Proof(hs, i) {
		p.Path = append(p.Path, hex.EncodeToString(h[:]))
	}
	return p, st.CMS, true
}

// VerifyProof checks an inclusion proof offline: the leaf is recomputed
// from the stream's record at the proof's seq (found in recs), the root
// from the leaf and the path, and the root must be the one the CMS signs
// (a checkpoint statement of the same number and size). It returns the
// signed statement and the signer.
func VerifyProof(p InclusionProof, recs []eventlog.Record, cms []byte, ts *pki.TrustStore, opts VerifyOptions) (Statement, *pki.Verified, error) {
	if p.Format != ProofFormat {
		return Statement{}, nil, fmt.Errorf("checkpoint: unknown proof format %q", p.Format)
	}
	var rec *eventlog.Record
	for i := range recs {
		if recs[i].Seq == p.Seq {
			rec = &recs[i]
		}
	}
	switch {
	case rec == nil:
		return Statement{}, nil, fmt.Errorf("checkpoint: the log has no record at seq %d, which checkpoint %d covers", p.Seq, p.Number)
	case rec.Stream != p.Stream || rec.Hash != p.Hash:
		return Statement{}, nil, fmt.Errorf("checkpoint: the record at seq %d is not the one checkpoint %d covers", p.Seq, p.Number)
	}
	leaf := Leaf{Stream: rec.Stream, Seq: rec.Seq, Hash: rec.Hash}.LeafHash()
	if hex.EncodeToString(leaf[:]) != p.Leaf {
		return Statement{}, nil, errors.New("checkpoint: the proof's leaf is not the record's")
	}
	path := make([]Hash, len(p.Path))
	for i, s := range p.Path {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != len(Hash{}) {
			return Statement{}, nil, ErrProof
		}
		copy(path[i][:], b)
	}
	root, err := RootFromProof(p.LeafIndex, p.TreeSize, leaf, path)
	if err != nil {
		return Statement{}, nil, err
	}
	if hex.EncodeToString(root[:]) != p.Root {
		return Statement{}, nil, errors.New("checkpoint: the proof does not lead to its root")
	}
	st, v, err := VerifyCMS(cms, ts, opts)
	if err != nil {
		return Statement{}, v, err
	}
	if st.Root != p.Root || st.Size != p.TreeSize || st.Number != p.Number {
		return st, v, errors.New("checkpoint: the signed root is not the proof's")
	}
	return st, v, nil
}
