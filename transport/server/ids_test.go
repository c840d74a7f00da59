package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/transport/protocol"
)

// A command id is its sender's own: another party's command under the same
// id is a command of its own, not a duplicate. The same sender reusing an id
// for another command is refused with id_reused, also after a restart; the
// same command under the same id is the original outcome.
func TestCommandIDsArePerPartyAndNeverReused(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toCall(t)
	shown := map[string]any{"check": "document_shown", "passed": true}
	capacity := map[string]any{"check": "legal_capacity", "passed": true}

	first := mustOf[client.Ack](t)(nt.CommandWithID(ctx, "c-1", actID, "record_check", shown))
	// The client's "c-1" is judged on its own merits, not answered with the
	// notary's ack.
	_, err := cl.CommandWithID(ctx, "c-1", actID, "approve_draft", map[string]any{"revision": 1})
	refused(t, err, "bad_request")
	// A refused command's id is spent too.
	_, err = cl.CommandWithID(ctx, "c-1", actID, "approve_draft", map[string]any{"revision": 2})
	refused(t, err, "id_reused")

	_, err = nt.CommandWithID(ctx, "c-1", actID, "record_check", capacity)
	refused(t, err, "id_reused")
	if again := mustOf[client.Ack](t)(nt.CommandWithID(ctx, "c-1", actID, "record_check", shown)); !again.Duplicate || again.Seq != first.Seq {
		t.Fatalf("the same command again: %+v, first %+v", again, first)
	}

	// After a restart the log alone knows what c-1 was.
	if err := w.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, w.dir)
	w.srv, w.url = srv, "ws://"+srv.Addr()+"/ws"
	nt = w.notaryIn("aliya", "aliya-password")
	_, err = nt.CommandWithID(ctx, "c-1", actID, "record_check", capacity)
	refused(t, err, "id_reused")
	if again := mustOf[client.Ack](t)(nt.CommandWithID(ctx, "c-1", actID, "record_check", shown)); !again.Duplicate || again.Seq != first.Seq {
		t.Fatalf("the same command after the restart: %+v, first %+v", again, first)
	}
	s := w.state(t, nt, actID)
	if s.Version != first.Seq || len(s.Checks) != 1 || s.Phase.Final() {
		t.Fatalf("the act moved: seq %d (want %d), checks %+v, phase %s", s.Version, first.Seq, s.Checks, s.Phase)
	}
}

// The media server finishes a recording under an id no app can send. A
// client that ends the call under the id the recording's finish used to
// have, or tries the system's namespace, cannot keep the recording's
// files out of the log.
func TestAPartyCannotTakeTheRecordingsFinishID(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toCall(t)
	if err := cl.Subscribe(ctx, actID, 0); err != nil {
		t.Fatal(err)
	}
	inCall(t, ctx, actID, nt, cl)
	started := next(t, cl.Events(), eventNamed("recording_started"))
	var rs act.RecordingStarted
	if err := json.Unmarshal(started.Body, &rs); err != nil || rs.Recording == "" {
		t.Fatalf("recording_started: %+v %v", started, err)
	}

	for _, id := range []string{"sys:finish-" + rs.Recording, "bank:" + rs.Recording, "sys:x"} {
		_, err := cl.CommandWithID(ctx, id, actID, "end_call", nil)
		refused(t, err, protocol.CodeBadMessage)
	}
	mustOf[client.Ack](t)(cl.CommandWithID(ctx, "finish-"+rs.Recording, actID, "end_call", nil))

	finished := next(t, cl.Events(), eventNamed("recording_finished"))
	var rf act.RecordingFinished
	if err := json.Unmarshal(finished.Body, &rf); err != nil || rf.Recording != rs.Recording || len(rf.Files) != 5 || finished.Actor != "system" {
		t.Fatalf("recording_finished: %+v %v", rf, err)
	}
	dir := filepath.Join(w.dir, "recordings", actID, rf.Recording)
	for _, f := range rf.Files {
		data, err := os.ReadFile(filepath.Join(dir, f.File))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: the log says %s, the file is %x", f.File, f.SHA256, sum)
		}
	}
	poll(t, "the recording marked finished", func() bool {
		_, err := os.Stat(filepath.Join(dir, "FINISHED"))
		return err == nil
	})
}

// An act id the server did not make opens nothing: the application, the
// subscription, the state query and the call's join are refused with
// bad_act_id, no act is stored, and nothing is created outside the data
// directory.
func TestTraversalActIDIsRefused(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	outside := filepath.Dir(w.dir)
	before := dirNames(t, outside)
	cl := w.eds("client", w.client)
	for _, bad := range []string{"../../../../tmp/x", "../../senim-escape", "0F1E2D3C4B5A69788796A5B4C3D2E1F0"} {
		app := act.ApplicationBytes(bad, act.ActionPowerOfAttorney, clientIIN, "+77012345678", attorneyIIN, true)
		der, err := w.client[1].Sign(app, pki.SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Command(ctx, bad, "submit_application", map[string]any{"action_type": act.ActionPowerOfAttorney,
			"phone": "+77012345678", "attorney_iin": attorneyIIN, "consent": true, "cms": base64.StdEncoding.EncodeToString(der)})
		refused(t, err, string(act.CodeBadActID))
		refused(t, cl.Subscribe(ctx, bad, 0), string(act.CodeBadActID))
		refused(t, cl.Query(ctx, "act", bad, nil, nil), string(act.CodeBadActID))
		_, err = cl.JoinCall(ctx, bad, false)
		refused(t, err, string(act.CodeBadActID))
	}
	var streams []string
	if err := w.srv.Log.Streams("act/", func(s string) error { streams = append(streams, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(streams) != 0 {
		t.Fatalf("acts stored: %v", streams)
	}
	if after := dirNames(t, outside); !slices.Equal(before, after) {
		t.Fatalf("entries beside the data directory: before %v, after %v", before, after)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
