package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/senim-kz/senim/internal/testtool"
)

// promtool (Debian's prometheus package) checks the alert rules in deploy/,
// runs their unit tests, and lints a live server's /metrics against
// Prometheus' conventions (units, _total counters, help texts).
func TestPromtool(t *testing.T) {
	promtool := testtool.RequireTool(t, "promtool", "prometheus")
	rules := filepath.Join("..", "..", "deploy", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", filepath.Join(rules, "senim-alerts.yml")},
		{"test", "rules", filepath.Join(rules, "senim-alerts_test.yml")},
	} {
		if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}

	// The Grafana dashboard is JSON with a panel per figure, each with a query.
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "senim.json")); err != nil {
		t.Error(err)
	} else if err := json.Unmarshal(b, &dash); err != nil || len(dash.Panels) < 10 {
		t.Errorf("deploy/grafana/senim.json: %v, %d panels", err, len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 || p.Targets[0].Expr == "" {
			t.Errorf("panel %q has no query", p.Title)
		}
	}

	// A server that has done some work, so that the labelled series exist.
	w := newWorld(t)
	addOperator(t, w.dir)
	cl := w.eds("client", w.client)
	mustOf[string](t)(cl.Apply(w.ctx(), w.client, "+7 701 234 56 78", attorneyIIN))
	w.notaryIn("aliya", "aliya-password")
	opsSignIn(t, w.http, opsLogin, "wrong-password")
	res, err := http.Get(w.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	text, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"senim_sessions{role=\"client\"}", "senim_command_duration_seconds_bucket", "senim_panics_recovered_total",
		"senim_ops_logins_total{outcome=\"bad_login\"}", "process_resident_memory_bytes", "go_goroutines",
		"senim_store_disk_bytes", "senim_store_read_amplification", "senim_store_flushed_bytes_total",
		"senim_store_block_cache_hits_total", "senim_store_block_cache_misses_total", "senim_store_block_cache_capacity_bytes",
		"senim_pki_crl_next_update_timestamp_seconds{file=", "senim_pki_crl_entries{file=", "senim_pki_crl_load_failing{file="} {
		if !bytes.Contains(text, []byte(name)) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// The application went through an act actor and one durable append.
	for _, line := range []string{"senim_command_duration_seconds_count ", "senim_eventlog_batch_size_count "} {
		i := bytes.Index(text, []byte("\n"+line))
		if i < 0 || bytes.HasPrefix(text[i+1+len(line):], []byte("0\n")) {
			t.Errorf("/metrics: %s not counted", line)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
