package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/evidence"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/transport/server"
)

// A remote EDS application survives SIGKILL: what was recorded before the
// kill is there after the restart, the applicant resumes with their token
// (on a new connection), and the application goes on to its certificates.
func TestIssuanceSurvivesSIGKILL(t *testing.T) {
	const (
		id    = "871008401427"
		phone = "+77011234567"
	)
	data := t.TempDir()
	if err := registry.Add(server.RegistryPath(data), registry.Person{IIN: id, Surname: "Сейтқали", Name: "Әйгерім", BirthDate: "1987-10-08",
		Document: registry.Document{Kind: "id_card", Number: "012345678", ValidUntil: "2031-01-01"}}); err != nil {
		t.Fatal(err)
	}
	addr, proc := serve(t, data)
	put(t, "http://"+addr+"/dev/issuance/bmg/phones/"+id, `{"phone":"`+phone+`"}`)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dial := func(addr string) *client.Client {
		c, err := client.Dial(ctx, "ws://"+addr+"/ws", client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	ask := func(c *client.Client, app, name string, body any) protocol.Envelope {
		t.Helper()
		b, _ := json.Marshal(body)
		env, err := c.Do(ctx, protocol.Envelope{Type: protocol.TypeIssuance, Act: app, Name: name, Body: b})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return env
	}
	status := func(c *client.Client, app string) protocol.IssuanceStatus {
		t.Helper()
		var st protocol.IssuanceStatus
		if err := json.Unmarshal(ask(c, app, "status", nil).Body, &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	c := dial(addr)
	var started protocol.IssuanceStarted
	if err := json.Unmarshal(ask(c, "", "start", protocol.IssuanceStart{Kind: "individual", IIN: id}).Body, &started); err != nil {
		t.Fatal(err)
	}
	app := started.Application
	code := waitSMSCode(t, addr, phone)
	ask(c, app, "verify_code", protocol.IssuanceCode{Code: code})
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		if st := status(c, app); st.Phase != "identity" {
			return fmt.Errorf("phase %s", st.Phase)
		}
		return nil
	})
	ask(c, app, "choose_document", map[string]string{"kind": "id_card"})
	upload(t, addr, app, started.Token, "selfie", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00 SENIM-FACE:MATCH"))
	upload(t, addr, app, started.Token, "document_front", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00 SENIM-IIN:"+id))

	kill9(t, proc)
	addr, proc = serve(t, data)

	// A new connection knows nothing until the applicant resumes.
	c = dial(addr)
	if _, err := c.Do(ctx, protocol.Envelope{Type: protocol.TypeIssuance, Act: app, Name: "status"}); client.CodeOf(err) != "forbidden" {
		t.Fatalf("status before resume: %v", err)
	}
	var st protocol.IssuanceStatus
	if err := json.Unmarshal(ask(c, app, "resume", protocol.IssuanceResume{Token: started.Token}).Body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Phase != "identity" || !st.PhoneVerified || st.Document != "id_card" || strings.Join(st.Uploads, ",") != "document_front,selfie" {
		t.Fatalf("after the restart: %+v", st)
	}
	upload(t, addr, app, started.Token, "document_back", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00 back"))
	upload(t, addr, app, started.Token, "liveness", []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01 SENIM-FACE:MATCH"))
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		if st = status(c, app); st.Recognised == nil {
			return fmt.Errorf("not recognised (waiting %v, problem %q)", st.Waiting, st.Problem)
		}
		return nil
	})
	fields, _ := json.Marshal(st.Recognised)
	ask(c, app, "confirm_fields", json.RawMessage(`{"fields":`+string(fields)+`}`))
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		if st = status(c, app); st.Phase != "application" {
			return fmt.Errorf("phase %s", st.Phase)
		}
		return nil
	})
	var csrs []protocol.IssuanceCSR
	for _, p := range []string{"AUTH", "SIGN"} {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{SerialNumber: "IIN" + id}}, k)
		if err != nil {
			t.Fatal(err)
		}
		csrs = append(csrs, protocol.IssuanceCSR{Purpose: p, DER: base64.StdEncoding.EncodeToString(der)})
	}
	ask(c, app, "submit_requests", protocol.IssuanceRequests{CSRs: csrs})
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		if st = status(c, app); st.Phase != "issued" {
			return fmt.Errorf("phase %s (waiting %v)", st.Phase, st.Waiting)
		}
		return nil
	})
	if st.Certificates != 2 || st.Seq < 15 {
		t.Fatalf("issued: %+v", st)
	}
	kill9(t, proc)
	if out := mustCLI(t, data, "check"); !strings.Contains(out, "the event log is sound: 1 streams") {
		t.Fatalf("senim check after the crash:\n%s", out)
	}
	checkApplicationEvidence(t, data, app)
}

