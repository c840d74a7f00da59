package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/client/keys"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/transport/protocol"
)

// cmdApply is `senim client apply`: an applicant at a terminal gets NUC keys
// remotely (PROTOCOL.md, "Remote EDS issuance"). It starts (or resumes) the
// application, asks for the SMS code, falls back to the registration queue
// when the phone is not in БМГ, uploads the Digital ID files, asks to
// confirm the recognised fields, makes the keys on this machine, sends the
// PKCS#10 requests, follows the status and writes the two PKCS#12 key
// stores. Every sentence comes from the apps' catalogs (apply_text.go).
func cmdApply(args []string) error {
	fs := flag.NewFlagSet("senim client apply", flag.ContinueOnError)
	o := applyOptions{}
	fs.StringVar(&o.server, "server", "127.0.0.1:8080", "Senim's HTTP address")
	fs.StringVar(&o.kind, "kind", "individual", "individual or legal_entity")
	fs.StringVar(&o.template, "template", "", "a legal entity's template: first_head, signing_rights, financial, hr, employee, treasury_client")
	fs.StringVar(&o.bin, "bin", "", "the legal entity's BIN")
	fs.StringVar(&o.iin, "iin", "", "your IIN")
	fs.StringVar(&o.email, "email", "", "e-mail for the certificates (optional)")
	fs.StringVar(&o.document, "document", "id_card", "id_card (front and back) or passport (photo page)")
	fs.StringVar(&o.files.selfie, "selfie", "", "the selfie (JPEG or PNG)")
	fs.StringVar(&o.files.liveness, "liveness", "", "the liveness video (WebM)")
	fs.StringVar(&o.files.front, "front", "", "the ID card's front (JPEG or PNG)")
	fs.StringVar(&o.files.back, "back", "", "the ID card's back (JPEG or PNG)")
	fs.StringVar(&o.files.passport, "passport-page", "", "the passport's photo page (JPEG or PNG)")
	fs.StringVar(&o.out, "out", "", "the directory for your key stores (required)")
	fs.StringVar(&o.passwordFile, "password-file", "", "read the key-store password from this file (scripts) instead of asking")
	fs.StringVar(&o.resume, "resume", "", "go on with an application: APPLICATION:TOKEN as printed at its start")
	fs.StringVar(&o.lang, "lang", "", "ru, kk or en (default: from LANG, else ru)")
	fs.DurationVar(&o.poll, "poll", time.Second, "how often to ask for the status")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.out == "" {
		return &exitError{code: 2, msg: "--out is required: the directory for your key stores"}
	}
	if o.document != "id_card" && o.document != "passport" {
		return &exitError{code: 2, msg: "--document must be id_card or passport"}
	}
	if o.poll <= 0 {
		o.poll = time.Second
	}
	tx, err := loadTexts(pickLang(o.lang))
	if err != nil {
		return err
	}
	a := &applier{o: o, t: tx, out: os.Stdout, in: bufio.NewReader(os.Stdin)}
	return a.run(context.Background())
}

type applyOptions struct {
	server, kind, template, bin, iin, email, document string
	files                                             struct{ selfie, liveness, front, back, passport string }
	out, passwordFile, resume, lang                   string
	poll                                              time.Duration
}

// applier is one run of `senim client apply`.
type applier struct {
	o   applyOptions
	t   texts
	out io.Writer
	in  *bufio.Reader
	c   *client.Client
	app *client.Application

	phoneUnknown bool   // БМГ has no phone for the IIN (phone_not_found)
	shown        string // the last phase printed
	waiting      string // the services last shown as being retried
	password     string
	pending      *keys.Pending
}

func (a *applier) say(key string, args ...string) { fmt.Fprintln(a.out, a.t.f(key, args...)) }

// refusal prints a server's refusal as its sentence in the catalogs.
func (a *applier) refusal(err error) {
	if code := client.CodeOf(err); code != "" {
		a.say("cli.apply.refused", "reason", a.t.code(code, err))
		return
	}
	a.say("cli.apply.refused", "reason", err.Error())
}

