package act

import (
	"strings"
	"testing"
)

func TestRecordingRules(t *testing.T) {
	cases := []struct {
		name string
		step string
		by   Actor
		cmd  Command
		want Code
	}{
		{"start before the call", "consented", system, StartRecording{Recording: "r"}, CodeNotAllowedInState},
		{"start while waiting", "waiting", system, StartRecording{Recording: "r"}, CodeNotAllowedInState},
		{"start by the client", "in_call", client, StartRecording{Recording: "r"}, CodeForbidden},
		{"start by the notary", "in_call", notary, StartRecording{Recording: "r"}, CodeForbidden},
		{"start with a path", "in_call", system, StartRecording{Recording: "../r"}, CodeBadRecording},
		{"start after signing", "signed", system, StartRecording{Recording: "r2"}, CodeNotAllowedInState},
		{"finish an unknown one", "signed", system, FinishRecording{Recording: "nope"}, CodeBadRecording},
		{"finish by the notary", "signed", notary, FinishRecording{Recording: "rec-1"}, CodeForbidden},
		{"finish with a bad hash", "signed", system, FinishRecording{Recording: "rec-1", Files: []RecordingFile{{File: "a.ivf", Kind: "video", SHA256: "xyz"}}}, CodeBadRecording},
		{"finish with a path", "signed", system, FinishRecording{Recording: "rec-1", Files: []RecordingFile{{File: "../a.ivf", Kind: "video", SHA256: strings.Repeat("0", 64)}}}, CodeBadRecording},
		{"finish with a bad kind", "signed", system, FinishRecording{Recording: "rec-1", Files: []RecordingFile{{File: "a.ivf", Kind: "text", SHA256: strings.Repeat("0", 64)}}}, CodeBadRecording},
	}
	for _, c := range cases {
		if _, err := Decide(at(t, c.step), c.by, c.cmd, t0, rules); code(err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
}

// The recording is started in the call and finished after signing (which
// ends the call); each is said once, and repeats change nothing.
func TestRecordingLifecycle(t *testing.T) {
	s := at(t, "recorded")
	if len(s.Recordings) != 1 || s.Recordings[0].ID != "rec-1" || !s.Recordings[0].FinishedAt.IsZero() {
		t.Fatalf("after start: %+v", s.Recordings)
	}
	if ev, err := Decide(s, system, StartRecording{Recording: "rec-1"}, t0, rules); err != nil || len(ev) != 0 {
		t.Fatalf("repeated start: %v %v", ev, err)
	}
	s = at(t, "recording_done")
	if s.Phase != PhaseSigned {
		t.Fatalf("phase %s", s.Phase)
	}
	r := s.Recording("rec-1")
	if r == nil || r.FinishedAt.IsZero() || len(r.Files) != 1 || r.Files[0] != recFile {
		t.Fatalf("after finish: %+v", r)
	}
	if ev, err := Decide(s, system, FinishRecording{Recording: "rec-1"}, t0, rules); err != nil || len(ev) != 0 {
		t.Fatalf("repeated finish: %v %v", ev, err)
	}
}
