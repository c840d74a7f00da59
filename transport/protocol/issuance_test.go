package protocol_test

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/transport/protocol"
)

// The schema names exactly the issuance core's events, and the requests
// PROTOCOL.md describes.
func TestSchemaMatchesTheIssuanceCore(t *testing.T) {
	if got := enumOf(t, "issuance_event"); !equal(got, issuance.EventTypes()) {
		t.Errorf("schema issuance events %v\n core events %v", got, issuance.EventTypes())
	}
	want := []string{"start", "resume", "verify_code", "resend", "request_registration", "choose_document",
		"confirm_fields", "submit_requests", "status", "certificates", "subscribe", "registration_queue",
		"take_registration", "record_registration", "reject", "moderation_queue", "take_moderation", "moderate",
		"approvals", "approval_data", "approve", "available", "away", "decline", "file"}
	sort.Strings(want)
	if got := enumOf(t, "issuance"); !equal(got, want) {
		t.Errorf("schema issuance requests %v\n want %v", got, want)
	}
	for _, m := range []string{
		`{"type":"issuance","id":"i1","name":"start","body":{"kind":"individual","iin":"871008401427"}}`,
		`{"type":"issuance","id":"i2","act":"0123456789abcdef0123456789abcdef","name":"verify_code","body":{"code":"123456"}}`,
		`{"type":"event","act":"0123456789abcdef0123456789abcdef","seq":1,"name":"issuance_started","actor":"applicant:x","at":"2026-11-22T10:00:00Z","body":{}}`,
	} {
		if err := protocol.Validate([]byte(m)); err != nil {
			t.Errorf("%s\n  %v", m, err)
		}
	}
	for _, m := range []string{
		`{"type":"issuance","id":"i1","name":"teleport"}`,
		`{"type":"issuance","name":"start"}`,
		`{"type":"event","act":"a","seq":1,"name":"issuance_teleported","actor":"x","at":"2026-11-22T10:00:00Z","body":{}}`,
	} {
		if err := protocol.Validate([]byte(m)); err == nil {
			t.Errorf("accepted %s", m)
		}
	}
}

// PROTOCOL.md names every refusal code of the issuance core.
func TestProtocolNamesEveryIssuanceCode(t *testing.T) {
	doc, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range issuance.Codes() {
		if !strings.Contains(string(doc), "`"+string(c)+"`") {
			t.Errorf("PROTOCOL.md does not name %s", c)
		}
	}
	for _, e := range issuance.EventTypes() {
		if !strings.Contains(string(doc), "`"+e+"`") {
			t.Errorf("PROTOCOL.md does not name the event %s", e)
		}
	}
}
