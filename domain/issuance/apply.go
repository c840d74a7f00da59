package issuance

import "time"

// Apply folds e into s and returns the new state. It is total: an event
// that does not fit is still applied as far as it goes, because events are
// facts already in the log; Decide is where rules are enforced. Maps and
// slices are copied before they change, so earlier states stay as they were.
func Apply(s State, e Event) State {
	s.Version++
	switch e := e.(type) {
	case Started:
		s.ID, s.Kind, s.Template, s.BIN, s.IIN = e.ApplicationID, e.Kind, e.Template, e.BIN, e.IIN
		s.Applicant, s.CreatedAt, s.LastEventAt = e.Applicant, e.At, e.At
		s.Phase = PhasePhone
	case PhoneFound:
		if e.Phone != s.Phone {
			s.Code = nil // a code sent to the old phone proves nothing about the new one
		}
		s.PhoneLooked, s.Phone, s.LastEventAt = true, e.Phone, e.At
	case PhoneNotFound:
		s.PhoneLooked, s.Phone, s.Code, s.LastEventAt = true, "", nil, e.At
	case CodeIssued:
		s.Code = &OTP{Hash: append([]byte(nil), e.Hash...), ExpiresAt: e.ExpiresAt}
		s.CodesSent = append(append([]time.Time(nil), s.CodesSent...), e.At)
		s.LastEventAt = e.At
	case CodeRejected:
		if s.Code != nil {
			c := *s.Code
			c.Tries = e.Tries
			s.Code = &c
		}
		s.LastEventAt = e.At
	case PhoneVerified:
		s.Phone, s.PhoneVerified, s.Code, s.LastEventAt = e.Phone, true, nil, e.At
		s.Phase = PhaseIdentity
	case RegistrationRequested:
		s.Phase, s.Operator, s.LastEventAt = PhaseRegistrationWaiting, Actor{}, e.At
	case RegistrationTaken:
		s.Phase, s.Operator, s.LastEventAt = PhaseRegistrationCall, e.Operator, e.At
		s.CallsTaken++
	case EmailSent:
		// A notice after the final event; LastEventAt stays.
		s.EmailedAt = e.At
	case CallRecorded:
		// The recording of a call that ended; not the applicant's doing,
		// so LastEventAt stays.
		s.Recordings = append(append([]CallRecorded(nil), s.Recordings...), e)
	case RegistrationRecorded:
		s.LastEventAt = e.At
		if !e.Success {
			s.Phase, s.RegistrationReason = PhasePhone, e.Reason
		}
	case DocumentChosen:
		s.Document, s.LastEventAt = e.Kind, e.At
		// Photos and fields of the other document no longer count.
		s.Recognised, s.Confirmed = nil, false
		ups := map[Purpose]Upload{}
		for p, u := range s.Uploads {
			if p == PurposeSelfie || p == PurposeLiveness {
				ups[p] = u
			}
		}
		s.Uploads = ups
	case UploadRecorded:
		ups := make(map[Purpose]Upload, len(s.Uploads)+1)
		for k, v := range s.Uploads {
			ups[k] = v
		}
		ups[e.Upload.Purpose] = e.Upload
		n := make(map[Purpose]int, len(s.Attempts)+1)
		for k, v := range s.Attempts {
			n[k] = v
		}
		n[e.Upload.Purpose]++
		s.Uploads, s.Attempts, s.LastEventAt = ups, n, e.At
		// A new file voids what was read from the one it replaces.
		switch e.Upload.Purpose {
		case PurposeLiveness:
			s.Liveness = nil
		case PurposeSelfie:
			s.FaceMatch = nil
		default:
			s.Recognised, s.Confirmed = nil, false
		}
	case LivenessChecked:
		l := e
		s.Liveness, s.LastEventAt = &l, e.At
	case DocumentRecognised:
		f := e.Fields
		s.Recognised, s.Confirmed, s.LastEventAt = &f, false, e.At
	case FieldsConfirmed:
		s.Confirmed, s.LastEventAt = true, e.At
	case FaceMatched:
		f := e
		s.FaceMatch, s.LastEventAt = &f, e.At
	case ModerationRequested:
		m := e
		s.Moderation, s.Moderator, s.Phase, s.LastEventAt = &m, Actor{}, PhaseModeration, e.At
	case ModerationTaken:
		s.Moderator, s.LastEventAt = e.Moderator, e.At
	case ModerationDecided:
		s.LastEventAt = e.At
	case IdentityVerified:
		sub := e.Subject
		s.Subject, s.Phase, s.LastEventAt = &sub, PhaseApplication, e.At
	case RequestsSubmitted:
		s.Email, s.CSRs, s.LastEventAt = e.Email, append([]CSR(nil), e.CSRs...), e.At
		s.Phase = PhaseApprovals
	case ApprovalRecorded:
		a := make(map[ApprovalStep]Approval, len(s.Approvals)+1)
		for k, v := range s.Approvals {
			a[k] = v
		}
		a[e.Step] = e.Approval
		s.Approvals, s.LastEventAt = a, e.At
	case ApplicationIdentified:
		s.Phase, s.LastEventAt = PhaseIdentified, e.At
	case SentToCA:
		s.Phase, s.CAReference, s.LastEventAt = PhaseSigning, e.Reference, e.At
	case CertificatesIssued:
		s.Phase, s.Certificates, s.LastEventAt = PhaseIssued, append([]Certificate(nil), e.Certificates...), e.At
	case ApplicationRejected:
		s.Phase, s.Rejection, s.LastEventAt = PhaseRejected, e.Reason, e.At
	case ApplicationExpired:
		s.Phase, s.LastEventAt = PhaseExpired, e.At
	}
	return s
}
