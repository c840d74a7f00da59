package eventlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// Snapshots. A stream's owner (the act actor) may keep, beside the stream,
// what it computed from the stream's records up to some seq, so that
// loading the stream does not decode its whole history. A snapshot is a
// cache, not evidence:
//
//   - it is outside the hash chain: records, heads, checkpoints, exports
//     and `senim check` never read it, and the chain's format is unchanged;
//   - it is bound to the chain: it names the seq and hash of the record it
//     was taken at, and a load uses it only if the verified chain has that
//     record with that hash (ReadVerifiedAfter gives it);
//   - it carries the SHA-256 of its body, so a damaged one is told apart
//     from a good one, and it is written without a sync: a snapshot lost
//     in a crash, damaged, of another version or not matching the chain is
//     ignored, and the owner replays the stream from its start.
//
// Key and value:
//
//	's' stream → 0x01 be64(seq) hash(32) SHA-256(body)(32) body

// Snapshot is a stream owner's state as of record Seq.
type Snapshot struct {
	Seq  uint64
	Hash string // hex, the hash of record Seq
	Body []byte // the owner's encoding; the log does not read it
}

// snapshotV1 is the first byte of a stored snapshot.
const snapshotV1 byte = 0x01

// ErrBadSnapshot: a stored snapshot that does not decode or whose body does
// not match its checksum (or a snapshot PutSnapshot cannot store).
var ErrBadSnapshot = errors.New("eventlog: bad snapshot")

func snapshotKey(stream string) []byte { return append([]byte{'s'}, stream...) }

// PutSnapshot stores s as stream's snapshot, replacing the one before. It
// is not synced (a lost snapshot only costs a longer load).
func (l *Log) PutSnapshot(stream string, s Snapshot) (err error) {
	if err := checkName("stream", stream, false); err != nil {
		return err
	}
	hash, err := decodeHash("snapshot hash", s.Hash)
	if err != nil || s.Seq == 0 {
		return fmt.Errorf("%w: stream %s: no record hash or seq", ErrBadSnapshot, stream)
	}
	if l.closed.Load() {
		return ErrClosed
	}
	l.inflight.Add(1)
	defer l.inflight.Done()
	if l.closed.Load() {
		return ErrClosed
	}
	v := make([]byte, 0, 1+8+2*hashLen+len(s.Body))
	v = append(v, snapshotV1)
	v = binary.BigEndian.AppendUint64(v, s.Seq)
	v = append(v, hash[:]...)
	sum := sha256.Sum256(s.Body)
	v = append(v, sum[:]...)
	v = append(v, s.Body...)
	defer recoverFatal(stream, &err)
	return storeErr(stream, l.db.Set(snapshotKey(stream), v, pebble.NoSync))
}

// Snapshot returns stream's stored snapshot, if any. A stored one that
// does not decode or fails its checksum is an ErrBadSnapshot.
func (l *Log) Snapshot(stream string) (_ Snapshot, found bool, err error) {
	if l.closed.Load() {
		return Snapshot{}, false, ErrClosed
	}
	defer recoverFatal(stream, &err)
	v, closer, err := l.db.Get(snapshotKey(stream))
	if errors.Is(err, pebble.ErrNotFound) {
		return Snapshot{}, false, nil
	}
	if err != nil {
		return Snapshot{}, false, storeErr(stream, err)
	}
	defer closer.Close()
	const head = 1 + 8 + 2*hashLen
	if len(v) < head || v[0] != snapshotV1 {
		return Snapshot{}, false, fmt.Errorf("%w: stream %s: not a snapshot of a known version", ErrBadSnapshot, stream)
	}
	body := v[head:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], v[1+8+hashLen:head]) {
		return Snapshot{}, false, fmt.Errorf("%w: stream %s: the snapshot fails its checksum", ErrBadSnapshot, stream)
	}
	return Snapshot{Seq: binary.BigEndian.Uint64(v[1:9]), Hash: hex.EncodeToString(v[9 : 9+hashLen]), Body: bytes.Clone(body)}, true, nil
}

// DeleteSnapshot removes stream's snapshot (tests; an operator who wants
// the next load to replay everything).
func (l *Log) DeleteSnapshot(stream string) (err error) {
	if l.closed.Load() {
		return ErrClosed
	}
	defer recoverFatal(stream, &err)
	return storeErr(stream, l.db.Delete(snapshotKey(stream), pebble.NoSync))
}

// ReadVerifiedAfter checks a stream's whole chain and head as ReadVerified
// does, but decodes and returns only the records after seq after; anchor
// is the hash of record after ("" if the stream has no such record), for
// the caller to compare with its snapshot's. The records up to after are
// checked without being decoded: their stored bytes are hashed, and their
// stream, seq and link to the record before compared. The hashes of
// binary records are checked beside the read, as ReadVerified's
// (verify.go), and the error is still the first record's that fails.
func (l *Log) ReadVerifiedAfter(stream string, after uint64) (anchor string, recs []Record, err error) {
	if l.closed.Load() {
		return "", nil, ErrClosed
	}
	snap := l.db.NewSnapshot()
	defer snap.Close()
	headSeq, headHash, err := headFrom(snap, stream)
	if err != nil {
		return "", nil, err
	}
	defer recoverFatal(stream, &err)
	prefix := streamPrefix(stream)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: eventKey(stream, 1), UpperBound: upper(prefix)})
	if err != nil {
		return "", nil, storeErr(stream, err)
	}
	defer it.Close()
	var hc hashChecker
	hc.start(headSeq)
	defer hc.finish()
	anchor, recs, n, prev, err := readAfter(it, stream, prefix, after, headSeq, &hc)
	// A record whose hash is wrong comes before any error after it.
	if bad := hc.finish(); bad != 0 {
		return "", nil, altered(stream, bad)
	}
	if err != nil {
		return "", nil, err
	}
	if headSeq != n || (n > 0 && headHash != hex.EncodeToString(prev[:])) {
		return "", nil, &ChainError{Stream: stream, Seq: headSeq, Reason: "the head does not name the last record"}
	}
	return anchor, recs, nil
}

