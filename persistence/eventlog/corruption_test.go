package eventlog_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/senim-kz/senim/metrics"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/persistence/eventlog/storetest"
)

// WriteActs fills a log at dir with n acts of 20 events, each event a
// kilobyte of random hex so that every act spans several blocks of its
// own, and returns the marker stored verbatim in the middle of act/1.
func writeActs(t *testing.T, dir string, n int) []byte {
	t.Helper()
	l, err := eventlog.Open(dir, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	marker := storetest.Marker()
	for a := 0; a < n; a++ {
		for i := 0; i < 20; i++ {
			junk := make([]byte, 512)
			_, _ = rand.Read(junk)
			text := hex.EncodeToString(junk)
			if a == 1 && i == 10 {
				text = text[:400] + string(marker) + text[400:]
			}
			p, _ := json.Marshal(map[string]any{"n": i, "junk": text})
			_, err := l.Append(context.Background(), eventlog.AppendRequest{Stream: fmt.Sprintf("act/%d", a), ExpectedSeq: uint64(i),
				Events: []eventlog.Draft{{Type: "e", Actor: "system", At: time.Date(2026, 11, 30, 10, 0, i, 0, time.UTC), Payload: p}}})
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
