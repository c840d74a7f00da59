package main_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/server"
)

// lockedBuffer is the output of a running command, read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The README's walk-through from the terminal: `senim client apply` takes an
// individual with a БМГ phone through the SMS code (a resend before the
// countdown is refused), Digital ID and the confirmation of the recognised
// fields, refuses a password that breaks NUC's rule, goes on with
// --resume, makes the keys here and writes the two key stores; then
// `senim client` signs in with the new AUTH key.
func TestClientApplyThenSignIn(t *testing.T) {
	const (
		id    = "871008401427"
		phone = "+77011234567"
	)
	data, keys, files := t.TempDir(), t.TempDir(), t.TempDir()
	if err := registry.Add(server.RegistryPath(data), registry.Person{IIN: id, Surname: "Сейтқали", Name: "Әйгерім", BirthDate: "1987-10-08",
		Document: registry.Document{Kind: "id_card", Number: "012345678", ValidUntil: "2031-01-01"}}); err != nil {
		t.Fatal(err)
	}
	addr, _ := serve(t, data)
	put(t, "http://"+addr+"/dev/issuance/bmg/phones/"+id, `{"phone":"`+phone+`"}`)

	file := func(name, content string) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const jpeg, webm = "\xff\xd8\xff\xe0\x00\x10JFIF\x00 ", "\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01 "
	cmd := exec.Command(senim, "client", "apply", "--server", addr, "--lang", "en", "--poll", "50ms",
		"--kind", "individual", "--iin", id, "--email", "aigerim@example.kz",
		"--selfie", file("selfie.jpg", jpeg+"SENIM-FACE:MATCH"), "--liveness", file("live.webm", webm+"SENIM-FACE:MATCH"),
		"--front", file("front.jpg", jpeg+"SENIM-IIN:"+id), "--back", file("back.jpg", jpeg+"back"),
		"--out", keys, "--password-file", file("weak", "SENIM2026\n"))
	cmd.Env = append(os.Environ(), "SENIM_CONFIG=")
	cmd.Dir = t.TempDir()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited, waited := make(chan error, 1), make(chan struct{})
	go func() { exited <- cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-waited
	})
	waitFor := func(text string) {
		t.Helper()
		testtool.Eventually(t, 60*time.Second, 20*time.Millisecond, func() error {
			if !strings.Contains(out.String(), text) {
				return errors.New("no " + text)
			}
			return nil
		})
	}
	say := func(line string) {
		t.Helper()
		if _, err := io.WriteString(stdin, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor("--resume ")
	waitFor("Type the code from the SMS")
	say("again") // before the countdown is over
	waitFor("A new code can be sent in")
	say(waitSMSCode(t, addr, phone))
	waitFor("Your phone is confirmed.")
	waitFor("Are these correct? (yes/no)")
	if o := out.String(); !strings.Contains(o, id) || !strings.Contains(o, "Uploaded: ") {
		t.Fatalf("the recognised fields are not shown:\n%s", o)
	}
	say("yes")
	stdin.Close()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("a password without a-z: %v\n%s", err, out)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("senim client apply did not stop at the weak password:\n%s", out)
	}
	o := out.String()
	for _, want := range []string{"cannot be recovered", "The password does not fit the rule"} {
		if !strings.Contains(o, want) {
			t.Errorf("the output has no %q:\n%s", want, o)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(keys, "*.p12")); len(m) != 0 {
		t.Fatalf("key stores written under a weak password: %v", m)
	}

	// The application goes on where it stopped.
	resume := regexp.MustCompile(`--resume ([0-9a-f]{32}:\S+)`).FindStringSubmatch(o)
	if resume == nil {
		t.Fatalf("no --resume line:\n%s", o)
	}
	again := exec.Command(senim, "client", "apply", "--server", addr, "--lang", "en", "--poll", "50ms",
		"--resume", resume[1], "--out", keys, "--password-file", file("password", "senim2026\n"))
	again.Env, again.Dir = cmd.Env, t.TempDir()
	b, err := again.CombinedOutput()
	o = string(b)
	if err != nil {
		t.Fatalf("senim client apply --resume: %v\n%s", err, o)
	}
	for _, want := range []string{"Resuming application", "Step: certificates issued.", "Your keys: "} {
		if !strings.Contains(o, want) {
			t.Errorf("the output has no %q:\n%s", want, o)
		}
	}
	auth, sign := p12Of(t, keys, "AUTH_RSA256_"), p12Of(t, keys, "RSA256_")

	// The new AUTH key signs in to Senim as a client.
	in := exec.Command(senim, "client", "--server", addr, "--role", "client", "--p12", auth, "--p12", sign, "--password", "senim2026")
	in.Env = append(os.Environ(), "SENIM_CONFIG=")
	in.Dir = t.TempDir()
	in.Stdin = strings.NewReader("quit\n")
	// A quit exits 0, without "connection closed" (the push printer sees
	// the connection the client closes as it quits).
	signedIn, err := in.CombinedOutput()
	if err != nil || strings.Contains(string(signedIn), "connection closed") || !strings.Contains(string(signedIn), "signed in as client") || !strings.Contains(string(signedIn), id) {
		t.Fatalf("sign-in with the issued keys: %v\n%s", err, signedIn)
	}
}
