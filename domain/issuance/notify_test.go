package issuance

import "testing"

// The e-mail about the issued certificates is recorded once, only for an
// issued application with an address, only by the system.
func TestRecordEmail(t *testing.T) {
	issued := run(t, individualPath(), "issued")
	if !EmailDue(&issued) {
		t.Fatalf("an issued application with an address: no e-mail due (%+v)", issued.EmailedAt)
	}
	for _, c := range []struct {
		name string
		s    State
		by   Actor
		cmd  RecordEmail
		want Code
	}{
		{"before the certificates", run(t, individualPath(), "at_ca"), system, RecordEmail{MessageID: "m1"}, CodeNotAllowedInState},
		{"by the applicant", issued, applicant, RecordEmail{MessageID: "m1"}, CodeForbidden},
		{"no message id", issued, system, RecordEmail{}, CodeBadRequest},
		{"no address", func() State { s := issued; s.Email = ""; return s }(), system, RecordEmail{MessageID: "m1"}, CodeNotAllowedInState},
	} {
		if _, err := Decide(c.s, c.by, c.cmd, t0, rules); code(err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
	s := mustApply(t, issued, system, RecordEmail{MessageID: "m1@senim.kz"})
	if EmailDue(&s) || !s.EmailedAt.Equal(t0) || s.Phase != PhaseIssued || !s.LastEventAt.Equal(issued.LastEventAt) {
		t.Fatalf("after email_sent: due %v, at %v, %s", EmailDue(&s), s.EmailedAt, s.Phase)
	}
	if ev, err := Decide(s, system, RecordEmail{MessageID: "m2"}, t0, rules); err != nil || len(ev) != 0 {
		t.Fatalf("a second e-mail: %v %v", ev, err)
	}
}
