package eventlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// Draft is an event a caller wants appended.
type Draft struct {
	Type    string          // e.g. "application_submitted"
	Actor   string          // who: "client:871008401427", "notary:aliya", "bank", "system"
	At      time.Time       // the caller's clock; stored in UTC
	Payload json.RawMessage // the event body, JSON; stored compacted
}

// Record is a stored event.
type Record struct {
	Stream    string          `json:"stream"`
	Seq       uint64          `json:"seq"`
	Type      string          `json:"type"`
	Actor     string          `json:"actor"`
	At        time.Time       `json:"at"`
	CommandID string          `json:"command_id,omitempty"`
	Payload   json.RawMessage `json:"payload"`
	PrevHash  string          `json:"prev_hash"`
	Hash      string          `json:"hash"`
}

// ZeroHash is the prev_hash of a stream's first record.
var ZeroHash = hex.EncodeToString(make([]byte, sha256.Size))

// CanonicalBytes are the bytes a record's hash covers besides the previous
// hash: the netstrings (len ":" bytes ",") of, in order,
//
//	"senim.event.v1", stream, seq (decimal), type, actor,
//	at (UTC, RFC 3339 with nanoseconds), command_id, payload (compact JSON)
//
// Netstrings make the encoding unambiguous whatever the fields contain, and
// simple to recompute in any language.
func (r Record) CanonicalBytes() []byte {
	return appendCanonical(nil, r.Stream, r.Seq, r.Type, r.Actor, r.At, r.CommandID, r.Payload)
}

// ComputeHash returns the hash the record must carry given its PrevHash.
func (r Record) ComputeHash() (string, error) {
	prev, err := decodeHash("prev_hash", r.PrevHash)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(appendCanonical(prev[:], r.Stream, r.Seq, r.Type, r.Actor, r.At, r.CommandID, r.Payload))
	return hex.EncodeToString(sum[:]), nil
}

// VerifyRecords checks that recs are one stream's records from seq 1 (or
// from the first given) in order, without gaps, each chained to the one
// before and carrying its correct hash.
func VerifyRecords(recs []Record) error {
	var c chainCheck
	for _, r := range recs {
		if err := c.next(r, nil); err != nil {
			return err
		}
	}
	return nil
}

// chainCheck checks records one at a time as VerifyRecords does, so that a
// read can verify as it goes without keeping a slice.
type chainCheck struct {
	n      int
	stream string
	// prevSeq and prevHash are the last record's.
	prevSeq  uint64
	prevHash string
}

// next checks r against the records before it. stored is r's stored
// value when it is in the binary format (r was decoded from it, so its
// hash is checked over the stored bytes, without re-encoding r); nil
// recomputes the hash from r's fields.
func (c *chainCheck) next(r Record, stored []byte) error {
	if err := c.link(&r); err != nil {
		return err
	}
	var ok bool
	if stored != nil {
		ok = storedHashOK(stored)
	} else {
		want, err := r.ComputeHash()
		if err != nil {
			return &ChainError{Stream: c.stream, Seq: r.Seq, Reason: err.Error()}
		}
		ok = want == r.Hash
	}
	if !ok {
		return altered(c.stream, r.Seq)
	}
	c.advance(&r)
	return nil
}

// link checks r's place in the chain (its stream, its seq, its prev_hash),
// not its own hash. advance moves past r once its hash is checked, or
// handed to a hashChecker.
func (c *chainCheck) link(r *Record) error {
	if c.n == 0 {
		c.stream = r.Stream
	}
	stream := c.stream
	if r.Stream != stream {
		return &ChainError{Stream: stream, Seq: r.Seq, Reason: "record of another stream " + r.Stream}
	}
	switch {
	case c.n == 0 && r.Seq == 1 && r.PrevHash != ZeroHash:
		return &ChainError{Stream: stream, Seq: r.Seq, Reason: "the first record does not start from the zero hash"}
	case c.n > 0 && r.Seq != c.prevSeq+1:
		return &ChainError{Stream: stream, Seq: c.prevSeq + 1, Reason: "record missing or out of order (found seq " + strconv.FormatUint(r.Seq, 10) + ")"}
	case c.n > 0 && r.PrevHash != c.prevHash:
		return &ChainError{Stream: stream, Seq: r.Seq, Reason: "prev_hash does not link to the record before"}
	}
	return nil
}

func (c *chainCheck) advance(r *Record) {
	c.n++
	c.prevSeq, c.prevHash = r.Seq, r.Hash
}

// storedHashOK says whether a binary record's stored hash is the SHA-256 of
// the stored bytes after it.
func storedHashOK(stored []byte) bool {
	sum := sha256.Sum256(stored[1+hashLen:])
	return bytes.Equal(sum[:], stored[1:1+hashLen])
}

func altered(stream string, seq uint64) error {
	return &ChainError{Stream: stream, Seq: seq, Reason: "the record was altered (hash mismatch)"}
}
