package actors

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/bmg"
	"github.com/senim-kz/senim/ca"
	"github.com/senim-kz/senim/docrecog"
	"github.com/senim-kz/senim/document"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/faceid"
	"github.com/senim-kz/senim/internal/safepath"
	"github.com/senim-kz/senim/legalreg"
	"github.com/senim-kz/senim/mail"
	"github.com/senim-kz/senim/sms"
)

// Side effects of an application's events. The actor never waits on an
// outside system: each call runs in a goroutine that retries "unavailable"
// with a growing pause (the application shows the service as waiting
// meanwhile) and sends its outcome back through the router as outsideDone,
// which the actor turns into a system command with a command id of its
// own, so that a repeat after a restart changes nothing.

// outsideDone is the outcome of an outside call.
type outsideDone struct {
	AppID     string
	Key       string // the running effect
	Service   string
	CommandID string
	Cmd       issuance.Command // nil: nothing to record
	Problem   string           // a refusal the applicant must act on
	Err       error
}

// outsideWaiting says an outside service is (or no longer is) being retried.
type outsideWaiting struct {
	AppID   string
	Service string
	Waiting bool
}

// issuancePoke makes an application resume its pending outside work.
type issuancePoke struct{ AppID string }

// Problems the applicant must act on (IssuanceView.Problem).
const (
	ProblemDocumentUnreadable = "document_unreadable"
	ProblemSMSFailed          = "sms_failed"
)

// maxSMSArg bounds what an SMS quotes (a rejection's reason), in characters.
const maxSMSArg = 150

// Services named in IssuanceView.Waiting.
const (
	ServiceBMG      = "bmg"
	ServiceSMS      = "sms"
	ServiceFaceID   = "faceid"
	ServiceDocRecog = "docrecog"
	ServiceCA       = "ca"
	ServiceMail     = "mail"
)

func unavailable(err error) bool {
	for _, u := range []error{bmg.ErrUnavailable, sms.ErrUnavailable, faceid.ErrUnavailable, docrecog.ErrUnavailable, ca.ErrUnavailable, mail.ErrUnavailable,
		context.DeadlineExceeded} {
		if errors.Is(err, u) {
			return true
		}
	}
	return false
}

// system runs a command as Senim itself.
func (a *appActor) system(c *actor.Context, id string, cmd issuance.Command) IssuanceResult {
	return a.handle(c, IssuanceCommand{AppID: a.id, CommandID: id, Actor: issuance.Actor{Role: issuance.RoleSystem}, Cmd: cmd})
}

// effects starts what the new events call for.
func (a *appActor) effects(c *actor.Context, events []issuance.Event, m IssuanceCommand) {
	for _, e := range events {
		switch e := e.(type) {
		case issuance.Started:
			a.lookupPhone(c)
		case issuance.PhoneFound:
			a.drawCode(c)
		case issuance.CodeIssued:
			if m.Code != "" {
				a.sendSMS(c, "code:"+fmt.Sprint(a.seq), a.state.Phone, a.text("sms.issuance.code", m.Code))
			}
		case issuance.RegistrationRecorded:
			if e.Success {
				iin, phone := a.state.IIN, e.Phone
				a.run(c, "bmg-register", ServiceBMG, func(ctx context.Context) (string, issuance.Command, string, error) {
					return "", nil, "", a.idep.BMG.Register(ctx, iin, phone)
				})
			}
		case issuance.UploadRecorded, issuance.FieldsConfirmed, issuance.LivenessChecked, issuance.DocumentRecognised, issuance.DocumentChosen:
			a.checks(c)
		case issuance.ModerationDecided:
			if e.Approve {
				a.sendSMS(c, "moderated", a.state.Phone, a.text("sms.issuance.moderation_approved", ""))
			}
		case issuance.ApplicationIdentified:
			a.submitToCA(c)
		case issuance.SentToCA:
			a.pollCA(c)
		case issuance.ApplicationRejected:
			a.sendSMS(c, "rejected", a.state.Phone, a.text("sms.issuance.rejected", e.Reason))
		case issuance.CertificatesIssued:
			a.sendSMS(c, "issued", a.state.Phone, a.text("sms.issuance.issued", ""))
			a.sendMail(c, "issued", "mail.issuance.issued")
		}
	}
}

// resume restarts the outside work an unfinished application waits for:
// after a restart, a passivation, or an outage, no application is stuck.
func (a *appActor) resume(c *actor.Context) {
	if !a.loaded {
		return
	}
	s := &a.state
	switch s.Phase {
	case issuance.PhasePhone:
		switch {
		case !s.PhoneLooked:
			a.lookupPhone(c)
		case s.Phone != "" && len(s.CodesSent) == 0:
			a.drawCode(c)
		}
	case issuance.PhaseIdentity:
		a.checks(c)
	case issuance.PhaseIdentified:
		a.submitToCA(c)
	case issuance.PhaseSigning:
		a.pollCA(c)
	case issuance.PhaseIssued:
		a.sendMail(c, "issued", "mail.issuance.issued") // if not told yet
	}
}

