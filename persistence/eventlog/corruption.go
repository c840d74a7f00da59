package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/metrics"
)

// How a damaged store is handled (read from pebble v2.1.7's code).
//
// pebble verifies every block's checksum as it reads it. On a mismatch it
// calls EventListener.DataCorruption with the file's path and returns an
// error for which pebble.IsCorruptionError holds. pebble's default
// DataCorruption calls Logger.Fatalf, and a Fatalf that exits turns one
// flipped bit into a dead server on the first read that touches it (any
// visitor of /verify/{code} could trigger that). So Open installs its own
// DataCorruption, which logs the file and counts it, and the read that hit
// the damage returns a *CorruptError (ErrCorrupt): one bad block costs the
// streams stored in it, never the process.
//
// pebble also calls Logger.Fatalf where it believes it cannot go on (a
// failed MANIFEST write, a broken internal invariant of an iterator). Our
// Fatalf never calls os.Exit: it logs, counts and panics with a pebbleFatal.
// Our read paths recover that value into a *CorruptError; any other value
// is panicked again. A Fatalf during a commit (see commit) or on one of
// pebble's own goroutines (a flush, a compaction) still ends the process:
// there the store can no longer be written safely.

// pebbleFatal is the value our Fatalf panics with.
type pebbleFatal struct{ msg string }

func (f pebbleFatal) String() string { return "pebble fatal: " + f.msg }

// pebbleLogger sends pebble's messages to zerolog.
type pebbleLogger struct{ log zerolog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.log.Debug().Str("component", "pebble").Msgf(format, args...)
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.log.Error().Str("component", "pebble").Msgf(format, args...)
}

// Fatalf logs, counts and panics; see above for why it never exits.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	metrics.StorageCorruption.WithLabelValues("fatal").Inc()
	p.log.Error().Str("component", "pebble").Str("code", "storage_corrupt").Msg(msg)
	panic(pebbleFatal{msg: msg})
}

// corruptionListener replaces pebble's default DataCorruption handler
// (which calls Fatalf) with one that names the file and counts it.
func corruptionListener(log zerolog.Logger) *pebble.EventListener {
	return &pebble.EventListener{
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			metrics.StorageCorruption.WithLabelValues("checksum").Inc()
			log.Error().Str("component", "pebble").Str("code", "storage_corrupt").Str("file", info.Path).
				Err(info.Details).Msg("the event log's store is damaged; reads of the keys in this file fail with storage_corrupt")
		},
	}
}

// storeErr turns an error of pebble into ours: a corruption becomes a
// *CorruptError naming the file; anything else is wrapped.
func storeErr(stream string, err error) error {
	if err == nil {
		return nil
	}
	if pebble.IsCorruptionError(err) {
		ce := &CorruptError{Stream: stream, Err: err}
		if info := pebble.ExtractDataCorruptionInfo(err); info != nil {
			ce.File = info.Path
		}
		return ce
	}
	return fmt.Errorf("eventlog: %w", err)
}

// recoverFatal, deferred by a read, turns our Fatalf's panic into a
// *CorruptError; other panics go on.
func recoverFatal(stream string, err *error) {
	p := recover()
	if p == nil {
		return
	}
	f, ok := p.(pebbleFatal)
	if !ok {
		panic(p)
	}
	*err = &CorruptError{Stream: stream, Err: errors.New(f.msg)}
}

// commit commits an append's batch durably. A Fatalf during a commit means
// pebble's commit pipeline is broken (a failed WAL write): no later append
// could be made durable, and appends waiting behind this one may never
// return. There, and only there, the process exits, as pebble intends (the
// message was logged by Fatalf); a restart replays the WAL. Reads never
// exit.
func commit(b *pebble.Batch) error {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(pebbleFatal); ok {
				exit(1)
			}
			panic(p)
		}
	}()
	return b.Commit(pebble.Sync)
}

// exit is os.Exit; a test replaces it.
var exit = os.Exit

// undecodable is the error of a record whose bytes passed pebble's
// checksums but are not a record: they were written by something else than
// Append, so the stream's chain is broken there.
func undecodable(stream string, key []byte, err error) error {
	var seq uint64
	if len(key) >= 8 {
		seq = binary.BigEndian.Uint64(key[len(key)-8:])
	}
	return &ChainError{Stream: stream, Seq: seq, Reason: "the stored record does not decode: " + err.Error()}
}
