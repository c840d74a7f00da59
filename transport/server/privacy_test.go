package server_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/pseudonym"
)

// The attorney takes part in the act but is not shown the principal's
// phone: not in the act's state, not in its events. What is stored stays as
// it was, hash chain and all.
func TestTheAttorneySeesNoPhone(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, _, _ := w.toCall(t)
	at := w.eds("attorney", w.attorney)

	var raw json.RawMessage
	must(t, 0, at.Query(ctx, "act", actID, nil, &raw))
	var s act.State
	must(t, 0, json.Unmarshal(raw, &s))
	if s.Principal.IIN != clientIIN || s.Principal.Phone != "" || len(s.Application.CMS) != 0 || strings.Contains(string(raw), "7012345678") {
		t.Fatalf("the attorney's view of the act: %s", raw)
	}
	// The principal and the notary still see it.
	if got := w.state(t, w.eds("client", w.client), actID); got.Principal.Phone != "+77012345678" {
		t.Fatalf("the principal's view: phone %q", got.Principal.Phone)
	}

	must(t, 0, at.Subscribe(ctx, actID, 0))
	e := next(t, at.Events(), eventNamed("application_submitted"))
	var sub act.ApplicationSubmitted
	must(t, 0, json.Unmarshal(e.Body, &sub))
	if sub.Principal.IIN != clientIIN || sub.Principal.Phone != "" || len(sub.Signature.CMS) != 0 || strings.Contains(string(e.Body), "7012345678") {
		t.Fatalf("the attorney's application_submitted: %s", e.Body)
	}

	recs, err := w.srv.Log.ReadAll("act/" + actID)
	if err != nil {
		t.Fatal(err)
	}
	var stored act.ApplicationSubmitted
	must(t, 0, json.Unmarshal(recs[0].Payload, &stored))
	if recs[0].Type != "application_submitted" || stored.Principal.Phone != "+77012345678" || len(stored.Signature.CMS) == 0 {
		t.Fatalf("the stored application changed: %s", recs[0].Payload)
	}
	if err := w.srv.Log.VerifyChain("act/" + actID); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer the server's goroutines may log to at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The logs name people by pseudonym (a keyed hash of the IIN), never by IIN
// or phone: through sign-ins, commands, a refusal and registry look-ups.
func TestLogsNamePeopleByPseudonym(t *testing.T) {
	var logs syncBuffer
	w := newWorldLogged(t, zerolog.New(&logs).Level(zerolog.DebugLevel))
	ctx := w.ctx()
	actID, cl, nt := w.toCall(t)
	_, err := cl.Command(ctx, actID, "approve_draft", map[string]any{"revision": 1})
	refused(t, err, "bad_request")
	var p json.RawMessage
	must(t, 0, nt.Query(ctx, "registry_lookup", actID, map[string]string{"iin": clientIIN}, &p))
	must(t, 0, nt.Query(ctx, "registry_lookup", actID, map[string]string{"iin": attorneyIIN}, &p))
	refused(t, nt.Query(ctx, "registry_lookup", actID, map[string]string{"iin": "950512400017"}, nil), "not_a_party")
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "end_call", nil))

	secret, err := os.ReadFile(filepath.Join(w.dir, "log.secret"))
	if err != nil {
		t.Fatal(err)
	}
	key := pseudonym.New(secret)
	out := logs.String()
	for _, want := range []string{
		`"who":"client:` + key.Person(clientIIN) + `"`,
		`"who":"attorney:` + key.Person(attorneyIIN) + `"`,
		`"by":"client:` + key.Person(clientIIN) + `"`,
		`"looked_up":"` + key.Person(clientIIN) + `"`,
		`"looked_up":"` + key.Person(attorneyIIN) + `"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the logs lack %s", want)
		}
	}
	for _, secret := range []string{clientIIN, attorneyIIN, notaryIIN, "950512400017", "7012345678"} {
		if strings.Contains(out, secret) {
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, secret) {
					t.Errorf("a log line shows %s: %s", secret, line)
				}
			}
		}
	}
}
