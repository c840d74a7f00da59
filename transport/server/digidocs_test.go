package server_test

import (
	"encoding/json"
	"testing"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/transport/protocol"
)

// The principal saves the signed document to Digital documents: the act
// records document_saved with the PDF's hash, my_documents lists it, and
// nobody else sees it or may save it. An outage records nothing.
func TestSaveToDigitalDocuments(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, _ := w.toSigned(t)

	at := w.eds("attorney", w.attorney)
	_, err := at.Command(ctx, actID, "save_document", nil)
	refused(t, err, "forbidden")

	w.srv.DigidocsSim.SetFailing(true)
	_, err = cl.Command(ctx, actID, "save_document", nil)
	refused(t, err, "digidocs_unavailable")
	w.srv.DigidocsSim.SetFailing(false)

	mustOf[client.Ack](t)(cl.Command(ctx, actID, "save_document", map[string]any{"sha256": "forged"}))
	if err := cl.Subscribe(ctx, actID, 0); err != nil {
		t.Fatal(err)
	}
	ev := next(t, cl.Events(), eventNamed("document_saved"))
	var saved struct {
		DocumentID string `json:"document_id"`
		SHA256     string `json:"sha256"`
	}
	_ = json.Unmarshal(ev.Body, &saved)

	var mine protocol.MyDocuments
	if err := cl.Query(ctx, "my_documents", "", nil, &mine); err != nil {
		t.Fatal(err)
	}
	if len(mine.Documents) != 1 || mine.Documents[0].Act != actID || mine.Documents[0].SHA256 != saved.SHA256 || saved.DocumentID != mine.Documents[0].ID {
		t.Fatalf("my_documents %+v, event %+v", mine, saved)
	}
	// The hash is of the document the act's printable PDF is, not the app's.
	var doc struct {
		PDF string `json:"pdf"`
	}
	if err := cl.Query(ctx, "document", actID, nil, &doc); err != nil {
		t.Fatal(err)
	}
	d, err := w.srv.DigidocsSim.Open(ctx, clientIIN, saved.DocumentID)
	if err != nil || b64(d.Data) != doc.PDF {
		t.Fatalf("the saved document is not the act's PDF: %v", err)
	}

	// The person opens it again from Digital documents: the same PDF.
	var opened protocol.OpenedDocument
	if err := cl.Query(ctx, "open_document", "", map[string]string{"id": saved.DocumentID}, &opened); err != nil || opened.Data != doc.PDF || opened.SHA256 != saved.SHA256 {
		t.Fatalf("open_document: %v (same PDF: %v)", err, opened.Data == doc.PDF)
	}

	other := w.eds("client", w.stranger)
	if err := other.Query(ctx, "open_document", "", map[string]string{"id": saved.DocumentID}, &opened); client.CodeOf(err) != protocol.CodeNotFound {
		t.Fatalf("another person opens the document: %v, want %s", err, protocol.CodeNotFound)
	}
	var theirs protocol.MyDocuments
	if err := other.Query(ctx, "my_documents", "", nil, &theirs); err != nil {
		t.Fatal(err)
	}
	if len(theirs.Documents) != 0 {
		t.Fatalf("another person sees %+v", theirs)
	}
	_, err = other.Command(ctx, actID, "save_document", nil)
	if c := client.CodeOf(err); c != "forbidden" && c != "no_such_act" {
		t.Fatalf("a stranger's save: %v", err)
	}
}
