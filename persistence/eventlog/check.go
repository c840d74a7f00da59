package eventlog

import (
	"errors"
	"fmt"
)

// Problem is one thing Check found wrong with the store.
type Problem struct {
	// Code is storage_corrupt (a block failed its checksum) or chain_broken
	// (a stream's records do not chain, or its head does not name its last
	// record).
	Code   string
	Stream string // "" for damage not tied to one stream
	Seq    uint64 // for chain_broken: the first bad seq; for snapshot_mismatch (senim check): the snapshot's
	File   string // for storage_corrupt: the damaged file, when known
	Detail string
}

func (p Problem) String() string {
	s := p.Code
	if p.Stream != "" {
		s += " stream=" + p.Stream
	}
	if p.Seq != 0 {
		s += fmt.Sprintf(" seq=%d", p.Seq)
	}
	if p.File != "" {
		s += " file=" + p.File
	}
	return s + ": " + p.Detail
}

// Problem codes.
const (
	CodeStorageCorrupt = "storage_corrupt"
	CodeChainBroken    = "chain_broken"
)

// ProblemOf classifies an error of a read or a chain check; ok is false for
// an error that is neither damage nor a broken chain (a closed log).
func ProblemOf(stream string, err error) (p Problem, ok bool) {
	var ce *CorruptError
	var ch *ChainError
	switch {
	case errors.As(err, &ce):
		return Problem{Code: CodeStorageCorrupt, Stream: stream, File: ce.File, Detail: err.Error()}, true
	case errors.As(err, &ch):
		return Problem{Code: CodeChainBroken, Stream: ch.Stream, Seq: ch.Seq, Detail: ch.Reason}, true
	}
	return Problem{}, false
}

// Check scans the whole store: every block of every sstable through
// pebble's checksums (CheckLevels reads them all), then every stream's
// hash chain and head. It calls report once per problem, and returns an
// error only when it could not carry on (a closed log).
func (l *Log) Check(report func(Problem)) (err error) {
	if l.closed.Load() {
		return ErrClosed
	}
	func() {
		defer recoverFatal("", &err)
		err = storeErr("", l.db.CheckLevels(nil))
	}()
	if err != nil {
		p, ok := ProblemOf("", err)
		if !ok {
			p = Problem{Code: CodeStorageCorrupt, Detail: err.Error()}
		}
		report(p)
	}
	var streams []string
	if err := l.Streams("", func(s string) error { streams = append(streams, s); return nil }); err != nil {
		p, ok := ProblemOf("", err)
		if !ok {
			return err
		}
		p.Detail = "listing the streams stopped after " + fmt.Sprint(len(streams)) + ": " + p.Detail
		report(p)
	}
	for _, s := range streams {
		if err := l.VerifyChain(s); err != nil {
			p, ok := ProblemOf(s, err)
			if !ok {
				return err
			}
			report(p)
		}
	}
	return nil
}
