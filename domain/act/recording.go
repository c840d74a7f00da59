package act

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// RecordingNotice is what every participant is told when a call is
// recorded; the recording_started event carries it.
const RecordingNotice = "Видеозвонок записывается. Бейне қоңырау жазылады. The call is recorded."

// RecordingFile is one finished track file of a call's recording.
type RecordingFile struct {
	Participant string    `json:"participant"` // "client:871008401427", "notary:aliya"
	Kind        string    `json:"kind"`        // audio or video
	Codec       string    `json:"codec"`       // audio/opus, video/VP8
	File        string    `json:"file"`        // name in the recording's directory
	SHA256      string    `json:"sha256"`      // hex, of the whole file
	Bytes       int64     `json:"bytes"`       // file size
	DurationMS  int64     `json:"duration_ms"` // from the RTP timestamps
	StartedAt   time.Time `json:"started_at"`  // first packet
	EndedAt     time.Time `json:"ended_at"`    // last packet
	// Cut: the file was finished after the server stopped mid-call (the
	// call's WebM, recovered on the next start); it ends where the server
	// stopped.
	Cut bool `json:"cut,omitempty"`
}

// Recording is one call's recording as the act knows it.
type Recording struct {
	ID         string          `json:"id"`
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt time.Time       `json:"finished_at,omitempty"`
	Files      []RecordingFile `json:"files,omitempty"`
	// Stopped is why the recording stopped before the call ended (size_cap).
	Stopped string `json:"stopped,omitempty"`
}

// StartRecording is the media server telling the act that the call's room
// opened and records: the participants are shown RecordingNotice.
type StartRecording struct {
	Recording string `json:"recording"`
}

// FinishRecording is the media server naming the finished files of a
// recording, with their hashes. It is taken in any phase: signing ends the
// call, and the files are finished after that.
type FinishRecording struct {
	Recording string          `json:"recording"`
	Files     []RecordingFile `json:"files"`
}

func (StartRecording) CommandName() string  { return "start_recording" }
func (FinishRecording) CommandName() string { return "finish_recording" }

// RecordingStarted: the call is recorded from here; Notice was shown.
type RecordingStarted struct {
	Recording string    `json:"recording"`
	Notice    string    `json:"notice"`
	At        time.Time `json:"at"`
}

// RecordingFinished names a recording's files and their SHA-256.
type RecordingFinished struct {
	Recording string          `json:"recording"`
	Files     []RecordingFile `json:"files"`
	At        time.Time       `json:"at"`
}

func (RecordingStarted) EventType() string  { return "recording_started" }
func (RecordingFinished) EventType() string { return "recording_finished" }

func init() {
	register[RecordingStarted]()
	register[RecordingFinished]()
}

// Recording returns the act's recording with the given id, or nil.
func (s *State) Recording(id string) *Recording {
	for i := range s.Recordings {
		if s.Recordings[i].ID == id {
			return &s.Recordings[i]
		}
	}
	return nil
}

func decideRecording(s *State, cmd Command, now time.Time) ([]Event, error) {
	switch c := cmd.(type) {
	case StartRecording:
		if err := checkRecordingID(c.Recording); err != nil {
			return nil, err
		}
		if s.Recording(c.Recording) != nil {
			return nil, nil // the room said it twice
		}
		if s.Phase.Final() || s.Call != CallActive {
			return nil, refuse(CodeNotAllowedInState, "no call is in progress (act is %s, call %q)", s.Phase, s.Call)
		}
		return []Event{RecordingStarted{Recording: c.Recording, Notice: RecordingNotice, At: now}}, nil
	case FinishRecording:
		r := s.Recording(c.Recording)
		if r == nil {
			return nil, refuse(CodeBadRecording, "recording %q was never started", c.Recording)
		}
		if !r.FinishedAt.IsZero() {
			return nil, nil
		}
		for i, f := range c.Files {
			if err := checkRecordingFile(f); err != nil {
				return nil, refuse(CodeBadRecording, "file %d: %v", i+1, err)
			}
		}
		files := append([]RecordingFile(nil), c.Files...)
		return []Event{RecordingFinished{Recording: c.Recording, Files: files, At: now}}, nil
	}
	return nil, refuse(CodeUnknownCommand, "%s", cmd.CommandName())
}

func checkRecordingID(id string) error {
	if id == "" || len(id) > 64 || strings.ContainsAny(id, "/\\ ") {
		return refuse(CodeBadRecording, "bad recording id %q", id)
	}
	return nil
}

func checkRecordingFile(f RecordingFile) error {
	if sum, err := hex.DecodeString(f.SHA256); err != nil || len(sum) != 32 {
		return fmt.Errorf("sha256 %q is not 64 hex digits", f.SHA256)
	}
	if f.File == "" || len(f.File) > 200 || strings.ContainsAny(f.File, "/\\") || strings.HasPrefix(f.File, ".") {
		return fmt.Errorf("bad file name %q", f.File)
	}
	if f.Kind != "audio" && f.Kind != "video" {
		return fmt.Errorf("kind %q is neither audio nor video", f.Kind)
	}
	if f.Bytes < 0 || f.DurationMS < 0 {
		return fmt.Errorf("negative size or duration")
	}
	return nil
}
