package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/document"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/internal/testserver"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/transport/server"
)

const (
	clientIIN   = "871008401427"
	attorneyIIN = "760212350620"
	notaryIIN   = "791028302728"
	otherIIN    = "061211600012"
)

// world is a running server with the people of an act and their keys.
type world struct {
	t        *testing.T
	dir      string
	srv      *server.Server
	url      string
	http     string
	client   client.KeySigner
	attorney client.KeySigner
	notary   client.KeySigner
	stranger client.KeySigner
}

func startServer(t *testing.T, dataDir string, mods ...func(*config.Config)) *server.Server {
	t.Helper()
	return startServerLogged(t, dataDir, zerolog.Nop(), mods...)
}

// startServerLogged runs a server that logs to log.
func startServerLogged(t *testing.T, dataDir string, log zerolog.Logger, mods ...func(*config.Config)) *server.Server {
	t.Helper()
	return testserver.Run(t, testserver.Config(dataDir, mods...), log, server.Options{})
}

func newWorld(t *testing.T, mods ...func(*config.Config)) *world {
	t.Helper()
	return newWorldLogged(t, zerolog.Nop(), mods...)
}

// newWorldLogged is newWorld with a server that logs to log.
func newWorldLogged(t *testing.T, log zerolog.Logger, mods ...func(*config.Config)) *world {
	t.Helper()
	dir := t.TempDir()
	return worldOn(t, dir, startServerLogged(t, dir, log, mods...))
}

// worldOn is the world of srv, whose data is in dir: the four people's keys
// from its development CA, in its registry, and the notaries' accounts.
func worldOn(t *testing.T, dir string, srv *server.Server) *world {
	t.Helper()
	w := &world{t: t, dir: dir, srv: srv, url: "ws://" + srv.Addr() + "/ws", http: "http://" + srv.Addr()}
	pair := func(id, surname, name string) client.KeySigner {
		p, err := srv.DevCA.IssuePair(devca.Request{IIN: iin.IIN(id), Surname: surname, Name: name}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := registry.Add(server.RegistryPath(dir), registry.Person{IIN: id, Surname: surname, Name: name}); err != nil {
			t.Fatal(err)
		}
		return client.KeySigner{p.Auth, p.Sign}
	}
	w.client = pair(clientIIN, "Сейтқали", "Әйгерім")
	w.attorney = pair(attorneyIIN, "Омаров", "Ерлан")
	w.notary = pair(notaryIIN, "Нотариус", "Алия")
	w.stranger = pair(otherIIN, "Чужой", "Человек")
	if err := addNotary(dir); err != nil {
		t.Fatal(err)
	}
	return w
}

// addNotary gives a data directory the notaries aliya and bolat.
func addNotary(dir string) error {
	if err := accounts.Add(server.AccountsPath(dir), accounts.Notary{Login: "aliya", Name: "Алия Нотариус", IIN: notaryIIN}, "aliya-password", time.Now()); err != nil {
		return err
	}
	return accounts.Add(server.AccountsPath(dir), accounts.Notary{Login: "bolat", Name: "Болат Нотариус", IIN: otherIIN}, "bolat-password", time.Now())
}

func (w *world) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	w.t.Cleanup(cancel)
	return ctx
}

func (w *world) dial() *client.Client {
	w.t.Helper()
	c, err := client.Dial(w.ctx(), w.url, client.Options{Inspect: func(frame []byte) {
		if err := protocol.Validate(frame); err != nil {
			w.t.Errorf("the server sent a message outside the schema: %v\n%s", err, frame)
		}
	}})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.CloseNow() })
	return c
}

func (w *world) eds(role string, s client.KeySigner) *client.Client {
	w.t.Helper()
	c := w.dial()
	wel, err := c.SignInEDS(w.ctx(), role, s)
	if err != nil {
		w.t.Fatalf("%s sign-in: %v", role, err)
	}
	if wel.Role != role {
		w.t.Fatalf("welcome %+v", wel)
	}
	return c
}

func (w *world) notaryIn(login, pw string) *client.Client {
	w.t.Helper()
	c := w.dial()
	if _, err := c.SignInPassword(w.ctx(), login, pw); err != nil {
		w.t.Fatal(err)
	}
	return c
}

func must[T any](t *testing.T, v T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mustOf unwraps (value, error) results: mustOf[T](t)(f()).
func mustOf[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func refused(t *testing.T, err error, code string) {
	t.Helper()
	if got := client.CodeOf(err); got != code {
		t.Fatalf("want refusal %q, got %v", code, err)
	}
}

// next waits for the next message on ch that passes keep.
func next(t *testing.T, ch <-chan protocol.Envelope, keep func(protocol.Envelope) bool) protocol.Envelope {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case env, ok := <-ch:
			if !ok {
				t.Fatal("connection closed")
			}
			raw, _ := json.Marshal(env)
			if err := protocol.Validate(raw); err != nil {
				t.Fatalf("server sent a message outside the schema: %v", err)
			}
			if keep(env) {
				return env
			}
		case <-deadline:
			t.Fatal("no message within 30s")
		}
	}
}

