package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/transport/protocol"
)

// hears waits until a call receives video and audio from a stream.
func hears(t *testing.T, c *client.Call, stream string) {
	t.Helper()
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		select {
		case err := <-c.Errors:
			t.Fatalf("call: %v", err)
		default:
		}
		v, a := c.ReceivedFrom(stream)
		if v < 30 || a < 30 {
			return fmt.Errorf("from %s: %d video and %d audio packets", stream, v, a)
		}
		return nil
	})
}

// The notary (directly) and the client (through Senim's TURN alone, with
// the credentials the ice_servers query hands out) hold the act's call
// over the documented protocol. Outsiders may not join. The call is
// recorded, the participants are told, and when the call ends the files'
// SHA-256 are in the act's log and match the files on disk.
func TestVideoCallThroughSenim(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toCall(t)
	if err := cl.Subscribe(ctx, actID, 0); err != nil {
		t.Fatal(err)
	}

	// Only the principal and the act's notary join.
	for who, c := range map[string]*client.Client{
		"attorney":     w.eds("attorney", w.attorney),
		"stranger":     w.eds("client", w.stranger),
		"other notary": w.notaryIn("bolat", "bolat-password"),
	} {
		_, err := c.JoinCall(ctx, actID, false)
		if client.CodeOf(err) != string(act.CodeForbidden) {
			t.Errorf("%s joined: %v", who, err)
		}
	}
	// Signals before joining are refused.
	stray := w.eds("client", w.client)
	if err := stray.Signal(ctx, actID, protocol.Media{Kind: "restart"}); err != nil {
		t.Fatal(err)
	}
	if e := next(t, stray.Media(), func(protocol.Envelope) bool { return true }); e.Code != "not_joined" {
		t.Fatalf("signal before join: %+v", e)
	}

	var ice struct {
		ICEServers []protocol.ICEServer `json:"ice_servers"`
	}
	if err := cl.Query(ctx, "ice_servers", "", nil, &ice); err != nil || len(ice.ICEServers) == 0 {
		t.Fatalf("ice servers: %v %+v", err, ice)
	}
	relayOnly := webrtc.Configuration{ICETransportPolicy: webrtc.ICETransportPolicyRelay}
	for _, s := range ice.ICEServers {
		relayOnly.ICEServers = append(relayOnly.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	notaryStream, clientStream := sfu.StreamID("notary:aliya"), sfu.StreamID("client:"+clientIIN)
	nCall, err := nt.StartCall(ctx, actID, webrtc.Configuration{}, notaryStream, 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer nCall.Close()
	if nCall.Joined.Kind != "joined" || nCall.Joined.Notice != act.RecordingNotice {
		t.Fatalf("joined: %+v", nCall.Joined)
	}
	cCall, err := cl.StartCall(ctx, actID, relayOnly, clientStream, 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer cCall.Close()
	hears(t, cCall, notaryStream)
	hears(t, nCall, clientStream)
	pair, err := cCall.PC.GetTransceivers()[0].Sender().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local.Typ != webrtc.ICECandidateTypeRelay {
		t.Fatalf("the client's selected pair is %v (%v), want a relay candidate", pair, err)
	}
	started := next(t, cl.Events(), func(e protocol.Envelope) bool { return e.Name == "recording_started" })
	var rs act.RecordingStarted
	if err := json.Unmarshal(started.Body, &rs); err != nil || rs.Notice != act.RecordingNotice || started.Actor != "system" {
		t.Fatalf("recording_started: %+v %v", started, err)
	}

	// An ICE restart keeps the call going.
	if err := cl.Signal(ctx, actID, protocol.Media{Kind: "restart"}); err != nil {
		t.Fatal(err)
	}
	before, _ := cCall.ReceivedFrom(notaryStream)
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		if v, _ := cCall.ReceivedFrom(notaryStream); v < before+60 {
			return fmt.Errorf("after the restart: %d video packets, had %d", v, before)
		}
		return nil
	})

	// The client's websocket drops; a new connection resumes the call on
	// the same peer connection (an ICE restart, no new tracks).
	cl.CloseNow()
	cl = w.eds("client", w.client)
	if err := cl.ResumeCall(ctx, cCall); err != nil {
		t.Fatal(err)
	}
	if err := cl.Subscribe(ctx, actID, started.Seq); err != nil {
		t.Fatal(err)
	}
	before, _ = cCall.ReceivedFrom(notaryStream)
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		if v, _ := cCall.ReceivedFrom(notaryStream); v < before+60 {
			return fmt.Errorf("after resuming: %d video packets, had %d", v, before)
		}
		return nil
	})

	// The client hangs up: the room closes and the recording is named.
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "end_call", nil))
	for _, c := range []*client.Call{nCall, cCall} {
		select {
		case <-c.Closed:
		case <-time.After(30 * time.Second):
			t.Fatal("no closed message")
		}
	}
	finished := next(t, cl.Events(), func(e protocol.Envelope) bool { return e.Name == "recording_finished" })
	var rf act.RecordingFinished
	// Four files: resuming kept the client's tracks (a new connection would add two).
	if err := json.Unmarshal(finished.Body, &rf); err != nil || rf.Recording != rs.Recording || len(rf.Files) != 4 {
		t.Fatalf("recording_finished: %+v %v", rf, err)
	}
	for _, f := range rf.Files {
		data, err := os.ReadFile(filepath.Join(w.dir, "recordings", actID, rf.Recording, f.File))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != f.SHA256 || f.DurationMS <= 0 {
			t.Errorf("%s: hash %s, file %x, %d ms", f.File, f.SHA256, sum, f.DurationMS)
		}
	}
	if s := w.state(t, cl, actID); len(s.Recordings) != 1 || len(s.Recordings[0].Files) != 4 {
		t.Fatalf("state recordings %+v", s.Recordings)
	}
	// The call is over: nobody joins.
	if _, err := nt.JoinCall(ctx, actID, false); client.CodeOf(err) != "not_in_call" {
		t.Fatalf("join after the call: %v", err)
	}
	if n := w.metric(t, `senim_media_forwarded_packets_total{kind="video"}`); n <= 0 {
		t.Fatalf("forwarded video packets metric %v", n)
	}
}

// A server stopped mid-call finishes the recording before it goes: after
// the restart the act names every file, with its real duration.
func TestStoppingMidCallFinishesTheRecording(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toCall(t)
	notaryStream, clientStream := sfu.StreamID("notary:aliya"), sfu.StreamID("client:"+clientIIN)
	nCall, err := nt.StartCall(ctx, actID, webrtc.Configuration{}, notaryStream, 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer nCall.Close()
	cCall, err := cl.StartCall(ctx, actID, webrtc.Configuration{}, clientStream, 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer cCall.Close()
	hears(t, cCall, notaryStream)
	hears(t, nCall, clientStream)
	if err := w.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}

	srv := startServer(t, w.dir)
	w.url = "ws://" + srv.Addr() + "/ws"
	s := w.state(t, w.eds("client", w.client), actID)
	if len(s.Recordings) != 1 || s.Recordings[0].FinishedAt.IsZero() || len(s.Recordings[0].Files) != 4 {
		t.Fatalf("recordings after the stop: %+v", s.Recordings)
	}
	for _, f := range s.Recordings[0].Files {
		if f.DurationMS <= 0 || f.Bytes <= 0 {
			t.Errorf("%s: %d ms, %d bytes", f.File, f.DurationMS, f.Bytes)
		}
	}
	if s.Call != act.CallActive {
		t.Fatalf("call %q: stopping the server does not end the act's call", s.Call)
	}
}
