package document

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/act"
)

var mark = DraftMark{Mark: "ПРОЕКТ / ЖОБА", Note: "Проект не подписан / Жоба қол қойылмаған"}

func draftText(t *testing.T, f Facts) string {
	t.Helper()
	pdf, err := DraftPDF(f, mark)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "draft.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return run(t, "pdftotext", "-enc", "UTF-8", p, "-")
}

// A draft's PDF is the document's text with the draft's powers, marked as
// a draft, without the code, the public check or any signature.
func TestDraftPDF(t *testing.T) {
	for _, format := range []int{FormatV1, FormatV2} {
		f := facts
		f.Format = format
		f.PowersKK = "Toyota Camry көлігін басқару және оған билік ету."
		text := draftText(t, f)
		flat := strings.Join(strings.Fields(text), " ")
		for _, want := range []string{"ПРОЕКТ / ЖОБА", "Проект не подписан", "Toyota Camry", "СЕЙТҚАЛИ ӘЙГЕРІМ", facts.ActID} {
			if !strings.Contains(flat, want) {
				t.Errorf("v%d: the draft's PDF lacks %q:\n%s", format, want, text)
			}
		}
		for _, not := range []string{facts.Code, "/verify/", facts.HistoryHead, "Уникальный код", "Подписано ЭЦП", "Сертификат", hole} {
			if strings.Contains(text, not) {
				t.Errorf("v%d: the draft's PDF has %q", format, not)
			}
		}
	}
	if _, err := DraftPDF(facts, DraftMark{}); err == nil {
		t.Fatal("a draft without its mark rendered")
	}
	a, _ := DraftPDF(facts, mark)
	b, _ := DraftPDF(facts, mark)
	if string(a) != string(b) {
		t.Fatal("the draft's PDF is not deterministic")
	}
}

// DraftFacts takes the revision's draft: the one its to_sign bytes carry.
func TestDraftFacts(t *testing.T) {
	s := &act.State{ID: facts.ActID, Principal: act.Party{IIN: facts.Principal.IIN, Name: facts.Principal.Name},
		Attorney: act.Party{IIN: facts.Attorney.IIN, Name: facts.Attorney.Name}}
	at := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	s.Revisions = []act.Revision{
		{Number: 1, At: at, Draft: act.Draft{RegistryNumber: "1-1", Powers: "first", TermMonths: 12, StateDuty: 100, ServicesFee: 200}},
		{Number: 2, At: at.Add(time.Hour), Draft: act.Draft{RegistryNumber: "1-2", Powers: "second", PowersKK: "екінші", TermMonths: 6, StateDuty: 300, ServicesFee: 400}},
	}
	for _, rev := range []int{0, 3, -1} {
		if _, ok := DraftFacts(s, rev, act.DocumentInputs{}); ok {
			t.Errorf("revision %d was not presented, yet has facts", rev)
		}
	}
	f, ok := DraftFacts(s, 1, act.DocumentInputs{Place: "Алматы"})
	if !ok {
		t.Fatal("revision 1 has no facts")
	}
	var signed struct {
		Revision int       `json:"revision"`
		Draft    act.Draft `json:"draft"`
	}
	if err := json.Unmarshal(act.DraftBytes(s, 1), &signed); err != nil {
		t.Fatal(err)
	}
	d := signed.Draft
	if signed.Revision != 1 || f.Powers != d.Powers || f.PowersKK != d.PowersKK || f.RegistryNumber != d.RegistryNumber ||
		f.TermMonths != d.TermMonths || f.StateDuty != d.StateDuty || f.ServicesFee != d.ServicesFee {
		t.Fatalf("facts %+v, to_sign draft %+v", f, d)
	}
	if f.Place != "Алматы" || f.Format != CurrentFormat() || !f.Date.Equal(at) {
		t.Fatalf("place %q, format %d, date %v", f.Place, f.Format, f.Date)
	}
	text := draftText(t, f)
	if !strings.Contains(text, "first") || strings.Contains(text, "second") {
		t.Fatalf("revision 1's PDF:\n%s", text)
	}
}