func (a *applier) run(ctx context.Context) error {
	base := "http://" + a.o.server
	c, err := client.Dial(ctx, "ws://"+a.o.server+"/ws", client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	a.c = c
	if a.o.resume != "" {
		id, token, ok := strings.Cut(a.o.resume, ":")
		if !ok {
			return &exitError{code: 2, msg: "--resume is APPLICATION:TOKEN, as printed at the start"}
		}
		if a.app, _, err = c.ResumeApplication(ctx, base, id, token); err != nil {
			a.refusal(err)
			return &exitError{code: 1, msg: "resume: " + err.Error()}
		}
		a.say("cli.apply.resumed", "application", id)
	} else {
		start := protocol.IssuanceStart{Kind: a.o.kind, Template: a.o.template, BIN: a.o.bin, IIN: a.o.iin}
		if a.app, err = c.StartApplication(ctx, base, start); err != nil {
			a.refusal(err)
			return &exitError{code: 1, msg: "start: " + err.Error()}
		}
		a.say("cli.apply.started", "application", a.app.ID)
		a.say("cli.apply.resume_hint", "resume", a.app.ID+":"+a.app.Token)
	}
	// The events tell whether БМГ knows the phone (and, on resume, replay
	// from the start).
	if _, err := a.app.Do(ctx, "subscribe", nil); err != nil {
		return err
	}
	for {
		a.drainEvents()
		st, err := a.app.Status(ctx)
		if err != nil {
			return err
		}
		done, err := a.step(ctx, st)
		if done || err != nil {
			return err
		}
	}
}

func (a *applier) drainEvents() {
	for {
		select {
		case e, ok := <-a.c.Events():
			if !ok {
				return
			}
			switch e.Name {
			case "phone_not_found":
				a.phoneUnknown = true
			case "phone_found":
				a.phoneUnknown = false
			}
		default:
			return
		}
	}
}

// step acts on one status: it answers what the application waits for from
// the applicant, or waits a poll interval. done is true at the end.
func (a *applier) step(ctx context.Context, st protocol.IssuanceStatus) (done bool, err error) {
	if st.Phase != a.shown {
		a.shown = st.Phase
		a.say("cli.apply.step", "phase", a.t.get("phase."+st.Phase))
	}
	if w := strings.Join(st.Waiting, ", "); w != a.waiting {
		a.waiting = w
		if w != "" {
			a.say("cli.apply.waiting", "services", w)
		}
	}
	switch issuance.Phase(st.Phase) {
	case issuance.PhasePhone:
		switch {
		case st.PhoneVerified:
		case st.CodeExpiresAt != nil:
			return false, a.askCode(ctx, st)
		case a.phoneUnknown && len(st.Waiting) == 0:
			a.say("cli.apply.not_in_bmg")
			if _, err := a.app.Do(ctx, "request_registration", nil); err != nil {
				a.refusal(err)
				return true, &exitError{code: 1, msg: err.Error()}
			}
			return false, nil
		}
	case issuance.PhaseIdentity:
		if st.Problem != "" && st.Problem != "sms_failed" {
			a.say("cli.apply.problem", "problem", a.t.code(st.Problem, nil))
			return true, &exitError{code: 1, msg: st.Problem}
		}
		if st.Document == "" {
			if _, err := a.app.Do(ctx, "choose_document", map[string]string{"kind": a.o.document}); err != nil {
				a.refusal(err)
				return true, &exitError{code: 1, msg: err.Error()}
			}
			return false, nil
		}
		if err := a.uploads(ctx, st); err != nil {
			return true, err
		}
		if st.Recognised != nil && !st.Confirmed {
			return a.confirm(ctx, st.Recognised)
		}
	case issuance.PhaseApplication:
		return false, a.requests(ctx, st)
	case issuance.PhaseIssued:
		return true, a.store(ctx)
	case issuance.PhaseRejected:
		a.say("cli.apply.rejected", "reason", st.Rejection)
		return true, &exitError{code: 1, msg: "rejected: " + st.Rejection}
	case issuance.PhaseExpired:
		return true, &exitError{code: 1, msg: a.t.get("phase.expired")}
	}
	select {
	case <-time.After(a.o.poll):
	case <-a.c.Done():
		return true, client.ErrClosed
	}
	return false, nil
}

// line reads one answer; the end of the input ends the run.
func (a *applier) line() (string, error) {
	s, err := a.in.ReadString('\n')
	if err != nil && (s == "" || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return "", &exitError{code: 1, msg: "the input ended"}
		}
		return "", err
	}
	return strings.TrimSpace(s), nil
}

