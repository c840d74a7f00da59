package act

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/senim-kz/senim/domain/iin"
)

// Limits on free text in an act.
const (
	MaxPowersLen   = 8000 // characters of the powers granted
	MaxRegistryLen = 64   // characters of a registry number
	MaxTextLen     = 2000 // characters of a comment, note or reason
)

// Decide validates cmd, sent by actor by at time now, against s, and returns
// the events it produces (possibly none, for an idempotent repeat), or an
// *Error. It never changes s.
func Decide(s State, by Actor, cmd Command, now time.Time, r Rules) ([]Event, error) {
	if sub, ok := cmd.(SubmitApplication); ok {
		return decideSubmit(&s, by, sub, now)
	}
	if s.Phase == PhaseNone {
		return nil, refuse(CodeNoSuchAct, "no such act")
	}
	if err := authorize(&s, by, cmd); err != nil {
		return nil, err
	}
	if p, ok := cmd.(RecordPayment); ok && s.hasPayment(p.PaymentID) {
		return nil, nil // a bank's repeated callback changes nothing, whatever the phase
	}
	switch cmd.(type) {
	case StartRecording, FinishRecording:
		return decideRecording(&s, cmd, now)
	}

	if c, ok := cmd.(SaveDocument); ok {
		return decideSaveDocument(&s, by, c, now) // a signed (final) act's
	}
	if r, ok := cmd.(RevokePOA); ok {
		// The one command a signed act takes, with SaveDocument.
		if s.Phase != PhaseSigned {
			return nil, refuse(CodeNotAllowedInState, "only a signed power of attorney can be revoked (act is %s)", s.Phase)
		}
		if err := checkText("reason", r.Reason, true); err != nil {
			return nil, err
		}
		if err := checkSignature(r.Signature, s.Principal.IIN, RevocationBytes(&s)); err != nil {
			return nil, err
		}
		return []Event{POARevoked{Reason: r.Reason, Signature: r.Signature, At: now}}, nil
	}
	if s.Phase.Final() {
		return nil, refuse(CodeNotAllowedInState, "the act is %s", s.Phase)
	}
	switch c := cmd.(type) {
	case GiveConsent:
		if s.Phase != PhaseAwaitingConsent {
			return nil, refuse(CodeNotAllowedInState, "consent is not awaited (act is %s)", s.Phase)
		}
		if err := checkSignature(c.Signature, s.Attorney.IIN, ConsentBytes(&s)); err != nil {
			return nil, err
		}
		return []Event{ConsentGiven{Signature: c.Signature}}, nil

	case RefuseConsent:
		if s.Phase != PhaseAwaitingConsent {
			return nil, refuse(CodeNotAllowedInState, "consent is not awaited (act is %s)", s.Phase)
		}
		if err := checkText("reason", c.Reason, true); err != nil {
			return nil, err
		}
		return []Event{ConsentRefused{Reason: c.Reason}}, nil

	case RequestCall:
		if s.Phase != PhaseReady && s.Phase != PhaseWithNotary {
			return nil, refuse(CodeNotAllowedInState, "a call needs the attorney's consent first (act is %s)", s.Phase)
		}
		if s.Call == CallWaiting || s.Call == CallActive {
			return nil, refuse(CodeNotAllowedInState, "the call is already %s", s.Call)
		}
		return []Event{CallRequested{At: now}}, nil

	case AcceptCall:
		if s.Call != CallWaiting {
			return nil, refuse(CodeNotAllowedInState, "no call is waiting (call is %q)", s.Call)
		}
		return []Event{CallAccepted{Notary: by}}, nil

	case EndCall:
		if s.Call != CallActive {
			return nil, refuse(CodeNotAllowedInState, "no call is active")
		}
		return []Event{CallEnded{By: by.String()}}, nil

	case RecordCheck:
		if s.Call != CallActive {
			return nil, refuse(CodeNotAllowedInState, "identity checks are made in the call")
		}
		if !c.Check.valid() {
			return nil, refuse(CodeBadCheck, "unknown check %q", c.Check)
		}
		if err := checkText("note", c.Note, false); err != nil {
			return nil, err
		}
		return []Event{CheckRecorded{Check: c.Check, Passed: c.Passed, Note: c.Note, At: now}}, nil

	case RecordRegistryCheck:
		return decideRegistryCheck(&s, by, c, now)

	case PresentDraft:
		return decidePresent(&s, c, now, r)

	case ApproveDraft:
		cur, err := currentRevision(&s, c.Revision)
		if err != nil {
			return nil, err
		}
		if s.Approved == cur.Number {
			return nil, refuse(CodeAlreadyApproved, "revision %d is already approved", cur.Number)
		}
		if err := checkSignature(c.Signature, s.Principal.IIN, DraftBytes(&s, cur.Number)); err != nil {
			return nil, err
		}
		return []Event{DraftApproved{Revision: cur.Number, Signature: c.Signature}}, nil

	case RequestChanges:
		cur, err := currentRevision(&s, c.Revision)
		if err != nil {
			return nil, err
		}
		if s.Approved == cur.Number {
			return nil, refuse(CodeAlreadyApproved, "revision %d is already approved", cur.Number)
		}
		if err := checkText("comments", c.Comments, true); err != nil {
			return nil, err
		}
		return []Event{ChangesRequested{Revision: cur.Number, Comments: c.Comments}}, nil

	case IssueInvoice:
		if !s.CurrentApproved() {
			return nil, refuse(CodeDraftNotApproved, "the client has not approved the current revision")
		}
		if s.Paid() {
			return nil, refuse(CodeAlreadyPaid, "the invoice is paid")
		}
		if c.InvoiceID == "" {
			return nil, refuse(CodeBadRequest, "invoice id missing")
		}
		cur := s.Current()
		return []Event{InvoiceIssued{Invoice: Invoice{ID: c.InvoiceID, Amount: cur.Draft.Total(), Revision: cur.Number, ExpiresAt: r.InvoiceExpiry(now)}}}, nil

	case RecordPayment:
		if c.PaymentID == "" {
			return nil, refuse(CodeBadRequest, "payment id missing")
		}
		if s.Invoice == nil || s.Invoice.ID != c.InvoiceID {
			return nil, refuse(CodeUnknownInvoice, "no open invoice %q", c.InvoiceID)
		}
		if s.Paid() {
			return nil, refuse(CodeAlreadyPaid, "invoice %s is already paid", c.InvoiceID)
		}
		if exp := s.Invoice.ExpiresAt; exp != nil && !now.Before(*exp) {
			return nil, refuse(CodeInvoiceExpired, "invoice %s expired at %s; the payment is refunded", c.InvoiceID, exp.UTC().Format(time.RFC3339))
		}
		if c.Amount != s.Invoice.Amount {
			return nil, refuse(CodeAmountMismatch, "paid %d tiyn, invoice is %d", c.Amount, s.Invoice.Amount)
		}
		return []Event{PaymentReceived{Payment: Payment{ID: c.PaymentID, InvoiceID: c.InvoiceID, Amount: c.Amount, At: now}}}, nil

	case IssueDocumentCode:
		if err := readyToSign(&s); err != nil {
			return nil, err
		}
		if s.DocumentCode != "" {
			return nil, nil // issued already: the code never changes
		}
		if c.Code == "" {
			return nil, refuse(CodeBadRequest, "document code missing")
		}
		return []Event{DocumentCodeIssued{Code: c.Code, HistoryHead: c.HistoryHead, At: now, DocumentInputs: c.DocumentInputs}}, nil

	case SignAct:
		if err := readyToSign(&s); err != nil {
			return nil, err
		}
		if !s.ChecksPassed() {
			return nil, refuse(CodeChecksIncomplete, "identity checks %v must all pass", RequiredChecks)
		}
		if s.DocumentCode == "" {
			return nil, refuse(CodeNoDocumentCode, "issue the document code first")
		}
		doc := r.Document(&s)
		if len(doc) == 0 {
			return nil, refuse(CodeUnknownDocumentFormat, "the document's template version %d does not render here", s.DocumentInputs.Format)
		}
		if err := checkSignature(c.Signature, by.IIN, doc); err != nil {
			return nil, err
		}
		return []Event{ActSigned{Signature: c.Signature, DocumentSHA: SHA256Hex(doc), At: now}}, nil

	case RefuseAct:
		if err := checkText("reason", c.Reason, true); err != nil {
			return nil, err
		}
		return []Event{ActRefused{Reason: c.Reason}}, nil

	case CancelAct:
		if err := checkText("reason", c.Reason, true); err != nil {
			return nil, err
		}
		return []Event{ActCancelled{Reason: c.Reason}}, nil

	case ExpireAct, GiveUpCall, LimitCall, StopRecording:
		return decideBounds(&s, cmd, now, r)
	}
	return nil, refuse(CodeUnknownCommand, "unknown command %T", cmd)
}