func (a *appActor) text(key, arg string) string {
	// A reason may be long; an SMS is short (sms.MaxText in both languages).
	if r := []rune(arg); len(r) > maxSMSArg {
		arg = string(r[:maxSMSArg-1]) + "…"
	}
	if a.idep.Text != nil {
		return a.idep.Text(key, arg)
	}
	return strings.TrimSpace(key + " " + arg)
}

// run calls call in a goroutine, retrying while the service is
// unavailable, and reports the outcome to the application.
func (a *appActor) run(c *actor.Context, key, service string, call func(ctx context.Context) (id string, cmd issuance.Command, problem string, err error)) {
	if a.running[key] {
		return
	}
	a.running[key] = true
	eng, router, app, idep := c.Engine(), c.Parent(), a.id, a.idep
	log := a.log
	go func() {
		wait := idep.RetryMin
		waiting := false
		for {
			if idep.stopped() {
				return
			}
			ctx, cancel := context.WithTimeout(idep.context(), 30*time.Second)
			id, cmd, problem, err := call(ctx)
			cancel()
			if err != nil && unavailable(err) {
				if !waiting {
					waiting = true
					eng.Send(router, outsideWaiting{AppID: app, Service: service, Waiting: true})
				}
				log.Warn().Err(err).Str("service", service).Dur("retry_in", wait).Msg("outside service unavailable; retrying")
				if !idep.sleep(wait) {
					return
				}
				wait = min(wait*2, idep.RetryMax)
				continue
			}
			eng.Send(router, outsideDone{AppID: app, Key: key, Service: service, CommandID: id, Cmd: cmd, Problem: problem, Err: err})
			return
		}
	}()
}

func (a *appActor) outsideDone(c *actor.Context, m outsideDone) {
	delete(a.running, m.Key)
	delete(a.waiting, m.Service)
	if m.Err != nil {
		a.log.Warn().Err(m.Err).Str("service", m.Service).Msg("outside call failed")
	}
	if m.Problem != "" {
		a.problem = m.Problem
	}
	if m.Cmd != nil && a.loaded {
		if res := a.system(c, m.CommandID, m.Cmd); res.Code != "" {
			// What the service found does not fit (a document of another
			// person or kind): the applicant must act on it.
			a.problem = res.Code
			a.log.Info().Str("command", m.Cmd.CommandName()).Str("code", res.Code).Msg("outside outcome not recorded")
		} else {
			a.problem = ""
		}
	}
	// The outcome may leave more to do (a check waiting for this one).
	if m.Cmd != nil && a.state.Phase == issuance.PhaseIdentity {
		a.checks(c)
	}
}

func (a *appActor) lookupPhone(c *actor.Context) {
	iin, seq := a.state.IIN, a.seq
	a.run(c, "bmg-lookup", ServiceBMG, func(ctx context.Context) (string, issuance.Command, string, error) {
		phone, err := a.idep.BMG.Lookup(ctx, iin)
		id := fmt.Sprintf("sys:bmg-lookup-%d", seq)
		switch {
		case errors.Is(err, bmg.ErrNotFound):
			return id, issuance.RecordPhoneLookup{Found: false}, "", nil
		case err != nil:
			return "", nil, "", err
		}
		return id, issuance.RecordPhoneLookup{Found: true, Phone: phone}, "", nil
	})
}

// drawCode draws a six-digit code, records its keyed hash, and sends it
// by SMS once the record is durable (the effect of code_issued).
func (a *appActor) drawCode(c *actor.Context) IssuanceResult {
	code, err := sixDigits()
	if err != nil {
		return IssuanceResult{AppID: a.id, Code: CodeInternal, Message: err.Error()}
	}
	sent := a.codesForIIN()
	return a.handle(c, IssuanceCommand{AppID: a.id, CommandID: fmt.Sprintf("sys:code-%d", a.seq), Actor: issuance.Actor{Role: issuance.RoleSystem},
		Cmd: issuance.IssueCode{Hash: CodeHash(a.idep.CodeKey, a.id, code), SentForIIN: sent}, Code: code})
}

func sixDigits() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// codesForIIN counts the codes sent to this application's IIN by its other
// unfinished applications within the window (this one's the core counts).
func (a *appActor) codesForIIN() int {
	streams, err := a.deps.Log.Lookup(IndexIssuanceIIN, a.state.IIN)
	if err != nil {
		return 0
	}
	since := a.deps.Now().Add(-a.idep.Rules.OTPWindow)
	n := 0
	for _, st := range streams {
		if st == IssuanceStreamOf(a.id) {
			continue
		}
		recs, err := a.deps.Log.ReadAll(st)
		if err != nil {
			continue
		}
		for _, r := range recs {
			if r.Type == (issuance.CodeIssued{}).EventType() && r.At.After(since) {
				n++
			}
		}
	}
	return n
}