// askCode asks for the SMS code with the countdown; "again" asks for a new
// code once the countdown is over, "operator" for the registration call
// (no SMS arrived).
func (a *applier) askCode(ctx context.Context, st protocol.IssuanceStatus) error {
	left := int(time.Until(*st.CodeExpiresAt).Seconds() + 0.999)
	if left > 0 {
		a.say("cli.apply.code_prompt", "phone", st.Phone, "seconds", fmt.Sprint(left), "tries", fmt.Sprint(st.CodeTriesLeft))
	} else {
		a.say("cli.apply.code_expired")
	}
	ans, err := a.line()
	if err != nil {
		return err
	}
	switch strings.ToLower(ans) {
	case "":
		return nil
	case "again":
		if left := int(time.Until(*st.CodeExpiresAt).Seconds() + 0.999); left > 0 {
			a.say("cli.apply.resend_wait", "seconds", fmt.Sprint(left))
			return nil
		}
		if _, err := a.app.Do(ctx, "resend", nil); err != nil {
			a.refusal(err)
			return nil
		}
		a.say("cli.apply.code_sent")
	case "operator":
		if _, err := a.app.Do(ctx, "request_registration", nil); err != nil {
			a.refusal(err)
			return nil
		}
		a.say("cli.apply.not_in_bmg")
	default:
		if _, err := a.app.Do(ctx, "verify_code", protocol.IssuanceCode{Code: ans}); err != nil {
			a.refusal(err)
			if code := client.CodeOf(err); code == "" || code == "internal" {
				return err
			}
			return nil
		}
		a.say("cli.apply.code_ok")
	}
	// Wait for the outcome to show in the status before asking again.
	select {
	case <-time.After(a.o.poll):
	case <-ctx.Done():
	}
	return nil
}

// uploads sends each file the application has not received yet.
func (a *applier) uploads(ctx context.Context, st protocol.IssuanceStatus) error {
	want := []struct{ purpose, path, flag string }{
		{"selfie", a.o.files.selfie, "selfie"},
		{"liveness", a.o.files.liveness, "liveness"},
	}
	if st.Document == "passport" {
		want = append(want, struct{ purpose, path, flag string }{"passport_page", a.o.files.passport, "passport-page"})
	} else {
		want = append(want, struct{ purpose, path, flag string }{"document_front", a.o.files.front, "front"},
			struct{ purpose, path, flag string }{"document_back", a.o.files.back, "back"})
	}
	for _, w := range want {
		if slices.Contains(st.Uploads, w.purpose) {
			continue
		}
		if w.path == "" {
			a.say("cli.apply.file_needed", "flag", "--"+w.flag)
			return &exitError{code: 2, msg: "--" + w.flag + " is required"}
		}
		f, err := os.Open(w.path)
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		err = a.app.Upload(ctx, w.purpose, f)
		f.Close()
		if err != nil {
			a.refusal(err)
			return &exitError{code: 1, msg: w.purpose + ": " + err.Error()}
		}
		a.say("cli.apply.uploaded", "file", w.path)
	}
	return nil
}

// confirm shows the recognised fields and asks the applicant to confirm.
func (a *applier) confirm(ctx context.Context, fields any) (bool, error) {
	a.say("cli.apply.recognised")
	if m, ok := fields.(map[string]any); ok {
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if v := fmt.Sprint(m[k]); v != "" {
				fmt.Fprintf(a.out, "  %-14s %s\n", k, v)
			}
		}
	} else {
		b, _ := json.MarshalIndent(fields, "  ", "  ")
		fmt.Fprintf(a.out, "  %s\n", b)
	}
	a.say("cli.apply.confirm")
	ans, err := a.line()
	if err != nil {
		return true, err
	}
	switch strings.ToLower(ans) {
	case "y", "yes", "да", "д", "иә", "и":
	default:
		a.say("cli.apply.not_confirmed")
		return true, &exitError{code: 1, msg: "the recognised fields were not confirmed"}
	}
	if err := a.app.ConfirmFields(ctx, fields); err != nil {
		a.refusal(err)
		return true, &exitError{code: 1, msg: err.Error()}
	}
	return false, nil
}

