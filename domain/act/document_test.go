package act

import "testing"

// The document code fixes what renders the document; later codes, and acts
// coded before inputs were recorded, change nothing.
func TestDocumentCodeRecordsTheRenderingInputs(t *testing.T) {
	in := DocumentInputs{Place: "г. Алматы / Алматы қ.", PublicURL: "https://notary.example.kz", Format: 1}
	s := mustApply(t, at(t, "paid"), notary, IssueDocumentCode{Code: "C-1", HistoryHead: "h", DocumentInputs: in})
	if s.DocumentInputs != in || s.DocumentCode != "C-1" {
		t.Fatalf("recorded %+v, code %q", s.DocumentInputs, s.DocumentCode)
	}
	if d := Describe(DocumentCodeIssued{Code: "C-1", DocumentInputs: in}); d != "document code C-1 (template v1, г. Алматы / Алматы қ., https://notary.example.kz)" {
		t.Fatalf("described as %q", d)
	}
	again, err := Decide(s, notary, IssueDocumentCode{Code: "C-2", DocumentInputs: DocumentInputs{Place: "elsewhere", Format: 2}}, t0, rules)
	if err != nil || len(again) != 0 {
		t.Fatalf("a second code: %v %v", again, err)
	}
	// An event stored before inputs were recorded replays to none.
	e, err := DecodeEvent("document_code_issued", []byte(`{"code":"OLD-1","history_head":"h","at":"2026-01-02T03:04:05Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if old := Apply(at(t, "paid"), e); old.DocumentCode != "OLD-1" || old.DocumentInputs != (DocumentInputs{}) {
		t.Fatalf("legacy event applied as %+v", old.DocumentInputs)
	}
}

// A document that does not render (a template version this build lacks)
// cannot be signed, whatever the signature is over.
func TestSigningRefusedWhenTheDocumentDoesNotRender(t *testing.T) {
	r := rules
	r.DocumentText = func(*State) []byte { return nil }
	s := at(t, "coded")
	_, err := Decide(s, notary, SignAct{Signature: sig(notary.IIN, nil)}, t0, r)
	if code(err) != CodeUnknownDocumentFormat {
		t.Fatalf("signing a document that does not render: %v", err)
	}
}
