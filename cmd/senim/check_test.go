package main_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/persistence/checkpoint"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/persistence/eventlog/storetest"
	"github.com/senim-kz/senim/pki/devca"
)

// storeActs writes acts act/a0..a3 into data/eventlog, each 20 events of a
// kilobyte of random hex (so that each spans blocks of its own), flushed
// into sstables; it returns the marker stored verbatim inside act/a1.
func storeActs(t *testing.T, data string) []byte {
	t.Helper()
	return storetest.WriteStreams(t, filepath.Join(data, "eventlog"), []string{"act/a0", "act/a1", "act/a2", "act/a3"}, "act/a1", storetest.JunkEvent)
}

// `senim check` on a sound log exits 0; after one flipped byte in an
// sstable it names the damaged act and the file and exits 1 (before, the
// process died in pebble's Fatalf, printing nothing); after a record is
// rewritten it names the act and the seq of the broken chain.
func TestCheckNamesTheDamagedAct(t *testing.T) {
	data := t.TempDir()
	marker := storeActs(t, data)
	if out := mustCLI(t, data, "check"); !strings.Contains(out, "the event log is sound: 4 streams") {
		t.Fatalf("clean check:\n%s", out)
	}
	file := storetest.FlipByte(t, filepath.Join(data, "eventlog"), marker)
	out, code := cli(t, data, "check")
	if code != 1 || !strings.Contains(out, "storage_corrupt stream=act/a1 file="+file) {
		t.Fatalf("check after a flipped byte in %s: exit %d\n%s", file, code, out)
	}
	for _, sound := range []string{"act/a0", "act/a2", "act/a3"} {
		if strings.Contains(out, "stream="+sound+" ") {
			t.Fatalf("check blames %s:\n%s", sound, out)
		}
	}
	// The other tools print the real error too.
	if out, code := cli(t, data, "replay", "a1"); code != 1 || !strings.Contains(out, "storage corrupt reading stream act/a1 in file "+file) {
		t.Fatalf("replay of the damaged act: exit %d\n%s", code, out)
	}

	data2 := t.TempDir()
	storeActs(t, data2)
	storetest.Rewrite(t, filepath.Join(data2, "eventlog"), "act/a2", 4, func(r *eventlog.Record) { r.Actor = "notary:evil" })
	out, code = cli(t, data2, "check")
	if code != 1 || !strings.Contains(out, "chain_broken stream=act/a2 seq=4") {
		t.Fatalf("check after a rewritten record: exit %d\n%s", code, out)
	}
}

// An attacker with the disk rewrites a record of act/a2 and recomputes its
// chain and head: the stream's own chain verifies, and `senim check` still
// names it, against the signed checkpoint written before.
func TestCheckFindsARechainedActAgainstTheCheckpoint(t *testing.T) {
	data := t.TempDir()
	storeActs(t, data)
	ca, err := devca.Open(filepath.Join(data, "devca"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, err := checkpoint.DevKey(ca, checkpoint.DevKeyDir(data), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l, err := eventlog.Open(filepath.Join(data, "eventlog"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = checkpoint.Write(context.Background(), l, key, time.Now())
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	if out := mustCLI(t, data, "check"); !strings.Contains(out, "checkpoint 1 of") || !strings.Contains(out, "matches") {
		t.Fatalf("clean check:\n%s", out)
	}
	storetest.Rechain(t, filepath.Join(data, "eventlog"), "act/a2", 5, func(r *eventlog.Record) {
		r.Payload = json.RawMessage(`{"n":4,"junk":"rewritten"}`)
	})
	out, code := cli(t, data, "check")
	if code != 1 || !strings.Contains(out, "checkpoint_mismatch stream=act/a2 seq=20") || strings.Contains(out, "chain_broken") {
		t.Fatalf("check after a rechained act: exit %d\n%s", code, out)
	}
}