// checkApplicationEvidence: an application's evidence works as an act's.
// export → verify passes (and the stored files against the log); a flipped
// byte in the log or a certificate (the manifest fixed, as a careful
// forger would) fails its own check, and so does a changed stored file;
// replay prints the application's timeline.
func checkApplicationEvidence(t *testing.T, data, app string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "application.zip")
	mustCLI(t, data, "export", "--out", out, "issuance/"+app)
	files := filepath.Join(data, "issuance", app)
	res := mustCLI(t, data, "verify", "--files", files, out)
	for _, want := range []string{"all checks passed", "pass  event log replays to the application", "pass  certificate AUTH",
		"pass  certificate SIGN", "pass  upload ", "pass  request AUTH", "2 requests"} {
		if !strings.Contains(res, want) || strings.Contains(res, "FAIL") {
			t.Fatalf("verify of the application, want %q:\n%s", want, res)
		}
	}
	if res := mustCLI(t, data, "replay", "issuance/"+app); !strings.Contains(res, "certificates_issued") || !strings.Contains(res, "hash chain intact") {
		t.Fatalf("replay of the application:\n%s", res)
	}
	orig, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var m evidence.ApplicationManifest
	if err := json.Unmarshal(readZip(t, orig)[evidence.FileManifest], &m); err != nil || m.Format != evidence.FormatApplication || m.Status != "issued" {
		t.Fatalf("manifest %+v %v", m, err)
	}
	var cert string
	for name := range m.Files {
		if strings.HasPrefix(name, "certificates/AUTH-") {
			cert = name
		}
	}
	for file, check := range map[string]string{evidence.FileEvents: "event log hash chain", cert: "certificate AUTH"} {
		zf := readZip(t, orig)
		b := zf[file]
		b[len(b)/2] ^= 0x01
		m2 := m
		m2.Files = map[string]string{}
		for k, v := range m.Files {
			m2.Files[k] = v
		}
		m2.Files[file] = act.SHA256Hex(b)
		zf[evidence.FileManifest], _ = json.Marshal(m2)
		tampered := filepath.Join(t.TempDir(), "tampered.zip")
		writeZip(t, tampered, zf)
		if res, code := cli(t, data, "verify", tampered); code != 1 || !strings.Contains(res, "FAIL  "+check) {
			t.Errorf("a flipped byte in %s: exit %d, want FAIL %q:\n%s", file, code, check, res)
		}
	}
	// A stored file changed on the server's disk.
	p := filepath.Join(files, m.Uploads[0].Name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0x01
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if res, code := cli(t, data, "verify", "--files", files, out); code != 1 || !strings.Contains(res, "FAIL  upload "+m.Uploads[0].Name) {
		t.Errorf("a changed upload: exit %d:\n%s", code, res)
	}
}

var smsCode = regexp.MustCompile(`\b[0-9]{6}\b`)

func waitSMSCode(t *testing.T, addr, phone string) string {
	t.Helper()
	var code string
	testtool.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		res, err := http.Get("http://" + addr + "/dev/issuance/sms/messages?phone=" + strings.TrimPrefix(phone, "+"))
		if err != nil {
			return err
		}
		defer res.Body.Close()
		var msgs []struct{ Text string }
		if err := json.NewDecoder(res.Body).Decode(&msgs); err != nil {
			return err
		}
		for _, m := range msgs {
			if c := smsCode.FindString(m.Text); c != "" {
				code = c
				return nil
			}
		}
		return fmt.Errorf("no code among %d messages", len(msgs))
	})
	return code
}

func put(t *testing.T, url, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("PUT %s: HTTP %d", url, res.StatusCode)
	}
}

func upload(t *testing.T, addr, app, token, purpose string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/issuance/"+app+"/uploads/"+purpose, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		t.Fatalf("upload %s: HTTP %d %v", purpose, res.StatusCode, out)
	}
}

// `senim notary add --roles` makes staff of remote EDS issuance; an unknown
// role is refused.
func TestNotaryAddWithStaffRoles(t *testing.T) {
	data := t.TempDir()
	mustCLI(t, data, "notary", "add", "--login", "dana", "--name", "Дана Модератор", "--iin", "791028302728",
		"--password", "dana-password", "--roles", "moderator, registrar")
	b, err := os.ReadFile(server.AccountsPath(data))
	if err != nil || !strings.Contains(string(b), `"moderator"`) || !strings.Contains(string(b), `"registrar"`) {
		t.Fatalf("roles not stored: %s %v", b, err)
	}
	mustCLI(t, data, "notary", "add", "--login", "erlan", "--name", "Ерлан Нотариус", "--iin", "791028302728",
		"--password", "erlan-password", "--roles", "notary,moderator")
	if b, err := os.ReadFile(server.AccountsPath(data)); err != nil || !strings.Contains(string(b), `"notary"`) {
		t.Fatalf("the notary role not stored: %s %v", b, err)
	}
	if out, code := cli(t, data, "notary", "add", "--login", "eve", "--name", "Eve", "--iin", "791028302728",
		"--password", "eve-password-1", "--roles", "admin"); code == 0 || !strings.Contains(out, "role") {
		t.Fatalf("an unknown role: exit %d\n%s", code, out)
	}
}