func eventNamed(name string) func(protocol.Envelope) bool {
	return func(e protocol.Envelope) bool { return e.Name == name }
}

// toApproval takes an act from the application to just before the invoice
// and returns the act id with the sessions it used.
func (w *world) toApproval(t *testing.T) (string, *client.Client, *client.Client) {
	ctx := w.ctx()
	actID, cl, nt := w.toCall(t)
	for _, c := range []string{"document_shown", "legal_capacity", "rights_explained"} {
		mustOf[client.Ack](t)(nt.Command(ctx, actID, "record_check", map[string]any{"check": c, "passed": true}))
	}
	// Two draft rounds: the client sends the first back.
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "present_draft", map[string]any{"registry_number": "1-2026-0001", "powers": "Управлять автомобилем", "term_months": 12}))
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "request_changes", map[string]any{"revision": 1, "comments": "Добавить право продажи"}))
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "present_draft", map[string]any{"registry_number": "1-2026-0001", "powers": "Управлять и продать автомобиль", "term_months": 24}))
	// The approval of revision 1 is impossible now; revision 2 it is.
	stale := mustOf[string](t)(cl.SignStep(ctx, w.client, actID, "draft", 1))
	_, err := cl.Command(ctx, actID, "approve_draft", map[string]any{"revision": 1, "cms": stale})
	refused(t, err, "stale_revision")
	cms := mustOf[string](t)(cl.SignStep(ctx, w.client, actID, "draft", 2))
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "approve_draft", map[string]any{"revision": 2, "cms": cms}))
	return actID, cl, nt
}

// toCall brings an act to the point where the notary took the client's call.
func (w *world) toCall(t *testing.T) (string, *client.Client, *client.Client) {
	ctx := w.ctx()
	cl := w.eds("client", w.client)
	actID := mustOf[string](t)(cl.Apply(ctx, w.client, "+7 701 234 56 78", attorneyIIN))
	at := w.eds("attorney", w.attorney)
	cms := mustOf[string](t)(at.SignStep(ctx, w.attorney, actID, "consent", 0))
	mustOf[client.Ack](t)(at.Command(ctx, actID, "give_consent", map[string]any{"cms": cms}))

	nt := w.notaryIn("aliya", "aliya-password")
	must(t, 0, nt.Operator(ctx, "available", ""))
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "request_call", nil))
	offer := next(t, nt.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == actID })
	var o protocol.Offer
	_ = json.Unmarshal(offer.Body, &o)
	if o.PrincipalIIN != clientIIN || o.QueuePosition != 1 {
		t.Fatalf("offer %+v", o)
	}
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "accept_call", nil))
	return actID, cl, nt
}

