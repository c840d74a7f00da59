package server_test

import (
	"testing"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/transport/protocol"
)

// The notary's live preview: to_sign {what: draft_preview} answers the
// bytes the client would sign if the draft were presented now, exactly
// the bytes of the revision presented after it, and records nothing. A
// draft the command would refuse is refused alike; only the act's notary
// may ask.
func TestDraftPreviewIsWhatTheClientSigns(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toCall(t)
	draft := map[string]any{"registry_number": "1-2026-0007", "powers": "Управлять автомобилем", "powers_kk": "Көлікті басқару", "term_months": 12}
	var preview protocol.ToSign
	if err := nt.Query(ctx, "to_sign", actID, map[string]any{"what": "draft_preview", "draft": draft}, &preview); err != nil {
		t.Fatal(err)
	}
	if s := w.state(t, nt, actID); len(s.Revisions) != 0 {
		t.Fatalf("a preview recorded a revision: %+v", s.Revisions)
	}
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "present_draft", draft))
	var presented protocol.ToSign
	if err := cl.Query(ctx, "to_sign", actID, map[string]any{"what": "draft", "revision": 1}, &presented); err != nil {
		t.Fatal(err)
	}
	if preview.Data == "" || preview.Data != presented.Data {
		t.Fatalf("the preview is not what the client signs:\npreview   %s\npresented %s", preview.Data, presented.Data)
	}

	var out protocol.ToSign
	err := nt.Query(ctx, "to_sign", actID, map[string]any{"what": "draft_preview", "draft": map[string]any{"registry_number": "1", "powers": ""}}, &out)
	refused(t, err, "bad_draft")
	err = nt.Query(ctx, "to_sign", actID, map[string]any{"what": "draft_preview", "draft": map[string]any{"registry_number": "1", "powers": "x", "term_months": 999}}, &out)
	refused(t, err, "term_too_long")
	err = nt.Query(ctx, "to_sign", actID, map[string]any{"what": "draft_preview"}, &out)
	refused(t, err, "bad_message")
	err = cl.Query(ctx, "to_sign", actID, map[string]any{"what": "draft_preview", "draft": draft}, &out)
	refused(t, err, "forbidden")
}