// authorize says whether by may send cmd to this act at all.
func authorize(s *State, by Actor, cmd Command) error {
	principal := by.Role == RoleClient && by.IIN != "" && by.IIN == s.Principal.IIN
	attorney := by.Role == RoleAttorney && by.IIN != "" && by.IIN == s.Attorney.IIN
	notary := by.Role == RoleNotary && by.ID != ""
	assigned := notary && s.Notary.ID == by.ID
	var ok bool
	switch cmd.(type) {
	case GiveConsent, RefuseConsent:
		ok = attorney
	case RequestCall, ApproveDraft, RequestChanges, CancelAct, RevokePOA, SaveDocument:
		ok = principal
	case EndCall:
		ok = principal || assigned
	case AcceptCall:
		if notary && s.Notary.ID != "" && !assigned {
			return refuse(CodeWrongNotary, "the act is with notary %s", s.Notary.ID)
		}
		ok = notary
	case RecordCheck, RecordRegistryCheck, PresentDraft, IssueInvoice, IssueDocumentCode, SignAct, RefuseAct:
		ok = assigned
	case RecordPayment:
		ok = by.Role == RoleBank
	case StartRecording, FinishRecording, ExpireAct, GiveUpCall, LimitCall, StopRecording:
		ok = by.Role == RoleSystem
	}
	if !ok {
		return refuse(CodeForbidden, "%s may not %s in this act", by, cmd.CommandName())
	}
	return nil
}

