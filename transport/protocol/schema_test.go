package protocol_test

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/transport/protocol"
)

func TestSchemaAcceptsEveryMessageType(t *testing.T) {
	good := []string{
		`{"type":"challenge","body":{"protocol":"senim.v1","to_sign":"c2VuaW0=","server_time":"2026-11-22T10:00:00Z"}}`,
		`{"type":"signin","id":"s1","body":{"method":"eds","role":"client","cms":"MIIB"}}`,
		`{"type":"signin","id":"s1","body":{"method":"password","login":"aliya","password":"x"}}`,
		`{"type":"welcome","id":"s1","body":{"role":"client","iin":"871008401427","name":"A"}}`,
		`{"type":"welcome","id":"s1","body":{"role":"client","iin":"871008401427","name":"A","resume_token":"q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng"}}`,
		`{"type":"signin","id":"s1","body":{"method":"resume","token":"q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng"}}`,
		`{"type":"query","id":"q1","name":"register","body":{"q":"омаров","status":"signed","from":"2026-01-01","to":"2026-12-31","page":2,"per_page":50}}`,
		`{"type":"query","id":"q1","act":"a1","name":"queue_position"}`,
		`{"type":"command","id":"c1","act":"a1","name":"approve_draft","body":{"revision":1,"cms":"MIIB"}}`,
		`{"type":"ack","id":"c1","act":"a1","seq":7}`,
		`{"type":"ack","id":"c1","act":"a1","seq":7,"duplicate":true}`,
		`{"type":"error","id":"c1","act":"a1","code":"draft_not_approved","message":"no"}`,
		`{"type":"error","code":"not_signed_in","message":"sign in first"}`,
		`{"type":"query","id":"q1","name":"my_acts"}`,
		`{"type":"result","id":"q1","body":{"acts":[]}}`,
		`{"type":"subscribe","id":"s2","act":"a1","seq":3}`,
		`{"type":"subscribed","id":"s2","act":"a1"}`,
		`{"type":"event","act":"a1","seq":4,"name":"draft_presented","actor":"notary:aliya","at":"2026-11-22T10:00:00Z","body":{}}`,
		`{"type":"operator","id":"o1","name":"available"}`,
		`{"type":"offer","act":"a1","body":{"principal_iin":"871008401427","waiting_since":"2026-11-22T10:00:00Z","queue_position":1}}`,
		`{"type":"offer_gone","act":"a1"}`,
		`{"type":"media","id":"m1","act":"a1","body":{"kind":"join","resume":true}}`,
		`{"type":"media","id":"m1","act":"a1","body":{"kind":"join","simulcast":true}}`,
		`{"type":"media","id":"m1","act":"a1","body":{"kind":"joined","notice":"recorded"}}`,
		`{"type":"media","act":"a1","body":{"kind":"offer","sdp":"v=0"}}`,
		`{"type":"media","act":"a1","body":{"kind":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}}}`,
		`{"type":"media","act":"a1","body":{"kind":"closed","message":"the call is over"}}`,
		`{"type":"media","act":"a1","body":{"kind":"network","state":"weak_self"}}`,
	}
	for _, m := range good {
		if err := protocol.Validate([]byte(m)); err != nil {
			t.Errorf("%s\n  %v", m, err)
		}
	}
	bad := []string{
		`{"type":"teleport"}`,
		`{"type":"command","id":"c1","act":"a1","name":"sign_everything"}`,
		`{"type":"command","act":"a1","name":"request_call"}`,
		`{"type":"ack","id":"c1","act":"a1","seq":-1}`,
		`{"type":"signin","id":"s1","body":{"method":"eds","role":"notary","cms":"MIIB"}}`,
		`{"type":"error","code":"Bad Code","message":"x"}`,
		`{"type":"event","act":"a1","seq":0,"name":"draft_presented","actor":"x","at":"2026-11-22T10:00:00Z","body":{}}`,
		`{"type":"ack","id":"c1","act":"a1","extra":1}`,
		`not json`,
		`{"type":"media","act":"a1","body":{"kind":"teleport"}}`,
		`{"type":"media","body":{"kind":"join"}}`,
		`{"type":"media","act":"a1","body":{"kind":"candidate","candidate":{"sdpMid":"0"}}}`,
	}
	for _, m := range bad {
		if err := protocol.Validate([]byte(m)); err == nil {
			t.Errorf("accepted %s", m)
		}
	}
}

func enumOf(t *testing.T, def string) []string {
	t.Helper()
	var s struct {
		Defs map[string]struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(protocol.SchemaJSON, &s); err != nil {
		t.Fatal(err)
	}
	out := append([]string(nil), s.Defs[def].Properties["name"].Enum...)
	sort.Strings(out)
	return out
}

// The schema names exactly the commands and events the core has.
func TestSchemaMatchesTheCore(t *testing.T) {
	var cmds []string
	for name := range act.Commands() {
		switch name {
		case "record_payment", "start_recording", "finish_recording", "record_registry_check",
			"expire_act", "give_up_call", "limit_call", "stop_recording":
			// The bank's (over HTTP), the media server's, the registry_lookup
			// query's and Senim's bounds (actor system), not the websocket's.
		default:
			cmds = append(cmds, name)
		}
	}
	sort.Strings(cmds)
	if got := enumOf(t, "command"); !equal(got, cmds) {
		t.Errorf("schema commands %v\n core commands %v", got, cmds)
	}
	if got := enumOf(t, "event"); !equal(got, act.EventTypes()) {
		t.Errorf("schema events %v\n core events %v", got, act.EventTypes())
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
