package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/client/keys"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/evidence"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/transport/server"
)

// staffIn signs in a staff account with roles (created on first use).
func (w *world) staffIn(login string, roles ...string) *applicant {
	w.t.Helper()
	if err := accounts.Add(server.AccountsPath(w.dir), accounts.Notary{Login: login, Name: "Сотрудник " + login, IIN: notaryIIN,
		Roles: roles}, login+"-password", time.Now()); err != nil {
		w.t.Fatal(err)
	}
	w.srv.Accounts.Refresh()
	c := w.dial()
	if _, err := c.SignInPassword(w.ctx(), login, login+"-password"); err != nil {
		w.t.Fatal(err)
	}
	return &applicant{w: w, c: c}
}

func (a *applicant) cases(name string) []protocol.IssuanceCase {
	a.w.t.Helper()
	var out struct {
		Cases []protocol.IssuanceCase `json:"cases"`
	}
	saved := a.app
	a.app = ""
	defer func() { a.app = saved }()
	if err := json.Unmarshal(a.must(name, nil).Body, &out); err != nil {
		a.w.t.Fatal(err)
	}
	return out.Cases
}

// nextOffer waits for the next offer to the staff session.
func (a *applicant) nextOffer() protocol.Envelope {
	a.w.t.Helper()
	return next(a.w.t, a.c.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer })
}

// on is the staff session pointed at application app.
func (a *applicant) on(app string) *applicant {
	b := *a
	b.app = app
	return &b
}

