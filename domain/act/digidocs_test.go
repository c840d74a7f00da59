package act

import (
	"strings"
	"testing"
)

// Only the principal saves a signed act's document to Digital documents;
// the event says which document and which bytes.
func TestSaveDocument(t *testing.T) {
	good := SaveDocument{Service: "digidocs", DocumentID: "senim-x", SHA256: strings.Repeat("ab", 32)}
	cases := []struct {
		name string
		step string
		by   Actor
		cmd  SaveDocument
		code Code
	}{
		{"principal, signed", "signed", client, good, ""},
		{"attorney", "signed", attorney, good, CodeForbidden},
		{"another client", "signed", stranger, good, CodeForbidden},
		{"notary", "signed", notary, good, CodeForbidden},
		{"not signed yet", "drafted", client, good, CodeNotAllowedInState},
		{"no hash", "signed", client, SaveDocument{Service: "digidocs", DocumentID: "senim-x"}, CodeBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, err := Decide(at(t, c.step), c.by, c.cmd, t0, rules)
			if c.code != "" {
				if code(err) != c.code {
					t.Fatalf("want %s, got %v", c.code, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].(DocumentSaved).SHA256 != good.SHA256 || evs[0].(DocumentSaved).DocumentID != "senim-x" {
				t.Fatalf("events %+v", evs)
			}
		})
	}
}
