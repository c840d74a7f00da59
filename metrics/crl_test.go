package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Each CRL file reports its failures and its lists not used, and one series
// per issuer: of the lists used, the one that runs out last, a list without
// a next update reading as run out.
func TestCRLSeries(t *testing.T) {
	at := func(s int64) time.Time { return time.Unix(s, 0) }
	SetCRLs(func() []CRLFile {
		return []CRLFile{
			{Path: "/crl/a.crl", Failures: 2, Failing: true, Lists: []CRL{
				{Issuer: "Root", ThisUpdate: at(100), NextUpdate: at(1000), Entries: 5},
				{Issuer: "Root", ThisUpdate: at(200), NextUpdate: at(2000), Entries: 7}, // the later of two by one issuer
				{Issuer: "Root", ThisUpdate: at(50), NextUpdate: at(500), Entries: 1},
				{Issuer: "Root", ThisUpdate: at(400), NextUpdate: at(9000), Entries: 3, Ignored: true}, // not used: not reported
			}},
			{Path: "/crl/b.crl", Lists: []CRL{{Issuer: "CA", ThisUpdate: at(300), Entries: 0}}}, // no next update
		}
	})
	defer SetCRLs(func() []CRLFile { return nil })
	want := `
# HELP senim_pki_crl_entries Certificates each CRL in service revokes.
# TYPE senim_pki_crl_entries gauge
senim_pki_crl_entries{file="/crl/a.crl",issuer="Root"} 7
senim_pki_crl_entries{file="/crl/b.crl",issuer="CA"} 0
# HELP senim_pki_crl_ignored_lists CRLs of a file that are not used at all: an indirect CRL, or one with a critical extension Senim does not process.
# TYPE senim_pki_crl_ignored_lists gauge
senim_pki_crl_ignored_lists{file="/crl/a.crl"} 1
senim_pki_crl_ignored_lists{file="/crl/b.crl"} 0
# HELP senim_pki_crl_load_failing 1 while the CRL file on disk could not be loaded and an older version is in service.
# TYPE senim_pki_crl_load_failing gauge
senim_pki_crl_load_failing{file="/crl/a.crl"} 1
senim_pki_crl_load_failing{file="/crl/b.crl"} 0
# HELP senim_pki_crl_load_failures_total Versions of a CRL file that could not be read or parsed (the last good one stays in service).
# TYPE senim_pki_crl_load_failures_total counter
senim_pki_crl_load_failures_total{file="/crl/a.crl"} 2
senim_pki_crl_load_failures_total{file="/crl/b.crl"} 0
# HELP senim_pki_crl_next_update_timestamp_seconds When each CRL in service runs out (its nextUpdate): past it, signatures under that issuer are refused with revocation_unknown.
# TYPE senim_pki_crl_next_update_timestamp_seconds gauge
senim_pki_crl_next_update_timestamp_seconds{file="/crl/a.crl",issuer="Root"} 2000
senim_pki_crl_next_update_timestamp_seconds{file="/crl/b.crl",issuer="CA"} 0
# HELP senim_pki_crl_this_update_timestamp_seconds When each CRL in service was issued (its thisUpdate), by file and issuer.
# TYPE senim_pki_crl_this_update_timestamp_seconds gauge
senim_pki_crl_this_update_timestamp_seconds{file="/crl/a.crl",issuer="Root"} 200
senim_pki_crl_this_update_timestamp_seconds{file="/crl/b.crl",issuer="CA"} 300
`
	if err := testutil.CollectAndCompare(crls, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
