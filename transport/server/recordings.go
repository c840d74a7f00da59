package server

import (
	"net/http"
	"os"
	"time"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/safepath"
	"github.com/senim-kz/senim/media/playback"
	"github.com/senim-kz/senim/media/sfu"
)

// Playing a call's recording: the call's WebM, with range requests, so
// that a <video> element plays and seeks it.
//
//   - GET /recordings/{token}: a link of the recording_link query (the
//     act's notary asks for it over the session; it lasts
//     recordingLinkTTL). The path is the token alone: no IIN, no act.
//   - GET /ops/recordings/{act}/{recording}: an operator or auditor
//     signed in to the dashboard (/ops/login), by the act's and the
//     recording's ids as the evidence package names them.
//
// Anything else, an unknown or expired link, or a recording without a
// WebM, is refused with the same answer (CodeRecordingUnknown, 404), so
// that the answer tells an outsider nothing.

// CodeRecordingUnknown: no recording to play there: an unknown or expired
// link, or an act or recording without a WebM (HTTP 404).
const CodeRecordingUnknown = "recording_unknown"

const (
	recordingLinkTTL = time.Hour // a <video> asks for ranges as it plays: an hour of call and pauses
	recordingLinkMax = 10000
)

func newRecordingLinks() *playback.Links { return playback.New(recordingLinkTTL, recordingLinkMax) }

func (s *Server) recordingRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /recordings/{token}", func(w http.ResponseWriter, r *http.Request) {
		l, ok := s.Recordings.Resolve(r.PathValue("token"), s.now())
		if !ok {
			recordingUnknown(w)
			return
		}
		s.serveRecording(w, r, l.Act, l.Recording, "link")
	})
	mux.Handle("GET /ops/recordings/{act}/{recording}", s.opsAuth(func(w http.ResponseWriter, r *http.Request, o opsSession) {
		s.serveRecording(w, r, r.PathValue("act"), r.PathValue("recording"), "operator "+o.login)
	}))
}

func recordingUnknown(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusNotFound, map[string]string{"code": CodeRecordingUnknown, "message": "no recording to play here"})
}

// serveRecording serves an act's recording's WebM. The ids may come from a
// URL: checked, and the path built through safepath.
func (s *Server) serveRecording(w http.ResponseWriter, r *http.Request, actID, recording, who string) {
	if s.recordDir == "" || !act.ValidActID(actID) || len(recording) > 64 {
		recordingUnknown(w)
		return
	}
	path, err := safepath.Join(s.recordDir, actID, recording, sfu.WebMFile)
	if err != nil {
		recordingUnknown(w)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		recordingUnknown(w)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		recordingUnknown(w)
		return
	}
	if r.Header.Get("Range") == "" || r.Header.Get("Range") == "bytes=0-" {
		// Who played which recording: once per playback, not per range.
		s.log.Info().Str("act", actID).Str("recording", recording).Str("by", who).Msg("recording played")
	}
	w.Header().Set("Content-Type", "video/webm")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Content-Disposition", `inline; filename="`+sfu.WebMFile+`"`)
	http.ServeContent(w, r, sfu.WebMFile, fi.ModTime(), f)
}
