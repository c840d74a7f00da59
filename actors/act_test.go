package actors

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

// A command that makes the act actor panic is answered with an internal
// error, as often as it is sent, and the act goes on working. Here the
// poison is a submit_application reaching a shell that has no trust store,
// so verifying its CMS dereferences nil inside the act actor.
func TestPoisonedCommandToAnAct(t *testing.T) {
	sys := startSystem(t, Deps{})
	client := act.Actor{Role: act.RoleClient, ID: "871008401427", IIN: "871008401427"}
	ask := func(name string, body any) CommandResult {
		t.Helper()
		raw, _ := json.Marshal(body)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ans, err := sys.Ask(ctx, sys.Acts(), func(to *actor.PID) any {
			return ActCommand{ActID: "0123456789abcdef0123456789abcdef", CommandID: "", Actor: client, Name: name, Body: raw, ReplyTo: to}
		})
		if err != nil {
			t.Fatalf("%s: no answer: %v", name, err)
		}
		return ans.(CommandResult)
	}
	ca, err := devca.Open(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, err := ca.Issue(devca.Request{IIN: "871008401427", Surname: "A", Name: "B"}, devca.UsageSign, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	der, err := key.Sign([]byte("application"), pki.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cms := base64.StdEncoding.EncodeToString(der)
	before := PanicCount.Load()
	for i := 0; i < 10; i++ { // hollywood v1.0.5 would take the process down after 3
		res := ask("submit_application", map[string]any{"action_type": "power_of_attorney", "phone": "+77012345678",
			"attorney_iin": "760212350620", "consent": true, "cms": cms})
		if res.Code != CodeInternal {
			t.Fatalf("poison %d: %+v", i, res)
		}
		// The same act actor still answers, from a state rebuilt from the log.
		if res := ask("request_call", nil); res.Code != string(act.CodeNoSuchAct) {
			t.Fatalf("after poison %d: %+v", i, res)
		}
	}
	if n := PanicCount.Load() - before; n != 10 {
		t.Fatalf("%d panics caught, want 10", n)
	}
}
