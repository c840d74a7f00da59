package loadgen

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/internal/testserver"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/transport/server"
)

// startServer runs a server on defaults in a fresh data directory, on
// loopback ports.
func startServer(t *testing.T) (*server.Server, string) {
	t.Helper()
	dir := t.TempDir()
	return testserver.Start(t, dir), dir
}

func smallRun(addr, dir string) Options {
	o := DefaultOptions()
	o.Addr, o.DataDir = addr, dir
	o.Duration, o.Drain, o.StepTimeout = time.Minute, time.Minute, 30*time.Second
	o.Notaries, o.Citizens = 2, 4
	// Every end and the changes round happen in a handful of acts.
	o.ChangesShare, o.RefuseShare, o.CancelShare = 0.5, 0.2, 0.2
	return o
}

// checkEnds wants every started act at its end, and the server's own count
// of signed acts to match the tool's.
func checkEnds(t *testing.T, rep *Report, acts int64) {
	t.Helper()
	if rep.ActsStarted != acts || rep.ActsCompleted != acts || rep.ActsFailed != 0 || rep.ActsAborted != 0 || len(rep.Errors) != 0 {
		t.Fatalf("want %d acts started and completed, got %+v", acts, rep)
	}
	if rep.ActsSigned+rep.ActsRefused+rep.ActsCancelled != acts {
		t.Fatalf("ends do not add up: %+v", rep)
	}
	if rep.ActsSigned == 0 || float64(rep.ActsSigned) != rep.ServerSignedActs {
		t.Fatalf("the tool signed %d acts, the server's metrics say %v", rep.ActsSigned, rep.ServerSignedActs)
	}
	for _, step := range []string{"signin", "submit", "consent", "call_offer", "accept", "checks", "registry_lookup", "draft", "approve", "invoice", "payment", "document_code", "sign"} {
		if rep.Steps[step].Count == 0 {
			t.Errorf("no %s step measured: %+v", step, rep.Steps)
		}
	}
	if s := rep.Steps["sign"]; s.Count != rep.ActsSigned || !s.OtherParty || s.P99 <= 0 || s.Max < s.P99 {
		t.Errorf("sign step %+v for %d signed acts", s, rep.ActsSigned)
	}
	// The floor: every act sends at least its principal's sign-in and
	// application, and a signed act six CMS in all; every act appends.
	if rep.FloorCMSVerifies < 2*acts+4*rep.ActsSigned || rep.FloorFsyncs < float64(acts) ||
		rep.FloorVerifyMs <= 0 || rep.FloorFsyncWallMs <= 0 || rep.FloorPerActMs <= 0 || rep.ServerCPUOverFloor <= 0 || rep.ServerCPUOverWallFloor <= 0 {
		t.Errorf("floor missing: %d CMS, %v appends, %v ms a verify, %v ms an fsync, %v ms per act, ratio %v",
			rep.FloorCMSVerifies, rep.FloorFsyncs, rep.FloorVerifyMs, rep.FloorFsyncMs, rep.FloorPerActMs, rep.ServerCPUOverFloor)
	}
	if rep.OtherPartyP99 <= 0 || rep.ServerCPUSeconds <= 0 || rep.ServerRSSBytes <= 0 || rep.ToolCPUSeconds <= 0 || rep.ActsPerSecond <= 0 ||
		rep.ServerAppendP99Ms <= 0 || rep.ServerWALSyncP99Ms <= 0 {
		t.Errorf("figures missing: %+v", rep)
	}
}

func TestClosedLoopRunsWholeActs(t *testing.T) {
	srv, dir := startServer(t)
	o := smallRun(srv.Addr(), dir)
	o.InFlight, o.MaxActs = 3, 8
	var progress bytes.Buffer
	o.Progress = &progress
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkEnds(t, rep, 8)
	if rep.ActsRefused == 0 && rep.ActsCancelled == 0 {
		t.Errorf("the shares gave no refusal or cancellation in 8 acts: %+v", rep)
	}
	if rep.Steps["changes"].Count == 0 {
		t.Errorf("no changes round: %+v", rep.Steps)
	}
	checkFiles(t, rep)
}

