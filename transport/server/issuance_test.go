package server_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/mail"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/transport/protocol"
)

// The applicant's side of remote EDS issuance, over the protocol and the
// upload endpoint, against the development stand-ins of every port.

const applicantPhone = "+77011234567"

// applicant is one person applying, on one connection.
type applicant struct {
	w     *world
	c     *client.Client
	app   string
	token string
}

// ask sends an issuance request and returns its answer's body.
func (a *applicant) ask(name string, body any) (protocol.Envelope, error) {
	a.w.t.Helper()
	env := protocol.Envelope{Type: protocol.TypeIssuance, Act: a.app, Name: name}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.w.t.Fatal(err)
		}
		env.Body = b
	}
	return a.c.Do(a.w.ctx(), env)
}

func (a *applicant) must(name string, body any) protocol.Envelope {
	a.w.t.Helper()
	ans, err := a.ask(name, body)
	if err != nil {
		a.w.t.Fatalf("%s: %v", name, err)
	}
	return ans
}

func (a *applicant) status() protocol.IssuanceStatus {
	a.w.t.Helper()
	var st protocol.IssuanceStatus
	if err := json.Unmarshal(a.must("status", nil).Body, &st); err != nil {
		a.w.t.Fatal(err)
	}
	return st
}

// waitPhase polls the application's status until it is in phase.
func (a *applicant) waitPhase(phase issuance.Phase) protocol.IssuanceStatus {
	a.w.t.Helper()
	var st protocol.IssuanceStatus
	testtool.Eventually(a.w.t, 30*time.Second, 20*time.Millisecond, func() error {
		st = a.status()
		if st.Phase != string(phase) {
			return fmt.Errorf("phase %s (waiting %v, problem %q), want %s", st.Phase, st.Waiting, st.Problem, phase)
		}
		return nil
	})
	return st
}

// start dials and starts an individual's application for id.
func (w *world) startApplication(id string) *applicant {
	w.t.Helper()
	return w.startApplicationAs(protocol.IssuanceStart{Kind: "individual", IIN: id})
}

func (w *world) startApplicationAs(start protocol.IssuanceStart) *applicant {
	w.t.Helper()
	a := &applicant{w: w, c: w.dial()}
	ans := a.must("start", start)
	var started protocol.IssuanceStarted
	if err := json.Unmarshal(ans.Body, &started); err != nil {
		w.t.Fatal(err)
	}
	if !issuance.ValidApplicationID(started.Application) || len(started.Token) < 40 {
		w.t.Fatalf("start answered %+v", started)
	}
	a.app, a.token = started.Application, started.Token
	return a
}

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

// smsCodes are the one-time codes the SMS stand-in delivered to phone.
func (w *world) smsCodes(phone string) []string {
	var codes []string
	for _, m := range w.srv.IssuanceDev.SMS.Messages(phone) {
		if c := sixDigits.FindString(m.Text); c != "" {
			codes = append(codes, c)
		}
	}
	return codes
}

// waitCode waits for the n-th code (1-based) to phone.
func (w *world) waitCode(phone string, n int) string {
	w.t.Helper()
	var code string
	testtool.Eventually(w.t, 30*time.Second, 20*time.Millisecond, func() error {
		codes := w.smsCodes(phone)
		if len(codes) < n {
			return fmt.Errorf("%d codes sent, want %d", len(codes), n)
		}
		code = codes[n-1]
		return nil
	})
	return code
}

// Files the development stand-ins read: their markers in a JPEG or WebM
// shell that sniffing takes for what it claims.
func jpegWith(marker string) []byte {
	return append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), []byte(" "+marker+" "+strings.Repeat("x", 64))...)
}

