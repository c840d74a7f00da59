package act

import (
	"fmt"
	"strings"
	"time"
)

// Describe is one line about an event for people: timelines, audits,
// `senim replay`.
func Describe(e Event) string {
	switch e := e.(type) {
	case ApplicationSubmitted:
		return fmt.Sprintf("application for a %s: principal %s %s (phone %s), attorney %s; signed by %s",
			strings.ReplaceAll(e.ActionType, "_", " "), e.Principal.IIN, e.Principal.Name, e.Principal.Phone, e.Attorney.IIN, sigLine(e.Signature))
	case ConsentRequested:
		return "consent to personal-data processing requested from attorney " + e.AttorneyIIN
	case ConsentGiven:
		return "attorney consented; signed by " + sigLine(e.Signature)
	case ConsentRefused:
		return "attorney refused consent: " + orNone(e.Reason)
	case CallRequested:
		return "client called a notary"
	case CallAccepted:
		return fmt.Sprintf("notary %s (%s) took the call", e.Notary.ID, e.Notary.Name)
	case CallEnded:
		if e.Reason != "" {
			return "call ended by " + e.By + ": " + e.Reason
		}
		return "call ended by " + e.By
	case RecordingStopped:
		return "recording " + e.Recording + " stopped: " + e.Reason + "; the call went on"
	case CallUnanswered:
		return fmt.Sprintf("no notary took the call requested at %s: %s", e.RequestedAt.UTC().Format(time.RFC3339), e.Reason)
	case DocumentSaved:
		return fmt.Sprintf("principal saved the document to %s as %s (sha256 %s)", e.Service, e.DocumentID, short(e.SHA256))
	case ActExpired:
		return "the act expired: no progress since " + e.IdleSince.UTC().Format(time.RFC3339)
	case RecordingStarted:
		return "the call is recorded (" + e.Recording + "); the participants were told: " + e.Notice
	case RecordingFinished:
		parts := make([]string, 0, len(e.Files))
		for _, f := range e.Files {
			parts = append(parts, fmt.Sprintf("%s %s %s %d ms sha256 %s", f.File, f.Participant, f.Kind, f.DurationMS, short(f.SHA256)))
		}
		return fmt.Sprintf("recording %s finished, %d files: %s", e.Recording, len(e.Files), strings.Join(parts, "; "))
	case CheckRecorded:
		outcome := "passed"
		if !e.Passed {
			outcome = "FAILED"
		}
		return fmt.Sprintf("identity check %s %s%s", e.Check, outcome, noteOf(e.Note))
	case RegistryChecked:
		found := "found"
		if !e.Found {
			found = "NOT found"
		}
		return fmt.Sprintf("notary looked up IIN %s in the individuals registry: %s", e.IIN, found)
	case DraftPresented:
		d := e.Draft
		return fmt.Sprintf("draft revision %d: registry %s, term %d months, state duty %s, services %s; powers: %s",
			e.Revision, d.RegistryNumber, d.TermMonths, d.StateDuty, d.ServicesFee, d.Powers)
	case DraftApproved:
		return fmt.Sprintf("client approved revision %d; signed by %s", e.Revision, sigLine(e.Signature))
	case ChangesRequested:
		return fmt.Sprintf("client sent revision %d back: %s", e.Revision, e.Comments)
	case InvoiceIssued:
		return fmt.Sprintf("invoice %s for %s (revision %d)", e.Invoice.ID, e.Invoice.Amount, e.Invoice.Revision)
	case InvoiceVoided:
		return "invoice " + e.InvoiceID + " voided: the amount changed"
	case PaymentReceived:
		return fmt.Sprintf("payment %s of %s for invoice %s", e.Payment.ID, e.Payment.Amount, e.Payment.InvoiceID)
	case DocumentCodeIssued:
		if e.Format == 0 { // coded before the inputs were recorded
			return "document code " + e.Code
		}
		return fmt.Sprintf("document code %s (template v%d, %s, %s)", e.Code, e.Format, e.Place, e.PublicURL)
	case ActSigned:
		return fmt.Sprintf("notary signed the document (sha256 %s); signed by %s", short(e.DocumentSHA), sigLine(e.Signature))
	case ActRefused:
		return "notary refused: " + e.Reason
	case POARevoked:
		return "principal revoked the power of attorney: " + orNone(e.Reason) + "; signed by " + sigLine(e.Signature)
	case ActCancelled:
		return "client cancelled: " + orNone(e.Reason)
	}
	return fmt.Sprintf("%T", e)
}

// String renders an amount in tenge: "15137.50 ₸".
func (m Money) String() string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%02d ₸", sign, m/100, m%100)
}

func sigLine(s Signature) string {
	return fmt.Sprintf("%s %s (certificate %s)", s.SignerIIN, s.SignerName, short(s.Fingerprint))
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

func orNone(s string) string {
	if s == "" {
		return "(no reason given)"
	}
	return s
}

func noteOf(n string) string {
	if n == "" {
		return ""
	}
	return ": " + n
}