func TestIssuanceModerationApprovesAndRejects(t *testing.T) {
	w := newWorld(t)
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	// The face does not match: the case goes to moderation.
	first := w.toApplication(clientIIN, "SENIM-FACE:MISMATCH")
	first.waitPhase(issuance.PhaseModeration)
	second := w.toApplication(clientIIN, "SENIM-FACE:NOLIVE")
	second.waitPhase(issuance.PhaseModeration)

	// Only moderators see the queue; an applicant cannot moderate.
	notary := w.staffIn("registrar1", accounts.RoleRegistrar)
	notary.refused("moderation_queue", nil, "forbidden")
	first.refused("take_moderation", nil, "forbidden")

	mod := w.staffIn("dana", accounts.RoleModerator)
	queue := mod.cases("moderation_queue")
	if len(queue) != 2 || queue[0].Application != first.app || queue[0].Reason != "face_mismatch" || queue[1].Reason != "liveness_failed" {
		t.Fatalf("moderation queue (oldest first): %+v", queue)
	}
	// In operator mode each moderator is offered one case, the oldest first.
	mod.refused("take_moderation", nil, "bad_message") // no act
	mod.on(first.app).refused("take_moderation", nil, "forbidden")
	mod.must("available", nil)
	if off := mod.nextOffer(); off.Act != first.app {
		t.Fatalf("the first offer is %s, want the oldest case %s", off.Act, first.app)
	}
	other := w.staffIn("erlan", accounts.RoleModerator)
	other.must("available", nil)
	if off := other.nextOffer(); off.Act != second.app {
		t.Fatalf("the second moderator is offered %s, want %s", off.Act, second.app)
	}

	// Approve the first: identity verified, the applicant is told by SMS, and goes on to the keys.
	m1 := mod.on(first.app)
	m1.refused("moderate", protocol.IssuanceDecision{Approve: true, Reason: "похож"}, "not_allowed_in_state")
	m1.must("take_moderation", nil)
	other.on(first.app).refused("take_moderation", nil, "forbidden")
	// The moderator sees the applicant's selfie (once per address); a registrar does not.
	var file struct {
		URL    string `json:"url"`
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal(m1.must("file", map[string]string{"purpose": "selfie"}).Body, &file); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(w.http + file.URL)
	if err != nil {
		t.Fatal(err)
	}
	selfie, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" || !bytes.Equal(selfie, jpegWith("SENIM-FACE:MISMATCH")) {
		t.Fatalf("the selfie: HTTP %d %s, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(selfie))
	}
	if res, err := http.Get(w.http + file.URL); err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("the address a second time: %v %v", res, err)
	}
	notary.on(first.app).refused("file", map[string]string{"purpose": "selfie"}, "forbidden")
	var seen struct {
		Recognised struct{ IIN string } `json:"recognised"`
		Registry   struct{ IIN, Surname string }
	}
	if err := json.Unmarshal(m1.must("status", nil).Body, &seen); err != nil || seen.Registry.IIN != clientIIN ||
		seen.Registry.Surname != "Сейтқали" || seen.Recognised.IIN != clientIIN {
		t.Fatalf("the moderator's view: %+v %v", seen, err)
	}
	m1.refused("file", map[string]string{"purpose": "passport_page"}, "missing_upload")
	m1.refused("moderate", protocol.IssuanceDecision{Approve: true}, "reason_required")
	m1.must("moderate", protocol.IssuanceDecision{Approve: true, Reason: "лицо совпадает с фото в удостоверении"})
	first.waitPhase(issuance.PhaseApplication)
	// The applicant's side is the key tool (client/keys): its requests,
	// then its NUC key stores with the certificates, and a sign-in with them.
	pending, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := pending.Requests(keys.Holder{IIN: clientIIN})
	if err != nil {
		t.Fatal(err)
	}
	var csrs []protocol.IssuanceCSR
	for _, r := range reqs {
		csrs = append(csrs, protocol.IssuanceCSR{Purpose: string(r.Purpose), DER: base64.StdEncoding.EncodeToString(r.DER)})
	}
	first.must("submit_requests", protocol.IssuanceRequests{CSRs: csrs})
	first.waitPhase(issuance.PhaseIssued)
	var got struct {
		Certificates []protocol.IssuanceCertificate `json:"certificates"`
	}
	if err := json.Unmarshal(first.must("certificates", nil).Body, &got); err != nil {
		t.Fatal(err)
	}
	var certs []issuance.Certificate
	for _, c := range got.Certificates {
		der, _ := base64.StdEncoding.DecodeString(c.DER)
		certs = append(certs, issuance.Certificate{Purpose: issuance.KeyPurpose(c.Purpose), Serial: c.Serial, NotAfter: c.NotAfter, DER: der})
	}
	stored, err := pending.Store(t.TempDir(), "senim2026", certs, w.client[0].Chain)
	if err != nil {
		t.Fatal(err)
	}
	authKey, err := pki.LoadPKCS12(stored.Auth, "senim2026")
	if err != nil {
		t.Fatal(err)
	}
	signKey, err := pki.LoadPKCS12(stored.Sign, "senim2026")
	if err != nil {
		t.Fatal(err)
	}
	if wel, err := w.dial().SignInEDS(w.ctx(), "client", client.KeySigner{authKey, signKey}); err != nil || wel.IIN != clientIIN {
		t.Fatalf("sign-in with the new key store: %+v %v", wel, err)
	}
	// A moderator no longer reads a case that left moderation, unless it was theirs.
	other.on(first.app).refused("status", nil, "forbidden")

	// Reject the second with a reason: it ends, and the SMS says why.
	m2 := other.on(second.app)
	m2.must("take_moderation", nil)
	// A long reason is kept whole in the application, and quoted in the SMS as far as it fits.
	reason := "видео не показывает живого человека" + strings.Repeat(", подробности проверки", 40)
	m2.must("moderate", protocol.IssuanceDecision{Approve: false, Reason: reason})
	st := second.waitPhase(issuance.PhaseRejected)
	if st.Rejection != reason || st.Status != "rejected" {
		t.Fatalf("rejected: %+v", st)
	}
	second.refused("submit_requests", protocol.IssuanceRequests{}, "not_allowed_in_state")
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		var approved, rejected bool
		for _, m := range w.srv.IssuanceDev.SMS.Messages(applicantPhone) {
			approved = approved || strings.Contains(m.Text, "проверка личности пройдена")
			rejected = rejected || strings.Contains(m.Text, "видео не показывает живого человека")
		}
		if !approved || !rejected {
			return errors.New("the moderation outcomes were not sent by SMS")
		}
		return nil
	})
	if q := mod.cases("moderation_queue"); len(q) != 0 {
		t.Fatalf("the queue after both decisions: %+v", q)
	}
}