// pay pays the act's invoice at the bank stand-in, through the payment link
// that only the principal's session c gets, and wants Senim to accept it.
func (w *world) pay(t *testing.T, c *client.Client, actID string) client.Payment {
	t.Helper()
	link := mustOf[protocol.PaymentLink](t)(c.PaymentLink(w.ctx(), actID))
	p := mustOf[client.Payment](t)(client.PayAtStandIn(w.ctx(), link.URL))
	if p.Status != "accepted" || p.InvoiceID != link.Invoice || p.Amount != link.Amount {
		t.Fatalf("pay: %+v for %+v", p, link)
	}
	return p
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *world) state(t *testing.T, c *client.Client, actID string) act.State {
	t.Helper()
	var s act.State
	if err := c.Query(w.ctx(), "act", actID, nil, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFullActOverTheProtocol(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toApproval(t)
	if err := cl.Subscribe(ctx, actID, 0); err != nil {
		t.Fatal(err)
	}
	first := next(t, cl.Events(), func(protocol.Envelope) bool { return true })
	if first.Seq != 1 || first.Name != "application_submitted" {
		t.Fatalf("first event %+v", first)
	}

	// Signing before payment is refused; so is the code.
	_, err := nt.Command(ctx, actID, "issue_document_code", nil)
	refused(t, err, "not_paid")
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_invoice", nil))
	s := w.state(t, cl, actID)
	if s.Invoice == nil || s.Invoice.Amount != 1513750 {
		t.Fatalf("invoice %+v", s.Invoice)
	}
	// The client pays through the link only the principal gets; the bank
	// calls back, the act is paid.
	w.pay(t, cl, actID)
	next(t, cl.Events(), eventNamed("payment_received"))
	// The bank repeats its callback: nothing changes.
	seqBefore := w.state(t, cl, actID).Version
	dupBefore := w.metric(t, `senim_bank_callbacks_total{outcome="duplicate"}`)
	if err := w.srv.BankSim.Redeliver(s.Invoice.ID); err != nil {
		t.Fatal(err)
	}
	poll(t, "duplicate callback answered", func() bool {
		return w.metric(t, `senim_bank_callbacks_total{outcome="duplicate"}`) > dupBefore
	})
	if got := w.state(t, cl, actID); got.Version != seqBefore || len(got.Payments) != 1 {
		t.Fatalf("a duplicate callback changed the act: seq %d→%d, %d payments", seqBefore, got.Version, len(got.Payments))
	}

	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_document_code", nil))
	// The notary signs with the signing key: the client's key will not do.
	bad := mustOf[string](t)(nt.SignStep(ctx, w.client, actID, "document", 0))
	_, err = nt.Command(ctx, actID, "sign_act", map[string]any{"cms": bad})
	refused(t, err, "signer_mismatch")
	// An auth key is not a signing key.
	doc := w.state(t, nt, actID)
	authSig := mustOf[[]byte](t)(client.KeySigner{w.notary[0]}.SignCMS(ctx, act.DocumentBytes(&doc), mustParams(pki.EKUClientAuth), true))
	_, err = nt.Command(ctx, actID, "sign_act", map[string]any{"cms": b64(authSig)})
	refused(t, err, "wrong_key_usage")
	cms := mustOf[string](t)(nt.SignStep(ctx, w.notary, actID, "document", 0))
	ack := mustOf[client.Ack](t)(nt.Command(ctx, actID, "sign_act", map[string]any{"cms": cms}))
	signed := next(t, cl.Events(), eventNamed("act_signed"))
	if signed.Seq != ack.Seq {
		t.Fatalf("ack seq %d, event seq %d", ack.Seq, signed.Seq)
	}
	final := w.state(t, cl, actID)
	if final.Phase != act.PhaseSigned || final.DocumentCode == "" || len(final.Revisions) != 2 || final.Approved != 2 {
		t.Fatalf("final %+v", final)
	}
	// The chain of the act's log is intact.
	if err := w.srv.Log.VerifyChain("act/" + actID); err != nil {
		t.Fatal(err)
	}
	// The notary signed the rendered document, and it seals the history up
	// to the approval: it names the approval event's hash in the log.
	cfg := config.Default()
	if want := (act.DocumentInputs{Place: cfg.Document.Place, PublicURL: cfg.Document.PublicURL, Format: document.CurrentFormat()}); final.DocumentInputs != want {
		t.Fatalf("the act recorded %+v to render its document, not %+v", final.DocumentInputs, want)
	}
	text := mustOf[[]byte](t)(document.Canonical(document.FactsOf(&final, act.DocumentInputs{})))
	if act.SHA256Hex(text) != final.NotarySig.ContentSHA256 {
		t.Fatal("the notary's signature is not over the rendered document")
	}
	recs, _ := w.srv.Log.ReadAll("act/" + actID)
	var approvalHash string
	for _, r := range recs {
		if r.Type == "draft_approved" {
			approvalHash = r.Hash
		}
	}
	for _, want := range []string{approvalHash, final.DocumentCode, "СЕЙТҚАЛИ ӘЙГЕРІМ", "ОМАРОВ ЕРЛАН", "Управлять и продать автомобиль", "/verify/" + final.DocumentCode} {
		if want == "" || !strings.Contains(string(text), want) {
			t.Fatalf("the signed document lacks %q:\n%s", want, text)
		}
	}

	// Operators see it in the metrics.
	resp, err := http.Get(w.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Counters are process-wide (other tests add to them): ask for at least one.
	for _, want := range []string{`senim_commands_total\{code="ok",command="sign_act"\} [1-9]`,
		`senim_commands_total\{code="stale_revision",command="approve_draft"\} [1-9]`,
		`senim_eventlog_append_seconds_count [1-9]`, `senim_store_wal_sync_seconds_count [1-9]`, `senim_ws_connections [0-9]`, `senim_bank_callbacks_total\{outcome="applied"\} [1-9]`} {
		if !regexp.MustCompile(want).Match(metricsText) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The public check by code.
	var check server.Check
	getJSON(t, w.http+"/verify/"+final.DocumentCode+"?format=json", http.StatusOK, &check)
	if check.Status != "valid" || check.Signature != "verified" || check.Principal != "8710******27" ||
		check.Attorney != "7602******20" || check.RegistryNumber != "1-2026-0001" || check.DocumentSHA256 != act.SHA256Hex(text) {
		t.Fatalf("check %+v", check)
	}
	if html := getText(t, w.http+"/verify/"+final.DocumentCode, http.StatusOK); !strings.Contains(html, final.DocumentCode) ||
		!strings.Contains(html, "8710******27") || strings.Contains(html, clientIIN) {
		t.Fatalf("check page:\n%s", html)
	}
	getJSON(t, w.http+"/verify/NO-SUCH-CODE?format=json", http.StatusNotFound, nil)
	if html := getText(t, w.http+"/verify/NO-SUCH-CODE", http.StatusNotFound); !strings.Contains(html, "не найден") {
		t.Fatalf("404 page:\n%s", html)
	}

	// The client downloads the document; its QR code leads to the check.
	if zbarimg, pdftoppm, ok := peerTools(t); ok {
		var doc struct{ Code, PDF string }
		if err := cl.Query(ctx, "document", actID, nil, &doc); err != nil {
			t.Fatal(err)
		}
		pdf, _ := base64.StdEncoding.DecodeString(doc.PDF)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "poa.pdf"), pdf, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(pdftoppm, "-r", "150", "-png", "-singlefile", filepath.Join(dir, "poa.pdf"), filepath.Join(dir, "page")).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v %s", err, out)
		}
		out, err := exec.Command(zbarimg, "-q", "--raw", filepath.Join(dir, "page.png")).Output()
		if err != nil {
			t.Fatalf("zbarimg: %v", err)
		}
		qr, err := url.Parse(strings.TrimSpace(string(out)))
		if err != nil || qr.Path != "/verify/"+final.DocumentCode || qr.Scheme+"://"+qr.Host != cfg.Document.PublicURL {
			t.Fatalf("the QR code holds %q", out)
		}
		var viaQR server.Check
		getJSON(t, w.http+qr.Path+"?format=json", http.StatusOK, &viaQR) // the test server's address, the QR's path
		if viaQR.Status != "valid" || viaQR.Code != final.DocumentCode {
			t.Fatalf("the check the QR leads to: %+v", viaQR)
		}
	}

	// TURN credentials go out with a call's joined message alone: a
	// signed-in session that has not joined a call gets none.
	if err := cl.Query(ctx, "ice_servers", "", nil, &struct{}{}); client.CodeOf(err) != protocol.CodeUnknownName {
		t.Fatalf("the ice_servers query: %v, want %s", err, protocol.CodeUnknownName)
	}

	// Cabinets and registers.
	var mine struct{ Acts []protocol.ActSummary }
	must(t, 0, cl.Query(ctx, "my_acts", "", nil, &mine))
	if len(mine.Acts) != 1 || mine.Acts[0].Phase != "signed" || mine.Acts[0].Phone != "" {
		t.Fatalf("client cabinet %+v", mine)
	}
	var reg struct{ Acts []protocol.ActSummary }
	must(t, 0, nt.Query(ctx, "register", "", nil, &reg))
	if len(reg.Acts) != 1 || reg.Acts[0].Phone != "+77012345678" {
		t.Fatalf("notary register %+v", reg)
	}
	var done struct{ Acts []protocol.ActSummary }
	must(t, 0, nt.Query(ctx, "completed", "", nil, &done))
	if len(done.Acts) != 1 || done.Acts[0].DocumentCode != final.DocumentCode || done.Acts[0].PrincipalIIN != "8710******27" || done.Acts[0].Phone != "" {
		t.Fatalf("electronic register %+v", done)
	}
	at := w.eds("attorney", w.attorney)
	var poas struct{ Acts []protocol.ActSummary }
	must(t, 0, at.Query(ctx, "attorney_acts", "", nil, &poas))
	if len(poas.Acts) != 1 || poas.Acts[0].Phone != "" {
		t.Fatalf("attorney's powers of attorney %+v", poas)
	}
}

// metric reads one sample's value from /metrics (0 if absent).
func (w *world) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(w.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

// peerTools finds zbarimg and pdftoppm. CI must have them (.ci/run installs
// them); elsewhere their absence skips only the QR part of a test.
func peerTools(t *testing.T) (string, string, bool) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		return testtool.RequireTool(t, "zbarimg", "zbar-tools"), testtool.RequireTool(t, "pdftoppm", "poppler-utils"), true
	}
	z, err1 := exec.LookPath("zbarimg")
	p, err2 := exec.LookPath("pdftoppm")
	if err1 != nil || err2 != nil {
		t.Log("zbarimg or pdftoppm missing: the QR code is not followed (apt-get install zbar-tools poppler-utils)")
		return "", "", false
	}
	return z, p, true
}

func getText(t *testing.T, url string, status int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d\n%s", url, resp.StatusCode, status, b)
	}
	return string(b)
}

func getJSON(t *testing.T, url string, status int, out any) {
	t.Helper()
	body := getText(t, url, status)
	if out != nil {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			t.Fatalf("GET %s: %v\n%s", url, err, body)
		}
	}
}

func mustParams(oid string) ncalayerParams { return ncalayerParams{ExtKeyUsageOIDs: []string{oid}} }