func webmWith(marker string) []byte {
	return append([]byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01"), []byte(" "+marker+" "+strings.Repeat("x", 64))...)
}

// upload posts a file for purpose with the application's token.
func (a *applicant) upload(purpose string, body []byte) (int, map[string]any) {
	a.w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.w.http+"/issuance/"+a.app+"/uploads/"+purpose, bytes.NewReader(body))
	if err != nil {
		a.w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.w.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func (a *applicant) mustUpload(purpose string, body []byte) {
	a.w.t.Helper()
	if status, out := a.upload(purpose, body); status != http.StatusCreated {
		a.w.t.Fatalf("upload %s: HTTP %d %v", purpose, status, out)
	}
}

// toApplication takes a fresh application of id with a БМГ phone through
// the code and Digital ID (selfie and video carry faceMarker) to the
// requests.
func (w *world) toApplication(id, faceMarker string) *applicant {
	w.t.Helper()
	return w.toApplicationAs(protocol.IssuanceStart{Kind: "individual", IIN: id}, faceMarker)
}

// toApplicationAs is toApplication for the application start asks for.
func (w *world) toApplicationAs(start protocol.IssuanceStart, faceMarker string) *applicant {
	w.t.Helper()
	id := start.IIN
	sent := len(w.smsCodes(applicantPhone))
	a := w.startApplicationAs(start)
	code := w.waitCode(applicantPhone, sent+1)
	a.must("verify_code", protocol.IssuanceCode{Code: code})
	a.waitPhase(issuance.PhaseIdentity)
	a.must("choose_document", map[string]string{"kind": "id_card"})
	a.mustUpload("selfie", jpegWith(faceMarker))
	a.mustUpload("liveness", webmWith(faceMarker))
	a.mustUpload("document_front", jpegWith("SENIM-IIN:"+id))
	a.mustUpload("document_back", jpegWith("back"))
	var st protocol.IssuanceStatus
	testtool.Eventually(w.t, 30*time.Second, 20*time.Millisecond, func() error {
		if st = a.status(); st.Recognised == nil {
			return fmt.Errorf("not recognised yet (waiting %v, problem %q)", st.Waiting, st.Problem)
		}
		return nil
	})
	fields, _ := json.Marshal(st.Recognised)
	a.must("confirm_fields", json.RawMessage(`{"fields":`+string(fields)+`}`))
	return a
}

// csr makes a key pair and its PKCS#10 request with subject serial.
func csr(t *testing.T, bits int, serial string, ou ...string) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{SerialNumber: serial, CommonName: "TEST", OrganizationalUnit: ou}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return k, base64.StdEncoding.EncodeToString(der)
}

func TestIssuanceIndividualWithABMGPhone(t *testing.T) {
	w := newWorld(t)
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	a := w.toApplication(clientIIN, "SENIM-FACE:MATCH")
	a.waitPhase(issuance.PhaseApplication)

	// The applicant follows the application's events from the start.
	a.must("subscribe", nil)
	codes := 0
	next(t, a.c.Events(), func(e protocol.Envelope) bool {
		if e.Name == "code_issued" {
			codes++
			if bytes.Contains(e.Body, []byte("hash")) {
				t.Errorf("code_issued leaves with the code's hash: %s", e.Body)
			}
		}
		return e.Name == "identity_verified"
	})
	if codes != 1 {
		t.Fatalf("%d code_issued events before identity_verified", codes)
	}

	auth, authCSR := csr(t, 2048, "IIN"+clientIIN)
	sign, signCSR := csr(t, 2048, "IIN"+clientIIN)
	w.srv.IssuanceDev.Mail.SetDown(true) // the relay is down when the certificates come
	a.must("submit_requests", protocol.IssuanceRequests{Email: "aigerim@example.kz",
		CSRs: []protocol.IssuanceCSR{{Purpose: "AUTH", DER: authCSR}, {Purpose: "SIGN", DER: signCSR}}})
	next(t, a.c.Events(), eventNamed("certificates_issued"))
	st := a.waitPhase(issuance.PhaseIssued)
	if st.Status != "issued" || st.Certificates != 2 {
		t.Fatalf("issued: %+v", st)
	}
	// The e-mail waits for the relay, and goes once it is back: one
	// message, in Russian, Kazakh and English, naming the application.
	a.waitPhaseWith(func(st protocol.IssuanceStatus) bool { return slices.Contains(st.Waiting, "mail") })
	w.srv.IssuanceDev.Mail.SetDown(false)
	var sent []mail.Sent
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		var err error
		if sent, err = w.srv.IssuanceDev.Mail.Messages("aigerim@example.kz"); err != nil || len(sent) == 0 {
			return fmt.Errorf("no e-mail yet (%v)", err)
		}
		return nil
	})
	if len(sent) != 1 {
		t.Fatalf("%d e-mails", len(sent))
	}
	for _, want := range []string{a.app, "Здравствуйте", "Сәлеметсіз бе", "Hello", "/issuance/"} {
		if !strings.Contains(sent[0].Body, want) {
			t.Errorf("the e-mail lacks %q:\n%s", want, sent[0].Body)
		}
	}
	if !strings.Contains(sent[0].Subject, "Senim") || strings.Contains(sent[0].Body, "{") {
		t.Errorf("the e-mail: %q\n%s", sent[0].Subject, sent[0].Body)
	}
	next(t, a.c.Events(), func(e protocol.Envelope) bool {
		return e.Name == "email_sent" && strings.Contains(string(e.Body), sent[0].ID)
	})

	var got struct {
		Certificates []protocol.IssuanceCertificate `json:"certificates"`
	}
	if err := json.Unmarshal(a.must("certificates", nil).Body, &got); err != nil {
		t.Fatal(err)
	}
	keys := map[string]*rsa.PrivateKey{"AUTH": auth, "SIGN": sign}
	for _, c := range got.Certificates {
		der, _ := base64.StdEncoding.DecodeString(c.DER)
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if !cert.PublicKey.(*rsa.PublicKey).Equal(&keys[c.Purpose].PublicKey) {
			t.Errorf("the %s certificate is not for the applicant's own key", c.Purpose)
		}
		if cert.Subject.SerialNumber != "IIN"+clientIIN {
			t.Errorf("the %s certificate names %q", c.Purpose, cert.Subject.SerialNumber)
		}
	}
	if len(got.Certificates) != 2 {
		t.Fatalf("certificates: %+v", got)
	}
	// The new keys are the applicant's EDS: they sign in and sign a
	// notarial act as its client from start to finish.
	// Each comes with the chain its key store carries: the issuing CA
	// first, each signed by the next, a root of the server's last; the
	// sign-ins below send it.
	var issued client.KeySigner
	for _, c := range got.Certificates {
		der, _ := base64.StdEncoding.DecodeString(c.DER)
		cert, _ := x509.ParseCertificate(der)
		issued = append(issued, &pki.Key{Certificate: cert, Chain: issuedChain(t, cert, c.Chain), PrivateKey: keys[c.Purpose]})
	}
	w.client = issued
	actID, cl, _ := w.toSigned(t)
	if s := w.state(t, cl, actID); s.Phase != "signed" || s.Principal.IIN != clientIIN {
		t.Fatalf("the act signed with the issued keys: %s %+v", s.Phase, s.Principal)
	}
	// The code's keyed hash never leaves the server, and the applicant is told by SMS.
	raw, _ := json.Marshal(st)
	if bytes.Contains(raw, []byte("hash")) {
		t.Errorf("status shows a hash: %s", raw)
	}
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		for _, m := range w.srv.IssuanceDev.SMS.Messages(applicantPhone) {
			if !sixDigits.MatchString(m.Text) && strings.Contains(m.Text, "Senim") {
				return nil
			}
		}
		return errors.New("no SMS about the issued certificates")
	})
}

