package actors

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/transport/protocol"
)

// ask sends what build makes to the acts' router and waits for the answer.
func ask(t *testing.T, sys *System, build func(to *actor.PID) any) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ans, err := sys.Ask(ctx, sys.Acts(), build)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return ans
}

// The router answers every act message with an id the server did not make
// with bad_act_id, and spawns no act actor for it.
func TestRouterRefusesActIDsTheServerDidNotMake(t *testing.T) {
	sys := startSystem(t, Deps{})
	client := act.Actor{Role: act.RoleClient, ID: "871008401427", IIN: "871008401427"}
	code := string(act.CodeBadActID)
	for _, id := range []string{"../../../../tmp/x", "", "x", "0F1E2D3C4B5A69788796A5B4C3D2E1F0", "0f1e2d3c4b5a69788796a5b4c3d2e1f0/.."} {
		if r := ask(t, sys, func(to *actor.PID) any {
			return ActCommand{ActID: id, CommandID: "c1", Actor: client, Name: "request_call", ReplyTo: to}
		}).(CommandResult); r.Code != code || r.CommandID != "c1" {
			t.Errorf("command to %q: %+v", id, r)
		}
		if r := ask(t, sys, func(to *actor.PID) any { return Subscribe{ActID: id, Actor: client, Subscriber: to} }).(SubscribeResult); r.Code != code {
			t.Errorf("subscribe to %q: %+v", id, r)
		}
		if r := ask(t, sys, func(to *actor.PID) any { return GetState{ActID: id, Actor: client, ReplyTo: to, Tag: "q"} }).(StateResult); r.Code != code || r.Tag != "q" {
			t.Errorf("state of %q: %+v", id, r)
		}
		if r := ask(t, sys, func(to *actor.PID) any { return JoinCall{ActID: id, Actor: client, Session: to, Tag: "m"} }).(MediaOut); r.Code != code || r.Tag != "m" {
			t.Errorf("join %q: %+v", id, r)
		}
		if pid := live(t, sys)[id]; pid != nil {
			t.Errorf("an actor was spawned for %q: %v", id, pid)
		}
	}
	// A well-formed id reaches its act (which does not exist).
	if r := ask(t, sys, func(to *actor.PID) any {
		return ActCommand{ActID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", CommandID: "c1", Actor: client, Name: "request_call", ReplyTo: to}
	}).(CommandResult); r.Code != string(act.CodeNoSuchAct) {
		t.Errorf("command to a well-formed id: %+v", r)
	}
}

// An act stored before act ids were checked stays readable by its parties.
func TestActsWithLegacyIDsStayReachable(t *testing.T) {
	sys := startSystem(t, Deps{})
	client := act.Actor{Role: act.RoleClient, ID: "871008401427", IIN: "871008401427"}
	payload, _ := json.Marshal(act.ApplicationSubmitted{ActID: "act-1", ActionType: act.ActionPowerOfAttorney,
		Principal: act.Party{IIN: client.IIN}, Attorney: act.Party{IIN: "760212350620"}, At: time.Now()})
	if _, err := sys.Deps().Log.Append(context.Background(), eventlog.AppendRequest{Stream: StreamOf("act-1"),
		Events: []eventlog.Draft{{Type: (act.ApplicationSubmitted{}).EventType(), Actor: client.String(), At: time.Now(), Payload: payload}}}); err != nil {
		t.Fatal(err)
	}
	r := ask(t, sys, func(to *actor.PID) any { return GetState{ActID: "act-1", Actor: client, ReplyTo: to} }).(StateResult)
	if r.Code != "" || r.State.ID != "act-1" {
		t.Fatalf("legacy act: %+v", r)
	}
}

// draft is an event for a test's log.
func draft(t *testing.T, by string, e act.Event) eventlog.Draft {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return eventlog.Draft{Type: e.EventType(), Actor: by, At: time.Now(), Payload: b}
}

// A recording left without its FINISHED marker is salvaged at start. If the
// act already holds its finish (from the room, under the system's id with
// another body; or from before system ids had their namespace), the
// salvage changes nothing in the log and the directory is marked finished.
func TestSalvageOfARecordingTheActAlreadyNamed(t *testing.T) {
	dir := t.TempDir()
	l, err := eventlog.Open(filepath.Join(dir, "log"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	recDir := filepath.Join(dir, "recordings")
	acts := map[string]string{ // act → the id its finish was stored under
		"0f1e2d3c4b5a69788796a5b4c3d2e1f0": finishIDPrefix + "call-1",
		"1f1e2d3c4b5a69788796a5b4c3d2e1f0": "finish-call-1", // before the sys: namespace
	}
	heads := map[string]uint64{}
	for id, finishID := range acts {
		client := act.Actor{Role: act.RoleClient, ID: "871008401427", IIN: "871008401427"}
		sys := act.Actor{Role: act.RoleSystem}.String()
		for _, req := range []eventlog.AppendRequest{
			{Events: []eventlog.Draft{draft(t, client.String(), act.ApplicationSubmitted{ActID: id, Principal: act.Party{IIN: client.IIN}})}},
			{ExpectedSeq: 1, CommandID: startIDPrefix + "call-1", CommandActor: sys, Events: []eventlog.Draft{draft(t, sys, act.RecordingStarted{Recording: "call-1", At: time.Now()})}},
			{ExpectedSeq: 2, CommandID: finishID, CommandActor: sys, CommandDigest: "the room's body",
				Events: []eventlog.Draft{draft(t, sys, act.RecordingFinished{Recording: "call-1", Files: []act.RecordingFile{}, At: time.Now()})}},
		} {
			req.Stream = StreamOf(id)
			if _, err := l.Append(context.Background(), req); err != nil {
				t.Fatal(err)
			}
		}
		heads[id], _, _ = l.Head(StreamOf(id))
		if err := os.MkdirAll(filepath.Join(recDir, id, "call-1"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s, err := sfu.New(sfu.Config{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	system, err := Start(Deps{Log: l, Rules: act.DefaultRules(), Logger: zerolog.Nop(), Media: Media{SFU: s, RecordDir: recDir}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(system.Stop)
	for id := range acts {
		testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
			_, err := os.Stat(filepath.Join(recDir, id, "call-1", finishedMarker))
			return err
		})
		if seq, _, _ := l.Head(StreamOf(id)); seq != heads[id] {
			t.Errorf("act %s: the salvage wrote (seq %d → %d)", id, heads[id], seq)
		}
	}
}

// Apps may not use the ids of Senim's own commands.
func TestSessionRefusesReservedIDs(t *testing.T) {
	s := notarySession(t, startSystem(t, Deps{}), DefaultSessionLimits())
	for _, id := range []string{"sys:finish-call-1", "sys:", "bank:p1"} {
		s.send(`{"type":"command","id":"` + id + `","act":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","name":"end_call"}`)
		if e := s.answer(id); e.Code != protocol.CodeBadMessage {
			t.Errorf("command with id %q: %+v", id, e)
		}
	}
	s.send(`{"type":"command","id":"finish-call-1","act":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","name":"end_call"}`)
	if e := s.answer("finish-call-1"); e.Code != string(act.CodeNoSuchAct) {
		t.Errorf("an ordinary id: %+v", e)
	}
}