// Not in БМГ: the applicant asks for a registration call; a registrar takes
// it from the queue, records the phone (the code read aloud), and БМГ gets
// the phone; then Digital ID as usual.
func TestIssuanceRegistrationByAnOperator(t *testing.T) {
	w := newWorld(t)
	a := w.startApplication(clientIIN)
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		_, err := a.ask("resend", nil)
		if client.CodeOf(err) != "phone_unknown" {
			return fmt.Errorf("resend before the БМГ answer: %v", err)
		}
		return nil
	})
	a.refused("verify_code", protocol.IssuanceCode{Code: "123456"}, "no_code")
	a.must("request_registration", nil)
	a.waitPhase(issuance.PhaseRegistrationWaiting)

	mod := w.staffIn("dana", accounts.RoleModerator)
	mod.refused("registration_queue", nil, "forbidden")
	reg := w.staffIn("registrar1", accounts.RoleRegistrar)
	queue := reg.cases("registration_queue")
	if len(queue) != 1 || queue[0].Application != a.app || queue[0].IIN != clientIIN {
		t.Fatalf("registration queue: %+v", queue)
	}
	reg.must("available", nil)
	if off := reg.nextOffer(); off.Act != a.app {
		t.Fatalf("offered %s", off.Act)
	}
	r := reg.on(a.app)
	r.must("take_registration", nil)
	reg2 := w.staffIn("registrar2", accounts.RoleRegistrar)
	reg2.on(a.app).refused("take_registration", nil, "forbidden")
	reg2.on(a.app).refused("record_registration",
		protocol.IssuanceDecision{Success: true, Phone: applicantPhone}, "wrong_operator")
	// A failed call puts the applicant back to the phone step, with the reason.
	r.must("record_registration", protocol.IssuanceDecision{Success: false, Reason: "связь прервалась"})
	a.waitPhase(issuance.PhasePhone)
	a.must("request_registration", nil)
	if off := reg.nextOffer(); off.Act != a.app {
		t.Fatalf("offered again: %s", off.Act)
	}
	r.must("take_registration", nil)

	// The call: the applicant and the registrar hear each other through
	// the SFU; the other registrar may not join.
	ctx := w.ctx()
	regStream, appStream := sfu.StreamID("operator:registrar1"), sfu.StreamID("applicant")
	rCall, err := reg.c.StartCall(ctx, a.app, webrtc.Configuration{}, regStream, 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer rCall.Close()
	aCall, err := a.c.StartCall(ctx, a.app, webrtc.Configuration{}, appStream, 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer aCall.Close()
	hears(t, aCall, regStream)
	hears(t, rCall, appStream)
	if _, err := reg2.c.JoinCall(ctx, a.app, false); err == nil {
		t.Fatal("another registrar joined the call")
	}
	r.refused("record_registration", protocol.IssuanceDecision{Success: true, Phone: "+1 555 0100"}, "bad_phone")
	r.must("record_registration", protocol.IssuanceDecision{Success: true, Phone: applicantPhone})
	st := a.waitPhase(issuance.PhaseIdentity)
	// The call's room closes with the call.
	for _, call := range []*client.Call{aCall, rCall} {
		select {
		case <-call.Closed:
		case <-time.After(30 * time.Second):
			t.Fatal("the call's room did not close after the registration")
		}
	}
	if !st.PhoneVerified || !strings.HasSuffix(st.Phone, "4567") {
		t.Fatalf("after the call: %+v", st)
	}
	// The call was recorded as an act's is: its files are under the
	// application's, and their SHA-256 are in its log (call_recorded).
	var rec issuance.CallRecorded
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		recs, err := w.srv.Log.ReadVerified("issuance/" + a.app)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Type == "call_recorded" {
				return json.Unmarshal(r.Payload, &rec)
			}
		}
		return errors.New("no call_recorded in the application's log")
	})
	kinds := map[string]int{}
	for _, f := range rec.Files {
		data, err := os.ReadFile(filepath.Join(server.IssuanceFilesPath(w.dir), a.app, "calls", rec.Recording, f.File))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(data)) != f.Bytes || f.Bytes == 0 {
			t.Errorf("%s: event %s %d bytes, file %x %d bytes", f.File, f.SHA256, f.Bytes, sum, len(data))
		}
		kinds[f.Participant+"/"+f.Kind]++
	}
	if kinds["applicant/video"] != 1 || kinds["applicant/audio"] != 1 || kinds["operator:registrar1/video"] != 1 || kinds["operator:registrar1/audio"] != 1 {
		t.Fatalf("recorded files %+v", rec.Files)
	}
	// The application's evidence names the recording, and its files verify.
	recs, err := w.srv.Log.ReadVerified("issuance/" + a.app)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := evidence.BuildApplication(recs)
	if err != nil {
		t.Fatal(err)
	}
	items, err := evidence.VerifyApplication(pkg, nil)
	if err != nil || !evidence.Passed(items) {
		t.Fatalf("the application's evidence: %+v %v", items, err)
	}
	items, err = evidence.VerifyApplicationFiles(pkg, filepath.Join(server.IssuanceFilesPath(w.dir), a.app))
	if err != nil || !evidence.Passed(items) || len(items) != len(rec.Files)+len(st.Uploads) {
		t.Fatalf("the application's stored files: %+v %v", items, err)
	}
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		p, err := w.srv.IssuanceDev.BMG.Lookup(w.ctx(), clientIIN)
		if err != nil || p != applicantPhone {
			return fmt.Errorf("БМГ has %q, %v", p, err)
		}
		return nil
	})
}

