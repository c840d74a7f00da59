package server_test

import (
	"fmt"
	"testing"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/transport/protocol"
)

// An attorney's IIN with a mistyped digit (its check digit does not match)
// is refused with its own code, before any signature; any other wrong IIN
// keeps bad_iin.
func TestActRefusesAWrongCheckDigit(t *testing.T) {
	w := newWorld(t)
	c := w.eds("client", w.client)
	for iin, want := range map[string]string{
		attorneyIIN[:11] + fmt.Sprint((int(attorneyIIN[11]-'0')+1)%10): "bad_iin_checksum",
		attorneyIIN[:11]: "bad_iin",
	} {
		p := protocol.PrepareApplication{ActionType: "power_of_attorney", Phone: "+7 701 234 56 78", AttorneyIIN: iin, Consent: true}
		var prep protocol.PreparedApplication
		if err := c.Query(w.ctx(), "prepare_application", "", p, &prep); client.CodeOf(err) != want {
			t.Errorf("attorney %s: %v, want %s", iin, err, want)
		}
	}
}
