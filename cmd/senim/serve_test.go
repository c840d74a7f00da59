package main_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A start on every interface with the defaults (development CA, bank
// stand-in …) is refused, naming each setting; --dev allows it on purpose.
// On loopback they face no one else, and no --dev is needed
// (TestServeHealthAndCRL starts there with the defaults).
func TestServeRefusesDevSettingsOnAPublicAddress(t *testing.T) {
	public := []string{"SENIM_HTTP_ADDR=0.0.0.0:0", "SENIM_TURN_ADDR=127.0.0.1:0"}
	// A server that starts anyway would run until killed: the deadline
	// turns that into a failure instead of a hung test.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, senim, "serve")
	cmd.Env = append(append(os.Environ(), "SENIM_DATA_DIR="+t.TempDir(), "SENIM_CONFIG="), public...)
	cmd.Dir = t.TempDir()
	b, err := cmd.CombinedOutput()
	out := string(b)
	if ctx.Err() != nil {
		t.Fatalf("serve on 0.0.0.0 with defaults started:\n%s", out)
	}
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 2 {
		t.Fatalf("serve on 0.0.0.0 with defaults: exit %d, want 2\n%s", code, out)
	}
	for _, want := range []string{"0.0.0.0:0", "pki.dev_ca", "turn.allow_loopback", "media.loopback_only", "bank.mode", "document.public_url", "--dev"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not name %q:\n%s", want, out)
		}
	}

	addr, _ := startProcessEnv(t, t.TempDir(), public, "senim listening", "addr", "serve", "--dev")
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatalf("listening address %q: %v", addr, err)
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("--dev server /healthz: %d %s", resp.StatusCode, body)
	}
}