// callRecording waits for the n-th call_recorded of app in the log and
// checks its files on disk against it.
func (w *world) callRecording(app string, n int) issuance.CallRecorded {
	w.t.Helper()
	var rec issuance.CallRecorded
	testtool.Eventually(w.t, 30*time.Second, 20*time.Millisecond, func() error {
		recs, err := w.srv.Log.ReadVerified("issuance/" + app)
		if err != nil {
			return err
		}
		seen := 0
		for _, r := range recs {
			if r.Type == "call_recorded" {
				if seen++; seen == n {
					return json.Unmarshal(r.Payload, &rec)
				}
			}
		}
		return fmt.Errorf("%d call_recorded in the application's log, want %d", seen, n)
	})
	for _, f := range rec.Files {
		data, err := os.ReadFile(filepath.Join(server.IssuanceFilesPath(w.dir), app, "calls", rec.Recording, f.File))
		if err != nil {
			w.t.Fatal(err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(data)) != f.Bytes || f.Bytes == 0 {
			w.t.Errorf("%s: event %s %d bytes, file %x %d bytes", f.File, f.SHA256, f.Bytes, sum, len(data))
		}
	}
	return rec
}

// A server stopped in the middle of a registration call: at its next start
// the call's files are recorded all the same (salvaged, as acts' are), the
// call goes on in a new room, and that one is recorded when it ends.
func TestIssuanceCallRecordedAcrossARestart(t *testing.T) {
	w := newWorld(t)
	a := w.startApplication(clientIIN)
	a.waitPhaseWith(func(st protocol.IssuanceStatus) bool { return st.Seq >= 2 }) // БМГ answered: no phone
	a.must("request_registration", nil)
	reg := w.staffIn("registrar1", accounts.RoleRegistrar)
	reg.must("available", nil)
	if off := reg.nextOffer(); off.Act != a.app {
		t.Fatalf("offered %s", off.Act)
	}
	reg.on(a.app).must("take_registration", nil)
	func() {
		ctx := w.ctx()
		regStream, appStream := sfu.StreamID("operator:registrar1"), sfu.StreamID("applicant")
		rCall, err := reg.c.StartCall(ctx, a.app, webrtc.Configuration{}, regStream, 300_000)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rCall.Close() })
		aCall, err := a.c.StartCall(ctx, a.app, webrtc.Configuration{}, appStream, 300_000)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { aCall.Close() })
		hears(t, aCall, regStream)
		hears(t, rCall, appStream)
	}()
	w.restart(t, func(*config.Config) {})
	first := w.callRecording(a.app, 1)
	if len(first.Files) < 4 {
		t.Fatalf("salvaged recording %+v", first)
	}
	a.c = w.dial()
	a.must("resume", protocol.IssuanceResume{Token: a.token})
	reg.c = w.dial()
	if _, err := reg.c.SignInPassword(w.ctx(), "registrar1", "registrar1-password"); err != nil {
		t.Fatal(err)
	}
	// The registrar's console finds the call it holds, and both rejoin it
	// (a new room) from their new sessions: each hears the other.
	var q struct {
		Held []protocol.IssuanceCase `json:"held"`
	}
	if err := json.Unmarshal(reg.must("registration_queue", nil).Body, &q); err != nil || len(q.Held) != 1 || q.Held[0].Application != a.app {
		t.Fatalf("the registrar holds %+v (%v), want %s", q.Held, err, a.app)
	}
	aCall, err := a.c.StartCall(w.ctx(), a.app, webrtc.Configuration{}, sfu.StreamID("applicant"), 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer aCall.Close()
	rCall, err := reg.c.StartCall(w.ctx(), a.app, webrtc.Configuration{}, sfu.StreamID("operator:registrar1"), 300_000)
	if err != nil {
		t.Fatalf("the registrar rejoins the call after the restart: %v", err)
	}
	defer rCall.Close()
	hears(t, aCall, sfu.StreamID("operator:registrar1"))
	hears(t, rCall, sfu.StreamID("applicant"))
	// Another registrar may not join it.
	other := w.staffIn("registrar2", accounts.RoleRegistrar)
	if _, err := other.c.StartCall(w.ctx(), a.app, webrtc.Configuration{}, sfu.StreamID("operator:registrar2"), 300_000); client.CodeOf(err) != string(issuance.CodeForbidden) {
		t.Fatalf("another registrar joins the call: %v", err)
	}
	// The new room records: its track files have bytes on disk.
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		calls := filepath.Join(server.IssuanceFilesPath(w.dir), a.app, "calls")
		dirs, _ := os.ReadDir(calls)
		for _, d := range dirs {
			if d.Name() == first.Recording {
				continue
			}
			files, _ := os.ReadDir(filepath.Join(calls, d.Name()))
			written := 0
			for _, f := range files {
				if i, err := f.Info(); err == nil && i.Size() > 0 && !strings.HasSuffix(f.Name(), ".part") {
					written++
				}
			}
			if written >= 2 {
				return nil
			}
		}
		return errors.New("the new room has not written the applicant's tracks yet")
	})
	reg.on(a.app).must("record_registration", protocol.IssuanceDecision{Success: true, Phone: applicantPhone})
	a.waitPhase(issuance.PhaseIdentity)
	if second := w.callRecording(a.app, 2); second.Recording == first.Recording {
		t.Fatalf("the second room's recording %+v (first %s)", second, first.Recording)
	}
}

