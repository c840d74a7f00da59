package actors

import (
	"encoding/json"
	"time"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/media/playback"
	"github.com/senim-kz/senim/transport/protocol"
)

// CodeNoRecording: the act has no finished recording by that id with a
// WebM to play (recording_link).
const CodeNoRecording = "no_recording"

// webmCodec is the Codec of a recording's file that is the call's WebM
// (sfu.WebMCodec).
const webmCodec = "video/webm"

// RecordingLinks issues the links of recording_link; Now is their clock.
type RecordingLinks struct {
	Links *playback.Links
	Now   func() time.Time
}

// recordingLink answers recording_link once the act's state is in: a
// link the act's notary plays the call's WebM from. Only the notary who
// held the act may: the recording shows the client's face and documents,
// and the notary is who answers for the act (auditors and operators play
// it from the dashboard, /ops/recordings/). The client does not get one.
func (s *sessionActor) recordingLink(env protocol.Envelope, st *act.State) {
	var q protocol.RecordingLinkQuery
	_ = json.Unmarshal(env.Body, &q) // checked when asked
	switch {
	case s.sd.Recordings == nil || s.sd.Recordings.Links == nil:
		s.fail(env, CodeNoRecording, "this server keeps no recordings")
		return
	case s.me.Role != act.RoleNotary || st.Notary.ID == "" || st.Notary.ID != s.me.ID:
		s.fail(env, string(act.CodeForbidden), "only the act's notary plays its recording")
		return
	}
	r := st.Recording(q.Recording)
	ok := false
	if r != nil && !r.FinishedAt.IsZero() {
		for _, f := range r.Files {
			ok = ok || f.Codec == webmCodec
		}
	}
	if !ok {
		s.fail(env, CodeNoRecording, "the act has no finished recording %q with a WebM", q.Recording)
		return
	}
	now := time.Now
	if s.sd.Recordings.Now != nil {
		now = s.sd.Recordings.Now
	}
	token, exp := s.sd.Recordings.Links.Issue(st.ID, r.ID, now())
	body, _ := json.Marshal(protocol.RecordingLink{URL: "/recordings/" + token, ExpiresAt: exp.UTC()})
	s.send(protocol.Envelope{Type: protocol.TypeResult, ID: env.ID, Act: env.Act, Name: env.Name, Body: body})
}
