// Package storetest damages an event log's store on disk the ways tests
// need: a flipped byte in an sstable (a bad disk block), and records
// rewritten through pebble directly (an attacker with write access to the
// disk). The log must be closed while these run.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/senim-kz/senim/persistence/eventlog"
)

// Marker returns a unique marker to write into a payload and find with
// FlipByte: "MARKER-" and 24 random capital letters. Capitals only, so that
// no 4-byte run of it can repeat the hex, digits or lowercase JSON around
// it and be compressed into a back-reference.
func Marker() []byte {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = 'A' + b[i]%26
	}
	return append([]byte("MARKER-"), b...)
}

// FlipByte finds the sstable under dir whose bytes contain marker (write
// the marker into an incompressible payload so that it is stored
// verbatim), flips one byte of the marker in place, and returns the file's
// path. The block holding it then fails its checksum.
func FlipByte(t testing.TB, dir string, marker []byte) string {
	t.Helper()
	ssts, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ssts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(b, marker)
		if i < 0 {
			continue
		}
		b[i+len(marker)/2] ^= 0x01
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Fatalf("no sstable in %s holds %q (%d sstables)", dir, marker, len(ssts))
	return ""
}

// key is an event's key, as eventlog lays them out (see its package doc).
func key(stream string, seq uint64) []byte {
	k := append([]byte{'e'}, stream...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func openRaw(t testing.TB, dir string) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func get(t testing.TB, db *pebble.DB, stream string, seq uint64) eventlog.Record {
	t.Helper()
	v, closer, err := db.Get(key(stream, seq))
	if err != nil {
		t.Fatalf("%s #%d: %v", stream, seq, err)
	}
	defer closer.Close()
	r, err := eventlog.DecodeRecord(v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func set(t testing.TB, db *pebble.DB, r eventlog.Record) {
	t.Helper()
	v, err := eventlog.EncodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(key(r.Stream, r.Seq), v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// Rewrite changes one stored record with edit and writes it back, hashes
// untouched: the chain breaks at seq.
func Rewrite(t testing.TB, dir, stream string, seq uint64, edit func(*eventlog.Record)) {
	t.Helper()
	db := openRaw(t, dir)
	defer db.Close()
	r := get(t, db, stream, seq)
	edit(&r)
	set(t, db, r)
}

// Rechain changes one stored record with edit, then recomputes the hash of
// it and of every record after it, and the stream's head: the stream's own
// chain verifies again. Only something kept outside the stream (a signed
// checkpoint) can tell.
func Rechain(t testing.TB, dir, stream string, seq uint64, edit func(*eventlog.Record)) {
	t.Helper()
	db := openRaw(t, dir)
	defer db.Close()
	prev := eventlog.ZeroHash
	if seq > 1 {
		prev = get(t, db, stream, seq-1).Hash
	}
	for s := seq; ; s++ {
		v, closer, err := db.Get(key(stream, s))
		if err == pebble.ErrNotFound {
			// The head, in both places the log keeps it.
			head := append(binary.BigEndian.AppendUint64(nil, s-1), prev...)
			for _, k := range [][]byte{append([]byte{'h'}, stream...), key(stream, 0)} {
				if err := db.Set(k, head, pebble.Sync); err != nil {
					t.Fatal(err)
				}
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := eventlog.DecodeRecord(v)
		closer.Close()
		if err != nil {
			t.Fatal(err)
		}
		if s == seq {
			edit(&r)
		}
		r.PrevHash = prev
		if r.Hash, err = r.ComputeHash(); err != nil {
			t.Fatal(err)
		}
		prev = r.Hash
		set(t, db, r)
	}
}

// quiet keeps pebble's recovery notes out of test output.
type quiet struct{}

func (quiet) Infof(string, ...any)           {}
func (quiet) Errorf(string, ...any)          {}
func (quiet) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }

// EventsPerStream is how many events WriteStreams stores in each stream.
const EventsPerStream = 20

// Event makes the i-th event of stream around text, a kilobyte of random
// hex (with the marker inside, in the marked stream's middle event): the
// event's draft and its index entries, if any.
type Event func(stream string, i int, text string) (eventlog.Draft, []eventlog.IndexOp)

// WriteStreams fills the log at dir with EventsPerStream events in each of
// streams, made by event around a kilobyte of random hex each, so that
// every stream spans sstable blocks of its own and compresses to nothing.
// It flushes them into sstables, closes the log, and returns the marker
// stored verbatim in the middle of the marked stream, for FlipByte.
func WriteStreams(t testing.TB, dir string, streams []string, marked string, event Event) []byte {
	t.Helper()
	l, err := eventlog.Open(dir, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	marker := Marker()
	for _, s := range streams {
		for i := 0; i < EventsPerStream; i++ {
			junk := make([]byte, 512)
			_, _ = rand.Read(junk)
			text := hex.EncodeToString(junk)
			if s == marked && i == EventsPerStream/2 {
				text = text[:400] + string(marker) + text[400:]
			}
			d, index := event(s, i, text)
			_, err := l.Append(context.Background(), eventlog.AppendRequest{Stream: s, ExpectedSeq: uint64(i),
				Events: []eventlog.Draft{d}, Index: index})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return marker
}

// JunkEvent is an Event of type "e" whose JSON payload holds its number
// and the text, at a fixed time per number.
func JunkEvent(_ string, i int, text string) (eventlog.Draft, []eventlog.IndexOp) {
	p, _ := json.Marshal(map[string]any{"n": i, "junk": text})
	return eventlog.Draft{Type: "e", Actor: "system", At: time.Date(2026, 11, 30, 10, 0, i, 0, time.UTC), Payload: p}, nil
}