// Outside systems that are down: the application shows which one it waits
// for ("try again later"), retries with backoff, and goes on by itself once
// the system is back. A CA that refuses ends the application with its reason.
func TestIssuanceOutagesAreRetried(t *testing.T) {
	w := newWorld(t, func(c *config.Config) {
		c.Issuance.RetryMin = config.Duration(20 * time.Millisecond)
		c.Issuance.RetryMax = config.Duration(100 * time.Millisecond)
	})
	dev := w.srv.IssuanceDev
	if err := dev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	dev.BMG.SetDown(true)
	a := w.startApplication(clientIIN)
	a.waitPhaseWith(func(st protocol.IssuanceStatus) bool { return strings.Join(st.Waiting, ",") == "bmg" })
	dev.SMS.SetDown(true)
	dev.BMG.SetDown(false)
	a.waitPhaseWith(func(st protocol.IssuanceStatus) bool { return strings.Join(st.Waiting, ",") == "sms" && st.Phone != "" })
	dev.SMS.SetDown(false)
	a.must("verify_code", protocol.IssuanceCode{Code: w.waitCode(applicantPhone, 1)})
	a.waitPhase(issuance.PhaseIdentity)

	// A passport page of a person whose document is an ID card: the
	// applicant is told what is wrong, and fixes it.
	a.must("choose_document", map[string]string{"kind": "passport"})
	a.mustUpload("passport_page", jpegWith("SENIM-IIN:"+clientIIN))
	a.waitPhaseWith(func(st protocol.IssuanceStatus) bool { return st.Problem == "bad_document_kind" })
	dev.FaceID.SetDown(true)
	dev.DocRecog.SetDown(true)
	a.must("choose_document", map[string]string{"kind": "id_card"})
	a.mustUpload("selfie", jpegWith("SENIM-FACE:MATCH"))
	a.mustUpload("liveness", webmWith("SENIM-FACE:MATCH"))
	a.mustUpload("document_front", jpegWith("SENIM-IIN:"+clientIIN))
	a.mustUpload("document_back", jpegWith("back"))
	a.waitPhaseWith(func(st protocol.IssuanceStatus) bool { return strings.Join(st.Waiting, ",") == "docrecog,faceid" })
	dev.FaceID.SetDown(false)
	dev.DocRecog.SetDown(false)
	st := a.waitPhaseWith(func(st protocol.IssuanceStatus) bool { return st.Recognised != nil && len(st.Waiting) == 0 })
	fields, _ := json.Marshal(st.Recognised)
	a.must("confirm_fields", json.RawMessage(`{"fields":`+string(fields)+`}`))
	a.waitPhase(issuance.PhaseApplication)

	dev.CA.SetDown(true)
	_, auth := csr(t, 2048, "IIN"+clientIIN)
	_, sign := csr(t, 2048, "IIN"+clientIIN)
	a.must("submit_requests", protocol.IssuanceRequests{CSRs: []protocol.IssuanceCSR{{Purpose: "AUTH", DER: auth}, {Purpose: "SIGN", DER: sign}}})
	a.waitPhaseWith(func(st protocol.IssuanceStatus) bool {
		return st.Phase == string(issuance.PhaseIdentified) && strings.Join(st.Waiting, ",") == "ca"
	})
	dev.CA.SetDown(false)
	if st := a.waitPhaseWith(func(st protocol.IssuanceStatus) bool { return st.Phase == "issued" || st.Phase == "rejected" }); st.Phase != "issued" || len(st.Waiting) != 0 || st.Certificates != 2 {
		t.Fatalf("issued: %+v", st)
	}
}

