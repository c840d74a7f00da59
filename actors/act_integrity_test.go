package actors

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/persistence/eventlog/storetest"
	"github.com/senim-kz/senim/transport/protocol"
)

var integrityClient = act.Actor{Role: act.RoleClient, ID: "871008401427", IIN: "871008401427"}

// writeIntegrityActs stores acts a0..a3, each 20 application_submitted
// events whose names carry a kilobyte of random hex (every act spans blocks
// of its own in the sstable), flushes them to sstables and closes the log.
// It returns the marker stored verbatim in the middle of act a1.
func writeIntegrityActs(t *testing.T, dir string) []byte {
	t.Helper()
	streams := []string{StreamOf("a0"), StreamOf("a1"), StreamOf("a2"), StreamOf("a3")}
	return storetest.WriteStreams(t, dir, streams, StreamOf("a1"), func(stream string, i int, name string) (eventlog.Draft, []eventlog.IndexOp) {
		e := act.ApplicationSubmitted{ActID: strings.TrimPrefix(stream, StreamOf("")), ActionType: "power_of_attorney",
			Principal: act.Party{IIN: integrityClient.IIN, Name: name}, Attorney: act.Party{IIN: "760212350620"}}
		p, _ := json.Marshal(e)
		var index []eventlog.IndexOp
		if i == 0 {
			index = []eventlog.IndexOp{{Index: "principal", Value: integrityClient.IIN}}
		}
		return eventlog.Draft{Type: e.EventType(), Actor: integrityClient.String(), At: time.Now(), Payload: p}, index
	})
}

// startOn runs the actors over the log in dir.
func startOn(t *testing.T, dir string) *System {
	t.Helper()
	l, err := eventlog.Open(dir, eventlog.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sys, err := Start(Deps{Log: l, Rules: act.DefaultRules(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	return sys
}

func askState(t *testing.T, sys *System, id string) StateResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ans, err := sys.Ask(ctx, sys.Acts(), func(to *actor.PID) any {
		return GetState{ActID: id, Actor: integrityClient, ReplyTo: to}
	})
	if err != nil {
		t.Fatalf("%s: no answer: %v", id, err)
	}
	return ans.(StateResult)
}

func askCommand(t *testing.T, sys *System, id string) CommandResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ans, err := sys.Ask(ctx, sys.Acts(), func(to *actor.PID) any {
		return ActCommand{ActID: id, CommandID: "c-" + rand.Text(), Actor: integrityClient, Name: "cancel_act",
			Body: json.RawMessage(`{"reason":"test"}`), ReplyTo: to}
	})
	if err != nil {
		t.Fatalf("%s: no answer: %v", id, err)
	}
	return ans.(CommandResult)
}

// A bad disk block under one act: that act answers storage_corrupt to
// queries and commands, again and again, and the other acts are served
// from the same store. (Before, pebble's Fatalf exited the process on the
// first read.)
func TestADamagedBlockCostsOneAct(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	marker := writeIntegrityActs(t, dir)
	storetest.FlipByte(t, dir, marker)
	sys := startOn(t, dir)
	for i := 0; i < 3; i++ {
		if r := askState(t, sys, "a1"); r.Code != CodeStorageCorrupt {
			t.Fatalf("query %d of the damaged act: %+v", i, r.Code)
		}
		if r := askCommand(t, sys, "a1"); r.Code != CodeStorageCorrupt {
			t.Fatalf("command %d to the damaged act: %+v", i, r)
		}
	}
	for _, id := range []string{"a0", "a2", "a3"} {
		r := askState(t, sys, id)
		if r.Code != "" || r.State.Version != 20 || r.State.ID != id {
			t.Fatalf("%s: %s %s, version %d", id, r.Code, r.Message, r.State.Version)
		}
	}
	if r := askCommand(t, sys, "a2"); r.Code != "" || r.Seq != 21 {
		t.Fatalf("a command to a sound act: %+v", r)
	}
}

// A record rewritten on disk: the act's chain no longer verifies when it is
// loaded, and the act answers chain_broken to commands and queries; the
// others are untouched. (Before, load replayed the altered record.)
func TestAnAlteredRecordBreaksItsAct(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	writeIntegrityActs(t, dir)
	storetest.Rewrite(t, dir, StreamOf("a2"), 5, func(r *eventlog.Record) {
		r.Payload = json.RawMessage(strings.Replace(string(r.Payload), `"760212350620"`, `"900101300118"`, 1))
	})
	sys := startOn(t, dir)
	if r := askState(t, sys, "a2"); r.Code != CodeChainBroken {
		t.Fatalf("query of the altered act: %s %s", r.Code, r.Message)
	}
	if r := askCommand(t, sys, "a2"); r.Code != CodeChainBroken {
		t.Fatalf("command to the altered act: %+v", r)
	}
	if r := askState(t, sys, "a3"); r.Code != "" || r.State.Version != 20 {
		t.Fatalf("a3: %s %s", r.Code, r.Message)
	}
}

// The client's list of acts marks a damaged act and an altered one, and
// lists the others (before, one damaged act failed the whole list).
func TestTheCabinetListsAroundDamagedActs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	marker := writeIntegrityActs(t, dir)
	storetest.FlipByte(t, dir, marker)
	storetest.Rewrite(t, dir, StreamOf("a2"), 5, func(r *eventlog.Record) { r.Actor = "notary:evil" })
	sys := startOn(t, dir)
	f, _ := parseList(protocol.ListQuery{})
	list, err := listActs(sys.Deps().Log, NewSummaryCache(10), integrityClient, "my_acts", f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range list.Acts {
		got[a.Act] = a.Phase
	}
	want := map[string]string{"a0": string(act.PhaseAwaitingConsent), "a1": CodeStorageCorrupt, "a2": CodeChainBroken, "a3": string(act.PhaseAwaitingConsent)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("my_acts %v, want %v", got, want)
	}
}
