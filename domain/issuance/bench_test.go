package issuance

import "testing"

// BenchmarkEmployeePath decides and applies the whole legal-entity path
// (17 commands, 19 events): the CPU cost of one application in the core.
func BenchmarkEmployeePath(b *testing.B) {
	path := employeePath()
	for b.Loop() {
		var s State
		for _, st := range path {
			evs, err := Decide(s, st.by, st.cmd(&s), t0, rules)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range evs {
				s = Apply(s, e)
			}
		}
	}
}
