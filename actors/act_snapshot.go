package actors

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
)

// Act snapshots. Every Deps.ActSnapshotEvery events an act actor stores
// what it keeps in memory (the act's state, the commands it has applied,
// the approval's hash, the time of the last event) beside the act's stream
// (eventlog.PutSnapshot), named by the seq and hash of the record it was
// taken at. Loading the act then decodes and applies only the records after
// that one; the chain is still checked whole (eventlog.ReadVerifiedAfter,
// which hashes the earlier records without decoding them), and the
// snapshot is used only if the chain's record at its seq has its hash.
//
// A snapshot is a cache, never the truth: one that is missing, damaged,
// written by another snapshot format or for another shape of act.State, or
// that does not match the chain is ignored and the act is replayed from its
// first record, which gives the same state (the tests hold the two to be
// equal). Snapshots are not in the hash chain and are never exported.

// actSnapshotFormat is the version of actSnapshotBody. Bump it when what
// act.Apply makes of the same events changes (the shape of act.State is
// compared on its own).
const actSnapshotFormat = 1

// actSnapshotBody is the snapshot's body (JSON).
type actSnapshotBody struct {
	Format int    `json:"format"`
	Shape  string `json:"shape"` // stateShape when it was written
	// Seq repeats the snapshot's seq, inside the checksummed body.
	Seq          uint64        `json:"seq"`
	State        act.State     `json:"state"`
	Applied      []snapApplied `json:"applied,omitempty"`
	ApprovalHash string        `json:"approval_hash,omitempty"`
	LastAt       time.Time     `json:"last_at"`
}

// snapApplied is one entry of actActor.applied. Its digest is not kept: a
// replay does not know it either, and it is read from the log's command
// record when a retry needs it.
type snapApplied struct {
	Actor string `json:"actor"`
	ID    string `json:"id"`
	Seq   uint64 `json:"seq"`
}

// actSnapshots is an act actor's snapshot bookkeeping.
type actSnapshots struct {
	// seq is the seq of the snapshot stored or loaded last (0: none).
	seq uint64
	// headSeq and headHash name the act's last record.
	headSeq  uint64
	headHash string
	// decoded counts the records the last load decoded and applied.
	decoded int
}

// noteHead remembers the act's last record (noteRecord calls it).
func (s *actSnapshots) noteHead(r eventlog.Record) { s.headSeq, s.headHash = r.Seq, r.Hash }

// stateShape fingerprints the Go shape of act.State (field names, types,
// JSON tags, recursively): a snapshot of another shape is not read.
var stateShape = func() string {
	var b strings.Builder
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		b.WriteString(t.String())
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			b.WriteByte('(')
			walk(t.Elem())
			b.WriteByte(')')
		case reflect.Map:
			b.WriteByte('[')
			walk(t.Key())
			b.WriteByte(']')
			walk(t.Elem())
		case reflect.Struct:
			if seen[t] || t == reflect.TypeOf(time.Time{}) {
				return
			}
			seen[t] = true
			b.WriteByte('{')
			for i := range t.NumField() {
				f := t.Field(i)
				fmt.Fprintf(&b, "%s %q ", f.Name, f.Tag)
				walk(f.Type)
				b.WriteByte(';')
			}
			b.WriteByte('}')
		}
	}
	walk(reflect.TypeOf(act.State{}))
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}()

var errSnapshotMismatch = errors.New("the snapshot does not match the act's chain")

// restore is load's read of the act: from its snapshot, if it has a
// usable one (restoring what the snapshot holds, and applying the records
// after it), else every record, each handed to apply as it is read. Called
// with the actor's fields reset; on an error, apply may have been called
// for records before it.
func (a *actActor) restore(apply func(eventlog.Record) error) error {
	stream := StreamOf(a.id)
	a.snap = actSnapshots{}
	if a.deps.ActSnapshotEvery > 0 {
		recs, used, err := a.restoreSnapshot(stream)
		if used {
			if err != nil {
				return err
			}
			for _, r := range recs {
				if err := apply(r); err != nil {
					return err
				}
			}
			return nil
		}
		if err != nil {
			a.log.Warn().Err(err).Msg("act snapshot not used; replaying the act from its first event")
		}
		a.state, a.applied, a.approvalHash, a.lastAt, a.snap = act.State{}, map[cmdKey]appliedCmd{}, "", time.Time{}, actSnapshots{}
	}
	return a.deps.Log.ReplayVerified(stream, apply)
}

