package eventlog

import (
	"fmt"
	"testing"
)

// cachedHeads is how many streams' heads the log keeps in memory.
func (l *Log) cachedHeads() int {
	n := 0
	for i := range l.stripes {
		st := &l.stripes[i]
		st.Lock()
		n += len(st.heads)
		st.Unlock()
	}
	return n
}

// The head cache is bounded (Options.HeadCache): past it, streams are
// forgotten and read from the store again on their next append, which
// still chains onto the stream's last record; a retried command of a
// forgotten stream is still found, and a new one still stored.
func TestHeadCacheIsBounded(t *testing.T) {
	l, err := Open(t.TempDir(), Options{HeadCache: stripes}) // one a stripe
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const streams = 3 * stripes
	const actor = "client:871008401427"
	cmd := func(s string, seq uint64, id string) AppendResult {
		t.Helper()
		return mustAppend(t, l, AppendRequest{Stream: s, ExpectedSeq: seq, CommandID: id, CommandActor: actor, CommandDigest: "d",
			Events: []Draft{evBy(actor, "call_ended", int(seq))}})
	}
	for i := range streams {
		cmd(fmt.Sprintf("ACT-%d", i), 0, "first")
	}
	if n := l.cachedHeads(); n > stripes {
		t.Fatalf("%d heads cached after %d streams, the bound is %d", n, streams, stripes)
	}
	for i := range streams {
		s := fmt.Sprintf("ACT-%d", i)
		if r := cmd(s, 1, "first"); !r.Duplicate || r.Records[0].Seq != 1 {
			t.Fatalf("%s: the retry of its first command is not found: %+v", s, r)
		}
		if r := cmd(s, 1, "second"); r.Duplicate || r.Records[0].Seq != 2 {
			t.Fatalf("%s: its second command: %+v", s, r)
		}
	}
	if n := l.cachedHeads(); n > stripes {
		t.Fatalf("%d heads cached, the bound is %d", n, stripes)
	}
	for i := range streams {
		if err := l.VerifyChain(fmt.Sprintf("ACT-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}
