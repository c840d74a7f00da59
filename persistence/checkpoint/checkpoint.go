// Package checkpoint anchors the event log's history. A checkpoint is a
// Merkle root (RFC 6962 hashing, SHA-256) over every stream's head, sorted
// by stream, signed as CMS with the server's own key (the organisation's
// NUC certificate in production). Checkpoints are appended to the log
// itself, in the stream "system/checkpoint", so they are fsync'd with it.
//
// Someone with write access to the disk can rewrite an act and recompute
// its chain and head; he cannot sign a checkpoint. Check compares every
// stream with the latest checkpoint that covers it, and an act's evidence
// package carries that checkpoint with the act's inclusion proof, so the
// rewrite shows both on the server and offline. docs/evidence.md describes
// the scheme for verifiers.
package checkpoint

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
)

// Stream is where checkpoints are kept; it is not itself a leaf.
const Stream = "system/checkpoint"

// EventType is the type of a checkpoint's record.
const EventType = "checkpoint_signed"

// Format names the statement's layout.
const Format = "senim.checkpoint.v1"

// Problem codes of Check.
const (
	// CodeMismatch: a stream no longer matches a checkpoint: its record at
	// the checkpointed seq has another hash, or the stream is shorter.
	CodeMismatch = "checkpoint_mismatch"
	// CodeInvalid: a stored checkpoint is not what was signed (its CMS does
	// not verify, or its leaves do not give the signed root).
	CodeInvalid = "checkpoint_invalid"
)

// Statement is the signed content of a checkpoint: compact JSON in this
// field order, encapsulated in the CMS.
type Statement struct {
	Format string    `json:"format"`
	Number uint64    `json:"number"` // 1, 2, …: the seq of its record in Stream
	At     time.Time `json:"at"`
	Size   uint64    `json:"size"` // the number of leaves
	Root   string    `json:"root"` // hex Merkle tree hash
}

// record is a checkpoint's payload in the log. Changed lists only the
// leaves that differ from the previous checkpoint: folding them in order
// gives every checkpoint's full leaf set.
type record struct {
	Statement
	CMS     []byte `json:"cms"`
	Changed []Leaf `json:"changed"`
}

// Signer signs checkpoints.
type Signer interface {
	Sign(data []byte, opts pki.SignOptions) ([]byte, error)
}

// State is what the stored checkpoints add up to.
type State struct {
	// Latest is the last checkpoint's statement; Number 0 when none.
	Latest Statement
	// CMS is the last checkpoint's signature.
	CMS []byte
	// Leaves are the last checkpoint's leaves, sorted by stream.
	Leaves []Leaf
	// Since maps a stream to the number of the checkpoint that last
	// changed its leaf.
	Since map[string]uint64
	// all are every stored checkpoint, for Check.
	all []record
}

