package main_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `senim load acts` as scripts call it: whole acts against a running
// server, a JSON report, exit 0.
func TestLoadActsCommand(t *testing.T) {
	data := t.TempDir()
	addr, _ := serve(t, data)
	out := t.TempDir()
	report := filepath.Join(out, "r.json")
	mustCLI(t, data, "load", "acts", "--addr", addr, "--data", data, "--duration", "1m", "--in-flight", "2", "--max-acts", "3",
		"--notaries", "1", "--citizens", "2", "--quiet", "--json", report, "--csv", filepath.Join(out, "r.csv"), "--html", filepath.Join(out, "r.html"))
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Started   int64            `json:"acts_started"`
		Completed int64            `json:"acts_completed"`
		Errors    map[string]int64 `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Started != 3 || r.Completed != 3 || len(r.Errors) != 0 {
		t.Fatalf("report %+v (%v):\n%s", r, err, raw)
	}
	for _, f := range []string{"r.csv", "r.html"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

// `senim load active`: acts held open and stepped, a JSON report with the
// steps measured at the other party.
func TestLoadActiveCommand(t *testing.T) {
	data := t.TempDir()
	addr, _ := serve(t, data)
	report := filepath.Join(t.TempDir(), "r.json")
	mustCLI(t, data, "load", "active", "--addr", addr, "--data", data, "--duration", "2s", "--acts", "3", "--steps", "6",
		"--notaries", "1", "--citizens", "2", "--quiet", "--json", report)
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Scenario string           `json:"scenario"`
		Acts     int              `json:"active_acts"`
		Steps    int64            `json:"steps_measured"`
		P99      float64          `json:"other_party_p99_ms"`
		Errors   map[string]int64 `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Scenario != "active" || r.Acts != 3 || r.Steps < 3 || r.P99 <= 0 || len(r.Errors) != 0 {
		t.Fatalf("report %+v (%v):\n%s", r, err, raw)
	}
}

// A run that cannot start exits with status 2 and says why, without
// hanging.
func TestLoadBadStartsExit2(t *testing.T) {
	data := t.TempDir()
	addr, _ := serve(t, data)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	other := t.TempDir()
	mustCLI(t, other, "dev", "list") // makes another development CA there
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no scenario", []string{"load"}, "usage"},
		{"both loops", []string{"load", "acts", "--addr", addr, "--data", data, "--in-flight", "1", "--rate", "1"}, "bad_options"},
		{"unreachable", []string{"load", "acts", "--addr", dead, "--data", data, "--in-flight", "1"}, "unreachable"},
		{"wrong CA", []string{"load", "acts", "--addr", addr, "--data", other, "--in-flight", "1", "--citizens", "2", "--notaries", "1"}, "untrusted_chain"},
		{"active, no acts", []string{"load", "active", "--addr", addr, "--data", data, "--acts", "0"}, "bad_options"},
		{"active, wrong CA", []string{"load", "active", "--addr", addr, "--data", other, "--acts", "1", "--citizens", "2", "--notaries", "1"}, "untrusted_chain"},
		{"sessions, wrong CA", []string{"load", "sessions", "--addr", addr, "--data", other, "--n", "1", "--identities", "1"}, "untrusted_chain"},
		{"calls, a fan-out the call cannot carry", []string{"load", "calls", "--addr", addr, "--data", data, "--subscribers", "10"}, "two participants"},
		{"calls, unreachable", []string{"load", "calls", "--addr", dead, "--data", data, "--rooms", "1"}, "unreachable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, code := cli(t, data, c.args...)
			if code != 2 || !strings.Contains(out, c.want) {
				t.Fatalf("exit %d, want 2 and %q:\n%s", code, c.want, out)
			}
		})
	}
}
