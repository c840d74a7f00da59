package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/transport/protocol"
)

// inCall starts the notary's (nt) and the client's (cl) calls in actID,
// sending video as their streams, and waits until each hears the other.
// The calls end with the test.
func inCall(t *testing.T, ctx context.Context, actID string, nt, cl *client.Client) {
	t.Helper()
	notaryStream, clientStream := sfu.StreamID("notary:aliya"), sfu.StreamID("client:"+clientIIN)
	nCall, err := nt.StartCall(ctx, actID, webrtc.Configuration{}, notaryStream, 300_000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nCall.Close() })
	cCall, err := cl.StartCall(ctx, actID, webrtc.Configuration{}, clientStream, 300_000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cCall.Close() })
	hears(t, cCall, notaryStream)
	hears(t, nCall, clientStream)
}

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
// the credentials its joined message hands out) hold the act's call
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

	// No TURN credentials before joining: the query that gave them to any
	// session is gone.
	if err := cl.Query(ctx, "ice_servers", "", nil, &struct{}{}); client.CodeOf(err) != protocol.CodeUnknownName {
		t.Fatalf("the ice_servers query: %v, want %s", err, protocol.CodeUnknownName)
	}
	// The client goes through TURN alone, with the servers joined gives it.
	relayOnly := webrtc.Configuration{ICETransportPolicy: webrtc.ICETransportPolicyRelay}
	notaryStream, clientStream := sfu.StreamID("notary:aliya"), sfu.StreamID("client:"+clientIIN)
	nCall, err := nt.StartCall(ctx, actID, webrtc.Configuration{}, notaryStream, 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer nCall.Close()
	if nCall.Joined.Kind != "joined" || nCall.Joined.Notice != act.RecordingNotice || len(nCall.Joined.ICEServers) != 1 {
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

	// An ICE restart keeps the call going; a restart with an id is acked.
	if ans, err := cl.Do(ctx, protocol.Envelope{Type: protocol.TypeMedia, ID: "restart-1", Act: actID, Body: json.RawMessage(`{"kind":"restart"}`)}); err != nil || ans.Type != protocol.TypeAck || ans.Act != actID {
		t.Fatalf("restart: %+v %v", ans, err)
	}
	before, _ := cCall.ReceivedFrom(notaryStream)
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		if v, _ := cCall.ReceivedFrom(notaryStream); v < before+60 {
			return fmt.Errorf("after the restart: %d video packets, had %d", v, before)
		}
		return nil
	})

	// The server leads this connection (joined without offers): an offer
	// of the app's is refused, as is one without sdp, and the call goes on.
	for _, body := range []string{`{"kind":"offer"}`, `{"kind":"offer","sdp":` + strconv.Quote(cCall.PC.LocalDescription().SDP) + `}`} {
		if _, err := cl.Do(ctx, protocol.Envelope{Type: protocol.TypeMedia, ID: "offer-1", Act: actID, Body: json.RawMessage(body)}); client.CodeOf(err) != "bad_sdp" {
			t.Fatalf("an offer the server does not expect (%.40s): %v, want bad_sdp", body, err)
		}
	}

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
	// Four track files and the call's WebM: resuming kept the client's tracks (a new
	// connection would add two files, and go on in the same WebM tracks).
	if err := json.Unmarshal(finished.Body, &rf); err != nil || rf.Recording != rs.Recording || len(rf.Files) != 5 {
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
	if s := w.state(t, cl, actID); len(s.Recordings) != 1 || len(s.Recordings[0].Files) != 5 {
		t.Fatalf("state recordings %+v", s.Recordings)
	}
	// The call is over: nobody joins.
	if _, err := nt.JoinCall(ctx, actID, false); client.CodeOf(err) != "not_in_call" {
		t.Fatalf("join after the call: %v", err)
	}
	if n := w.metric(t, `senim_media_forwarded_packets_total{kind="video"}`); n <= 0 {
		t.Fatalf("forwarded video packets metric %v", n)
	}
	// The client's TURN credentials work for another TURN client too, once
	// its peer let go of its relays (they count against its quota).
	_ = cCall.Close()
	turnWorks(t, w, cCall.Joined.ICEServers)
}

// A server stopped mid-call finishes the recording before it goes: after
// the restart the act names every file, with its real duration.
func TestStoppingMidCallFinishesTheRecording(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toCall(t)
	inCall(t, ctx, actID, nt, cl)
	if err := w.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}

	srv := startServer(t, w.dir)
	w.url = "ws://" + srv.Addr() + "/ws"
	s := w.state(t, w.eds("client", w.client), actID)
	if len(s.Recordings) != 1 || s.Recordings[0].FinishedAt.IsZero() || len(s.Recordings[0].Files) != 5 {
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

// turnWorks checks the TURN servers of a joined message: one server, UDP
// and TCP, credentials that are not expired and name no one, and that
// coturn's test client relays through our TURN with them.
func turnWorks(t *testing.T, w *world, ice []protocol.ICEServer) {
	t.Helper()
	if len(ice) != 1 || len(ice[0].URLs) != 2 {
		t.Fatalf("joined's ice servers: %+v", ice)
	}
	srvICE := ice[0]
	expiry, user, _ := strings.Cut(srvICE.Username, ":")
	if exp, err := strconv.ParseInt(expiry, 10, 64); err != nil || exp <= time.Now().Unix() || exp > time.Now().Add(2*time.Hour).Unix() ||
		strings.Contains(user, clientIIN) || strings.Contains(user, "client") || user == "" {
		t.Fatalf("ice server %+v", srvICE)
	}
	if _, err := exec.LookPath("turnutils_uclient"); err == nil || os.Getenv("CI") == "true" {
		uclient := testtool.RequireTool(t, "turnutils_uclient", "coturn")
		testtool.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
			// -c: no RTP/RTCP port pairs (RESERVATION-TOKEN), as browsers; the
			// TURN's sockets share the port and reservations do not cross them.
			out, err := exec.Command(uclient, "-y", "-c", "-n", "5", "-m", "1", "-u", srvICE.Username, "-w", srvICE.Credential,
				"-p", fmt.Sprint(w.srv.TURN.Port()), "127.0.0.1").CombinedOutput()
			counts := regexp.MustCompile(`tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*\n`).FindAllStringSubmatch(string(out), -1)
			if err != nil || len(counts) == 0 || counts[len(counts)-1][1] == "0" || counts[len(counts)-1][1] != counts[len(counts)-1][2] {
				return fmt.Errorf("relaying with the handed-out credentials: %v\n%s", err, out)
			}
			return nil
		})
	}
}
