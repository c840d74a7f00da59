package act

import (
	"strings"
	"testing"
)

// The bytes a client approved stay the bytes of their draft: a draft
// without Kazakh powers (every one stored before they existed) keeps the
// v1 bytes exactly; one with them is v2 and says so.
func TestDraftBytesFormats(t *testing.T) {
	const v1 = `{"kind":"senim.draft.v1","act_id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","revision":1,` +
		`"principal_iin":"871008401427","attorney_iin":"760212350620","notary":"aliya",` +
		`"draft":{"registry_number":"1-2026-0001","powers":"Управлять автомобилем","term_months":24,"state_duty":216250,"services_fee":1297500}}`
	s := at(t, "drafted")
	if got := string(DraftBytes(&s, 1)); got != v1 {
		t.Fatalf("v1 draft bytes changed:\n got %s\nwant %s", got, v1)
	}
	// A stored v1 event replays to the same bytes.
	e, err := DecodeEvent("draft_presented", []byte(`{"revision":1,"draft":{"registry_number":"1-2026-0001","powers":"Управлять автомобилем","term_months":24,"state_duty":216250,"services_fee":1297500},"at":"2026-11-22T10:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	replayed := at(t, "explained")
	replayed = Apply(replayed, e)
	if got := string(DraftBytes(&replayed, 1)); got != v1 {
		t.Fatalf("a stored v1 draft replays to other bytes:\n%s", got)
	}
	if !strings.HasPrefix(string(DocumentBytes(&s)), `{"kind":"senim.poa.v1",`) {
		t.Fatalf("v1 document bytes: %s", DocumentBytes(&s))
	}

	kk := mustApply(t, at(t, "explained"), notary, PresentDraft{RegistryNumber: "1-2026-0001", Powers: "Управлять автомобилем",
		PowersKK: "  Автокөлікті басқару  ", TermMonths: 24})
	b := string(DraftBytes(&kk, 1))
	if !strings.HasPrefix(b, `{"kind":"senim.draft.v2",`) || !strings.Contains(b, `"powers":"Управлять автомобилем","powers_kk":"Автокөлікті басқару","term_months":24`) {
		t.Fatalf("v2 draft bytes: %s", b)
	}
	if !strings.HasPrefix(string(DocumentBytes(&kk)), `{"kind":"senim.poa.v2",`) {
		t.Fatalf("v2 document bytes: %s", DocumentBytes(&kk))
	}
	// The Kazakh powers are bounded like the Russian ones.
	_, err = Decide(at(t, "explained"), notary, PresentDraft{RegistryNumber: "1", Powers: "x", PowersKK: strings.Repeat("ә", MaxPowersLen+1)}, t0, rules)
	if code(err) != CodeBadDraft {
		t.Fatalf("over-long Kazakh powers: %v", err)
	}
}