// The queues are rebuilt from the log at start: after a restart the waiting
// cases are offered again, oldest first, and a case taken before the
// restart keeps its moderator busy.
func TestIssuanceQueuesAfterARestart(t *testing.T) {
	w := newWorld(t)
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	first := w.toApplication(clientIIN, "SENIM-FACE:MISMATCH")
	first.waitPhase(issuance.PhaseModeration)
	second := w.toApplication(clientIIN, "SENIM-FACE:MISMATCH")
	second.waitPhase(issuance.PhaseModeration)
	mod := w.staffIn("dana", accounts.RoleModerator)
	mod.must("available", nil)
	if off := mod.nextOffer(); off.Act != first.app {
		t.Fatalf("offered %s", off.Act)
	}
	mod.on(first.app).must("take_moderation", nil)

	w.restart(t, func(*config.Config) {})
	mod = &applicant{w: w, c: w.dial()}
	if _, err := mod.c.SignInPassword(w.ctx(), "dana", "dana-password"); err != nil {
		t.Fatal(err)
	}
	other := &applicant{w: w, c: w.dial()}
	if err := accounts.Add(server.AccountsPath(w.dir), accounts.Notary{Login: "erlan", Name: "Ерлан", IIN: notaryIIN,
		Roles: []string{accounts.RoleModerator}}, "erlan-password", time.Now()); err != nil {
		t.Fatal(err)
	}
	w.srv.Accounts.Refresh()
	if _, err := other.c.SignInPassword(w.ctx(), "erlan", "erlan-password"); err != nil {
		t.Fatal(err)
	}
	// dana still holds the first case: the second goes to erlan, not to her.
	mod.must("available", nil)
	other.must("available", nil)
	if off := other.nextOffer(); off.Act != second.app {
		t.Fatalf("after the restart erlan is offered %s, want %s", off.Act, second.app)
	}
	mod.on(first.app).must("moderate", protocol.IssuanceDecision{Approve: true, Reason: "совпадает"})
	first.c = w.dial()
	first.must("resume", protocol.IssuanceResume{Token: first.token})
	first.waitPhase(issuance.PhaseApplication)
}
