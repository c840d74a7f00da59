package eventlog

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// countLookups counts the command look-ups appends ask of the store until
// the test ends.
func countLookups(t *testing.T) *atomic.Int64 {
	var n atomic.Int64
	commandLookups = func() { n.Add(1) }
	t.Cleanup(func() { commandLookups = nil })
	return &n
}

// An append of a new command id asks the store nothing (the stream's
// filter is sure), before and after a reopen; a retried id is still found,
// from the filter built by the reopened log's scan, and another actor's
// same id is still new.
func TestNewCommandIDsNeedNoLookup(t *testing.T) {
	dir := t.TempDir()
	lookups := countLookups(t)
	const actor = "client:871008401427"
	cmd := func(l *Log, seq uint64, id, by string) AppendResult {
		t.Helper()
		return mustAppend(t, l, AppendRequest{Stream: "s", ExpectedSeq: seq, CommandID: id, CommandActor: by, CommandDigest: "d",
			Events: []Draft{evBy(by, "call_ended", int(seq))}})
	}
	l := open(t, dir)
	seq := uint64(0)
	for i := range 40 {
		if r := cmd(l, seq, fmt.Sprintf("c%d", i), actor); r.Duplicate {
			t.Fatalf("c%d taken for a retry", i)
		}
		seq++
	}
	if n := lookups.Load(); n != 0 {
		t.Fatalf("%d look-ups for 40 new ids", n)
	}
	l.Close()

	l = open(t, dir)
	defer l.Close()
	for i := range 40 {
		if r := cmd(l, seq, fmt.Sprintf("n%d", i), actor); r.Duplicate {
			t.Fatalf("n%d taken for a retry", i)
		}
		seq++
	}
	if n := lookups.Load(); n != 0 {
		t.Fatalf("%d look-ups for 40 new ids after a reopen", n)
	}
	for i := range 40 {
		r := cmd(l, seq, fmt.Sprintf("c%d", i), actor)
		if !r.Duplicate || r.Records[0].Seq != uint64(i+1) {
			t.Fatalf("retry of c%d: %+v", i, r)
		}
	}
	if n := lookups.Load(); n != 40 {
		t.Fatalf("%d look-ups for 40 retries, want 40", n)
	}
	if r := cmd(l, seq, "c0", "system"); r.Duplicate {
		t.Fatal("the system's c0 was taken for the client's")
	}
}

// A stream with more commands than its first filter was sized for gets a
// larger one: new ids still need (almost) no look-up, and every stored
// id is still found.
func TestCommandFilterGrows(t *testing.T) {
	lookups := countLookups(t)
	l := open(t, t.TempDir())
	defer l.Close()
	const actor = "client:871008401427"
	seq := uint64(0)
	cmd := func(id string) AppendResult {
		t.Helper()
		return mustAppend(t, l, AppendRequest{Stream: "s", ExpectedSeq: seq, CommandID: id, CommandActor: actor,
			Events: []Draft{evBy(actor, "call_ended", int(seq))}})
	}
	for i := range 600 {
		if r := cmd(fmt.Sprintf("c%d", i)); r.Duplicate {
			t.Fatalf("c%d taken for a retry", i)
		}
		seq++
	}
	// The filter is deterministic: so is this count.
	if n := lookups.Load(); n > 12 {
		t.Fatalf("%d look-ups for 600 new ids", n)
	}
	lookups.Store(0)
	for i := range 600 {
		if r := cmd(fmt.Sprintf("c%d", i)); !r.Duplicate || r.Records[0].Seq != uint64(i+1) {
			t.Fatalf("retry of c%d: %+v", i, r)
		}
	}
	lookups.Store(0)
	for i := range 200 {
		cmd(fmt.Sprintf("n%d", i))
		seq++
	}
	if n := lookups.Load(); n > 4 {
		t.Fatalf("%d look-ups for 200 new ids in a stream of 600 commands", n)
	}
}

// A new stream's first append scans no command keys (it has no head, so
// none); a stream with a head is scanned once, when its head is first
// read.
func TestNewStreamsAreNotScanned(t *testing.T) {
	var scans atomic.Int64
	commandScans = func() { scans.Add(1) }
	t.Cleanup(func() { commandScans = nil })
	dir := t.TempDir()
	l := open(t, dir)
	const actor = "client:871008401427"
	for i := range 3 {
		mustAppend(t, l, AppendRequest{Stream: fmt.Sprint("s", i), CommandID: "c", CommandActor: actor, Events: []Draft{evBy(actor, "e", i)}})
		mustAppend(t, l, AppendRequest{Stream: fmt.Sprint("s", i), ExpectedSeq: 1, CommandID: "d", CommandActor: actor, Events: []Draft{evBy(actor, "e", i)}})
	}
	if n := scans.Load(); n != 0 {
		t.Fatalf("%d scans for 3 new streams", n)
	}
	l.Close()
	l = open(t, dir)
	defer l.Close()
	for i := range 3 {
		if r := mustAppend(t, l, AppendRequest{Stream: fmt.Sprint("s", i), ExpectedSeq: 2, CommandID: "c", CommandActor: actor, Events: []Draft{evBy(actor, "e", i)}}); !r.Duplicate {
			t.Fatalf("s%d: the retry of c was stored again", i)
		}
		mustAppend(t, l, AppendRequest{Stream: fmt.Sprint("s", i), ExpectedSeq: 2, CommandID: "e", CommandActor: actor, Events: []Draft{evBy(actor, "e", i)}})
	}
	if n := scans.Load(); n != 3 {
		t.Fatalf("%d scans for 3 streams with heads, want 3", n)
	}
}
