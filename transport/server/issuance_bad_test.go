package server_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/transport/server"
)

// Bad input on the way to the keys: every one gets its stable code, and
// nothing already recorded is lost.

func (a *applicant) refused(name string, body any, code string) {
	a.w.t.Helper()
	_, err := a.ask(name, body)
	if got := client.CodeOf(err); got != code {
		a.w.t.Fatalf("%s: want %s, got %v", name, code, err)
	}
}

func TestIssuanceWrongCodesExpiryAndResend(t *testing.T) {
	clk := &offsetClock{}
	w := newWorldAt(t, clk.now)
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	a := w.startApplication(clientIIN)
	code := w.waitCode(applicantPhone, 1)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	// Three wrong tries void the code: even the right one is then refused.
	a.refused("verify_code", protocol.IssuanceCode{Code: wrong}, "wrong_code")
	a.refused("verify_code", protocol.IssuanceCode{Code: wrong}, "wrong_code")
	if st := a.status(); st.CodeTriesLeft != 1 {
		t.Fatalf("after two wrong tries: %+v", st)
	}
	a.refused("verify_code", protocol.IssuanceCode{Code: wrong}, "wrong_code")
	a.refused("verify_code", protocol.IssuanceCode{Code: code}, "no_code")
	a.refused("verify_code", protocol.IssuanceCode{Code: "12ab"}, "wrong_code")

	// A voided code may be replaced at once; a live one not before its countdown.
	a.must("resend", nil)
	code = w.waitCode(applicantPhone, 2)
	a.refused("resend", nil, "resend_too_early")
	clk.jump(121 * time.Second)
	a.refused("verify_code", protocol.IssuanceCode{Code: code}, "code_expired")

	// Five codes an hour per IIN, then otp_locked, here and in another application.
	for n := 3; n <= 5; n++ {
		a.must("resend", nil)
		w.waitCode(applicantPhone, n)
		clk.jump(121 * time.Second)
	}
	a.refused("resend", nil, "otp_locked")
	b := w.startApplication(clientIIN)
	b.waitPhaseWith(func(st protocol.IssuanceStatus) bool { return st.Phone != "" })
	b.refused("resend", nil, "otp_locked")
	if n := len(w.smsCodes(applicantPhone)); n != 5 {
		t.Fatalf("%d codes sent, want 5", n)
	}
	// An hour later the person may try again; the right code then works.
	clk.jump(time.Hour)
	b.must("resend", nil)
	b.must("verify_code", protocol.IssuanceCode{Code: w.waitCode(applicantPhone, 6)})
	b.waitPhase(issuance.PhaseIdentity)
}