// Load folds the stored checkpoints. It does not verify them: Check does.
func Load(l *eventlog.Log) (*State, error) {
	st := &State{Since: map[string]uint64{}}
	cur := map[string]Leaf{}
	err := l.Read(Stream, 1, func(r eventlog.Record) error {
		var rec record
		if err := json.Unmarshal(r.Payload, &rec); err != nil {
			return fmt.Errorf("checkpoint %d: %w", r.Seq, err)
		}
		for _, lf := range rec.Changed {
			cur[lf.Stream] = lf
			st.Since[lf.Stream] = rec.Number
		}
		st.Latest, st.CMS = rec.Statement, rec.CMS
		st.all = append(st.all, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	st.Leaves = make([]Leaf, 0, len(cur))
	for _, lf := range cur {
		st.Leaves = append(st.Leaves, lf)
	}
	sort.Slice(st.Leaves, func(i, j int) bool { return st.Leaves[i].Stream < st.Leaves[j].Stream })
	return st, nil
}

func leafHashes(leaves []Leaf) []Hash {
	hs := make([]Hash, len(leaves))
	for i, lf := range leaves {
		hs[i] = lf.LeafHash()
	}
	return hs
}

// Write appends a checkpoint of every stream's current head, signed with
// key, unless nothing changed since the last one (then it returns nil and
// no error).
func Write(ctx context.Context, l *eventlog.Log, key Signer, now time.Time) (*Statement, error) {
	prev, err := Load(l)
	if err != nil {
		return nil, err
	}
	next, err := writeAfter(ctx, l, key, now, prev)
	if err != nil || next == nil {
		return nil, err
	}
	return &next.Latest, nil
}

// writeAfter is Write from the folded state of the checkpoints so far; it
// returns the new state, or nil when nothing changed. The runner keeps the
// state, so that it does not re-read every checkpoint each time.
func writeAfter(ctx context.Context, l *eventlog.Log, key Signer, now time.Time, prev *State) (*State, error) {
	old := make(map[string]Leaf, len(prev.Leaves))
	for _, lf := range prev.Leaves {
		old[lf.Stream] = lf
	}
	var leaves, changed []Leaf
	err := l.Heads(func(stream string, seq uint64, hash string) error {
		if stream == Stream {
			return nil
		}
		lf := Leaf{Stream: stream, Seq: seq, Hash: hash}
		leaves = append(leaves, lf)
		if old[stream] != lf {
			changed = append(changed, lf)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return nil, nil
	}
	root := Root(leafHashes(leaves))
	st := Statement{Format: Format, Number: prev.Latest.Number + 1, At: now.UTC(), Size: uint64(len(leaves)), Root: hex.EncodeToString(root[:])}
	content, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	cms, err := key.Sign(content, pki.SignOptions{})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: sign: %w", err)
	}
	payload, err := json.Marshal(record{Statement: st, CMS: cms, Changed: changed})
	if err != nil {
		return nil, err
	}
	_, err = l.Append(ctx, eventlog.AppendRequest{Stream: Stream, ExpectedSeq: prev.Latest.Number,
		Events: []eventlog.Draft{{Type: EventType, Actor: "system", At: now, Payload: payload}}})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	since := make(map[string]uint64, len(prev.Since)+len(changed))
	for k, v := range prev.Since {
		since[k] = v
	}
	for _, lf := range changed {
		since[lf.Stream] = st.Number
	}
	return &State{Latest: st, CMS: cms, Leaves: leaves, Since: since}, nil
}

// VerifyOptions say whose signature a checkpoint must carry.
type VerifyOptions struct {
	// BIN, if set, must be the signer certificate's BIN (the organisation
	// running the server); without it any organisation's certificate the
	// trust store accepts will do, and the verifier reads who signed.
	BIN string
}

// VerifyCMS checks a checkpoint's CMS against the trust store (at its
// signing time) and returns the statement it signs and the signer.
func VerifyCMS(cms []byte, ts *pki.TrustStore, opts VerifyOptions) (Statement, *pki.Verified, error) {
	v, err := verifySigner(cms, ts, opts)
	if err != nil {
		return Statement{}, v, err
	}
	var st Statement
	if err := json.Unmarshal(v.Content, &st); err != nil || st.Format != Format {
		return Statement{}, v, fmt.Errorf("checkpoint: the signed content is not a %s statement", Format)
	}
	return st, v, nil
}

// Check verifies every stored checkpoint's signature, that the last one's
// leaves give its signed root, and that every stream still has, at the seq
// the last checkpoint covering it names, the record with the checkpointed
// hash. It reports each problem and returns the state it checked.
func Check(l *eventlog.Log, ts *pki.TrustStore, opts VerifyOptions, report func(eventlog.Problem)) (*State, error) {
	st, err := Load(l)
	if err != nil {
		if p, ok := eventlog.ProblemOf(Stream, err); ok {
			report(p)
			return nil, nil
		}
		return nil, err
	}
	for _, rec := range st.all {
		signed, _, err := VerifyCMS(rec.CMS, ts, opts)
		if err == nil && signed != rec.Statement {
			err = errors.New("the stored statement differs from the signed one")
		}
		if err != nil {
			report(eventlog.Problem{Code: CodeInvalid, Stream: Stream, Seq: rec.Number, Detail: err.Error()})
		}
	}
	if st.Latest.Number == 0 {
		return st, nil
	}
	if root := Root(leafHashes(st.Leaves)); hex.EncodeToString(root[:]) != st.Latest.Root || uint64(len(st.Leaves)) != st.Latest.Size {
		report(eventlog.Problem{Code: CodeInvalid, Stream: Stream, Seq: st.Latest.Number,
			Detail: "the stored leaves do not give the signed root: the checkpoint records were altered"})
	}
	for _, lf := range st.Leaves {
		r, found, err := recordAt(l, lf.Stream, lf.Seq)
		switch {
		case err != nil:
			p, ok := eventlog.ProblemOf(lf.Stream, err)
			if !ok {
				return st, err
			}
			report(p)
		case !found:
			report(eventlog.Problem{Code: CodeMismatch, Stream: lf.Stream, Seq: lf.Seq,
				Detail: fmt.Sprintf("the stream is shorter than checkpoint %d signed: it had a record at seq %d", st.Since[lf.Stream], lf.Seq)})
		case r.Hash != lf.Hash:
			report(eventlog.Problem{Code: CodeMismatch, Stream: lf.Stream, Seq: lf.Seq,
				Detail: fmt.Sprintf("the record at seq %d no longer has the hash checkpoint %d signed (%s)", lf.Seq, st.Since[lf.Stream], lf.Hash)})
		}
	}
	return st, nil
}

var errFound = errors.New("found")

// recordAt reads one record of a stream.
func recordAt(l *eventlog.Log, stream string, seq uint64) (eventlog.Record, bool, error) {
	var out eventlog.Record
	found := false
	err := l.Read(stream, seq, func(r eventlog.Record) error {
		if r.Seq == seq {
			out, found = r, true
		}
		return errFound
	})
	if errors.Is(err, errFound) {
		err = nil
	}
	return out, found, err
}

func verifySigner(cms []byte, ts *pki.TrustStore, opts VerifyOptions) (*pki.Verified, error) {
	v, err := ts.Verify(cms, pki.VerifyOptions{Purpose: pki.PurposeSign})
	switch {
	case err != nil:
		return nil, err
	case v.BIN == "":
		return v, errors.New("checkpoint: signed by an individual's certificate, not an organisation's")
	case opts.BIN != "" && v.BIN.String() != opts.BIN:
		return v, fmt.Errorf("checkpoint: signed by BIN %s, not the server's %s", v.BIN, opts.BIN)
	}
	return v, nil
}

// CheckKey signs a probe with key and verifies it as a checkpoint would be,
// so that a key the trust store rejects, or an individual's, is refused
// when the server starts rather than found at the first audit.
func CheckKey(key Signer, ts *pki.TrustStore) error {
	probe, err := key.Sign([]byte("senim checkpoint key check"), pki.SignOptions{})
	if err == nil {
		_, err = verifySigner(probe, ts, VerifyOptions{})
	}
	if err != nil {
		return fmt.Errorf("checkpoint: the signing key is not usable: %w", err)
	}
	return nil
}
