package issuance

import (
	"fmt"
	"testing"
	"time"
)

// registrationPath: not in БМГ, a call failed, a second call taken, the
// phone registered.
func registrationPath() []step {
	return append(callsPath(),
		step{"registered", operator2, func(*State) Command { return RecordRegistration{Success: true, Phone: "+7 701 234 56 78"} }},
		step{"recorded1", system, func(*State) Command { return RecordCall{Recording: "rec-1", Files: callFiles("a")} }},
	)
}

// rejectedPath: the second call ends with the operator's rejection.
func rejectedPath() []step {
	return append(callsPath(), step{"rejected", operator2, func(*State) Command { return Reject{Reason: "не тот человек"} }})
}

func callsPath() []step {
	return []step{
		start(KindIndividual, "", ""),
		{"not_found", system, func(*State) Command { return RecordPhoneLookup{} }},
		{"requested", applicant, func(*State) Command { return RequestRegistration{} }},
		{"taken", operator, func(*State) Command { return TakeRegistration{} }},
		{"failed", operator, func(*State) Command { return RecordRegistration{Reason: "связь прервалась"} }},
		{"requested2", applicant, func(*State) Command { return RequestRegistration{} }},
		{"taken2", operator2, func(*State) Command { return TakeRegistration{} }},
	}
}

func callFiles(prefix string) []CallFile {
	return []CallFile{
		{Participant: "applicant", Kind: "video", Codec: "video/VP8", File: prefix + "-applicant-video.webm", SHA256: hex64('a'), Bytes: 1000,
			DurationMS: 5000, StartedAt: t0, EndedAt: t0.Add(5 * time.Second)},
		{Participant: "operator:kenes-1", Kind: "audio", Codec: "audio/opus", File: prefix + "-operator-audio.ogg", SHA256: hex64('b'), Bytes: 200},
	}
}

// A registration call's recording: its files and their SHA-256 are a fact
// of the application, in any phase once a call was taken, one per call.
func TestRecordCall(t *testing.T) {
	path := registrationPath()
	rec := func(id string, files []CallFile) func(*State) Command {
		return func(*State) Command { return RecordCall{Recording: id, Files: files} }
	}
	bad := func(f func(*CallFile)) []CallFile {
		fs := callFiles("x")
		f(&fs[0])
		return fs
	}
	cases := []struct {
		name, at string
		by       Actor
		cmd      func(*State) Command
		want     []string
		code     Code
	}{
		{"the first call's recording while the second is on", "taken2", system, rec("rec-1", callFiles("a")), []string{"call_recorded"}, ""},
		{"after the registration", "registered", system, rec("rec-1", callFiles("a")), []string{"call_recorded"}, ""},
		{"the same recording again changes nothing", "recorded1", system, rec("rec-1", callFiles("a")), nil, ""},
		{"a recording after a rejection", "rejected", system, rec("rec-2", callFiles("b")), []string{"call_recorded"}, ""},
		{"a call with no files", "registered", system, rec("rec-1", nil), []string{"call_recorded"}, ""},
		{"no call taken", "requested", system, rec("rec-1", callFiles("a")), nil, CodeNotAllowedInState},
		{"the first call's, still on (its room reopened)", "taken", system, rec("rec-1", callFiles("a")), []string{"call_recorded"}, ""},
		{"not the applicant's to say", "registered", applicant, rec("rec-1", callFiles("a")), nil, CodeForbidden},
		{"not an operator's either", "registered", operator2, rec("rec-1", callFiles("a")), nil, CodeForbidden},
		{"a recording id with a slash", "registered", system, rec("../rec", callFiles("a")), nil, CodeBadRecording},
		{"an empty recording id", "registered", system, rec("", callFiles("a")), nil, CodeBadRecording},
		{"a file name with a path", "registered", system, rec("rec-1", bad(func(f *CallFile) { f.File = "../../issuance.key" })), nil, CodeBadRecording},
		{"a hidden file", "registered", system, rec("rec-1", bad(func(f *CallFile) { f.File = ".x" })), nil, CodeBadRecording},
		{"a short hash", "registered", system, rec("rec-1", bad(func(f *CallFile) { f.SHA256 = "abc" })), nil, CodeBadRecording},
		{"an upper-case hash", "registered", system, rec("rec-1", bad(func(f *CallFile) { f.SHA256 = hex64('A') })), nil, CodeBadRecording},
		{"a negative size", "registered", system, rec("rec-1", bad(func(f *CallFile) { f.Bytes = -1 })), nil, CodeBadRecording},
		{"a file twice", "registered", system, rec("rec-1", append(callFiles("a"), callFiles("a")[0])), nil, CodeBadRecording},
		{"too many files", "registered", system, rec("rec-1", make([]CallFile, MaxCallFiles+1)), nil, CodeBadRecording},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := path
			if c.at == "rejected" {
				p = rejectedPath()
			}
			s := run(t, p, c.at)
			events, err := Decide(s, c.by, c.cmd(&s), t0, rules)
			if code(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
			}
			var got []string
			for _, e := range events {
				got = append(got, e.EventType())
			}
			if len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
				t.Fatalf("events %v, want %v", got, c.want)
			}
		})
	}

	// The files stay in the state as they were given; the number of
	// recordings is bounded.
	s := run(t, rejectedPath(), "rejected")
	s = mustApply(t, s, system, RecordCall{Recording: "rec-1", Files: callFiles("a")})
	s = mustApply2(t, s, system, RecordCall{Recording: "rec-2", Files: callFiles("b")}, t0.Add(time.Hour))
	full := s
	for i := 3; i <= MaxRecordings; i++ {
		full = mustApply(t, full, system, RecordCall{Recording: fmt.Sprintf("rec-%d", i)})
	}
	if _, err := Decide(full, system, RecordCall{Recording: "one-more"}, t0, rules); code(err) != CodeBadRecording {
		t.Fatalf("recording %d: %v", MaxRecordings+1, err)
	}
	if s.Phase != PhaseRejected || s.CallsTaken != 2 || len(s.Recordings) != 2 || s.Recordings[1].Recording != "rec-2" ||
		s.Recordings[1].Files[0].File != "b-applicant-video.webm" || s.Recordings[0].Files[1].SHA256 != hex64('b') {
		t.Fatalf("state %s calls %d recordings %+v", s.Phase, s.CallsTaken, s.Recordings)
	}
	if s.LastEventAt != run(t, rejectedPath(), "rejected").LastEventAt {
		t.Fatal("a recording moved the application's last activity")
	}
}

