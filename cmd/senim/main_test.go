package main_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/ncalayer"
)

var senim string // the built binary

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "senim-cli-")
	if err != nil {
		panic(err)
	}
	senim = filepath.Join(dir, "senim")
	if out, err := exec.Command("go", "build", "-o", senim, ".").CombinedOutput(); err != nil {
		panic(fmt.Sprintf("go build: %v\n%s", err, out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs senim with a private data directory and returns its output and
// exit status.
func cli(t *testing.T, data string, args ...string) (string, int) {
	t.Helper()
	return cliEnv(t, data, nil, args...)
}

// cliEnv is cli with extra SENIM_* variables.
func cliEnv(t *testing.T, data string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(senim, args...)
	cmd.Env = append(append(os.Environ(), "SENIM_DATA_DIR="+data, "SENIM_CONFIG="), env...)
	cmd.Dir = t.TempDir() // no config.toml there: built-in defaults
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func mustCLI(t *testing.T, data string, args ...string) string {
	t.Helper()
	out, code := cli(t, data, args...)
	if code != 0 {
		t.Fatalf("senim %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func p12Of(t *testing.T, dir, prefix string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, prefix+"*.p12"))
	if len(m) != 1 {
		t.Fatalf("want one %s*.p12 in %s, got %v", prefix, dir, m)
	}
	return m[0]
}

// The README's EDS walk-through: issue keys, sign, verify, revoke.
func TestIssueSignVerifyRevoke(t *testing.T) {
	data, keys := t.TempDir(), t.TempDir()
	out, code := cli(t, data, "dev", "issue", "--iin", "871008401427", "--name", "Сейтқали Әйгерім", "--password", "short", "--out", keys)
	if code != 2 || !strings.Contains(out, "weak_password") {
		t.Fatalf("weak password: exit %d\n%s", code, out)
	}
	out, code = cli(t, data, "dev", "issue", "--iin", "871008401428", "--name", "A B", "--password", "senim2026", "--out", keys)
	if code != 2 || !strings.Contains(out, "bad_iin") {
		t.Fatalf("bad IIN: exit %d\n%s", code, out)
	}
	out = mustCLI(t, data, "dev", "issue", "--iin", "871008401427", "--name", "Сейтқали Әйгерім Нұрланқызы", "--password", "senim2026", "--out", keys)
	if !strings.Contains(out, "SERIALNUMBER=IIN871008401427") || !strings.Contains(out, "G=НҰРЛАНҚЫЗЫ") {
		t.Fatalf("issue output:\n%s", out)
	}
	doc := filepath.Join(t.TempDir(), "doc.txt")
	if err := os.WriteFile(doc, []byte("Сенімхат"), 0o600); err != nil {
		t.Fatal(err)
	}
	sig := filepath.Join(t.TempDir(), "doc.cms")
	mustCLI(t, data, "cms", "sign", "--p12", p12Of(t, keys, "RSA256_"), "--password", "senim2026", "--in", doc, "--out", sig, "--format", "base64")

	out = mustCLI(t, data, "cms", "verify", sig, "--purpose", "sign", "--role", "individual")
	if !strings.Contains(out, "OK") || !strings.Contains(out, "871008401427") || !strings.Contains(out, "СЕЙТҚАЛИ ӘЙГЕРІМ НҰРЛАНҚЫЗЫ") {
		t.Fatalf("verify output:\n%s", out)
	}
	out, code = cli(t, data, "cms", "verify", "--purpose", "auth", sig)
	if code != 1 || !strings.Contains(out, "FAIL wrong_key_usage") {
		t.Fatalf("auth purpose: exit %d\n%s", code, out)
	}
	out, code = cli(t, data, "cms", "sign", "--p12", p12Of(t, keys, "RSA256_"), "--password", "wrong123", "--in", doc)
	if code != 1 || !strings.Contains(out, "wrong_password") {
		t.Fatalf("wrong p12 password: exit %d\n%s", code, out)
	}

	mustCLI(t, data, "dev", "revoke", "--iin", "871008401427")
	out, code = cli(t, data, "cms", "verify", "--live", "--json", sig)
	var rep struct {
		OK   bool   `json:"ok"`
		Code string `json:"code"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.OK || rep.Code != "revoked" {
		t.Fatalf("after revoke: exit %d %v\n%s", code, err, out)
	}
	if out := mustCLI(t, data, "dev", "list"); strings.Count(out, "revoked") != 2 {
		t.Fatalf("dev list should show both keys revoked:\n%s", out)
	}
}

// startLogged starts a long-running senim command with JSON logs and
// returns the value of field in the first log line whose message starts
// with msg. The process is killed when the test ends.
func startLogged(t *testing.T, data, msg, field string, args ...string) string {
	t.Helper()
	v, _ := startProcess(t, data, msg, field, args...)
	return v
}

// startProcess is startLogged that also returns the process, to kill it.
func startProcess(t *testing.T, data, msg, field string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	return startProcessEnv(t, data, nil, msg, field, args...)
}

// startProcessEnv is startProcess with extra SENIM_* variables, which win
// over its own.
func startProcessEnv(t *testing.T, data string, env []string, msg, field string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(senim, args...)
	cmd.Env = append(append(os.Environ(), "SENIM_DATA_DIR="+data, "SENIM_HTTP_ADDR=127.0.0.1:0", "SENIM_TURN_ADDR=127.0.0.1:0", "SENIM_LOG_FORMAT=json", "SENIM_CONFIG="), env...)
	cmd.Dir = t.TempDir()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			if m, _ := line["message"].(string); strings.HasPrefix(m, msg) {
				v, _ := line[field].(string)
				found <- v
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case v := <-found:
		return v, cmd
	case <-time.After(60 * time.Second):
		t.Fatalf("senim %s did not log %q", strings.Join(args, " "), msg)
	}
	return "", nil
}

func TestServeHealthAndCRL(t *testing.T) {
	data := t.TempDir()
	base := startLogged(t, data, "senim listening", "addr", "serve")
	get := func(path string) (int, []byte) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := get("/pki/crl/ca.crl"); code != 200 || len(body) == 0 {
		t.Fatalf("/pki/crl/ca.crl: %d", code)
	}
	if code, body := get("/pki/trust.pem"); code != 200 || strings.Count(string(body), "BEGIN CERTIFICATE") != 2 {
		t.Fatalf("/pki/trust.pem: %d\n%s", code, body)
	}
	// The dev CA was made under the data directory and is reused.
	if _, err := os.Stat(filepath.Join(data, "devca", "root.crt")); err != nil {
		t.Fatal(err)
	}
}

// The NCALayer stand-in as a user runs it: wss on a self-made certificate,
// keys from the .p12 files `senim dev issue` wrote.
func TestDevNCALayerOverWSS(t *testing.T) {
	data, keys := t.TempDir(), t.TempDir()
	mustCLI(t, data, "dev", "issue", "--iin", "760212350620", "--name", "Омаров Ерлан", "--password", "senim2026", "--out", keys)
	url := startLogged(t, data, "NCALayer stand-in listening", "url", "dev", "ncalayer",
		"--p12", p12Of(t, keys, "AUTH_RSA256_"), "--p12", p12Of(t, keys, "RSA256_"), "--password", "senim2026", "--addr", "127.0.0.1:0")
	if !strings.HasPrefix(url, "wss://127.0.0.1:") {
		t.Fatalf("url %q", url)
	}
	tlsCert, err := pki.LoadCertificates(filepath.Join(data, "ncalayer", "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(tlsCert[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := ncalayer.Dial(ctx, url, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	der, err := c.SignCMS(ctx, []byte("challenge"), ncalayer.SignerParams{ExtKeyUsageOIDs: []string{pki.EKUClientAuth}}, true)
	if err != nil {
		t.Fatal(err)
	}
	sig := filepath.Join(t.TempDir(), "sig.der")
	if err := os.WriteFile(sig, der, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustCLI(t, data, "cms", "verify", "--purpose", "auth", "--live", sig); !strings.Contains(out, "760212350620") {
		t.Fatalf("verify:\n%s", out)
	}
}

// A deployment trusts NUC, not the dev CA: roots, intermediates and CRLs
// come from configuration. Here another data directory's dev CA plays NUC.
func TestConfiguredTrustStore(t *testing.T) {
	nuc, keys := t.TempDir(), t.TempDir()
	mustCLI(t, nuc, "dev", "issue", "--iin", "061211600012", "--name", "Нұрлан Ата", "--password", "senim2026", "--out", keys)
	doc := filepath.Join(t.TempDir(), "doc")
	if err := os.WriteFile(doc, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	sig := filepath.Join(t.TempDir(), "doc.cms")
	mustCLI(t, nuc, "cms", "sign", "--p12", p12Of(t, keys, "RSA256_"), "--password", "senim2026", "--in", doc, "--out", sig)
	mustCLI(t, nuc, "dev", "revoke", "--iin", "061211600012")

	server := t.TempDir() // a server whose own dev CA is off
	trust := []string{
		"SENIM_PKI_DEV_CA=false",
		"SENIM_PKI_ROOTS=" + filepath.Join(nuc, "devca", "root.crt"),
		"SENIM_PKI_INTERMEDIATES=" + filepath.Join(nuc, "devca", "ca.crt"),
	}
	noCRL := append(trust, "SENIM_PKI_REQUIRE_CRL=false") // an audit without CRLs must say so
	if out, code := cliEnv(t, server, noCRL, "cms", "verify", "--live", sig); code != 0 || !strings.Contains(out, "061211600012") {
		t.Fatalf("configured roots, no CRL: exit %d\n%s", code, out)
	}
	withCRL := append(trust, "SENIM_PKI_CRLS="+filepath.Join(nuc, "devca", "ca.crl"))
	if out, code := cliEnv(t, server, withCRL, "cms", "verify", "--live", sig); code != 1 || !strings.Contains(out, "FAIL revoked") {
		t.Fatalf("configured CRL: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(server, "devca")); !os.IsNotExist(err) {
		t.Fatalf("dev_ca=false still made a dev CA: %v", err)
	}
	other := t.TempDir()
	mustCLI(t, other, "dev", "list") // makes another CA: a root that did not issue the signer
	foreign := []string{"SENIM_PKI_DEV_CA=false", "SENIM_PKI_ROOTS=" + filepath.Join(other, "devca", "root.crt"), "SENIM_PKI_REQUIRE_CRL=false"}
	if out, code := cliEnv(t, server, foreign, "cms", "verify", sig); code != 1 || !strings.Contains(out, "FAIL untrusted_chain") {
		t.Fatalf("foreign root: exit %d\n%s", code, out)
	}
}

func TestNotaryRemove(t *testing.T) {
	data := t.TempDir()
	mustCLI(t, data, "notary", "add", "--login", "aliya", "--name", "Алия Нотариус", "--iin", "791028302728", "--password", "aliya-password")
	if out := mustCLI(t, data, "notary", "remove", "--login", "aliya"); !strings.Contains(out, "removed") {
		t.Fatalf("remove: %s", out)
	}
	if out, code := cli(t, data, "notary", "remove", "--login", "aliya"); code != 2 || !strings.Contains(out, "no such notary") {
		t.Fatalf("removing an unknown notary: exit %d\n%s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(data, "notaries.json"))
	if err != nil || strings.Contains(string(b), "aliya") {
		t.Fatalf("the account is still in the file (%v):\n%s", err, b)
	}
}
