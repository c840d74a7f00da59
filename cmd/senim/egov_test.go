package main_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/transport/protocol"
)

// `senim dev egov-mobile` signs a citizen's sign-in on a running server
// as the phone would: it shows what is signed, refuses a wrong PIN (asked
// on stdin) and with --pin signs with the keys of the .p12 files; the
// session is pushed the signature and signs in with it.
func TestDevEgovMobileSignsALink(t *testing.T) {
	data, keys := t.TempDir(), t.TempDir()
	mustCLI(t, data, "dev", "issue", "--iin", "871008401427", "--name", "Сейтқали Әйгерім", "--password", "senim2026", "--out", keys)
	base := startLogged(t, data, "senim listening", "addr", "serve")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	l, err := c.SignLink(ctx, "", protocol.SignLinkQuery{What: "signin"})
	if err != nil {
		t.Fatal(err)
	}
	p12s := []string{"--p12", p12Of(t, keys, "AUTH_RSA256_"), "--p12", p12Of(t, keys, "RSA256_"), "--password", "senim2026"}

	cmd := exec.Command(senim, append(append([]string{"dev", "egov-mobile"}, p12s...), l.QR)...)
	cmd.Env = append(os.Environ(), "SENIM_DATA_DIR="+data, "SENIM_CONFIG=")
	cmd.Stdin = strings.NewReader("111111\n")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "wrong PIN") {
		t.Fatalf("wrong PIN: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Вход в Senim") || !strings.Contains(string(out), "PIN:") {
		t.Fatalf("the link was not shown before the PIN:\n%s", out)
	}

	out2 := mustCLI(t, data, append(append([]string{"dev", "egov-mobile"}, p12s...), "--pin", "000000", l.DeepLink)...)
	if !strings.Contains(out2, "signed and sent") {
		t.Fatalf("sign:\n%s", out2)
	}
	cms, err := c.WaitSigned(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.SignInCMS(ctx, "client", cms)
	if err != nil || w.IIN != "871008401427" {
		t.Fatalf("sign-in with the phone's signature: %+v %v", w, err)
	}
	// A second time: the link is spent.
	out3, code := cli(t, data, append(append([]string{"dev", "egov-mobile"}, p12s...), "--pin", "000000", l.URL)...)
	if code != 1 || !strings.Contains(out3, "link_used") {
		t.Fatalf("replay: exit %d\n%s", code, out3)
	}
}

// `senim client --egov` signs in with the phone: it prints the link, the
// stand-in signs it, and the client is welcomed.
func TestClientSignsInWithEgovMobile(t *testing.T) {
	data, keys := t.TempDir(), t.TempDir()
	mustCLI(t, data, "dev", "issue", "--iin", "871008401427", "--name", "Сейтқали Әйгерім", "--password", "senim2026", "--out", keys)
	base := startLogged(t, data, "senim listening", "addr", "serve")
	cmd := exec.Command(senim, "client", "--egov", "--role", "client", "--server", strings.TrimPrefix(base, "http://"))
	cmd.Env = append(os.Environ(), "SENIM_DATA_DIR="+data, "SENIM_CONFIG=")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	wait := func(prefix string) string {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the client ended before %q", prefix)
				}
				if s := strings.TrimSpace(l); strings.HasPrefix(s, prefix) {
					return s
				}
			case <-deadline:
				t.Fatalf("no %q within 30s", prefix)
			}
		}
	}
	qr := strings.TrimSpace(strings.TrimPrefix(wait("QR:"), "QR:"))
	mustCLI(t, data, "dev", "egov-mobile", "--p12", p12Of(t, keys, "AUTH_RSA256_"), "--p12", p12Of(t, keys, "RSA256_"), "--password", "senim2026", "--pin", "000000", qr)
	if got := wait("signed in as"); !strings.Contains(got, "871008401427") {
		t.Fatalf("welcome line %q", got)
	}
	_, _ = stdin.Write([]byte("quit\n"))
}