// waitPhaseWith polls the status until ok.
func (a *applicant) waitPhaseWith(ok func(protocol.IssuanceStatus) bool) protocol.IssuanceStatus {
	a.w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := a.status()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			a.w.t.Fatalf("status never matched: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIssuanceBadRequestsAndUploads(t *testing.T) {
	w := newWorld(t, func(c *config.Config) { c.Issuance.MaxImageBytes = 64 << 10 })
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	// Start: a bad IIN, a bad kind.
	c := &applicant{w: w, c: w.dial()}
	c.refused("start", protocol.IssuanceStart{Kind: "individual", IIN: "12345678901"}, "bad_iin")
	// A mistyped digit (the check digit does not match) has its own codes.
	badDigit := func(n string) string { return n[:11] + fmt.Sprint((int(n[11]-'0')+1)%10) }
	c.refused("start", protocol.IssuanceStart{Kind: "individual", IIN: badDigit(clientIIN)}, "bad_iin_checksum")
	c.refused("start", protocol.IssuanceStart{Kind: "legal_entity", Template: "employee", BIN: badDigit(orgBIN), IIN: clientIIN}, "bad_bin_checksum")
	c.refused("start", protocol.IssuanceStart{Kind: "robot", IIN: clientIIN}, "bad_kind")

	a := w.toApplication(clientIIN, "SENIM-FACE:MATCH")
	a.waitPhase(issuance.PhaseApplication)

	// Uploads after Digital ID, or without the token, or the wrong type.
	if status, out := a.upload("selfie", jpegWith("x")); status != http.StatusConflict || out["code"] != "not_allowed_in_state" {
		t.Fatalf("an upload after Digital ID: %d %v", status, out)
	}
	stranger := *a
	stranger.token = "not-the-token"
	if status, out := stranger.upload("selfie", jpegWith("x")); status != http.StatusForbidden || out["code"] != "bad_token" {
		t.Fatalf("an upload with another token: %d %v", status, out)
	}

	// Another application, for the upload checks while Digital ID is under way.
	b := w.startApplication(clientIIN)
	b.must("verify_code", protocol.IssuanceCode{Code: w.waitCode(applicantPhone, 2)})
	b.waitPhase(issuance.PhaseIdentity)
	if status, out := b.upload("selfie", append(jpegWith("big"), make([]byte, 64<<10)...)); status != http.StatusRequestEntityTooLarge || out["code"] != "upload_too_large" {
		t.Fatalf("a photo over the limit: %d %v", status, out)
	}
	if status, out := b.upload("selfie", []byte("GIF89a not a photo we take")); status != http.StatusUnsupportedMediaType || out["code"] != "upload_type" {
		t.Fatalf("a GIF selfie: %d %v", status, out)
	}
	if status, out := b.upload("liveness", jpegWith("a photo as the video")); status != http.StatusUnsupportedMediaType || out["code"] != "upload_type" {
		t.Fatalf("a photo as the liveness video: %d %v", status, out)
	}
	if status, out := b.upload("..%2F..%2Fetc", jpegWith("x")); status < 400 || status >= 500 {
		t.Fatalf("a purpose naming a path: %d %v", status, out)
	}
	if status, out := b.upload("document_front", jpegWith("x")); status != http.StatusBadRequest || out["code"] != "bad_document_kind" {
		t.Fatalf("a document photo before the document is chosen: %d %v", status, out)
	}
	if st := b.status(); len(st.Uploads) != 0 {
		t.Fatalf("refused uploads were recorded: %v", st.Uploads)
	}
	if files, _ := os.ReadDir(filepath.Join(server.IssuanceFilesPath(w.dir), b.app)); len(files) != 0 {
		t.Fatalf("refused uploads left files: %v", files)
	}

	// Requests: a 1024-bit key, another person's, a key used twice, garbage.
	_, weak := csr(t, 1024, "IIN"+clientIIN)
	_, good := csr(t, 2048, "IIN"+clientIIN)
	_, good2 := csr(t, 2048, "IIN"+clientIIN)
	_, other := csr(t, 2048, "IIN"+otherIIN)
	reqs := func(auth, sign string) protocol.IssuanceRequests {
		return protocol.IssuanceRequests{CSRs: []protocol.IssuanceCSR{{Purpose: "AUTH", DER: auth}, {Purpose: "SIGN", DER: sign}}}
	}
	a.refused("submit_requests", reqs(weak, good), "weak_key")
	a.refused("submit_requests", reqs(good, other), "subject_mismatch")
	a.refused("submit_requests", reqs(good, good), "key_reused")
	a.refused("submit_requests", reqs("bm90IGEgQ1NS", good), "bad_csr")
	a.refused("submit_requests", protocol.IssuanceRequests{Email: "not an address", CSRs: reqs(good, good2).CSRs}, "bad_email")
	if st := a.status(); st.Phase != string(issuance.PhaseApplication) {
		t.Fatalf("refused requests moved the application: %+v", st)
	}
	// The good pair goes through; a key of it, offered again in another
	// application, is refused as seen before.
	a.must("submit_requests", reqs(good, good2))
	a.waitPhase(issuance.PhaseIssued)
	c2 := w.toApplication(clientIIN, "SENIM-FACE:MATCH")
	c2.waitPhase(issuance.PhaseApplication)
	_, fresh := csr(t, 2048, "IIN"+clientIIN)
	c2.refused("submit_requests", reqs(fresh, good2), "key_reused")

	// Someone else's application: no reading, no commands, no resume.
	intruder := &applicant{w: w, c: w.dial(), app: a.app}
	intruder.refused("status", nil, "forbidden")
	intruder.refused("verify_code", protocol.IssuanceCode{Code: "123456"}, "forbidden")
	intruder.refused("resume", protocol.IssuanceResume{Token: strings.Repeat("A", 43)}, "bad_token")
}

// An unfinished application expires issuance.expire_after after its start,
// found by the sweep over the log's index (not a timer a restart loses);
// a younger one does not.
func TestIssuanceExpiry(t *testing.T) {
	clk := &offsetClock{}
	w := newWorldAt(t, clk.now, func(c *config.Config) {
		c.Issuance.ExpireAfter, c.Issuance.UnverifiedExpireAfter = config.Duration(48*time.Hour), config.Duration(48*time.Hour)
	})
	old := w.startApplication(clientIIN)
	old.waitPhaseWith(func(st protocol.IssuanceStatus) bool { return st.Seq >= 2 }) // БМГ answered
	clk.jump(47 * time.Hour)
	young := w.startApplication(attorneyIIN)
	if n, err := w.srv.Actors.SweepIssuance(w.ctx()); err != nil || n != 0 {
		t.Fatalf("sweep before the time: %d, %v", n, err)
	}
	clk.jump(2 * time.Hour)
	if n, err := w.srv.Actors.SweepIssuance(w.ctx()); err != nil || n != 1 {
		t.Fatalf("sweep: %d expired, %v", n, err)
	}
	if st := old.status(); st.Phase != string(issuance.PhaseExpired) || st.Status != "expired" {
		t.Fatalf("the old application: %+v", st)
	}
	if st := young.status(); st.Phase != string(issuance.PhasePhone) {
		t.Fatalf("the young application: %+v", st)
	}
	old.refused("request_registration", nil, "not_allowed_in_state")
	if n, _ := w.srv.Actors.SweepIssuance(w.ctx()); n != 0 {
		t.Fatalf("a second sweep expired %d more", n)
	}
}

// An IIN cannot be held by a stranger for expire_after: an application
// whose phone is not verified expires issuance.unverified_expire_after
// after its start, and the IIN's owner may then start theirs; one whose
// phone was verified keeps the long time.
func TestIssuanceUnverifiedExpiry(t *testing.T) {
	clk := &offsetClock{}
	w := newWorldAt(t, clk.now, func(c *config.Config) {
		c.Issuance.MaxOpenPerIIN, c.Issuance.UnverifiedExpireAfter = 1, config.Duration(time.Hour)
	})
	stranger := w.startApplication(attorneyIIN) // not in БМГ: the stranger has no code to enter
	stranger.waitPhaseWith(func(st protocol.IssuanceStatus) bool { return st.Seq >= 2 })
	owner := &applicant{w: w, c: w.dial()}
	owner.refused("start", protocol.IssuanceStart{Kind: "individual", IIN: attorneyIIN}, "too_many_applications")
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	verified := w.startApplication(clientIIN)
	verified.must("verify_code", protocol.IssuanceCode{Code: w.waitCode(applicantPhone, 1)})
	verified.waitPhase(issuance.PhaseIdentity)

	clk.jump(59 * time.Minute)
	if n, err := w.srv.Actors.SweepIssuance(w.ctx()); err != nil || n != 0 {
		t.Fatalf("sweep before the time: %d, %v", n, err)
	}
	clk.jump(2 * time.Minute)
	if n, err := w.srv.Actors.SweepIssuance(w.ctx()); err != nil || n != 1 {
		t.Fatalf("sweep: %d expired, %v", n, err)
	}
	if st := stranger.status(); st.Phase != string(issuance.PhaseExpired) {
		t.Fatalf("the stranger's application: %+v", st)
	}
	if st := verified.status(); st.Phase != string(issuance.PhaseIdentity) {
		t.Fatalf("the verified application: %+v", st)
	}
	w.startApplication(attorneyIIN) // the owner's turn
}

// The anonymous applicant's bounds: unfinished applications per IIN, and
// starts per address per hour.
func TestIssuanceStartBounds(t *testing.T) {
	w := newWorld(t, func(c *config.Config) { c.Issuance.MaxOpenPerIIN = 2; c.Issuance.StartsPerIP = 3 })
	w.startApplication(clientIIN)
	w.startApplication(clientIIN)
	c := &applicant{w: w, c: w.dial()}
	c.refused("start", protocol.IssuanceStart{Kind: "individual", IIN: clientIIN}, "too_many_applications")
	w.startApplication(attorneyIIN)
	c.refused("start", protocol.IssuanceStart{Kind: "individual", IIN: otherIIN}, "too_many_applications")
}

// A retried wrong code (the answer was lost) hears the refusal again, and
// counts once.
func TestIssuanceRetriedWrongCode(t *testing.T) {
	w := newWorld(t)
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	a := w.startApplication(clientIIN)
	code := w.waitCode(applicantPhone, 1)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	body := []byte(`{"code":"` + wrong + `"}`)
	for i := 0; i < 2; i++ {
		_, err := a.c.Do(w.ctx(), protocol.Envelope{Type: protocol.TypeIssuance, ID: "vc-1", Act: a.app, Name: "verify_code", Body: body})
		if client.CodeOf(err) != "wrong_code" {
			t.Fatalf("try %d: %v", i+1, err)
		}
	}
	if st := a.status(); st.CodeTriesLeft != 2 {
		t.Fatalf("a retry counted again: %+v", st)
	}
}
