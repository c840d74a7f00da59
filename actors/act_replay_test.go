package actors

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/persistence/eventlog/storetest"
)

// An act loads record by record (ReplayVerified), so the records before an
// altered one are applied before the alteration is found. The failed load
// must keep none of them: no state, no applied commands, no approval.
func TestAFailedLoadKeepsNothingItApplied(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	l, err := eventlog.Open(dir, eventlog.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	seq := fillAct(t, l, 3) // approved at the last seq
	seq = appendCommand(t, l, seq, "n99", "notary:aliya", time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC),
		act.CheckRecorded{Check: act.CheckLegalCapacity, Passed: true})
	l.Close()
	storetest.Rewrite(t, dir, StreamOf(snapActID), seq, func(r *eventlog.Record) {
		r.Payload = json.RawMessage(strings.Replace(string(r.Payload), "true", "false", 1))
	})
	l, err = eventlog.Open(dir, eventlog.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for _, every := range []int{0, 8} {
		a := &actActor{id: snapActID, deps: Deps{Log: l, Logger: zerolog.Nop(), ActSnapshotEvery: every}, log: zerolog.Nop()}
		a.load()
		if a.loaded || a.failCode != CodeChainBroken {
			t.Fatalf("snapshot_every %d: loaded %v, %s %s", every, a.loaded, a.failCode, a.failMsg)
		}
		if a.state.Version != 0 || len(a.applied) != 0 || a.approvalHash != "" || !a.lastAt.IsZero() {
			t.Fatalf("snapshot_every %d: the failed load kept version %d, %d commands, approval %q, last event at %s",
				every, a.state.Version, len(a.applied), a.approvalHash, a.lastAt)
		}
	}
}
