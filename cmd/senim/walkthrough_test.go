package main_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// terminal is a `senim client` a person types into.
type terminal struct {
	t     *testing.T
	name  string
	stdin io.WriteCloser
	mu    sync.Mutex
	out   strings.Builder
	cond  *sync.Cond
}

func openTerminal(t *testing.T, data, name string, args ...string) *terminal {
	t.Helper()
	cmd := exec.Command(senim, append([]string{"client"}, args...)...)
	cmd.Env = append(os.Environ(), "SENIM_DATA_DIR="+data, "SENIM_CONFIG=")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, name: name, stdin: in}
	term.cond = sync.NewCond(&term.mu)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			term.mu.Lock()
			term.out.WriteString(sc.Text() + "\n")
			term.cond.Broadcast()
			term.mu.Unlock()
		}
		term.mu.Lock()
		term.out.WriteString("<closed>\n")
		term.cond.Broadcast()
		term.mu.Unlock()
	}()
	t.Cleanup(func() { in.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return term
}

// expect waits until the output holds a match for re after position from,
// and returns the first submatch (or the match) and the new position.
func (m *terminal) expect(re string) string {
	m.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(30 * time.Second)
	timer := time.AfterFunc(30*time.Second, func() { m.mu.Lock(); m.cond.Broadcast(); m.mu.Unlock() })
	defer timer.Stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if loc := rx.FindStringSubmatchIndex(m.out.String()); loc != nil {
			s := m.out.String()
			match := s[loc[0]:loc[1]]
			if len(loc) >= 4 {
				match = s[loc[2]:loc[3]]
			}
			// Consume the output up to the match.
			rest := s[loc[1]:]
			m.out.Reset()
			m.out.WriteString(rest)
			return match
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s: no %q in:\n%s", m.name, re, m.out.String())
		}
		m.cond.Wait()
	}
}

func (m *terminal) say(format string, args ...any) {
	m.t.Helper()
	if _, err := fmt.Fprintf(m.stdin, format+"\n", args...); err != nil {
		m.t.Fatal(err)
	}
}

// The README's "a full notarial act by hand", typed into three terminals.
func TestREADMEWalkthrough(t *testing.T) {
	data, keys := t.TempDir(), t.TempDir()
	mustCLI(t, data, "dev", "issue", "--iin", "871008401427", "--name", "Сейтқали Әйгерім", "--password", "senim2026", "--out", keys+"/client")
	mustCLI(t, data, "dev", "issue", "--iin", "760212350620", "--name", "Омаров Ерлан", "--password", "senim2026", "--out", keys+"/attorney")
	mustCLI(t, data, "dev", "issue", "--iin", "791028302728", "--name", "Нотариус Алия", "--password", "senim2026", "--out", keys+"/notary")
	mustCLI(t, data, "notary", "add", "--login", "aliya", "--name", "Алия Нотариус", "--iin", "791028302728", "--password", "aliya-password")
	addr, _ := serve(t, data)

	p12 := func(who string) []string {
		return []string{"--p12", p12Of(t, keys+"/"+who, "AUTH_RSA256_"), "--p12", p12Of(t, keys+"/"+who, "RSA256_"), "--password", "senim2026"}
	}
	notary := openTerminal(t, data, "notary", "--server", addr, "--role", "notary", "--login", "aliya", "--password", "aliya-password",
		"--p12", p12Of(t, keys+"/notary", "RSA256_"), "--p12-password", "senim2026")
	notary.expect(`signed in as notary`)
	notary.say("available")
	notary.expect(`operator mode: available`)

	cl := openTerminal(t, data, "client", append([]string{"--server", addr, "--role", "client"}, p12("client")...)...)
	cl.expect(`signed in as client`)
	cl.say("apply +77012345678 760212350620")
	actID := cl.expect(`application submitted: act ([0-9a-f]{32})`)

	at := openTerminal(t, data, "attorney", append([]string{"--server", addr, "--role", "attorney"}, p12("attorney")...)...)
	at.expect(`signed in as attorney`)
	at.say("consent %s", actID)
	at.expect(`ok, act`)

	cl.say("watch %s", actID)
	cl.expect(`watching`)
	cl.say("call %s", actID)
	notary.expect(`<- offer ` + actID)
	notary.say("accept %s", actID)
	notary.expect(`ok, act`)
	for _, c := range []string{"document_shown", "legal_capacity", "rights_explained"} {
		notary.say("check %s %s pass", actID, c)
		notary.expect(`ok, act`)
	}
	notary.say("lookup %s 871008401427", actID)
	notary.expect(`registry: 871008401427 СЕЙТҚАЛИ ӘЙГЕРІМ`)
	cl.expect(`registry_checked`)
	notary.say("draft %s 1-2026-0001 12 Управлять автомобилем", actID)
	notary.expect(`ok, act`)
	cl.expect(`draft_presented`)
	cl.say("changes %s 1 Добавить право продажи", actID)
	cl.expect(`ok, act`)
	notary.say("draft %s 1-2026-0001 24 Управлять и продать автомобиль", actID)
	notary.expect(`ok, act`)
	cl.say("approve %s 2", actID)
	cl.expect(`ok, act`)
	notary.say("sign %s", actID)
	notary.expect(`error: draft_not_approved|error: not_paid`)
	notary.say("invoice %s", actID)
	notary.expect(`ok, act`)
	cl.say("pay %s", actID)
	// The pay command answers once Senim took the bank's callback, so the
	// event may be printed before or after it.
	cl.expect(`(?s)bank: paid \d+ tiyn .*Senim accepted.*payment_received|payment_received.*bank: paid \d+ tiyn .*Senim accepted`)
	notary.say("code %s", actID)
	notary.expect(`ok, act`)
	notary.say("sign %s", actID)
	notary.expect(`ok, act`)
	cl.expect(`act_signed`)
	cl.say("acts")
	cl.expect(actID + `\s+signed`)
	notary.say("register")
	notary.expect(`\+77012345678`)
}
