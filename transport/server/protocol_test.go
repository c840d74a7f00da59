package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/transport/server"
)

// Every command, sent by every role that has no part in the act, is
// refused; so are reading it, subscribing to it and asking for its bytes.
func TestOutsidersAreRefusedOverTheProtocol(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toApproval(t)
	must := func(_ client.Ack, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(nt.Command(ctx, actID, "issue_invoice", nil))
	s := w.state(t, cl, actID)
	strangerSign := func(b []byte) string {
		der, err := w.stranger[1].Sign(b, pki.SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(der)
	}
	bodies := map[string]any{
		"submit_application":  map[string]any{"action_type": "power_of_attorney", "phone": "+77010000000", "attorney_iin": attorneyIIN, "consent": true, "cms": strangerSign([]byte("x"))},
		"give_consent":        map[string]any{"cms": strangerSign(act.ConsentBytes(&s))},
		"refuse_consent":      map[string]any{"reason": "x"},
		"record_check":        map[string]any{"check": "document_shown", "passed": true},
		"present_draft":       map[string]any{"registry_number": "9", "powers": "всё"},
		"approve_draft":       map[string]any{"revision": 2, "cms": strangerSign(act.DraftBytes(&s, 2))},
		"request_changes":     map[string]any{"revision": 2, "comments": "x"},
		"sign_act":            map[string]any{"cms": strangerSign(act.DocumentBytes(&s))},
		"refuse_act":          map[string]any{"reason": "x"},
		"cancel_act":          map[string]any{"reason": "x"},
		"record_payment":      map[string]any{"invoice_id": s.Invoice.ID, "payment_id": "p", "amount": s.Invoice.Amount},
		"request_call":        nil,
		"accept_call":         nil,
		"end_call":            nil,
		"issue_invoice":       nil,
		"issue_document_code": nil,
		"revoke_poa":          map[string]any{"reason": "x", "cms": strangerSign(act.RevocationBytes(&s))},
		"start_recording":     map[string]any{"recording": "r"},
		"finish_recording":    map[string]any{"recording": "r", "files": []any{}},
		// Senim's own bounds (actor system).
		"expire_act":     map[string]any{"idle_since": "2000-01-01T00:00:00Z"},
		"give_up_call":   nil,
		"limit_call":     map[string]any{"since": "2000-01-01T00:00:00Z"},
		"stop_recording": map[string]any{"recording": "r", "reason": "size_cap"},
	}
	// Only the server records a registry look-up (the registry_lookup query).
	bodies["record_registry_check"] = map[string]any{"iin": clientIIN, "found": true}
	// Only the server records a save to Digital documents (after the service took it).
	bodies["save_document"] = map[string]any{"service": "digidocs", "document_id": "senim-x", "sha256": strings.Repeat("a", 64)}
	if len(bodies) != len(act.Commands()) {
		t.Fatalf("the sweep covers %d commands, the core has %d", len(bodies), len(act.Commands()))
	}
	outsiders := map[string]*client.Client{
		"client":   w.eds("client", w.stranger),
		"attorney": w.eds("attorney", w.stranger),
		"notary":   w.notaryIn("bolat", "bolat-password"),
	}
	for role, c := range outsiders {
		for name, body := range bodies {
			_, err := c.Command(ctx, actID, name, body)
			if err == nil {
				t.Errorf("%s outsider ran %s", role, name)
				continue
			}
			if code := client.CodeOf(err); code == "" || code == "internal" {
				t.Errorf("%s outsider %s: %v", role, name, err)
			}
		}
		if err := c.Subscribe(ctx, actID, 0); client.CodeOf(err) != "forbidden" {
			t.Errorf("%s outsider subscribed: %v", role, err)
		}
		for _, q := range []string{"act", "to_sign", "registry_lookup"} {
			if err := c.Query(ctx, q, actID, map[string]any{"what": "document", "iin": clientIIN}, nil); client.CodeOf(err) != "forbidden" {
				t.Errorf("%s outsider read %s: %v", role, q, err)
			}
		}
	}
	// The act did not move.
	if after := w.state(t, cl, actID); after.Version != s.Version {
		t.Fatalf("outsiders changed the act: seq %d → %d", s.Version, after.Version)
	}
	// And a party may not play another part: the client cannot act as the notary.
	if _, err := cl.Command(ctx, actID, "issue_document_code", nil); err == nil {
		t.Fatal("the client issued the document code")
	}
}

func TestResumeAfterReconnectAndRetries(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toApproval(t)
	if err := cl.Subscribe(ctx, actID, 0); err != nil {
		t.Fatal(err)
	}
	var last uint64
	for last < 5 {
		last = next(t, cl.Events(), func(protocol.Envelope) bool { return true }).Seq
	}
	cl.CloseNow() // the network drops
	// Meanwhile the notary goes on.
	ack, err := nt.CommandWithID(ctx, "invoice-once", actID, "issue_invoice", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A retry of the same command id, even on a new connection, changes nothing.
	nt2 := w.notaryIn("aliya", "aliya-password")
	again, err := nt2.CommandWithID(ctx, "invoice-once", actID, "issue_invoice", nil)
	if err != nil || !again.Duplicate || again.Seq != ack.Seq {
		t.Fatalf("retry: %+v %v (first ack %+v)", again, err, ack)
	}
	// A refused command, retried, is refused the same way.
	_, err1 := nt.CommandWithID(ctx, "sign-too-early", actID, "issue_document_code", nil)
	_, err2 := nt.CommandWithID(ctx, "sign-too-early", actID, "issue_document_code", nil)
	if client.CodeOf(err1) != "not_paid" || client.CodeOf(err2) != "not_paid" {
		t.Fatalf("refused retry: %v / %v", err1, err2)
	}
	// The client comes back and asks for what it missed.
	cl2 := w.eds("client", w.client)
	if err := cl2.Subscribe(ctx, actID, last); err != nil {
		t.Fatal(err)
	}
	head := w.state(t, cl2, actID).Version
	for want := last + 1; want <= head; want++ {
		e := next(t, cl2.Events(), func(protocol.Envelope) bool { return true })
		if e.Seq != want {
			t.Fatalf("after resuming from %d got seq %d, want %d", last, e.Seq, want)
		}
	}
	// Live events continue with no gap.
	w.pay(t, cl2, actID)
	if e := next(t, cl2.Events(), func(protocol.Envelope) bool { return true }); e.Seq != head+1 || e.Name != "payment_received" {
		t.Fatalf("live event %+v", e)
	}
}

func TestSignInRefusals(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	// Before sign-in nothing else is accepted.
	c := w.dial()
	if _, err := c.Command(ctx, "x", "request_call", nil); client.CodeOf(err) != "not_signed_in" {
		t.Fatalf("before sign-in: %v", err)
	}
	// A signing key is not a sign-in key.
	signinWith := func(c *client.Client, k *pki.Key, data []byte) error {
		der, err := k.Sign(data, pki.SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(protocol.SignIn{Method: "eds", Role: "client", CMS: base64.StdEncoding.EncodeToString(der)})
		_, err = c.Do(ctx, protocol.Envelope{Type: "signin", Body: body})
		return err
	}
	c1 := w.dial()
	challenge, _ := c1.ToSign()
	refused(t, signinWith(c1, w.client[1], challenge), "wrong_key_usage")
	// A key of another CA.
	foreign, err := devca.Open(filepath.Join(t.TempDir(), "ca"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fp, err := foreign.IssuePair(devca.Request{IIN: iin.IIN(clientIIN), Surname: "Evil", Name: "Twin"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.dial().SignInEDS(ctx, "client", client.KeySigner{fp.Auth})
	refused(t, err, "untrusted_chain")
	// A revoked key.
	if _, err := w.srv.DevCA.Revoke(devca.Selector{IIN: otherIIN}, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = w.dial().SignInEDS(ctx, "client", w.stranger)
	refused(t, err, "revoked")
	// A signature over another connection's challenge.
	refused(t, signinWith(w.dial(), w.client[0], challenge), "bad_signature")
	// A notary's wrong password, an unknown login.
	_, err = w.dial().SignInPassword(ctx, "aliya", "wrong-password")
	refused(t, err, "signin_failed")
	_, err = w.dial().SignInPassword(ctx, "nobody", "aliya-password")
	refused(t, err, "signin_failed")
}

func startWithLimits(t *testing.T, edit func(*config.Limits)) string {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.TURN.Addr = "127.0.0.1:0"
	edit(&cfg.Limits)
	srv, err := server.New(cfg, zerolog.Nop(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	if err := addNotary(cfg.DataDir); err != nil {
		t.Fatal(err)
	}
	return srv.Addr()
}

// raw is a websocket peer that writes frames without waiting for answers.
func raw(t *testing.T, addr string) (*websocket.Conn, func() protocol.Envelope) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Version}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	read := func() protocol.Envelope {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var e protocol.Envelope
		_ = json.Unmarshal(b, &e)
		return e
	}
	read() // challenge
	return c, read
}

func TestLimits(t *testing.T) {
	// The in-flight limit is tested deterministically in actors (TestSessionInFlightLimit).
	t.Run("rate", func(t *testing.T) {
		addr := startWithLimits(t, func(l *config.Limits) { l.RatePerSecond, l.Burst = 0.001, 3 })
		c, read := raw(t, addr)
		ctx := context.Background()
		for i := 0; i < 5; i++ {
			_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"query","id":"q`+string(rune('0'+i))+`","name":"my_acts"}`))
		}
		got := []string{}
		for i := 0; i < 5; i++ {
			got = append(got, read().Code)
		}
		if strings.Count(strings.Join(got, ","), "rate_limited") != 2 {
			t.Fatalf("codes %v", got)
		}
	})
	t.Run("frame", func(t *testing.T) {
		addr := startWithLimits(t, func(l *config.Limits) { l.MaxFrameBytes = 4096 })
		c, _ := raw(t, addr)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"query","id":"x","name":"`+strings.Repeat("a", 5000)+`"}`))
		_, _, err := c.Read(ctx)
		if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("want close 1009, got %v", err)
		}
	})
	t.Run("connections", func(t *testing.T) {
		addr := startWithLimits(t, func(l *config.Limits) { l.MaxConns = 2 })
		raw(t, addr)
		raw(t, addr)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("third connection: %v %v", resp, err)
		}
	})
}

// A notary who drops before accepting loses the call back to the queue; the
// next free notary gets it. Calls go oldest first.
func TestCallReturnsToTheQueue(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	ready := func(signer client.KeySigner, att string) (string, *client.Client) {
		c := w.eds("client", signer)
		id := mustOf[string](t)(c.Apply(ctx, signer, "87012345678", att))
		a := w.eds("attorney", w.attorney)
		cms := mustOf[string](t)(a.SignStep(ctx, w.attorney, id, "consent", 0))
		mustOf[client.Ack](t)(a.Command(ctx, id, "give_consent", map[string]any{"cms": cms}))
		return id, c
	}
	first, c1 := ready(w.client, attorneyIIN)
	second, c2 := ready(w.notary, attorneyIIN) // the notary's keys double as a second client here
	mustOf[client.Ack](t)(c1.Command(ctx, first, "request_call", nil))
	mustOf[client.Ack](t)(c2.Command(ctx, second, "request_call", nil))

	aliya := w.notaryIn("aliya", "aliya-password")
	if err := aliya.Operator(ctx, "available", ""); err != nil {
		t.Fatal(err)
	}
	if o := next(t, aliya.Offers(), func(protocol.Envelope) bool { return true }); o.Act != first {
		t.Fatalf("aliya was offered %s, want the oldest call %s", o.Act, first)
	}
	// bolat may not take a call that is not offered to him.
	bolat := w.notaryIn("bolat", "bolat-password")
	_, err := bolat.Command(ctx, first, "accept_call", nil)
	refused(t, err, "forbidden")
	if err := bolat.Operator(ctx, "available", ""); err != nil {
		t.Fatal(err)
	}
	if o := next(t, bolat.Offers(), func(protocol.Envelope) bool { return true }); o.Act != second {
		t.Fatalf("bolat was offered %s, want %s", o.Act, second)
	}
	if err := bolat.Operator(ctx, "decline", second); err != nil {
		t.Fatal(err)
	}
	aliya.CloseNow() // drops before accepting
	// The oldest call returns to the queue and goes to bolat.
	o := next(t, bolat.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer })
	if o.Act != first {
		t.Fatalf("after aliya dropped bolat was offered %s, want %s", o.Act, first)
	}
	mustOf[client.Ack](t)(bolat.Command(ctx, first, "accept_call", nil))
	if s := w.state(t, c1, first); s.Notary.ID != "bolat" || s.Call != act.CallActive {
		t.Fatalf("act %s: notary %q call %q", first, s.Notary.ID, s.Call)
	}
}

func TestPublicCheckIsRateLimited(t *testing.T) {
	addr := startWithLimits(t, func(l *config.Limits) { l.ChecksPerMinute = 3 })
	codes := []int{}
	for i := 0; i < 5; i++ {
		resp, err := http.Get("http://" + addr + "/verify/NO-SUCH-CODE?format=json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if fmt.Sprint(codes) != "[404 404 404 429 429]" {
		t.Fatalf("statuses %v", codes)
	}
}

// The check re-renders the document from the log and verifies the notary's
// signature over it: if what the log renders differs from what was signed
// (here: a template version's wording edited after signing, which must
// never happen), the check says so.
func TestPublicCheckNamesAMismatch(t *testing.T) {
	remove := registerFormat(t, 3, testFormat2)
	w := newWorld(t)
	actID, cl, nt := w.toSigned(t)
	code := w.state(t, cl, actID).DocumentCode
	cl.CloseNow()
	nt.CloseNow()
	remove()
	registerFormat(t, 3, strings.Replace(testFormat2, "→", "->", 1)) // the document would now render differently
	w.restart(t, func(*config.Config) {})
	var check server.Check
	getJSON(t, w.http+"/verify/"+code+"?format=json", http.StatusOK, &check)
	if check.Status != "signature_invalid" || check.Signature != "bad_signature" {
		t.Fatalf("check after the rendering changed: %+v", check)
	}
}

// The principal revokes a signed power of attorney; the public check says so.
func TestRevocation(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, _ := w.toSigned(t)
	code := w.state(t, cl, actID).DocumentCode
	var check server.Check
	getJSON(t, w.http+"/verify/"+code+"?format=json", http.StatusOK, &check)
	if check.Status != "valid" {
		t.Fatalf("before revocation: %+v", check)
	}
	// The attorney cannot revoke; the principal can, with their EDS.
	at := w.eds("attorney", w.attorney)
	atSig := mustOf[string](t)(at.SignStep(ctx, w.attorney, actID, "revocation", 0))
	_, err := at.Command(ctx, actID, "revoke_poa", map[string]any{"cms": atSig})
	refused(t, err, "forbidden")
	rev := mustOf[string](t)(cl.SignStep(ctx, w.client, actID, "revocation", 0))
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "revoke_poa", map[string]any{"reason": "Утратил доверие", "cms": rev}))
	getJSON(t, w.http+"/verify/"+code+"?format=json", http.StatusOK, &check)
	if check.Status != "revoked" || check.RevokedAt == nil || check.Signature != "verified" {
		t.Fatalf("after revocation: %+v", check)
	}
	_, err = cl.Command(ctx, actID, "revoke_poa", map[string]any{"cms": rev})
	refused(t, err, "not_allowed_in_state")
}

func TestIndividualsRegistry(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	cl := w.eds("client", w.client)
	// An attorney the registry does not know (a valid IIN nobody registered).
	_, err := cl.Apply(ctx, w.client, "+77012345678", "950512400017")
	refused(t, err, "unknown_person")
	// The registry is down: refused, and fine again once it is back.
	w.srv.Registry.SetDown(true)
	_, err = cl.Apply(ctx, w.client, "+77012345678", attorneyIIN)
	refused(t, err, "registry_unavailable")
	w.srv.Registry.SetDown(false)
	actID := mustOf[string](t)(cl.Apply(ctx, w.client, "+77012345678", attorneyIIN))
	s := w.state(t, cl, actID)
	if s.Principal.Name != "СЕЙТҚАЛИ ӘЙГЕРІМ" || s.Attorney.Name != "ОМАРОВ ЕРЛАН" {
		t.Fatalf("names from the registry: %q, %q", s.Principal.Name, s.Attorney.Name)
	}
	// The notary who holds an act looks its people up, on the act's record;
	// nobody else may, and never without an act.
	actID, cl, nt := w.toCall(t)
	refused(t, nt.Query(ctx, "registry_lookup", "", map[string]string{"iin": attorneyIIN}, nil), "forbidden")
	var p registry.Person
	if err := nt.Query(ctx, "registry_lookup", actID, map[string]string{"iin": attorneyIIN}, &p); err != nil || p.FullName() != "ОМАРОВ ЕРЛАН" || p.BirthDate != "1976-02-12" {
		t.Fatalf("look-up: %+v %v", p, err)
	}
	refused(t, nt.Query(ctx, "registry_lookup", actID, map[string]string{"iin": "950512400017"}, nil), "not_a_party")
	if err := nt.Query(ctx, "registry_lookup", actID, map[string]string{"iin": clientIIN}, &p); err != nil || p.FullName() != "СЕЙТҚАЛИ ӘЙГЕРІМ" {
		t.Fatalf("look-up of the principal: %+v %v", p, err)
	}
	refused(t, cl.Query(ctx, "registry_lookup", actID, map[string]string{"iin": attorneyIIN}, nil), "forbidden")
	other := w.notaryIn("bolat", "bolat-password")
	refused(t, other.Query(ctx, "registry_lookup", actID, map[string]string{"iin": attorneyIIN}, nil), "forbidden")
	// The registry is down: refused, and nothing recorded.
	w.srv.Registry.SetDown(true)
	refused(t, nt.Query(ctx, "registry_lookup", actID, map[string]string{"iin": attorneyIIN}, nil), "registry_unavailable")
	w.srv.Registry.SetDown(false)
	if err := cl.Subscribe(ctx, actID, 0); err != nil {
		t.Fatal(err)
	}
	var checked []string
	for len(checked) < 2 {
		e := next(t, cl.Events(), eventNamed("registry_checked"))
		if e.Actor != "notary:aliya" {
			t.Fatalf("registry_checked by %q", e.Actor)
		}
		checked = append(checked, string(e.Body))
	}
	if !strings.Contains(checked[0], `"iin":"`+attorneyIIN+`","found":true`) || !strings.Contains(checked[1], `"iin":"`+clientIIN+`","found":true`) {
		t.Fatalf("recorded look-ups %s", checked)
	}
	recs, err := w.srv.Log.ReadAll("act/" + actID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Type == "registry_checked" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d look-ups on record, want 2 (the outage and the refusals record none)", n)
	}
}

// toSigned takes an act through invoice, payment, code and the notary's
// signature.
func (w *world) toSigned(t *testing.T) (string, *client.Client, *client.Client) {
	t.Helper()
	ctx := w.ctx()
	actID, cl, nt := w.toApproval(t)
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_invoice", nil))
	w.pay(t, cl, actID)
	poll(t, "paid", func() bool { s := w.state(t, cl, actID); return s.Paid() })
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_document_code", nil))
	cms := mustOf[string](t)(nt.SignStep(ctx, w.notary, actID, "document", 0))
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "sign_act", map[string]any{"cms": cms}))
	return actID, cl, nt
}