// The e-mail about the issued certificates is not lost to a restart: the
// relay is down when they come, the server stops, and once it is back the
// e-mail goes, once, and is recorded.
func TestIssuanceEmailSurvivesARestart(t *testing.T) {
	w := newWorld(t)
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	a := w.toApplication(clientIIN, "SENIM-FACE:MATCH")
	a.waitPhase(issuance.PhaseApplication)
	_, authCSR := csr(t, 2048, "IIN"+clientIIN)
	_, signCSR := csr(t, 2048, "IIN"+clientIIN)
	w.srv.IssuanceDev.Mail.SetDown(true)
	a.must("submit_requests", protocol.IssuanceRequests{Email: "aigerim@example.kz",
		CSRs: []protocol.IssuanceCSR{{Purpose: "AUTH", DER: authCSR}, {Purpose: "SIGN", DER: signCSR}}})
	a.waitPhase(issuance.PhaseIssued)
	a.waitPhaseWith(func(st protocol.IssuanceStatus) bool { return slices.Contains(st.Waiting, "mail") })

	w.restart(t, func(*config.Config) {})
	a.c = w.dial()
	a.must("resume", protocol.IssuanceResume{Token: a.token}) // loads the application
	a.must("subscribe", nil)
	next(t, a.c.Events(), eventNamed("email_sent"))
	sent, err := w.srv.IssuanceDev.Mail.Messages("aigerim@example.kz")
	if err != nil || len(sent) != 1 || !strings.Contains(sent[0].Body, a.app) {
		t.Fatalf("after the restart: %d e-mails (%v)", len(sent), err)
	}
	// Loaded again (another restart), it is not sent twice.
	w.restart(t, func(*config.Config) {})
	a.c = w.dial()
	a.must("resume", protocol.IssuanceResume{Token: a.token})
	a.waitPhase(issuance.PhaseIssued)
	if sent, _ := w.srv.IssuanceDev.Mail.Messages("aigerim@example.kz"); len(sent) != 1 {
		t.Fatalf("after a second restart: %d e-mails", len(sent))
	}
}

// issuedChain decodes a certificates answer's chain for cert and checks it
// is cert's path to a root: each certificate signed by the next, the last
// self-signed.
func issuedChain(t *testing.T, cert *x509.Certificate, b64 []string) []*x509.Certificate {
	t.Helper()
	if len(b64) == 0 {
		t.Fatalf("the certificate %s comes without its chain", cert.SerialNumber)
	}
	var chain []*x509.Certificate
	for _, s := range b64 {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	below := cert
	for _, c := range chain {
		if err := below.CheckSignatureFrom(c); err != nil {
			t.Fatalf("%q is not signed by the next in its chain, %q: %v", below.Subject, c.Subject, err)
		}
		below = c
	}
	if err := below.CheckSignatureFrom(below); err != nil || !bytes.Equal(below.RawIssuer, below.RawSubject) {
		t.Fatalf("the chain ends in %q, not a root", below.Subject)
	}
	return chain
}