func (a *appActor) sendSMS(c *actor.Context, key, phone, text string) {
	if phone == "" || a.idep.SMS == nil {
		return
	}
	a.run(c, "sms-"+key, ServiceSMS, func(ctx context.Context) (string, issuance.Command, string, error) {
		_, err := a.idep.SMS.Send(ctx, phone, text)
		if err != nil && !unavailable(err) {
			return "", nil, ProblemSMSFailed, err
		}
		return "", nil, "", err
	})
}

// sendMail e-mails the applicant, if they gave an address and were not
// told yet, the message of key: the application, the certificates' last
// day (Almaty) and where to download them; the relay's message id is then
// recorded (record_email), so that it goes once, and again after a
// restart until it is recorded. A relay that is down is retried as every
// outside service; one that refuses the message for good (an unknown
// mailbox) is logged: the certificates are issued all the same, and the
// SMS and the app say so.
func (a *appActor) sendMail(c *actor.Context, key, textKey string) {
	s := &a.state
	if !issuance.EmailDue(s) || a.idep.Mail == nil {
		return
	}
	vars := map[string]string{"app": a.id}
	var until time.Time
	for _, crt := range s.Certificates {
		if until.IsZero() || crt.NotAfter.Before(until) {
			until = crt.NotAfter
		}
	}
	if !until.IsZero() {
		vars["until"] = document.Date(until)
	}
	m := mail.Message{To: s.Email, Subject: textKey, Body: textKey + " " + a.id}
	if a.idep.MailText != nil {
		m.Subject, m.Body = a.idep.MailText(textKey, vars)
	}
	log := a.log
	a.run(c, "mail-"+key, ServiceMail, func(ctx context.Context) (string, issuance.Command, string, error) {
		id, err := a.idep.Mail.Send(ctx, m)
		switch {
		case err != nil && !unavailable(err):
			log.Warn().Err(err).Msg("the e-mail was refused; the applicant is not told by e-mail")
			return "", nil, "", nil
		case err != nil:
			return "", nil, "", err
		}
		return "sys:mail-" + key, issuance.RecordEmail{MessageID: id}, "", nil
	})
}

