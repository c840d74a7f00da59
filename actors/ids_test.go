package actors

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
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
		if pid := sys.Engine.Registry.GetPID("acts/router/act", id); pid != nil {
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