func decideSubmit(s *State, by Actor, c SubmitApplication, now time.Time) ([]Event, error) {
	if by.Role != RoleClient {
		return nil, refuse(CodeForbidden, "only a client submits an application")
	}
	if s.Phase != PhaseNone {
		return nil, refuse(CodeNotAllowedInState, "act %s exists already", s.ID)
	}
	if !ValidActID(c.ActID) {
		return nil, refuse(CodeBadActID, "act id %q is not one the server made (32 lower-case hex digits)", c.ActID)
	}
	if _, err := iin.ParseIIN(by.IIN); err != nil {
		return nil, refuse(IINCode(err), "principal: %v", err)
	}
	if c.ActionType != ActionPowerOfAttorney {
		return nil, refuse(CodeUnsupportedAction, "action %q is not offered; only %q", c.ActionType, ActionPowerOfAttorney)
	}
	if _, err := iin.ParseIIN(c.AttorneyIIN); err != nil {
		return nil, refuse(IINCode(err), "attorney: %v", err)
	}
	if c.AttorneyIIN == by.IIN {
		return nil, refuse(CodeBadAttorney, "the attorney cannot be the principal")
	}
	phone, ok := NormalizePhone(c.Phone)
	if !ok {
		return nil, refuse(CodeBadPhone, "%q is not a Kazakh mobile number (+7 7XX XXX XX XX)", c.Phone)
	}
	if !c.Consent {
		return nil, refuse(CodeConsentRequired, "consent to personal-data processing is required")
	}
	app := ApplicationBytes(c.ActID, c.ActionType, by.IIN, c.Phone, c.AttorneyIIN, c.Consent)
	if err := checkSignature(c.Signature, by.IIN, app); err != nil {
		return nil, err
	}
	return []Event{
		ApplicationSubmitted{
			ActID: c.ActID, ActionType: c.ActionType,
			Principal: Party{IIN: by.IIN, Name: c.PrincipalName, Phone: phone},
			Attorney:  Party{IIN: c.AttorneyIIN, Name: c.AttorneyName},
			Signature: c.Signature, At: now,
		},
		ConsentRequested{AttorneyIIN: c.AttorneyIIN},
	}, nil
}