// file reads an upload of the application back, checking its SHA-256.
func (a *appActor) file(u issuance.Upload) ([]byte, error) {
	p, err := safepath.Join(a.idep.FilesDir, a.id, u.Name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if issuance.SHA256Hex(b) != u.SHA256 {
		return nil, fmt.Errorf("upload %s does not match its SHA-256", u.Name)
	}
	return b, nil
}

// checks starts the Digital ID checks whose inputs are all there.
func (a *appActor) checks(c *actor.Context) {
	s := &a.state
	if s.Phase != issuance.PhaseIdentity {
		return
	}
	if v, ok := s.Uploads[issuance.PurposeLiveness]; ok && s.Liveness == nil {
		a.run(c, "liveness-"+v.SHA256, ServiceFaceID, func(ctx context.Context) (string, issuance.Command, string, error) {
			b, err := a.file(v)
			if err != nil {
				return "", nil, "", err
			}
			l, err := a.idep.FaceID.Liveness(ctx, bytes.NewReader(b))
			if err != nil {
				return "", nil, "", err
			}
			return "sys:liveness-" + v.SHA256[:16], issuance.RecordLiveness{Passed: l.Live, Detail: l.Detail}, "", nil
		})
	}
	if s.Recognised == nil && s.Document != "" {
		var pages []issuance.Upload
		switch s.Document {
		case issuance.DocumentIDCard:
			pages = []issuance.Upload{s.Uploads[issuance.PurposeDocumentFront], s.Uploads[issuance.PurposeDocumentBack]}
		case issuance.DocumentPassport:
			pages = []issuance.Upload{s.Uploads[issuance.PurposePassportPage]}
		}
		complete, key := true, "recognise"
		for _, p := range pages {
			if p.SHA256 == "" {
				complete = false
			}
			key += "-" + p.SHA256
		}
		kind := s.Document
		if complete {
			a.run(c, key, ServiceDocRecog, func(ctx context.Context) (string, issuance.Command, string, error) {
				var raw [][]byte
				for _, p := range pages {
					b, err := a.file(p)
					if err != nil {
						return "", nil, "", err
					}
					raw = append(raw, b)
				}
				f, err := a.idep.DocRecog.Recognise(ctx, kind, raw...)
				switch {
				case errors.Is(err, docrecog.ErrUnreadable), errors.Is(err, docrecog.ErrBadInput):
					return "", nil, ProblemDocumentUnreadable, err
				case err != nil:
					return "", nil, "", err
				}
				return "sys:recognise-" + issuance.SHA256Hex([]byte(key))[:16], issuance.RecordRecognition{Fields: f}, "", nil
			})
		}
	}
	if sf, ok := s.Uploads[issuance.PurposeSelfie]; ok && s.Liveness != nil && s.Confirmed && s.FaceMatch == nil {
		iin := s.IIN
		a.run(c, "match-"+sf.SHA256, ServiceFaceID, func(ctx context.Context) (string, issuance.Command, string, error) {
			b, err := a.file(sf)
			if err != nil {
				return "", nil, "", err
			}
			m, err := a.idep.FaceID.Match(ctx, iin, bytes.NewReader(b))
			if err != nil {
				return "", nil, "", err
			}
			return "sys:match-" + sf.SHA256[:16], issuance.RecordFaceMatch{Match: m.Match, Detail: m.Detail}, "", nil
		})
	}
}

// CSRPath is where an application's certificate request for purpose is
// kept (its SHA-256 is in the log).
func CSRPath(filesDir, appID string, purpose issuance.KeyPurpose) (string, error) {
	return safepath.Join(filesDir, appID, "csr-"+string(purpose)+".der")
}

func (a *appActor) submitToCA(c *actor.Context) {
	if a.idep.CA == nil {
		return
	}
	s := a.state
	req := ca.Request{ApplicationID: a.id, Template: s.Template, Email: s.Email, RemoteIdentified: true}
	if s.Subject != nil {
		req.Subject = *s.Subject
	}
	a.run(c, "ca-submit", ServiceCA, func(ctx context.Context) (string, issuance.Command, string, error) {
		req := req // each attempt builds its own list of keys
		req.Keys = nil
		if s.Kind == issuance.KindLegalEntity && a.idep.LegalEntities != nil {
			// The certificate's O= is the organisation's name as the
			// register keeps it, read when the request goes out.
			e, err := legalreg.LookupActive(ctx, a.idep.LegalEntities, s.BIN)
			switch {
			case errors.Is(err, legalreg.ErrUnavailable):
				return "", nil, "", fmt.Errorf("%w: %v", ca.ErrUnavailable, err) // retried
			case err != nil:
				return "sys:entity-refused", issuance.Reject{Reason: "the register of legal entities: " + err.Error()}, "", nil
			}
			req.Organization = e.Organization()
		}
		for _, q := range s.CSRs {
			p, err := CSRPath(a.idep.FilesDir, a.id, q.Purpose)
			if err != nil {
				return "", nil, "", err
			}
			der, err := os.ReadFile(p)
			if err != nil {
				return "", nil, "", err
			}
			if issuance.SHA256Hex(der) != q.SHA256 {
				return "", nil, "", fmt.Errorf("the stored %s request does not match its SHA-256", q.Purpose)
			}
			req.Keys = append(req.Keys, ca.KeyRequest{Purpose: q.Purpose, DER: der})
		}
		ref, err := a.idep.CA.Submit(ctx, req)
		var refused *ca.Refused
		switch {
		case errors.As(err, &refused):
			return "sys:ca-refused", issuance.Reject{Reason: refused.Reason}, "", nil
		case err != nil && !unavailable(err):
			// The CA will not take this request as it is: the application
			// ends with the CA's reason rather than wait for ever.
			return "sys:ca-refused", issuance.Reject{Reason: "the CA did not take the request: " + err.Error()}, "", nil
		case err != nil:
			return "", nil, "", err
		}
		return "sys:ca-submit", issuance.SendToCA{Reference: ref}, "", nil
	})
}

func (a *appActor) pollCA(c *actor.Context) {
	if a.idep.CA == nil {
		return
	}
	ref := a.state.CAReference
	a.run(c, "ca-fetch", ServiceCA, func(ctx context.Context) (string, issuance.Command, string, error) {
		for {
			certs, err := a.idep.CA.Fetch(ctx, ref)
			var refused *ca.Refused
			switch {
			case errors.Is(err, ca.ErrPending):
				if !a.idep.sleep(a.idep.CAPoll) {
					return "", nil, "", context.Canceled
				}
				if ctx.Err() != nil {
					return "", nil, "", ca.ErrUnavailable // a fresh context on the next round
				}
				continue
			case errors.As(err, &refused):
				return "sys:ca-refused", issuance.Reject{Reason: refused.Reason}, "", nil
			case err != nil:
				return "", nil, "", err
			}
			return "sys:ca-certificates", issuance.RecordCertificates{Certificates: certs}, "", nil
		}
	})
}
