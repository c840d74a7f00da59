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
	var b bytes.Buffer
	for _, f := range []string{
		"senim.event.v1", r.Stream, strconv.FormatUint(r.Seq, 10), r.Type, r.Actor,
		r.At.UTC().Format(time.RFC3339Nano), r.CommandID, string(r.Payload),
	} {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
		b.WriteByte(',')
	}
	return b.Bytes()
}

// ComputeHash returns the hash the record must carry given its PrevHash.
func (r Record) ComputeHash() (string, error) {
	prev, err := hex.DecodeString(r.PrevHash)
	if err != nil || len(prev) != sha256.Size {
		return "", invalid("prev_hash %q is not a hex SHA-256", r.PrevHash)
	}
	h := sha256.New()
	h.Write(prev)
	h.Write(r.CanonicalBytes())
	return hex.EncodeToString(h.Sum(nil)), nil
}

// VerifyRecords checks that recs are one stream's records from seq 1 (or
// from the first given) in order, without gaps, each chained to the one
// before and carrying its correct hash.
func VerifyRecords(recs []Record) error {
	for i, r := range recs {
		stream := recs[0].Stream
		if r.Stream != stream {
			return &ChainError{Stream: stream, Seq: r.Seq, Reason: "record of another stream " + r.Stream}
		}
		switch {
		case i == 0 && r.Seq == 1 && r.PrevHash != ZeroHash:
			return &ChainError{Stream: stream, Seq: r.Seq, Reason: "the first record does not start from the zero hash"}
		case i > 0 && r.Seq != recs[i-1].Seq+1:
			return &ChainError{Stream: stream, Seq: recs[i-1].Seq + 1, Reason: "record missing or out of order (found seq " + strconv.FormatUint(r.Seq, 10) + ")"}
		case i > 0 && r.PrevHash != recs[i-1].Hash:
			return &ChainError{Stream: stream, Seq: r.Seq, Reason: "prev_hash does not link to the record before"}
		}
		want, err := r.ComputeHash()
		if err != nil {
			return &ChainError{Stream: stream, Seq: r.Seq, Reason: err.Error()}
		}
		if want != r.Hash {
			return &ChainError{Stream: stream, Seq: r.Seq, Reason: "the record was altered (hash mismatch)"}
		}
	}
	return nil
}
