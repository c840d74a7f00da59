package actors

import (
	"reflect"
	"testing"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
)

// An act's index entries change as its state does: a new entry is put, a
// changed one removed and put anew, by index name in order; an unchanged
// index (most commands) makes no op and allocates nothing.
func TestIndexOps(t *testing.T) {
	ready := act.State{Phase: act.PhaseReady, Principal: act.Party{IIN: "871008401427"}, Attorney: act.Party{IIN: "900101300123"}}
	waiting := ready
	waiting.Call = act.CallWaiting
	taken := ready
	taken.Phase, taken.Notary = act.PhaseWithNotary, act.Actor{ID: "aliya"}
	for _, c := range []struct {
		name          string
		before, after act.State
		want          []eventlog.IndexOp
	}{
		{"a new act", act.State{}, ready, []eventlog.IndexOp{
			{Index: "attorney", Value: "900101300123"}, {Index: "phase", Value: "ready"}, {Index: "principal", Value: "871008401427"}}},
		{"a call waits", ready, waiting, []eventlog.IndexOp{{Index: "queue", Value: "waiting"}}},
		{"a notary takes it", waiting, taken, []eventlog.IndexOp{
			{Index: "notary", Value: "aliya"},
			{Index: "phase", Value: "ready", Delete: true}, {Index: "phase", Value: "with_notary"},
			{Index: "queue", Value: "waiting", Delete: true}}},
		{"nothing indexed changes", taken, taken, nil},
	} {
		if got := indexOps(&c.before, &c.after); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if a := testing.AllocsPerRun(100, func() { indexOps(&taken, &taken) }); a != 0 {
		t.Fatalf("%v allocations for an unchanged index, want 0", a)
	}
}