// restoreSnapshot restores the act from its snapshot and returns the
// records after it (used). Not used: there is no snapshot, or err says why
// it is unusable. A chain that fails its check is used's error: a replay
// from the start would fail the same way.
func (a *actActor) restoreSnapshot(stream string) (_ []eventlog.Record, used bool, _ error) {
	s, found, err := a.deps.Log.Snapshot(stream)
	if err != nil || !found {
		return nil, false, err
	}
	var body actSnapshotBody
	if err := json.Unmarshal(s.Body, &body); err != nil {
		return nil, false, fmt.Errorf("the snapshot does not decode: %w", err)
	}
	if body.Format != actSnapshotFormat || body.Shape != stateShape || body.Seq != s.Seq || body.State.Version != s.Seq {
		return nil, false, fmt.Errorf("the snapshot is of another format or act shape (format %d, shape %s, seq %d)", body.Format, body.Shape, body.Seq)
	}
	anchor, recs, err := a.deps.Log.ReadVerifiedAfter(stream, s.Seq)
	if err != nil {
		return nil, true, err
	}
	if anchor != s.Hash {
		return nil, false, fmt.Errorf("%w (seq %d)", errSnapshotMismatch, s.Seq)
	}
	a.state, a.approvalHash, a.lastAt = body.State, body.ApprovalHash, body.LastAt
	for _, e := range body.Applied {
		a.applied[cmdKey{e.Actor, e.ID}] = appliedCmd{seq: e.Seq}
	}
	a.snap.seq, a.snap.headSeq, a.snap.headHash = s.Seq, s.Seq, s.Hash
	return recs, true, nil
}

// maybeSnapshot stores a snapshot if the act has gone ActSnapshotEvery
// events past its last one (after a commit, and after a load). A failure
// costs only a longer next load: it is logged, not returned.
func (a *actActor) maybeSnapshot() {
	every := uint64(a.deps.ActSnapshotEvery)
	if every == 0 || !a.loaded || a.state.Version < a.snap.seq+every || a.snap.headSeq != a.state.Version {
		return
	}
	body := actSnapshotBody{Format: actSnapshotFormat, Shape: stateShape, Seq: a.state.Version, State: a.state,
		ApprovalHash: a.approvalHash, LastAt: a.lastAt}
	for k, v := range a.applied {
		body.Applied = append(body.Applied, snapApplied{Actor: k.actor, ID: k.id, Seq: v.seq})
	}
	sort.Slice(body.Applied, func(i, j int) bool {
		x, y := body.Applied[i], body.Applied[j]
		return x.Seq < y.Seq || (x.Seq == y.Seq && (x.Actor < y.Actor || (x.Actor == y.Actor && x.ID < y.ID)))
	})
	b, err := json.Marshal(body)
	if err == nil {
		err = a.deps.Log.PutSnapshot(StreamOf(a.id), eventlog.Snapshot{Seq: a.state.Version, Hash: a.snap.headHash, Body: b})
	}
	if err != nil {
		a.log.Warn().Err(err).Uint64("seq", a.state.Version).Msg("act snapshot not stored")
		return
	}
	a.snap.seq = a.state.Version
}

// CheckActSnapshot compares act id's snapshot, if a load would use it,
// with a replay of the act from its first event (`senim check`). A
// snapshot is outside the hash chain and the checkpoints, so this is what
// finds one altered on disk. It returns the snapshot's seq and what
// differs ("" when nothing does, or when no snapshot would be used); an act
// that does not load at all is Check's to report, not this.
func CheckActSnapshot(l *eventlog.Log, id string) (seq uint64, diff string) {
	load := func(every int) *actActor {
		a := &actActor{id: id, deps: Deps{Log: l, Logger: zerolog.Nop(), ActSnapshotEvery: every}, log: zerolog.Nop()}
		a.load()
		return a
	}
	// math.MaxInt32: the snapshot is read, and no new one is written.
	snap := load(math.MaxInt32)
	if !snap.loaded || snap.snap.seq == 0 {
		return 0, ""
	}
	full := load(0)
	if !full.loaded {
		return 0, ""
	}
	var what []string
	if !reflect.DeepEqual(snap.state, full.state) {
		what = append(what, "the act's state")
	}
	if !reflect.DeepEqual(snap.applied, full.applied) {
		what = append(what, "the commands applied")
	}
	if snap.approvalHash != full.approvalHash {
		what = append(what, "the approval's hash")
	}
	if !snap.lastAt.Equal(full.lastAt) {
		what = append(what, "the time of the last event")
	}
	if len(what) == 0 {
		return snap.snap.seq, ""
	}
	return snap.snap.seq, strings.Join(what, ", ") + " from the snapshot differ from a replay of the events"
}

// WriteActSnapshot loads act id from the log and stores its snapshot now,
// whatever snapshot_every says (tools and tests).
func WriteActSnapshot(l *eventlog.Log, id string) error {
	a := &actActor{id: id, deps: Deps{Log: l, Logger: zerolog.Nop(), ActSnapshotEvery: math.MaxInt32}, log: zerolog.Nop()}
	a.load()
	if !a.loaded {
		return fmt.Errorf("act %s does not load: %s %s", id, a.failCode, a.failMsg)
	}
	a.deps.ActSnapshotEvery, a.snap.seq = 1, 0
	a.maybeSnapshot()
	if a.snap.seq != a.state.Version || a.state.Version == 0 {
		return fmt.Errorf("act %s: no snapshot stored", id)
	}
	return nil
}