func decidePresent(s *State, c PresentDraft, now time.Time, r Rules) ([]Event, error) {
	if s.Phase != PhaseWithNotary {
		return nil, refuse(CodeNotAllowedInState, "drafting needs an accepted call (act is %s)", s.Phase)
	}
	d := Draft{
		RegistryNumber: strings.TrimSpace(c.RegistryNumber),
		Powers:         strings.TrimSpace(c.Powers),
		PowersKK:       strings.TrimSpace(c.PowersKK),
		TermMonths:     c.TermMonths,
		StateDuty:      r.InMRP(r.StateDutyMRP),
		ServicesFee:    r.InMRP(r.ServicesMRP),
	}
	if c.StateDuty != nil {
		d.StateDuty = *c.StateDuty
	}
	if c.ServicesFee != nil {
		d.ServicesFee = *c.ServicesFee
	}
	switch {
	case d.Powers == "":
		return nil, refuse(CodeBadDraft, "the powers must be stated")
	case utf8.RuneCountInString(d.Powers) > MaxPowersLen || utf8.RuneCountInString(d.PowersKK) > MaxPowersLen:
		return nil, refuse(CodeBadDraft, "the powers exceed %d characters", MaxPowersLen)
	case d.RegistryNumber == "" || utf8.RuneCountInString(d.RegistryNumber) > MaxRegistryLen:
		return nil, refuse(CodeBadDraft, "a registry number of 1 to %d characters is required", MaxRegistryLen)
	case d.TermMonths < 0:
		return nil, refuse(CodeBadDraft, "the term cannot be negative")
	case d.TermMonths > r.MaxTermMonths:
		return nil, refuse(CodeTermTooLong, "a power of attorney is issued for at most %d months", r.MaxTermMonths)
	case d.StateDuty < 0 || d.ServicesFee < 0:
		return nil, refuse(CodeBadDraft, "amounts cannot be negative")
	case d.Total() == 0:
		return nil, refuse(CodeBadDraft, "the state duty and the fee are both zero")
	}
	if d.TermMonths == 0 {
		d.TermMonths = r.DefaultTermMonths
	}
	var events []Event
	if s.Invoice != nil && d.Total() != s.Invoice.Amount {
		if s.Paid() {
			return nil, refuse(CodeFeesLocked, "the client paid %d tiyn; a revision cannot change the amount", s.Invoice.Amount)
		}
		events = append(events, InvoiceVoided{InvoiceID: s.Invoice.ID})
	}
	return append(events, DraftPresented{Revision: len(s.Revisions) + 1, Draft: d, At: now}), nil
}

func currentRevision(s *State, rev int) (*Revision, error) {
	cur := s.Current()
	if cur == nil {
		return nil, refuse(CodeNotAllowedInState, "no draft has been presented")
	}
	if rev != cur.Number {
		return nil, refuse(CodeStaleRevision, "revision %d is not the current one (%d)", rev, cur.Number)
	}
	return cur, nil
}

// readyToSign holds the seed's rule: no signature before the current
// revision is approved, and no signature before payment.
func readyToSign(s *State) error {
	if !s.CurrentApproved() {
		return refuse(CodeDraftNotApproved, "the client has not approved the current revision")
	}
	if !s.Paid() {
		return refuse(CodeNotPaid, "the invoice is not paid")
	}
	return nil
}

func checkSignature(sig Signature, signer string, content []byte) error {
	if sig.SignerIIN == "" || sig.SignerIIN != signer {
		return refuse(CodeSignerMismatch, "signed by IIN %q, expected %q", sig.SignerIIN, signer)
	}
	if sig.ContentSHA256 != SHA256Hex(content) {
		return refuse(CodeContentMismatch, "the signature is not over the expected document")
	}
	return nil
}

func checkText(field, v string, required bool) error {
	if required && strings.TrimSpace(v) == "" {
		return refuse(CodeReasonRequired, "%s is required", field)
	}
	if utf8.RuneCountInString(v) > MaxTextLen {
		return refuse(CodeBadRequest, "%s exceeds %d characters", field, MaxTextLen)
	}
	return nil
}

// NormalizePhone accepts a Kazakh mobile number written as +7 7XX…, 8 7XX…
// or 7 7XX…, with spaces, dashes or brackets, and returns it as +77XXXXXXXXX.
func NormalizePhone(p string) (string, bool) {
	var d []byte
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c >= '0' && c <= '9':
			d = append(d, c)
		case c == ' ' || c == '-' || c == '(' || c == ')' || (c == '+' && i == 0):
		default:
			return "", false
		}
	}
	if len(d) == 11 && (d[0] == '8' || d[0] == '7') {
		d = d[1:]
	}
	if len(d) != 10 || d[0] != '7' {
		return "", false
	}
	return "+7" + string(d), true
}
