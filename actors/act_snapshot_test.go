package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/persistence/eventlog/storetest"
)

const snapActID = "00112233445566778899aabbccddeeff"

// snapshotLog is a log holding the act of fillAct.
func snapshotLog(t *testing.T, rounds int) *eventlog.Log {
	t.Helper()
	l, err := eventlog.Open(filepath.Join(t.TempDir(), "log"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	fillAct(t, l, rounds)
	return l
}

// fillAct appends an act of 5 + 3*rounds + 2 events, as commands of the
// notary (ids n1, n2, ...) in many appends: a draft presented, changes
// requested, a check, round after round, and an approval at the end. It
// returns the last seq.
func fillAct(tb testing.TB, l *eventlog.Log, rounds int) uint64 {
	tb.Helper()
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	events := append(waitingSince(snapActID, at), act.CallAccepted{Notary: act.Actor{Role: act.RoleNotary, ID: "aliya"}})
	appendAct(tb, l, snapActID, at, events)
	seq := uint64(len(events))
	checks := []act.Check{act.CheckDocumentShown, act.CheckLegalCapacity, act.CheckRightsExplained}
	for i := 1; i <= rounds; i++ {
		at = at.Add(time.Minute)
		draft := act.Draft{RegistryNumber: fmt.Sprintf("1-2026-%04d", i), Powers: "Управлять автомобилем", TermMonths: 12, StateDuty: 100, ServicesFee: 200}
		seq = appendCommand(tb, l, seq, fmt.Sprint("n", i), "notary:aliya", at,
			act.DraftPresented{Revision: i, Draft: draft, At: at},
			act.ChangesRequested{Revision: i, Comments: "ещё раз"},
			act.CheckRecorded{Check: checks[i%3], Passed: i%2 == 0, At: at})
	}
	return appendCommand(tb, l, seq, "c1", "client:"+principalIIN, at.Add(time.Minute),
		act.DraftPresented{Revision: rounds + 1, At: at}, act.DraftApproved{Revision: rounds + 1, Signature: act.Signature{CMS: []byte{0x30}, SignerIIN: principalIIN}})
}

// appendCommand appends events as one command, after seq; it returns the
// seq after them.
func appendCommand(t testing.TB, l *eventlog.Log, seq uint64, id, by string, at time.Time, events ...act.Event) uint64 {
	t.Helper()
	drafts := make([]eventlog.Draft, len(events))
	for i, e := range events {
		b, _ := json.Marshal(e)
		drafts[i] = eventlog.Draft{Type: e.EventType(), Actor: by, At: at, Payload: b}
	}
	res, err := l.Append(context.Background(), eventlog.AppendRequest{Stream: StreamOf(snapActID), ExpectedSeq: seq,
		CommandID: id, CommandActor: by, Events: drafts, TrustedPayloads: true})
	if err != nil {
		t.Fatal(err)
	}
	return res.Records[len(res.Records)-1].Seq
}

// loadAct loads the act as an act actor does, with snapshots every `every`
// events (0: none).
func loadAct(t *testing.T, l *eventlog.Log, every int) *actActor {
	t.Helper()
	a := &actActor{id: snapActID, deps: Deps{Log: l, Logger: zerolog.Nop(), ActSnapshotEvery: every}, log: zerolog.Nop()}
	a.load()
	if !a.loaded {
		t.Fatalf("not loaded: %s %s", a.failCode, a.failMsg)
	}
	return a
}

// sameAct fails unless got holds what a full replay (want) holds.
func sameAct(t *testing.T, got, want *actActor) {
	t.Helper()
	if !reflect.DeepEqual(got.state, want.state) {
		g, _ := json.Marshal(got.state)
		w, _ := json.Marshal(want.state)
		t.Fatalf("state from the snapshot:\n%s\nfrom a full replay:\n%s", g, w)
	}
	if !reflect.DeepEqual(got.applied, want.applied) {
		t.Fatalf("applied commands: %v, replay: %v", got.applied, want.applied)
	}
	if got.approvalHash != want.approvalHash || !got.lastAt.Equal(want.lastAt) || got.snap.headHash != want.snap.headHash {
		t.Fatalf("approval %s at %s head %s; replay: %s at %s head %s", got.approvalHash, got.lastAt, got.snap.headHash,
			want.approvalHash, want.lastAt, want.snap.headHash)
	}
}

// An act loaded from its snapshot decodes only the events after it, and
// holds what a replay from the first event gives; so does one loaded
// after more events, and one whose snapshot is of no use.
func TestActSnapshotLoadsAsAFullReplay(t *testing.T) {
	l := snapshotLog(t, 10) // 5 + 30 + 2 = 37 events
	replay := loadAct(t, l, 0)
	if replay.state.Version != 37 || replay.snap.decoded != 37 || replay.approvalHash == "" {
		t.Fatalf("full replay: version %d, %d decoded", replay.state.Version, replay.snap.decoded)
	}
	if _, found, _ := l.Snapshot(StreamOf(snapActID)); found {
		t.Fatal("a snapshot was stored with snapshots off")
	}

	// The first load with snapshots on replays everything and stores one.
	first := loadAct(t, l, 8)
	sameAct(t, first, replay)
	if first.snap.decoded != 37 || first.snap.seq != 37 {
		t.Fatalf("first load: %d decoded, snapshot at %d", first.snap.decoded, first.snap.seq)
	}
	second := loadAct(t, l, 8)
	sameAct(t, second, replay)
	if second.snap.decoded != 0 {
		t.Fatalf("from the snapshot: %d events decoded, want 0", second.snap.decoded)
	}

	// More events: a load decodes those only, and matches a replay.
	seq := appendCommand(t, l, 37, "n99", "notary:aliya", time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC),
		act.CheckRecorded{Check: act.CheckLegalCapacity, Passed: true}, act.CheckRecorded{Check: act.CheckRightsExplained, Passed: true})
	third := loadAct(t, l, 8)
	sameAct(t, third, loadAct(t, l, 0))
	if seq != 39 || third.snap.decoded != 2 || third.snap.seq != 37 {
		t.Fatalf("after 2 more events: %d decoded, snapshot at %d", third.snap.decoded, third.snap.seq)
	}
	replay = loadAct(t, l, 0)

	// A snapshot of no use is ignored: everything is replayed, to the same.
	good, _, err := l.Snapshot(StreamOf(snapActID))
	if err != nil {
		t.Fatal(err)
	}
	var body actSnapshotBody
	if err := json.Unmarshal(good.Body, &body); err != nil {
		t.Fatal(err)
	}
	remarshal := func(edit func(*actSnapshotBody)) []byte {
		var b actSnapshotBody
		_ = json.Unmarshal(good.Body, &b)
		edit(&b)
		out, _ := json.Marshal(b)
		return out
	}
	other := replay.state.Version // a hash of the chain, at another seq
	for name, s := range map[string]eventlog.Snapshot{
		"not JSON":           {Seq: good.Seq, Hash: good.Hash, Body: []byte("{")},
		"another format":     {Seq: good.Seq, Hash: good.Hash, Body: remarshal(func(b *actSnapshotBody) { b.Format++ })},
		"another shape":      {Seq: good.Seq, Hash: good.Hash, Body: remarshal(func(b *actSnapshotBody) { b.Shape = "0000" })},
		"seq not the body's": {Seq: good.Seq - 1, Hash: good.Hash, Body: good.Body},
		"not the chain's":    {Seq: good.Seq, Hash: eventlog.ZeroHash, Body: good.Body},
		"past the head":      {Seq: other + 5, Hash: good.Hash, Body: remarshal(func(b *actSnapshotBody) { b.Seq, b.State.Version = other+5, other+5 })},
	} {
		if err := l.PutSnapshot(StreamOf(snapActID), s); err != nil {
			t.Fatal(err)
		}
		a := loadAct(t, l, 100) // 100: no new snapshot is stored on load
		sameAct(t, a, replay)
		if a.snap.decoded != int(replay.state.Version) {
			t.Fatalf("%s: %d decoded, want a full replay", name, a.snap.decoded)
		}
	}
	if err := l.DeleteSnapshot(StreamOf(snapActID)); err != nil {
		t.Fatal(err)
	}
	if a := loadAct(t, l, 100); a.snap.decoded != int(replay.state.Version) {
		t.Fatalf("no snapshot: %d decoded", a.snap.decoded)
	}
}

// Through the system: an act takes snapshots as its commands commit, a
// retry of a command before the snapshot is still recognised after a
// rebuild from it, and the act goes on.
func TestActSnapshotsThroughCommands(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	sys := startSystem(t, Deps{Now: clock.Now, ActIdleAfter: time.Minute, ActSnapshotEvery: 2})
	const id = snapActID
	seedAct(t, sys, id, "aliya") // seq 1..5
	notary := act.Actor{Role: act.RoleNotary, ID: "aliya"}
	check := func(cid, what string) CommandResult {
		t.Helper()
		return askAct(t, sys, func(to *actor.PID) any {
			return ActCommand{ActID: id, CommandID: cid, Actor: notary, Name: "record_check",
				Body: json.RawMessage(`{"check":"` + what + `","passed":true}`), ReplyTo: to}
		}).(CommandResult)
	}
	if r := check("c1", "document_shown"); r.Code != "" || r.Seq != 6 {
		t.Fatalf("first check: %+v", r)
	}
	if r := check("c2", "legal_capacity"); r.Code != "" || r.Seq != 7 {
		t.Fatalf("second check: %+v", r)
	}
	s, found, err := sys.Deps().Log.Snapshot(StreamOf(id))
	if err != nil || !found || s.Seq != 7 {
		t.Fatalf("snapshot after seq 7: %+v %v %v", s, found, err)
	}
	clock.add(2 * time.Minute)
	sys.Engine.Send(sys.Acts(), sweepIdle{})
	waitPassivated(t, sys, id)
	if r := check("c1", "document_shown"); !r.Duplicate || r.Seq != 6 {
		t.Fatalf("retry after a rebuild from the snapshot: %+v", r)
	}
	if r := check("c3", "rights_explained"); r.Code != "" || r.Seq != 8 {
		t.Fatalf("third check: %+v", r)
	}
	st := askAct(t, sys, func(to *actor.PID) any { return GetState{ActID: id, Actor: notary, ReplyTo: to} }).(StateResult)
	if st.Code != "" || st.State.Version != 8 || !st.State.ChecksPassed() {
		t.Fatalf("state: %+v", st)
	}
}

func waitPassivated(t *testing.T, sys *System, id string) {
	t.Helper()
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		if live(t, sys)[id] != nil {
			return fmt.Errorf("the idle act is still live")
		}
		return nil
	})
}