func TestOpenLoopRunsWholeActs(t *testing.T) {
	srv, dir := startServer(t)
	o := smallRun(srv.Addr(), dir)
	o.Rate, o.MaxActs = 4, 6
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkEnds(t, rep, 6)
	if rep.Mode != "open" {
		t.Fatalf("mode %q", rep.Mode)
	}
}

// checkFiles writes the three report files and parses each.
func checkFiles(t *testing.T, rep *Report) {
	t.Helper()
	dir := t.TempDir()
	jp, cp, hp := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.csv"), filepath.Join(dir, "r.html")
	for _, err := range []error{rep.WriteJSON(jp), rep.WriteCSV(cp), rep.WriteHTML(hp)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := os.ReadFile(jp)
	var j map[string]any
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"acts_started", "acts_completed", "errors", "steps", "other_party_p99_ms", "acts_per_second", "server_cpu_seconds", "server_rss_bytes", "tool_cpu_seconds"} {
		if _, ok := j[k]; !ok {
			t.Errorf("JSON lacks %s", k)
		}
	}
	sign := j["steps"].(map[string]any)["sign"].(map[string]any)
	for _, k := range []string{"count", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"} {
		if _, ok := sign[k]; !ok {
			t.Errorf("JSON step lacks %s", k)
		}
	}
	f, _ := os.Open(cp)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != len(rep.Steps)+1 || rows[0][0] != "step" {
		t.Fatalf("CSV: %v %v", err, rows)
	}
	page, _ := os.ReadFile(hp)
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	svgs := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("HTML is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "svg" {
			svgs++
		}
	}
	if svgs != 3 || bytes.Contains(page, []byte("<script")) || bytes.Contains(page, []byte("http://cdn")) {
		t.Fatalf("want 3 SVG plots and no script in the HTML, got %d", svgs)
	}
}

