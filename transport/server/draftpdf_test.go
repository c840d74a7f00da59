package server_test

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/senim-kz/senim/client"
)

// draftDoc is the document query's answer for a draft.
type draftDoc struct {
	Draft int    `json:"draft"`
	PDF   string `json:"pdf"`
}

// pdfText is what poppler's pdftotext reads in a base64 PDF.
func pdfText(t *testing.T, b64 string) string {
	t.Helper()
	pdf, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "draft.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", p, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// Before approval the act's client, attorney and notary get the presented
// draft as a PDF marked as a draft, with the powers the client will sign
// and no document code; anyone else is refused, and so is a revision not
// presented.
func TestDraftPDFOverTheProtocol(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toCall(t)
	for _, c := range []string{"document_shown", "legal_capacity", "rights_explained"} {
		mustOf[client.Ack](t)(nt.Command(ctx, actID, "record_check", map[string]any{"check": c, "passed": true}))
	}
	// Nothing presented yet.
	err := cl.Query(ctx, "document", actID, map[string]any{"draft": 1}, nil)
	refused(t, err, "not_presented")
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "present_draft", map[string]any{"registry_number": "1-2026-0007",
		"powers": "Управлять автомобилем Toyota Camry", "powers_kk": "Toyota Camry көлігін басқару", "term_months": 12}))

	at := w.eds("attorney", w.attorney)
	for role, c := range map[string]*client.Client{"client": cl, "attorney": at, "notary": nt} {
		var d draftDoc
		if err := c.Query(ctx, "document", actID, map[string]any{"draft": 1}, &d); err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		text := pdfText(t, d.PDF)
		for _, want := range []string{"ПРОЕКТ / ЖОБА", "Управлять автомобилем Toyota Camry", "Toyota Camry көлігін басқару", "1-2026-0007", "СЕЙТҚАЛИ ӘЙГЕРІМ"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: the draft's PDF lacks %q:\n%s", role, want, text)
			}
		}
		for _, not := range []string{"Уникальный код", "/verify/", "Подписано ЭЦП"} {
			if strings.Contains(text, not) {
				t.Errorf("%s: the draft's PDF has %q", role, not)
			}
		}
		if d.Draft != 1 {
			t.Errorf("%s: answer for draft %d", role, d.Draft)
		}
	}

	// A revision not presented, or not a revision at all.
	refused(t, cl.Query(ctx, "document", actID, map[string]any{"draft": 2}, nil), "not_presented")
	refused(t, cl.Query(ctx, "document", actID, map[string]any{"draft": -1}, nil), "bad_message")
	refused(t, cl.Query(ctx, "document", actID, map[string]any{"draft": "1"}, nil), "bad_message")
	refused(t, cl.Query(ctx, "document", actID, map[string]any{"revision": 1}, nil), "bad_message")
	// The signed document is still refused before signing.
	refused(t, cl.Query(ctx, "document", actID, nil, nil), "not_allowed_in_state")

	// Strangers: another principal, another attorney, another notary.
	for role, c := range map[string]*client.Client{
		"client":   w.eds("client", w.stranger),
		"attorney": w.eds("attorney", w.stranger),
		"notary":   w.notaryIn("bolat", "bolat-password"),
	} {
		if err := c.Query(ctx, "document", actID, map[string]any{"draft": 1}, nil); client.CodeOf(err) != "forbidden" {
			t.Errorf("%s outsider read the draft's PDF: %v", role, err)
		}
	}
}
