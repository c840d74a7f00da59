package issuance

import (
	"strings"
	"time"
)

// The registration video call is recorded like an act's call: when the
// call's room closes, the shell records the files it wrote, with their
// SHA-256, as the system's record_call; the event call_recorded keeps them
// in the application's log, so export and verify can check the files.

// MaxCallFiles bounds the files of one recorded call; MaxRecordings the
// recordings of one application.
const (
	MaxCallFiles  = 64
	MaxRecordings = 32
)

// CallFile is one file of a recorded registration call.
type CallFile struct {
	Participant string    `json:"participant"` // "applicant", "operator:<login>"
	Kind        string    `json:"kind"`        // audio, video or call (the whole call's WebM)
	Codec       string    `json:"codec,omitempty"`
	File        string    `json:"file"`   // name in the recording's directory
	SHA256      string    `json:"sha256"` // hex, of the whole file
	Bytes       int64     `json:"bytes"`
	DurationMS  int64     `json:"duration_ms"`
	StartedAt   time.Time `json:"started_at"`
	EndedAt     time.Time `json:"ended_at"`
	// Cut: finished after the server stopped mid-call (the call's WebM,
	// recovered on the next start); it ends where the server stopped.
	Cut bool `json:"cut,omitempty"`
}

// RecordCall records a registration call's recording (system), once its
// room closed. Recording is the recording's id, the name of its directory.
type RecordCall struct {
	Recording string     `json:"recording"`
	Files     []CallFile `json:"files"`
}

// CallRecorded: a registration call's files, with their SHA-256.
type CallRecorded struct {
	Recording string     `json:"recording"`
	Files     []CallFile `json:"files"`
	At        time.Time  `json:"at"`
}

// CommandName implements Command.
func (RecordCall) CommandName() string { return "record_call" }

// EventType implements Event.
func (CallRecorded) EventType() string { return "call_recorded" }

func init() {
	register[CallRecorded]()
	roles["record_call"] = []Role{RoleSystem}
}

// plainName reports whether v is a plain file or directory name.
func plainName(v string) bool {
	return v != "" && len(v) <= MaxNameLen && !strings.ContainsAny(v, "/\\\x00") && !strings.HasPrefix(v, ".")
}

// decideRecordCall takes a recording in any phase, final ones included (a
// call may end with the application's rejection), once a call was taken,
// up to MaxRecordings; the same recording again is a repeat and changes
// nothing.
func decideRecordCall(s *State, c RecordCall, now time.Time) ([]Event, error) {
	if s.CallsTaken == 0 {
		return nil, refuse(CodeNotAllowedInState, "the application had no registration call")
	}
	if !plainName(c.Recording) {
		return nil, refuse(CodeBadRecording, "a recording id must be a plain name")
	}
	for _, r := range s.Recordings {
		if r.Recording == c.Recording {
			return nil, nil
		}
	}
	// A call's room may open more than once (a server restarted in the
	// middle of it): each opening is a recording. Their number is bounded.
	if len(s.Recordings) >= MaxRecordings {
		return nil, refuse(CodeBadRecording, "at most %d recordings in an application", MaxRecordings)
	}
	if len(c.Files) > MaxCallFiles {
		return nil, refuse(CodeBadRecording, "at most %d files in a recording", MaxCallFiles)
	}
	seen := map[string]bool{}
	for _, f := range c.Files {
		switch {
		case !plainName(f.File) || seen[f.File]:
			return nil, refuse(CodeBadRecording, "a recording's file %q must be a plain name, once", f.File)
		case !isHex64(f.SHA256):
			return nil, refuse(CodeBadRecording, "a recording file's SHA-256 must be 64 lower-case hex digits")
		case f.Bytes < 0 || f.DurationMS < 0:
			return nil, refuse(CodeBadRecording, "a recording file's size and duration are not negative")
		case len(f.Participant) > MaxNameLen || len(f.Kind) > MaxNameLen || len(f.Codec) > MaxNameLen:
			return nil, refuse(CodeBadRecording, "a recording file's participant, kind and codec are short names")
		}
		seen[f.File] = true
	}
	files := append([]CallFile{}, c.Files...)
	return []Event{CallRecorded{Recording: c.Recording, Files: files, At: now}}, nil
}