// An application whose phone is not verified expires after
// UnverifiedExpireAfter, so that a stranger cannot hold an IIN for 30 days;
// not during a registration call, and a verified phone gets the full time.
func TestUnverifiedExpiry(t *testing.T) {
	short := rules.UnverifiedExpireAfter
	if short <= 0 || short >= rules.ExpireAfter {
		t.Fatalf("default unverified expiry %s", short)
	}
	reg := registrationPath()
	cases := []struct {
		name  string
		path  []step
		at    string
		after time.Duration
		r     func(Rules) Rules
		code  Code
	}{
		{"a code sent, not entered: not yet", individualPath(), "code_sent", short - time.Second, nil, CodeNotDue},
		{"a code sent, not entered: expires", individualPath(), "code_sent", short, nil, ""},
		{"not in БМГ, nothing asked: expires", reg, "not_found", short, nil, ""},
		{"waiting for a registrar: expires", reg, "requested", short, nil, ""},
		{"in a registration call: not yet", reg, "taken", short, nil, CodeNotDue},
		{"in a registration call: at the long limit", reg, "taken", rules.ExpireAfter, nil, ""},
		{"back from a failed call: expires", reg, "failed", short, nil, ""},
		{"registered by a call: not yet", reg, "registered", short, nil, CodeNotDue},
		{"phone verified: not yet", individualPath(), "phone_ok", 2 * short, nil, CodeNotDue},
		{"phone verified: at the long limit", individualPath(), "verified", rules.ExpireAfter, nil, ""},
		{"the short limit off", individualPath(), "code_sent", short, func(r Rules) Rules { r.UnverifiedExpireAfter = 0; return r }, CodeNotDue},
		{"a short limit above the long one", individualPath(), "code_sent", time.Hour,
			func(r Rules) Rules { r.ExpireAfter, r.UnverifiedExpireAfter = time.Hour, 2*time.Hour; return r }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rules
			if c.r != nil {
				r = c.r(r)
			}
			s := run(t, c.path, c.at)
			events, err := Decide(s, system, Expire{}, t0.Add(c.after), r)
			if code(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
			}
			if c.code == "" {
				if len(events) != 1 || events[0].EventType() != "application_expired" {
					t.Fatalf("events %v", events)
				}
				if s = Apply(s, events[0]); s.Status() != StatusExpired {
					t.Fatalf("status %s", s.Status())
				}
			}
		})
	}
}
