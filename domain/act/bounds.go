package act

import "time"

// Bounds in time. Senim itself (actor system) sends these commands: an act
// that makes no progress expires, a call nobody answers goes back to the
// client, and an invoice is payable only until it expires (Invoice.ExpiresAt,
// RecordPayment). The shell supplies the facts (when the act last changed);
// the rules here decide with the time passed in.

// Codes of the bounds.
const (
	// CodeInvoiceExpired: a payment after the invoice's expires_at; the bank
	// refunds it.
	CodeInvoiceExpired Code = "invoice_expired"
	// CodeNotIdle: expire_act of an act that changed within act.expire_after.
	CodeNotIdle Code = "not_idle"
	// CodeNoNotaryAvailable is the reason of call_unanswered: no notary took
	// the call within desk.max_wait.
	CodeNoNotaryAvailable Code = "no_notary_available"
)

// PhaseExpired is an unfinished act that made no progress for
// Rules.ExpireAfter: final.
const PhaseExpired Phase = "expired"

// ExpireAct ends an act that has been idle for Rules.ExpireAfter.
// IdleSince is set by the shell from the act's last event, never by the
// sender.
type ExpireAct struct {
	IdleSince time.Time `json:"idle_since"`
}

// GiveUpCall takes a call out of the queue after Rules.CallMaxWait without
// a notary; the client may call again.
type GiveUpCall struct{}

// LimitCall ends a call that has lasted Rules.CallMaxLength since Since,
// when the media server opened its room.
type LimitCall struct {
	Since time.Time `json:"since"`
}

// ReasonMaxLength is CallEnded's reason when LimitCall ended the call.
const ReasonMaxLength = "max_length"

// StopRecording is the media server saying a call's recording stopped
// before the call ended (Reason size_cap: call.max_recording_bytes); the
// call goes on unrecorded, and finish_recording names what was written.
type StopRecording struct {
	Recording string `json:"recording"`
	Reason    string `json:"reason"`
}

// ReasonSizeCap is RecordingStopped's reason when the size cap was reached.
const ReasonSizeCap = "size_cap"

func (StopRecording) CommandName() string { return "stop_recording" }

// RecordingStopped: the recording stopped early; the call went on.
type RecordingStopped struct {
	Recording string    `json:"recording"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
}

func (RecordingStopped) EventType() string { return "recording_stopped" }

func (ExpireAct) CommandName() string  { return "expire_act" }
func (GiveUpCall) CommandName() string { return "give_up_call" }
func (LimitCall) CommandName() string  { return "limit_call" }

// ActExpired: the act ended for lack of progress.
type ActExpired struct {
	IdleSince time.Time `json:"idle_since"`
	At        time.Time `json:"at"`
}

// CallUnanswered: no notary took the call in time (Reason
// no_notary_available); the call is over, and the client may call again.
type CallUnanswered struct {
	Reason      Code      `json:"reason"`
	RequestedAt time.Time `json:"requested_at"`
	At          time.Time `json:"at"`
}

func (ActExpired) EventType() string     { return "act_expired" }
func (CallUnanswered) EventType() string { return "call_unanswered" }

func init() {
	register[ActExpired]()
	register[CallUnanswered]()
	register[RecordingStopped]()
}

// Expirable reports whether an act in phase p may still expire: it has
// begun and is not final. A signed act never expires (its document lives).
func Expirable(p Phase) bool { return p != PhaseNone && !p.Final() }

// InvoiceExpiry is when an invoice issued at now stops being payable
// (nil: never, with no TTL configured).
func (r Rules) InvoiceExpiry(now time.Time) *time.Time {
	if r.InvoiceTTL <= 0 {
		return nil
	}
	t := now.Add(r.InvoiceTTL).UTC()
	return &t
}

func decideBounds(s *State, cmd Command, now time.Time, r Rules) ([]Event, error) {
	switch c := cmd.(type) {
	case ExpireAct:
		if c.IdleSince.IsZero() {
			return nil, refuse(CodeBadRequest, "idle_since missing")
		}
		if r.ExpireAfter <= 0 || now.Sub(c.IdleSince) < r.ExpireAfter {
			return nil, refuse(CodeNotIdle, "the act changed at %s, within %s", c.IdleSince.UTC().Format(time.RFC3339), r.ExpireAfter)
		}
		return []Event{ActExpired{IdleSince: c.IdleSince.UTC(), At: now}}, nil
	case GiveUpCall:
		if s.Call != CallWaiting {
			return nil, refuse(CodeNotAllowedInState, "no call is waiting (call is %q)", s.Call)
		}
		if r.CallMaxWait <= 0 || now.Sub(s.CallRequestedAt) < r.CallMaxWait {
			return nil, refuse(CodeNotAllowedInState, "the call has waited less than %s", r.CallMaxWait)
		}
		return []Event{CallUnanswered{Reason: CodeNoNotaryAvailable, RequestedAt: s.CallRequestedAt, At: now}}, nil
	case LimitCall:
		if s.Call != CallActive {
			return nil, refuse(CodeNotAllowedInState, "no call is active")
		}
		if c.Since.IsZero() || r.CallMaxLength <= 0 || now.Sub(c.Since) < r.CallMaxLength {
			return nil, refuse(CodeNotAllowedInState, "the call has lasted less than %s", r.CallMaxLength)
		}
		return []Event{CallEnded{By: Actor{Role: RoleSystem}.String(), Reason: ReasonMaxLength}}, nil
	case StopRecording:
		rec := s.Recording(c.Recording)
		if rec == nil || c.Reason != ReasonSizeCap {
			return nil, refuse(CodeBadRecording, "no recording %q, or a reason other than %s", c.Recording, ReasonSizeCap)
		}
		if rec.Stopped != "" || !rec.FinishedAt.IsZero() {
			return nil, nil // stopped or finished already: nothing to add
		}
		return []Event{RecordingStopped{Recording: c.Recording, Reason: c.Reason, At: now}}, nil
	}
	return nil, refuse(CodeUnknownCommand, "unknown command %T", cmd)
}