// readAfter is ReadVerifiedAfter's walk over the records, binary records'
// hashes handed to hc; n is the number of records, prev the last one's
// hash.
func readAfter(it *pebble.Iterator, stream string, prefix []byte, after, headSeq uint64, hc *hashChecker) (anchor string, recs []Record, n uint64, prev [hashLen]byte, err error) {
	var c chainCheck // checks the decoded records, after after
	d := getDecoder(stream, false)
	defer decoders.Put(d)
	if headSeq > after {
		// Sized from the head (bounded: it is not trusted until the
		// records agree with it).
		recs = make([]Record, 0, min(headSeq-after, 1<<12))
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+8 || binary.BigEndian.Uint64(k[len(prefix):]) != n+1 {
			return "", nil, n, prev, &ChainError{Stream: stream, Seq: n + 1, Reason: "record missing or out of order"}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return "", nil, n, prev, storeErr(stream, err)
		}
		n++
		if n <= after {
			if prev, err = checkStored(stream, n, v, &prev, d, hc); err != nil {
				return "", nil, n, prev, err
			}
			if n == after {
				anchor = hex.EncodeToString(prev[:])
				c = chainCheck{n: 1, stream: stream, prevSeq: n, prevHash: anchor}
			}
			continue
		}
		if n == after+1 && headSeq > after {
			// The head's count of the records kept sizes the arena's
			// blocks (a hint: see decoder.alloc).
			d.left = headSeq - after
		}
		// Decoded in its place in recs, not copied there.
		if len(recs) == cap(recs) {
			recs = slices.Grow(recs, 1)
		}
		recs = recs[:len(recs)+1]
		r := &recs[len(recs)-1]
		stored, err := d.decodeInto(r, v)
		if err != nil {
			return "", nil, n, prev, undecodable(stream, k, err)
		}
		if r.Stream != stream || r.Seq != n {
			return "", nil, n, prev, &ChainError{Stream: stream, Seq: n, Reason: "the record names another stream or seq"}
		}
		if stored == nil {
			if err := c.next(*r, nil); err != nil {
				return "", nil, n, prev, err
			}
			if prev, err = decodeHash("hash", r.Hash); err != nil {
				return "", nil, n, prev, &ChainError{Stream: stream, Seq: n, Reason: err.Error()}
			}
		} else {
			if err := c.link(r); err != nil {
				return "", nil, n, prev, err
			}
			if !hc.add(n, stored) && !storedHashOK(stored) {
				return "", nil, n, prev, altered(stream, n)
			}
			c.advance(r)
			// The hash raw, as stored: what its hex was spelled from.
			copy(prev[:], stored[1:1+hashLen])
		}
	}
	if err := it.Error(); err != nil {
		return "", nil, n, prev, storeErr(stream, err)
	}
	return anchor, recs, n, prev, nil
}

// checkStored checks the stored record v, seq n of stream, without
// decoding it: it must chain to prev and hash to its hash (a binary
// record's hash is handed to hc, which checks it later). It returns the
// record's hash.
func checkStored(stream string, n uint64, v []byte, prev *[hashLen]byte, d *decoder, hc *hashChecker) ([hashLen]byte, error) {
	var h [hashLen]byte
	broken := func(reason string) ([hashLen]byte, error) {
		return h, &ChainError{Stream: stream, Seq: n, Reason: reason}
	}
	if len(v) > 0 && v[0] == '{' {
		// A record from before the binary format: decoded, its hash
		// recomputed from its fields.
		r, _, err := d.decode(v)
		if err != nil {
			return broken("the record does not decode")
		}
		want, err := r.ComputeHash()
		switch {
		case r.Stream != stream || r.Seq != n:
			return broken("the record names another stream or seq")
		case r.PrevHash != hex.EncodeToString(prev[:]):
			return broken("prev_hash does not link to the record before")
		case err != nil || want != r.Hash:
			return broken("the record was altered (hash mismatch)")
		}
		if h, err = decodeHash("hash", r.Hash); err != nil {
			return broken(err.Error())
		}
		return h, nil
	}
	if len(v) < v1Header || v[0] != formatV1 {
		return broken("the record does not decode")
	}
	if !bytes.Equal(v[1+hashLen:v1Header], prev[:]) {
		// prev is all zeros before seq 1, as the zero hash is.
		return broken("prev_hash does not link to the record before")
	}
	if !hc.add(n, v) && !storedHashOK(v) {
		return broken("the record was altered (hash mismatch)")
	}
	// The hash covers the stream and seq the record names: they must be
	// this key's.
	rest := v[v1Header:]
	var f [3][]byte
	for i := range f {
		var ok bool
		if f[i], rest, ok = nextNetstring(rest); !ok {
			return broken("the record does not decode")
		}
	}
	if seq, ok := parseSeq(f[2]); string(f[0]) != canonTag || string(f[1]) != stream || !ok || seq != n {
		return broken("the record names another stream or seq")
	}
	copy(h[:], v[1:1+hashLen])
	return h, nil
}
