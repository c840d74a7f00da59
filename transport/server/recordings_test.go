package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/transport/server"
)

// After a call, the act's notary plays its WebM: recording_link gives a
// path that is a token alone (no IIN, no act), and the server serves it
// with range requests. Nobody else gets a link; an unknown link, and the
// dashboard's path without a session, are refused; an operator plays it
// from the dashboard by the act's and the recording's ids.
func TestPlayTheCallsRecording(t *testing.T) {
	w := newWorld(t)
	addOperator(t, w.dir)
	ctx := w.ctx()
	actID, cl, nt := w.toCall(t)
	inCall(t, ctx, actID, nt, cl)
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "end_call", nil))
	var s act.State
	testtool.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		s = w.state(t, nt, actID)
		if len(s.Recordings) != 1 || s.Recordings[0].FinishedAt.IsZero() {
			return errorf("recordings %+v", s.Recordings)
		}
		return nil
	})
	rec := s.Recordings[0]
	var webm *act.RecordingFile
	for i, f := range rec.Files {
		if strings.Contains(f.File, clientIIN) {
			t.Errorf("file %s is named by the client's IIN", f.File)
		}
		if f.Codec == sfu.WebMCodec {
			webm = &rec.Files[i]
		}
	}
	if webm == nil {
		t.Fatalf("no WebM among %+v", rec.Files)
	}
	data, err := os.ReadFile(filepath.Join(w.dir, "recordings", actID, rec.ID, webm.File))
	if err != nil {
		t.Fatal(err)
	}

	// Who may not have a link: the client, another notary, an unknown
	// recording.
	var link protocol.RecordingLink
	body := protocol.RecordingLinkQuery{Recording: rec.ID}
	refused(t, cl.Query(ctx, "recording_link", actID, body, &link), string(act.CodeForbidden))
	refused(t, w.notaryIn("bolat", "bolat-password").Query(ctx, "recording_link", actID, body, &link), string(act.CodeForbidden))
	refused(t, nt.Query(ctx, "recording_link", actID, protocol.RecordingLinkQuery{Recording: "no-such"}, &link), "no_recording")
	refused(t, nt.Query(ctx, "recording_link", actID, nil, &link), protocol.CodeBadMessage)

	if err := nt.Query(ctx, "recording_link", actID, body, &link); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link.URL, "/recordings/") || strings.Contains(link.URL, actID) || strings.Contains(link.URL, rec.ID) ||
		strings.Contains(link.URL, clientIIN) || !link.ExpiresAt.After(time.Now()) {
		t.Fatalf("link %+v", link)
	}

	get := func(path string, hdr map[string]string, cookie *http.Cookie) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", w.http+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		res, err := opsHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return res, b.Bytes()
	}
	// The whole file, then a range in its middle.
	res, got := get(link.URL, nil, nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "video/webm" || res.Header.Get("Accept-Ranges") != "bytes" || !bytes.Equal(got, data) {
		t.Fatalf("whole file: %d %q %q, %d bytes of %d", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Accept-Ranges"), len(got), len(data))
	}
	from, to := len(data)/3, len(data)/3+999
	res, got = get(link.URL, map[string]string{"Range": "bytes=" + itoa(from) + "-" + itoa(to)}, nil)
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[from:to+1]) ||
		res.Header.Get("Content-Range") != "bytes "+itoa(from)+"-"+itoa(to)+"/"+itoa(len(data)) {
		t.Fatalf("range: %d %q, %d bytes", res.StatusCode, res.Header.Get("Content-Range"), len(got))
	}

	// Refused: a made-up link, a link's path with another act, the
	// dashboard's path without a session, or with one but a path that
	// leaves the recordings.
	for _, p := range []string{"/recordings/" + strings.Repeat("A", 43), "/recordings/x", "/recordings/" + actID} {
		if res, b := get(p, nil, nil); res.StatusCode != http.StatusNotFound || !strings.Contains(string(b), server.CodeRecordingUnknown) {
			t.Errorf("%s: %d %s", p, res.StatusCode, b)
		}
	}
	opsPath := "/ops/recordings/" + actID + "/" + rec.ID
	if res, b := get(opsPath, map[string]string{"Range": "bytes=0-9"}, nil); res.StatusCode != http.StatusUnauthorized || len(b) > 0 && bytes.Contains(data, b) {
		t.Fatalf("the dashboard's path without a session: %d", res.StatusCode)
	}
	_, _, cookie := opsSignIn(t, w.http, opsLogin, opsPassword)
	if cookie == nil {
		t.Fatal("no dashboard session")
	}
	res, got = get(opsPath, map[string]string{"Range": "bytes=0-99"}, cookie)
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[:100]) {
		t.Fatalf("an operator's range: %d, %d bytes", res.StatusCode, len(got))
	}
	for _, p := range []string{"/ops/recordings/" + actID + "/%2e%2e", "/ops/recordings/not-an-act/" + rec.ID, "/ops/recordings/" + actID + "/" + rec.ID + "x"} {
		if res, _ := get(p, nil, cookie); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }
