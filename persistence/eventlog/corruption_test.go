package eventlog_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/senim-kz/senim/metrics"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/persistence/eventlog/storetest"
)

// writeActs fills a log at dir with n acts, act/0..act/n-1, and returns
// the marker stored verbatim in the middle of act/1.
func writeActs(t *testing.T, dir string, n int) []byte {
	t.Helper()
	streams := make([]string, n)
	for a := range streams {
		streams[a] = fmt.Sprintf("act/%d", a)
	}
	return storetest.WriteStreams(t, dir, streams, "act/1", storetest.JunkEvent)
}

// One flipped byte in an sstable costs the act stored there, never the
// process: before, pebble's corruption report went to Fatalf, which exited.
// The damaged act's reads answer ErrCorrupt naming the file, the other acts
// read and verify as before, the metric counts it, and Check names the act.
func TestAFlippedByteCostsOneAct(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	marker := writeActs(t, dir, 4)
	file := storetest.FlipByte(t, dir, marker)

	before := testutil.ToFloat64(metrics.StorageCorruption.WithLabelValues("checksum"))
	l, err := eventlog.Open(dir, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = l.ReadAll("act/1")
	var ce *eventlog.CorruptError
	if !errors.Is(err, eventlog.ErrCorrupt) || !errors.As(err, &ce) || ce.File != file || ce.Stream != "act/1" {
		t.Fatalf("read of the damaged act: %v (want ErrCorrupt in %s)", err, file)
	}
	if got := testutil.ToFloat64(metrics.StorageCorruption.WithLabelValues("checksum")); got <= before {
		t.Fatalf("senim_storage_corruption_total{kind=checksum} stayed at %v", got)
	}
	for _, s := range []string{"act/0", "act/2", "act/3"} {
		recs, err := l.ReadAll(s)
		if err != nil || len(recs) != 20 {
			t.Fatalf("%s: %d records, %v", s, len(recs), err)
		}
		if err := l.VerifyChain(s); err != nil {
			t.Fatal(err)
		}
	}
	// The damaged act fails every time it is read, and nothing else does.
	if _, err := l.ReadAll("act/1"); !errors.Is(err, eventlog.ErrCorrupt) {
		t.Fatalf("second read: %v", err)
	}
	var problems []eventlog.Problem
	if err := l.Check(func(p eventlog.Problem) { problems = append(problems, p) }); err != nil {
		t.Fatal(err)
	}
	named := false
	for _, p := range problems {
		if p.Code != eventlog.CodeStorageCorrupt || (p.Stream != "" && p.Stream != "act/1") {
			t.Errorf("unexpected problem %s", p)
		}
		named = named || (p.Stream == "act/1" && p.File == file)
	}
	if !named {
		t.Fatalf("check does not name act/1 in %s: %v", file, problems)
	}
}

// A record rewritten on disk (its hashes untouched) reads as a broken chain
// at its seq, and Check says so; the other streams are clean.
func TestCheckFindsABrokenChain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	writeActs(t, dir, 3)
	storetest.Rewrite(t, dir, "act/2", 7, func(r *eventlog.Record) {
		r.Payload = json.RawMessage(strings.Replace(string(r.Payload), `"n":6`, `"n":66`, 1))
	})
	l, err := eventlog.Open(dir, eventlog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var problems []eventlog.Problem
	if err := l.Check(func(p eventlog.Problem) { problems = append(problems, p) }); err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || problems[0].Code != eventlog.CodeChainBroken || problems[0].Stream != "act/2" || problems[0].Seq != 7 {
		t.Fatalf("problems %v", problems)
	}
}
