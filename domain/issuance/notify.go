package issuance

import "time"

// The e-mail to an applicant who gave an address, once the certificates
// are issued, is a fact of the application like the rest: the shell sends
// it (after certificates_issued, again after a restart until it is
// recorded) and records it as the system's record_email; the event
// email_sent keeps the relay's message id, so that it is sent once and
// the log says when.

// MaxMessageID bounds a recorded e-mail's message id, in bytes.
const MaxMessageID = 512

// RecordEmail records that the e-mail about the issued certificates was
// handed to the relay (system).
type RecordEmail struct {
	MessageID string `json:"message_id"`
}

// EmailSent: the applicant was told by e-mail that the certificates are
// issued.
type EmailSent struct {
	MessageID string    `json:"message_id"`
	At        time.Time `json:"at"`
}

// CommandName implements Command.
func (RecordEmail) CommandName() string { return "record_email" }

// EventType implements Event.
func (EmailSent) EventType() string { return "email_sent" }

func init() {
	register[EmailSent]()
	roles["record_email"] = []Role{RoleSystem}
}

// EmailDue reports whether the applicant is still to be told by e-mail:
// the certificates are issued, an address was given, and no e-mail was
// recorded yet.
func EmailDue(s *State) bool { return s.Phase == PhaseIssued && s.Email != "" && s.EmailedAt.IsZero() }

// decideRecordEmail takes the e-mail once, for an issued application with
// an address; a repeat changes nothing.
func decideRecordEmail(s *State, c RecordEmail, now time.Time) ([]Event, error) {
	switch {
	case s.Phase != PhaseIssued || s.Email == "":
		return nil, refuse(CodeNotAllowedInState, "only an issued application with an e-mail address is told by e-mail (it is %s)", s.Phase)
	case !s.EmailedAt.IsZero():
		return nil, nil
	case c.MessageID == "" || len(c.MessageID) > MaxMessageID:
		return nil, refuse(CodeBadRequest, "record_email needs the relay's message id, of at most %d bytes", MaxMessageID)
	}
	return []Event{EmailSent{MessageID: c.MessageID, At: now}}, nil
}
