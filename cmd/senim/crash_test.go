package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/transport/protocol"
)

func issueParty(t *testing.T, data, iin, name string) client.KeySigner {
	t.Helper()
	dir := t.TempDir()
	mustCLI(t, data, "dev", "issue", "--iin", iin, "--name", name, "--password", "senim2026", "--out", dir)
	var ks client.KeySigner
	for _, prefix := range []string{"AUTH_RSA256_", "RSA256_"} {
		k, err := pki.LoadPKCS12(p12Of(t, dir, prefix), "senim2026")
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	return ks
}

// serve starts `senim serve` on data and returns its address and process.
func serve(t *testing.T, data string) (string, *os.Process) {
	t.Helper()
	addr, cmd := startProcess(t, data, "senim listening", "addr", "serve")
	return strings.TrimPrefix(addr, "http://"), cmd.Process
}

func kill9(t *testing.T, p *os.Process) {
	t.Helper()
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = p.Wait()
}

type session struct {
	t   *testing.T
	c   *client.Client
	ctx context.Context
}

func connect(t *testing.T, addr string, signIn func(context.Context, *client.Client) error) *session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c, err := client.Dial(ctx, "ws://"+addr+"/ws", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if err := signIn(ctx, c); err != nil {
		t.Fatal(err)
	}
	return &session{t: t, c: c, ctx: ctx}
}

func (s *session) cmd(act, name string, body any) client.Ack {
	s.t.Helper()
	a, err := s.c.Command(s.ctx, act, name, body)
	if err != nil {
		s.t.Fatalf("%s: %v", name, err)
	}
	return a
}

func (s *session) sign(k client.KeySigner, act, what string, rev int) string {
	s.t.Helper()
	cms, err := s.c.SignStep(s.ctx, k, act, what, rev)
	if err != nil {
		s.t.Fatal(err)
	}
	return cms
}

// SIGKILL at two points of an act; the restarted server finishes it, and
// the log has every event once, in order, chained.
func TestCrashRecoveryEndToEnd(t *testing.T) {
	data := t.TempDir()
	cl := issueParty(t, data, "871008401427", "Сейтқали Әйгерім")
	at := issueParty(t, data, "760212350620", "Омаров Ерлан")
	nt := issueParty(t, data, "791028302728", "Нотариус Алия")
	mustCLI(t, data, "notary", "add", "--login", "aliya", "--name", "Алия Нотариус", "--iin", "791028302728", "--password", "aliya-password")
	asClient := func(ctx context.Context, c *client.Client) error {
		_, err := c.SignInEDS(ctx, "client", cl)
		return err
	}
	asAttorney := func(ctx context.Context, c *client.Client) error {
		_, err := c.SignInEDS(ctx, "attorney", at)
		return err
	}
	asNotary := func(ctx context.Context, c *client.Client) error {
		_, err := c.SignInPassword(ctx, "aliya", "aliya-password")
		return err
	}

	// Run 1: application, consent, and a call left waiting in the queue.
	addr, proc := serve(t, data)
	c := connect(t, addr, asClient)
	actID, err := c.c.Apply(c.ctx, cl, "+77012345678", "760212350620")
	if err != nil {
		t.Fatal(err)
	}
	a := connect(t, addr, asAttorney)
	a.cmd(actID, "give_consent", map[string]any{"cms": a.sign(at, actID, "consent", 0)})
	waiting := c.cmd(actID, "request_call", nil)
	kill9(t, proc)

	// Run 2: the desk rebuilt its queue; the notary gets the offer.
	addr, proc = serve(t, data)
	n := connect(t, addr, asNotary)
	if err := n.c.Operator(n.ctx, "available", ""); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-n.c.Offers():
		if o.Act != actID {
			t.Fatalf("offer for %s", o.Act)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no offer after the restart: the queue was lost")
	}
	n.cmd(actID, "accept_call", nil)
	// The call is on, and recorded, when the server dies.
	c = connect(t, addr, asClient)
	callCtx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	calls := map[string]*client.Call{}
	for who, s := range map[string]*session{"notary-aliya": n, "client-871008401427": c} {
		call, err := s.c.StartCall(callCtx, actID, webrtc.Configuration{}, who, 300_000)
		if err != nil {
			t.Fatal(err)
		}
		defer call.Close()
		calls[who] = call
	}
	testtool.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		for who, from := range map[string]string{"notary-aliya": "client-871008401427", "client-871008401427": "notary-aliya"} {
			if v, a := calls[who].ReceivedFrom(from); v < 30 || a < 30 {
				return fmt.Errorf("%s hears %s: %d video, %d audio packets", who, from, v, a)
			}
		}
		return nil
	})
	for _, check := range []string{"document_shown", "legal_capacity", "rights_explained"} {
		n.cmd(actID, "record_check", map[string]any{"check": check, "passed": true})
	}
	n.cmd(actID, "present_draft", map[string]any{"registry_number": "7-2026-0042", "powers": "Представлять интересы в банках", "term_months": 36})
	approved := c.cmd(actID, "approve_draft", map[string]any{"revision": 1, "cms": c.sign(cl, actID, "draft", 1)})
	// The call's WebM has a cluster on disk, behind its provisional head.
	testtool.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		parts, _ := filepath.Glob(filepath.Join(data, "recordings", actID, "*", sfu.WebMFile+".part"))
		if len(parts) != 1 {
			return fmt.Errorf("WebM parts %v", parts)
		}
		b, err := os.ReadFile(parts[0])
		if err != nil {
			return err
		}
		if len(b) <= 4096 || !strings.HasPrefix(string(b), "\x1a\x45\xdf\xa3") {
			return fmt.Errorf("the WebM part holds %d bytes and no head yet", len(b))
		}
		return nil
	})
	kill9(t, proc)

	// Run 3: reconnect both parties and finish.
	addr, proc = serve(t, data)
	c = connect(t, addr, asClient)
	n = connect(t, addr, asNotary)
	// Retrying the approval after the crash is a duplicate, not a second approval.
	again, err := c.c.CommandWithID(c.ctx, "approve-after-crash", actID, "approve_draft", map[string]any{"revision": 1, "cms": c.sign(cl, actID, "draft", 1)})
	if client.CodeOf(err) != "already_approved" {
		t.Fatalf("re-approval after the crash: %+v %v", again, err)
	}
	n.cmd(actID, "issue_invoice", nil)
	var s act.State
	if err := c.c.Query(c.ctx, "act", actID, nil, &s); err != nil {
		t.Fatal(err)
	}
	if s.Version <= approved.Seq || s.Approved != 1 || s.Call != act.CallActive && s.Call != act.CallOver {
		t.Fatalf("state after restart: seq %d phase %s approved %d call %s", s.Version, s.Phase, s.Approved, s.Call)
	}
	link, err := c.c.PaymentLink(c.ctx, actID)
	if err != nil || link.Invoice != s.Invoice.ID {
		t.Fatalf("payment link: %+v %v", link, err)
	}
	if p, err := client.PayAtStandIn(c.ctx, link.URL); err != nil || p.Status != "accepted" {
		t.Fatalf("pay: %+v %v", p, err)
	}
	if err := c.c.Subscribe(c.ctx, actID, 0); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	var names []string
	deadline := time.After(30 * time.Second)
	for paid := false; !paid; {
		select {
		case e := <-c.c.Events():
			raw, _ := json.Marshal(e)
			if err := protocol.Validate(raw); err != nil {
				t.Fatal(err)
			}
			seqs, names = append(seqs, e.Seq), append(names, e.Name)
			paid = e.Name == "payment_received"
		case <-deadline:
			t.Fatalf("payment not seen; events %v", names)
		}
	}
	n.cmd(actID, "issue_document_code", nil)
	final := n.cmd(actID, "sign_act", map[string]any{"cms": n.sign(nt, actID, "document", 0)})
	for len(seqs) < int(final.Seq) {
		select {
		case e := <-c.c.Events():
			seqs, names = append(seqs, e.Seq), append(names, e.Name)
		case <-deadline:
			t.Fatalf("events stopped at %v", names)
		}
	}
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("events %v: gap or duplicate at %d", seqs, i)
		}
	}
	// The recording the crash cut off was finished by the restarted server:
	// its files, as far as they got, are named with their hashes: the four
	// track files and the call's WebM, finished now and marked cut short.
	var recorded act.State
	testtool.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		if err := c.c.Query(c.ctx, "act", actID, nil, &recorded); err != nil {
			return err
		}
		if len(recorded.Recordings) != 1 || recorded.Recordings[0].FinishedAt.IsZero() {
			return fmt.Errorf("recordings %+v", recorded.Recordings)
		}
		return nil
	})
	rec := recorded.Recordings[0]
	if len(rec.Files) != 5 {
		t.Fatalf("salvaged files %+v", rec.Files)
	}
	for _, f := range rec.Files {
		if (f.Codec == sfu.WebMCodec) != (f.File == sfu.WebMFile) || (f.File == sfu.WebMFile) != f.Cut {
			t.Fatalf("salvaged file %+v: only the call's WebM is cut short", f)
		}
	}
	for _, f := range rec.Files {
		sum, size, err := sfu.HashFile(filepath.Join(data, "recordings", actID, rec.ID, f.File))
		if err != nil || sum != f.SHA256 || size != f.Bytes || size == 0 {
			t.Fatalf("%s: %v, hash %s size %d, named %s %d", f.File, err, sum, size, f.SHA256, f.Bytes)
		}
	}
	if waiting.Seq == 0 || names[waiting.Seq-1] != "call_requested" {
		t.Fatalf("the call request acknowledged before the crash is not at seq %d: %v", waiting.Seq, names)
	}
	// Stop the server and read the log itself.
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, _ = proc.Wait()
	l, err := eventlog.Open(filepath.Join(data, "eventlog"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.VerifyChain("act/" + actID); err != nil {
		t.Fatal(err)
	}
	recs, _ := l.ReadAll("act/" + actID)
	seen := map[string]uint64{}
	for _, r := range recs {
		if r.CommandID == "" {
			continue
		}
		if prev, ok := seen[r.CommandID]; ok && prev != r.Seq-1 {
			t.Fatalf("command %s wrote twice (seq %d and %d)", r.CommandID, prev, r.Seq)
		}
		seen[r.CommandID] = r.Seq
	}
	l.Close()
	// `senim replay` tells the same story, and shows any state on the way.
	out := mustCLI(t, data, "replay", actID)
	for _, want := range []string{"#1 ", "application_submitted", "call_requested", "draft_approved", "act_signed",
		fmt.Sprintf("%d events, phase signed, hash chain intact", len(recs))} {
		if !strings.Contains(out, want) {
			t.Fatalf("replay lacks %q:\n%s", want, out)
		}
	}
	at3 := mustCLI(t, data, "replay", "--at", "3", actID)
	if !strings.Contains(at3, `"phase": "ready"`) || !strings.Contains(at3, `"version": 3`) {
		t.Fatalf("replay --at 3:\n%s", at3)
	}
	if out, code := cli(t, data, "replay", "no-such-act"); code != 1 || !strings.Contains(out, "no act") {
		t.Fatalf("unknown act: %d %s", code, out)
	}
	if m := checkEvidence(t, data, actID); len(m.Recordings) != 1 || len(m.Recordings[0].Files) != 5 {
		t.Fatalf("the evidence names recordings %+v", m.Recordings)
	}
	checkAfterMove(t, data, actID)
	// The recordings' files check against the evidence; a changed byte fails.
	zipPath := filepath.Join(t.TempDir(), "act.zip")
	mustCLI(t, data, "export", "--out", zipPath, actID)
	recDir := filepath.Join(data, "recordings", actID)
	if out := mustCLI(t, data, "verify", "--recordings", recDir, zipPath); strings.Count(out, "pass  recording ") != 5 || !strings.Contains(out, "cut short") {
		t.Fatalf("recordings not checked:\n%s", out)
	}
	victim := filepath.Join(recDir, rec.ID, rec.Files[0].File)
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(victim, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := cli(t, data, "verify", "--recordings", recDir, zipPath); code != 1 || !strings.Contains(out, "FAIL  recording "+rec.ID+"/"+rec.Files[0].File) {
		t.Fatalf("a changed recording passed (exit %d):\n%s", code, out)
	}
	if last := recs[len(recs)-1]; last.Type != "act_signed" || uint64(len(recs)) != final.Seq {
		t.Fatalf("log ends with %s at %d, ack said %d", last.Type, len(recs), final.Seq)
	}
}
