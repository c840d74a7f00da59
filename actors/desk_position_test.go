package actors

import (
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
)

// queue_position's estimate is the place times the mean recent wait, or
// the default before any call was taken; only the principal gets it.
func TestDeskQueuePositionEstimate(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	l, err := eventlog.Open(t.TempDir(), eventlog.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sys, err := Start(Deps{Log: l, Rules: act.DefaultRules(), Logger: zerolog.Nop(), Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	desk := sys.Deps().Desk
	pid, ch := collector(t, sys.Engine)
	ask := func(actID, who string) QueuePositionAnswer {
		t.Helper()
		sys.Engine.Send(desk, QueuePositionAsk{ActID: actID, PrincipalIIN: who, Default: 5 * time.Minute, ReplyTo: pid, Tag: actID})
		return recv(t, ch).(QueuePositionAnswer)
	}
	sys.Engine.Send(desk, CallQueued{ActID: "a", PrincipalIIN: "p1", RequestedAt: t0})
	sys.Engine.Send(desk, CallQueued{ActID: "b", PrincipalIIN: "p2", RequestedAt: t0.Add(time.Minute)})
	if a := ask("b", "p2"); a.Position != 2 || a.Waiting != 2 || a.EstimateSeconds != 600 {
		t.Fatalf("before any wait was measured: %+v", a)
	}
	mu.Lock()
	now = t0.Add(3 * time.Minute)
	mu.Unlock()
	sys.Engine.Send(desk, CallTaken{ActID: "a", Notary: "aliya"})
	if a := ask("b", "p2"); a.Position != 1 || a.Waiting != 1 || a.EstimateSeconds != 180 {
		t.Fatalf("after a 3-minute wait: %+v", a)
	}
	if a := ask("b", "p1"); a.Code != string(act.CodeForbidden) || a.Position != 0 {
		t.Fatalf("someone else's call: %+v", a)
	}
	if a := ask("a", "p1"); a.Code != "not_waiting" {
		t.Fatalf("a taken call: %+v", a)
	}
}
