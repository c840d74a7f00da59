// Package storetest damages an event log's store on disk the ways tests
// need: a flipped byte in an sstable (a bad disk block), and records
// rewritten through pebble directly (an attacker with write access to the
// disk). The log must be closed while these run.
package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
			head := binary.BigEndian.AppendUint64(nil, s-1)
			if err := db.Set(append([]byte{'h'}, stream...), append(head, prev...), pebble.Sync); err != nil {
				t.Fatal(err)
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