// requests makes the keys on this machine (or reopens the ones made before
// a restart), keeps them in the output directory under the applicant's
// password, and sends the PKCS#10 requests.
func (a *applier) requests(ctx context.Context, st protocol.IssuanceStatus) error {
	p, err := a.keys(true)
	if err != nil {
		return err
	}
	reqs, err := p.Requests(keys.Holder{IIN: st.IIN, BIN: st.BIN})
	if err != nil {
		return err
	}
	if err := a.app.SubmitRequests(ctx, a.o.email, reqs); err != nil {
		a.refusal(err)
		return &exitError{code: 1, msg: err.Error()}
	}
	a.say("cli.apply.submitted")
	return nil
}

// keys returns the pending keys: those in the output directory, or, when
// there are none and make is true, new ones saved there.
func (a *applier) keys(create bool) (*keys.Pending, error) {
	if a.pending != nil {
		return a.pending, nil
	}
	if err := a.askPassword(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(a.o.out + string(os.PathSeparator) + keys.PendingAuthFile); err == nil {
		p, err := keys.LoadPending(a.o.out, a.password)
		if err != nil {
			if pki.CodeOf(err) == pki.CodeWrongPassword {
				a.say("cli.apply.wrong_password")
				return nil, &exitError{code: 1, msg: err.Error()}
			}
			return nil, err
		}
		a.pending = p
		return p, nil
	}
	if !create {
		return nil, &exitError{code: 1, msg: "no pending keys in " + a.o.out}
	}
	a.say("cli.apply.generating")
	p, err := keys.Generate()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(a.o.out, 0o700); err != nil {
		return nil, err
	}
	if err := p.SavePending(a.o.out, a.password, time.Now()); err != nil {
		return nil, err
	}
	a.pending = p
	return p, nil
}

// askPassword reads the key-store password: from --password-file, else
// from the terminal without echo (twice), else a line of the input. It is
// checked against NUC's rule.
func (a *applier) askPassword() error {
	if a.password != "" {
		return nil
	}
	a.say("cli.apply.password_rule")
	a.say("cli.apply.password_unrecoverable")
	for {
		var pw string
		switch {
		case a.o.passwordFile != "":
			b, err := os.ReadFile(a.o.passwordFile)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			pw, _, _ = strings.Cut(string(b), "\n")
			pw = strings.TrimRight(pw, "\r")
		case term.IsTerminal(int(os.Stdin.Fd())):
			fmt.Fprint(a.out, a.t.get("cli.apply.password_prompt")+" ")
			b, err := term.ReadPassword(int(os.Stdin.Fd()))
			fmt.Fprintln(a.out)
			if err != nil {
				return err
			}
			fmt.Fprint(a.out, a.t.get("cli.apply.password_again")+" ")
			again, err := term.ReadPassword(int(os.Stdin.Fd()))
			fmt.Fprintln(a.out)
			if err != nil {
				return err
			}
			if string(b) != string(again) {
				a.say("cli.apply.password_differs")
				continue
			}
			pw = string(b)
		default:
			a.say("cli.apply.password_prompt")
			var err error
			if pw, err = a.line(); err != nil {
				return err
			}
		}
		if err := pki.ValidateKeyStorePassword(pw); err != nil {
			a.say("cli.apply.password_weak", "reason", a.t.code(string(pki.CodeOf(err)), err))
			a.say("cli.apply.password_rule")
			if a.o.passwordFile != "" || !term.IsTerminal(int(os.Stdin.Fd())) {
				return &exitError{code: 2, msg: err.Error()}
			}
			continue
		}
		a.password = pw
		return nil
	}
}

// store fetches the certificates and writes the two key stores.
func (a *applier) store(ctx context.Context) error {
	certs, err := a.app.Certificates(ctx)
	if err != nil {
		a.refusal(err)
		return err
	}
	p, err := a.keys(false)
	if err != nil {
		return err
	}
	s, err := p.Store(a.o.out, a.password, certs, nil)
	if err != nil {
		return err
	}
	a.say("cli.apply.stored", "auth", s.Auth, "sign", s.Sign)
	a.say("cli.apply.signin_hint", "server", a.o.server, "auth", s.Auth, "sign", s.Sign)
	return nil
}
