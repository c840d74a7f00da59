package actors

import (
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/transport/protocol"
)

// notaryActs writes n acts the notary aliya took, each with a draft.
func notaryActs(tb testing.TB, n int) *eventlog.Log {
	tb.Helper()
	l, err := eventlog.Open(tb.TempDir(), eventlog.Options{Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%032x", i+1)
		events := []act.Event{
			act.ApplicationSubmitted{ActID: id, ActionType: act.ActionPowerOfAttorney,
				Principal: act.Party{IIN: principalIIN, Name: "СЕЙТҚАЛИ ӘЙГЕРІМ", Phone: principalPhone},
				Attorney:  act.Party{IIN: attorneyIIN, Name: "ОМАРОВ ЕРЛАН"},
				Signature: act.Signature{CMS: []byte{0x30}, SignerIIN: principalIIN}, At: at.Add(time.Duration(i) * time.Minute)},
			act.ConsentRequested{AttorneyIIN: attorneyIIN},
			act.ConsentGiven{Signature: act.Signature{CMS: []byte{0x30}, SignerIIN: attorneyIIN}},
			act.CallRequested{At: at},
			act.CallAccepted{Notary: act.Actor{Role: act.RoleNotary, ID: "aliya"}},
			act.DraftPresented{Revision: 1, Draft: act.Draft{RegistryNumber: fmt.Sprintf("1-2026-%04d", i+1), Powers: "Управлять", TermMonths: 12, StateDuty: 100, ServicesFee: 100}, At: at},
		}
		appendAct(tb, l, id, at, events)
	}
	return l
}

var aliya = act.Actor{Role: act.RoleNotary, ID: "aliya"}

// One query replays a bounded number of acts; the answer says it is
// partial, and the next query, served from the cache, completes it.
func TestListQueryBoundsItsReplays(t *testing.T) {
	defer func(v int) { maxReplaysPerQuery = v }(maxReplaysPerQuery)
	maxReplaysPerQuery = 3
	l := notaryActs(t, 5)
	cache := NewSummaryCache(100)
	f, _ := parseList(protocol.ListQuery{})
	first, err := listActs(l, cache, aliya, "register", f)
	if err != nil || !first.Partial || first.Total != 3 {
		t.Fatalf("first %+v %v", first, err)
	}
	second, err := listActs(l, cache, aliya, "register", f)
	if err != nil || second.Partial || second.Total != 5 || second.Acts[0].RegistryNumber != "1-2026-0005" {
		t.Fatalf("second %+v %v", second, err)
	}
}

// BenchmarkRegisterPage measures one register page over 1000 acts: cold
// (every act replayed) and warm (summaries from the cache).
func BenchmarkRegisterPage(b *testing.B) {
	l := notaryActs(b, 1000)
	f, _ := parseList(protocol.ListQuery{Q: "1-2026-09", PerPage: 20})
	defer func(v int) { maxReplaysPerQuery = v }(maxReplaysPerQuery)
	maxReplaysPerQuery = 1000
	b.Run("cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := listActs(l, NewSummaryCache(2000), aliya, "register", f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		cache := NewSummaryCache(2000)
		for i := 0; i < b.N; i++ {
			if _, err := listActs(l, cache, aliya, "register", f); err != nil {
				b.Fatal(err)
			}
		}
	})
}
