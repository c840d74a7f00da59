package act

// Apply folds e into s and returns the new state. It is total: an event
// that does not fit is still applied as far as it goes, because events are
// facts already in the log; Decide is where rules are enforced.
func Apply(s State, e Event) State {
	s.Version++
	switch e := e.(type) {
	case ApplicationSubmitted:
		s.ID, s.ActionType, s.Principal, s.Attorney = e.ActID, e.ActionType, e.Principal, e.Attorney
		s.Application, s.CreatedAt = e.Signature, e.At
		s.Phase = PhaseAwaitingConsent
	case ConsentRequested:
		s.ConsentRequested = true
	case ConsentGiven:
		sig := e.Signature
		s.Consent = &sig
		s.Phase = PhaseReady
	case ConsentRefused:
		s.ConsentRefusal = e.Reason
		s.Phase = PhaseConsentRefused
	case CallRequested:
		s.Call, s.CallRequestedAt = CallWaiting, e.At
	case CallAccepted:
		s.Call = CallActive
		if s.Notary.ID == "" {
			s.Notary = e.Notary
		}
		if s.Phase == PhaseReady {
			s.Phase = PhaseWithNotary
		}
	case CallEnded:
		s.Call = CallOver
	case RecordingStarted:
		s.Recordings = append(append([]Recording(nil), s.Recordings...), Recording{ID: e.Recording, StartedAt: e.At})
	case RecordingFinished:
		recs := append([]Recording(nil), s.Recordings...)
		for i := range recs {
			if recs[i].ID == e.Recording {
				recs[i].FinishedAt, recs[i].Files = e.At, append([]RecordingFile(nil), e.Files...)
			}
		}
		s.Recordings = recs
	case CheckRecorded:
		checks := make(map[Check]CheckResult, len(s.Checks)+1)
		for k, v := range s.Checks {
			checks[k] = v
		}
		checks[e.Check] = CheckResult{Passed: e.Passed, Note: e.Note, At: e.At}
		s.Checks = checks
	case DraftPresented:
		s.Revisions = append(s.Revisions[:len(s.Revisions):len(s.Revisions)], Revision{Number: e.Revision, Draft: e.Draft, At: e.At})
	case DraftApproved:
		sig := e.Signature
		s.Approved, s.ApprovalSig = e.Revision, &sig
		s.ApprovedHistory = append(s.ApprovedHistory[:len(s.ApprovedHistory):len(s.ApprovedHistory)], e.Revision)
	case ChangesRequested:
		revs := append([]Revision(nil), s.Revisions...)
		for i := range revs {
			if revs[i].Number == e.Revision {
				revs[i].Comments = append(revs[i].Comments[:len(revs[i].Comments):len(revs[i].Comments)], e.Comments)
			}
		}
		s.Revisions = revs
	case InvoiceIssued:
		inv := e.Invoice
		s.Invoice = &inv
	case InvoiceVoided:
		if s.Invoice != nil && s.Invoice.ID == e.InvoiceID {
			s.Invoice = nil
		}
	case PaymentReceived:
		s.Payments = append(s.Payments[:len(s.Payments):len(s.Payments)], e.Payment)
	case DocumentCodeIssued:
		s.DocumentCode, s.HistoryHead, s.DocumentDate = e.Code, e.HistoryHead, e.At
		s.DocumentInputs = e.DocumentInputs
	case ActSigned:
		sig := e.Signature
		s.NotarySig, s.SignedAt = &sig, e.At
		s.Phase = PhaseSigned
		s.Call = endCall(s.Call)
	case ActRefused:
		s.EndReason, s.Phase = e.Reason, PhaseRefused
		s.Call = endCall(s.Call)
	case POARevoked:
		sig := e.Signature
		s.Revocation, s.RevokedAt, s.EndReason, s.Phase = &sig, e.At, e.Reason, PhaseRevoked
	case ActCancelled:
		s.EndReason, s.Phase = e.Reason, PhaseCancelled
		s.Call = endCall(s.Call)
	case ActExpired:
		s.Phase = PhaseExpired
		s.Call = endCall(s.Call)
	case RecordingStopped:
		recs := append([]Recording(nil), s.Recordings...)
		for i := range recs {
			if recs[i].ID == e.Recording {
				recs[i].Stopped = e.Reason
			}
		}
		s.Recordings = recs
	case CallUnanswered:
		if s.Call == CallWaiting {
			s.Call = CallOver
		}
	}
	return s
}

// endCall: a final act leaves no call waiting in the queue.
func endCall(c CallStatus) CallStatus {
	if c == CallNone {
		return c
	}
	return CallOver
}

// Replay folds events into a new state.
func Replay(events []Event) State {
	var s State
	for _, e := range events {
		s = Apply(s, e)
	}
	return s
}

// IndexNames are the names of an act's secondary-index entries, for the
// cabinets and registers, in sorted order.
var IndexNames = [...]string{"attorney", "code", "notary", "phase", "principal", "queue"}

// IndexValues is the value of each of IndexNames for s, "" where it has
// none. It allocates nothing: it is compared before and after every
// command.
func IndexValues(s *State) [len(IndexNames)]string {
	v := [len(IndexNames)]string{s.Attorney.IIN, s.DocumentCode, s.Notary.ID, string(s.Phase), s.Principal.IIN, ""}
	if s.Call == CallWaiting {
		v[5] = "waiting"
	}
	return v
}