// Loading an act of 208 events: a replay from its first event, against
// one from its snapshot 15 events back (about half of snapshot_every's
// default), in the same run:
//
//	go test ./actors -run '^$' -bench ActLoad -benchtime 200x
func BenchmarkActLoad(b *testing.B) {
	l, err := eventlog.Open(filepath.Join(b.TempDir(), "log"), eventlog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	seq := fillAct(b, l, 62) // 5 + 186 + 2 = 193 events
	a := &actActor{id: snapActID, deps: Deps{Log: l, Logger: zerolog.Nop(), ActSnapshotEvery: 1}, log: zerolog.Nop()}
	a.load() // stores a snapshot at 193
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i := range 5 {
		seq = appendCommand(b, l, seq, fmt.Sprint("m", i), "notary:aliya", at,
			act.CheckRecorded{Check: act.CheckLegalCapacity, Passed: true}, act.CheckRecorded{Check: act.CheckDocumentShown, Passed: true},
			act.CheckRecorded{Check: act.CheckRightsExplained, Passed: true})
	}
	load := func(every int) time.Duration {
		start := time.Now()
		a := &actActor{id: snapActID, deps: Deps{Log: l, Logger: zerolog.Nop(), ActSnapshotEvery: every}, log: zerolog.Nop()}
		a.load()
		if !a.loaded || a.state.Version != seq {
			b.Fatalf("loaded %v at %d", a.loaded, a.state.Version)
		}
		return time.Since(start)
	}
	var full, snap time.Duration
	b.ResetTimer()
	for range b.N {
		full += load(0)
		snap += load(1 << 20) // reads the snapshot, stores none
	}
	b.ReportMetric(float64(full.Microseconds())/float64(b.N), "µs/full-replay")
	b.ReportMetric(float64(snap.Microseconds())/float64(b.N), "µs/from-snapshot")
	b.ReportMetric(full.Seconds()/snap.Seconds(), "speedup")
}

// With snapshots, the chain is still checked whole on every load: a
// record altered before an act's snapshot breaks the act (chain_broken),
// and a damaged block under the records before it answers
// storage_corrupt; the snapshot does not paper over either.
func TestActSnapshotsDoNotHideDamage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	marker := writeIntegrityActs(t, dir)
	l, err := eventlog.Open(dir, eventlog.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		if err := WriteActSnapshot(l, id); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	storetest.Rewrite(t, dir, StreamOf("a2"), 5, func(r *eventlog.Record) {
		r.Payload = json.RawMessage(strings.Replace(string(r.Payload), `"760212350620"`, `"900101300118"`, 1))
	})
	storetest.FlipByte(t, dir, marker)
	l, err = eventlog.Open(dir, eventlog.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sys, err := Start(Deps{Log: l, Rules: act.DefaultRules(), Logger: zerolog.Nop(), ActSnapshotEvery: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	if r := askState(t, sys, "a2"); r.Code != CodeChainBroken {
		t.Fatalf("the act altered before its snapshot: %s %s", r.Code, r.Message)
	}
	if r := askState(t, sys, "a1"); r.Code != CodeStorageCorrupt {
		t.Fatalf("the act damaged before its snapshot: %s %s", r.Code, r.Message)
	}
	if r := askState(t, sys, "a3"); r.Code != "" || r.State.Version != 20 {
		t.Fatalf("a3 from its snapshot: %s %s, version %d", r.Code, r.Message, r.State.Version)
	}
}
