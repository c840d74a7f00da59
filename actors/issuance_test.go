package actors

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/bmg"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/sms"
)

// startIssuanceSystem runs the actors with issuance on, its БМГ knowing
// principalIIN's phone.
func startIssuanceSystem(t *testing.T, idle time.Duration) *System {
	t.Helper()
	sys := startSystem(t, Deps{})
	phones, err := bmg.NewDev(map[string]string{principalIIN: "+77011234567"})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := sys.StartIssuance(IssuanceDeps{Rules: issuance.DefaultRules(), CodeKey: key, FilesDir: filepath.Join(t.TempDir(), "files"),
		BMG: phones, SMS: sms.NewDev(zerolog.Nop(), 10, nil), IdleAfter: idle, RetryMin: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	return sys
}

func askIssuance(t *testing.T, sys *System, build func(to *actor.PID) any) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := sys.Ask(ctx, sys.Issuance(), build)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func liveApplications(t *testing.T, sys *System) int {
	t.Helper()
	return len(askIssuance(t, sys, func(to *actor.PID) any { return liveActs{ReplyTo: to} }).(map[string]*actor.PID))
}

// An idle application's actor is stopped, and the next message rebuilds
// it from the log with nothing lost; reads of unknown or malformed ids
// leave no actor behind.
func TestIssuancePassivationAndUnknownIDs(t *testing.T) {
	sys := startIssuanceSystem(t, time.Second)
	me := issuance.Actor{Role: issuance.RoleApplicant, ID: ApplicantID("token")}
	for i := 0; i < 20; i++ {
		id := newActID()
		if v := askIssuance(t, sys, func(to *actor.PID) any { return IssuanceGet{AppID: id, Actor: me, ReplyTo: to} }).(IssuanceView); v.Code != "forbidden" {
			t.Fatalf("an unknown application: %+v", v)
		}
	}
	if v := askIssuance(t, sys, func(to *actor.PID) any { return IssuanceGet{AppID: "../../etc", Actor: me, ReplyTo: to} }).(IssuanceView); v.Code != "forbidden" {
		t.Fatalf("a malformed id: %+v", v)
	}
	if r := askIssuance(t, sys, func(to *actor.PID) any {
		return IssuanceCommand{AppID: "../../etc", CommandID: "c0", Actor: me, Cmd: issuance.RequestRegistration{}, ReplyTo: to}
	}).(IssuanceResult); r.Code != "bad_application_id" {
		t.Fatalf("a command for a malformed id: %+v", r)
	}
	if n := liveApplications(t, sys); n != 0 {
		t.Fatalf("%d actors for applications that do not exist", n)
	}

	app := newActID()
	if r := askIssuance(t, sys, func(to *actor.PID) any {
		return IssuanceCommand{AppID: app, CommandID: "c1", Actor: me, Cmd: issuance.Start{ApplicationID: app, Kind: issuance.KindIndividual, IIN: principalIIN}, ReplyTo: to}
	}).(IssuanceResult); r.Code != "" {
		t.Fatalf("start: %+v", r)
	}
	var before IssuanceView
	testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		before = askIssuance(t, sys, func(to *actor.PID) any { return IssuanceGet{AppID: app, Actor: me, ReplyTo: to} }).(IssuanceView)
		if before.CodeExpiresAt == nil {
			return fmt.Errorf("no code yet: seq %d", before.Seq)
		}
		return nil
	})
	testtool.Eventually(t, 20*time.Second, 50*time.Millisecond, func() error {
		if n := liveApplications(t, sys); n != 0 {
			return fmt.Errorf("%d live", n)
		}
		return nil
	})
	after := askIssuance(t, sys, func(to *actor.PID) any { return IssuanceGet{AppID: app, Actor: me, ReplyTo: to} }).(IssuanceView)
	if after.Seq != before.Seq || after.State.Phone != before.State.Phone || after.CodeExpiresAt == nil || !after.CodeExpiresAt.Equal(*before.CodeExpiresAt) {
		t.Fatalf("rebuilt differently:\n before %+v\n after  %+v", before, after)
	}
	// A retried start is a duplicate, not a second application.
	if r := askIssuance(t, sys, func(to *actor.PID) any {
		return IssuanceCommand{AppID: app, CommandID: "c1", Actor: me, Cmd: issuance.Start{ApplicationID: app, Kind: issuance.KindIndividual, IIN: principalIIN}, ReplyTo: to}
	}).(IssuanceResult); r.Code != "" || !r.Duplicate {
		t.Fatalf("a retried start: %+v", r)
	}
}