func TestSessionsWeighsIdleSessions(t *testing.T) {
	srv, dir := startServer(t)
	o := DefaultSessionsOptions()
	o.Addr, o.DataDir, o.N, o.Identities, o.Hold = srv.Addr(), dir, 40, 2, 0
	rep, err := RunSessions(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sessions != 40 || rep.Steps["signin"].Count != 40 || len(rep.Errors) != 0 || rep.ServerRSSBytes <= 0 {
		t.Fatalf("%+v", rep)
	}
}

// The run refuses to start, with a code, when the server is not there,
// does not trust the keys, or refuses the notaries' sign-in.
func TestBadStartsAreFatal(t *testing.T) {
	srv, dir := startServer(t)
	// A port nobody listens on.
	ln := mustListen(t)
	dead := ln.Addr().String()
	ln.Close()
	wrongCA := t.TempDir()
	if _, err := devca.Open(filepath.Join(wrongCA, "devca"), time.Now()); err != nil {
		t.Fatal(err)
	}
	// The server's CA, but an accounts file the server does not read.
	sameCA := t.TempDir()
	if err := exec.Command("cp", "-r", filepath.Join(dir, "devca"), sameCA).Run(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, addr, data, code, detail string
	}{
		{"unreachable", dead, dir, CodeUnreachable, ""},
		{"no CA", srv.Addr(), t.TempDir(), CodeNoDevCA, ""},
		{"wrong CA", srv.Addr(), wrongCA, CodeSignIn, "untrusted_chain"},
		{"refused notary", srv.Addr(), sameCA, CodeSignIn, "signin_failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := smallRun(c.addr, c.data)
			o.InFlight, o.MaxActs, o.Citizens, o.Notaries = 1, 1, 2, 1
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := Run(ctx, o)
			var f *FatalError
			if !errors.As(err, &f) || f.Code != c.code || !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("want %s (%s), got %v", c.code, c.detail, err)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	s, err := parseMetrics(strings.NewReader("# HELP x\nprocess_cpu_seconds_total 1.5\nsenim_commands_total{code=\"ok\",command=\"sign_act\"} 7\nbad\n"))
	if err != nil || s.Series["process_cpu_seconds_total"] != 1.5 || s.signedOnServer() != 7 {
		t.Fatalf("%+v %v", s, err)
	}
}

func mustListen(t *testing.T) interface {
	Addr() net.Addr
	Close() error
} {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// A second run against the same data directory takes the keys the first
// one issued; a file that is not a kept pair is replaced by fresh keys.
func TestKeysAreKeptForTheNextRun(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, err := devca.Open(filepath.Join(dir, "devca"), now)
	if err != nil {
		t.Fatal(err)
	}
	ids := iins(0, 2)
	first, err := issue(ca, dir, ids, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keyCacheDir(dir), ids[1]+".pem"), []byte("not a pair"), 0o600); err != nil {
		t.Fatal(err)
	}
	second, err := issue(ca, dir, ids, false, now)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 2 {
		if !second[0].Keys[k].Certificate.Equal(first[0].Keys[k].Certificate) {
			t.Errorf("key %d of the first person was issued again", k)
		}
		if second[1].Keys[k].Certificate.Equal(first[1].Keys[k].Certificate) {
			t.Errorf("key %d of the second person came from a damaged file", k)
		}
	}
	ts, err := ca.TrustStore()
	if err != nil {
		t.Fatal(err)
	}
	der, err := second[0].Keys[0].Sign([]byte("nonce"), pki.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Verify(der, pki.VerifyOptions{Purpose: pki.PurposeAuth, Live: true}); err != nil {
		t.Fatalf("a kept key's signature: %v", err)
	}
}

// The active scenario holds its acts open at the drafting stage and steps
// each of them, measuring every step at the other party; at the end it
// cancels them all.
func TestActiveHoldsActsOpenAndStepsThem(t *testing.T) {
	srv, dir := startServer(t)
	o := DefaultActiveOptions()
	o.Addr, o.DataDir = srv.Addr(), dir
	o.Notaries, o.Citizens, o.Acts, o.StepsPerSecond, o.Opening = 2, 4, 6, 12, 3
	o.Duration, o.StepTimeout = 2*time.Second, 30*time.Second
	// The server's metrics are the process's: other tests here cancel acts too.
	cancelled := `senim_commands_total{code="ok",command="cancel_act"}`
	before, err := scrape(context.Background(), newGenerator(o.Options).hc, o.Addr)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunActive(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ActiveActs != 6 || len(rep.Errors) != 0 {
		t.Fatalf("acts %d, errors %v", rep.ActiveActs, rep.Errors)
	}
	d, c := rep.Steps["draft"], rep.Steps["changes"]
	if d.Count < 6 || c.Count < 6 || !d.OtherParty || !c.OtherParty || rep.StepsMeasured != d.Count+c.Count {
		t.Fatalf("steps: draft %+v, changes %+v, %d measured", d, c, rep.StepsMeasured)
	}
	if rep.OtherPartyP99 <= 0 || rep.ServerCPUPerStepMs <= 0 || rep.StepsPerSecond <= 0 {
		t.Fatalf("figures missing: %+v", rep)
	}
	after, err := scrape(context.Background(), newGenerator(o.Options).hc, o.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if n := after.Series[cancelled] - before.Series[cancelled]; n != 6 {
		t.Fatalf("%v acts cancelled at the end, want 6", n)
	}
}

// The server's p99 comes from the histogram's buckets between two samples:
// only what was observed in between counts.
func TestBucketQuantileBetweenSamples(t *testing.T) {
	read := func(text string) serverSample {
		s, err := parseMetrics(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := read(`h_bucket{le="0.001"} 100` + "\n" + `h_bucket{le="0.01"} 100` + "\n" + `h_bucket{le="0.1"} 100` + "\n" + `h_bucket{le="+Inf"} 100` + "\n")
	// In between: 98 under 1 ms, 1 under 10 ms, 1 under 100 ms.
	after := read(`h_bucket{le="0.001"} 198` + "\n" + `h_bucket{le="0.01"} 199` + "\n" + `h_bucket{le="0.1"} 200` + "\n" + `h_bucket{le="+Inf"} 200` + "\n")
	for _, c := range []struct{ q, want float64 }{{0.5, 1}, {0.99, 10}, {0.999, 100}} {
		if got := bucketQuantile(before, after, "h", c.q); got != c.want {
			t.Errorf("q %v: %v ms, want %v", c.q, got, c.want)
		}
	}
	if got := bucketQuantile(after, after, "h", 0.99); got != 0 {
		t.Errorf("nothing observed: %v", got)
	}
}
