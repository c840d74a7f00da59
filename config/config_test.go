package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRootConfigIsDefault(t *testing.T) {
	c, err := Load(filepath.Join("..", "config.toml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(c, want) {
		t.Fatalf("config.toml differs from Default():\n file: %+v\n code: %+v", c, want)
	}
}

func TestUnknownKeyIsAnError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte("data_dir = \"x\"\n[http]\nadress = \"1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p, nil)
	if err == nil || !strings.Contains(err.Error(), "http.adress") {
		t.Fatalf("want unknown key http.adress named, got %v", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	c, err := Load("", []string{
		"SENIM_HTTP_ADDR=127.0.0.1:9999",
		"SENIM_PKI_DEV_CA=false",
		"SENIM_PKI_ROOTS=/a.crt, /b.crt",
		"SENIM_PKI_CRLS=/a.crl",
		"SENIM_PKI_MAX_CLOCK_SKEW=90s",
		"SENIM_CONFIG=ignored.toml",
		"PATH=/bin",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:9999" || c.PKI.DevCA || !reflect.DeepEqual(c.PKI.Roots, []string{"/a.crt", "/b.crt"}) || c.PKI.MaxClockSkew.Std() != 90*time.Second {
		t.Fatalf("overrides not applied: %+v", c)
	}
}

func TestEnvErrors(t *testing.T) {
	for _, env := range [][]string{
		{"SENIM_HTTP_ADRESS=x"},            // unknown variable
		{"SENIM_PKI_DEV_CA=maybe"},         // not a bool
		{"SENIM_PKI_MAX_CLOCK_SKEW=5"},     // not a duration
		{"SENIM_PKI_DEV_CA=false"},         // no roots then
		{"SENIM_LOG_LEVEL=loud"},           // not a level
		{"SENIM_MEDIA_UDP_PORT_MIN=40000"}, // no max
		{"SENIM_MEDIA_UDP_PORT_MIN=40010", "SENIM_MEDIA_UDP_PORT_MAX=40000"}, // min > max
		{"SENIM_MEDIA_UDP_PORT_MAX=70000"},                                   // not a port
		{"SENIM_MEDIA_PUBLIC_IPS=1.2.3.4,nope"},                              // not an IP
		{"SENIM_MEDIA_RECORD_DIR="},                                          // recording nowhere
		{"SENIM_PKI_DEV_CA=false", "SENIM_PKI_ROOTS=/a.crt"},                 // require_crl without CRLs
		{"SENIM_PKI_RELOAD_INTERVAL=0s"},                                     // never reloading
		{"SENIM_TURN_MAX_ALLOCATIONS_PER_USER=0"},                            // no relay at all
		{"SENIM_TURN_MAX_BITRATE_PER_USER=1000"},                             // below any call
		{"SENIM_TURN_CREDENTIAL_TTL=48h"},                                    // credentials outlive calls
	} {
		if _, err := Load("", env); err == nil {
			t.Errorf("%v: want an error", env)
		}
	}
}

func TestEnvNamesCoverEveryKey(t *testing.T) {
	names := EnvNames()
	for _, want := range []string{"SENIM_DATA_DIR", "SENIM_LOG_LEVEL", "SENIM_HTTP_ADDR", "SENIM_PKI_CRLS"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("%s missing from %v", want, names)
		}
	}
}

// A real bank needs its URL over TLS (plain http to loopback only) and both
// secrets' files.
func TestBankHTTPMode(t *testing.T) {
	ok := []string{"SENIM_BANK_MODE=http", "SENIM_BANK_API_KEY_FILE=/k", "SENIM_BANK_SECRET_FILE=/s"}
	for _, u := range []string{"https://pay.example.kz/api", "http://127.0.0.1:9000", "http://localhost:9000/v1"} {
		if _, err := Load("", append(ok, "SENIM_BANK_URL="+u)); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, env := range [][]string{
		append(ok, "SENIM_BANK_URL=http://pay.example.kz/api"),                                          // plain http over a network
		append(ok, "SENIM_BANK_URL=pay.example.kz"),                                                     // not a URL
		{"SENIM_BANK_MODE=http", "SENIM_BANK_URL=https://pay.example.kz", "SENIM_BANK_SECRET_FILE=/s"},  // no API key
		{"SENIM_BANK_MODE=http", "SENIM_BANK_URL=https://pay.example.kz", "SENIM_BANK_API_KEY_FILE=/k"}, // no secret
		{"SENIM_BANK_RETRIES=11"},
		{"SENIM_BANK_TIMEOUT=0s"},
		{"SENIM_BANK_MODE=paypal"},
	} {
		if _, err := Load("", env); err == nil {
			t.Errorf("%v: want an error", env)
		}
	}
}

// Every invalid value is named at once, the limits included: the limits'
// checks live in Validate alone (a copy of them in the environment's
// decoding used to return first and hide the rest).
func TestLoadNamesEveryInvalidValue(t *testing.T) {
	_, err := Load("", []string{"SENIM_LIMITS_MAX_CONNS_PER_IP=0", "SENIM_CHECKPOINT_INTERVAL=10ms", "SENIM_TURN_RELAY_ENGINE=uring", "SENIM_TURN_RELAY_ENGINES=0"})
	if err == nil {
		t.Fatal("an invalid configuration loaded")
	}
	for _, want := range []string{"limits: max_conns_per_ip", "checkpoint.interval must be at least 1s", `relay_engine is "epoll" or "pion", not "uring"`, "relay_engines is 1 to 64"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q: %v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "limits: max_conns_per_ip"); n != 1 {
		t.Errorf("the limits are named %d times: %v", n, err)
	}
}

// The memory limit is a share, a size or "off"; anything else, a share
// past 100% or a size too small to run in, is refused at load.
func TestRuntimeMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		limit int64 // for 8 GiB available; 0: none
		bad   bool
	}{
		{spec: "80%", limit: 8 << 30 * 80 / 100},
		{spec: " 50 %", limit: 4 << 30},
		{spec: "3GiB", limit: 3 << 30},
		{spec: "512MiB", limit: 512 << 20},
		{spec: "134217728", limit: 128 << 20},
		{spec: "off"},
		{spec: "", bad: true},
		{spec: "0%", bad: true},
		{spec: "101%", bad: true},
		{spec: "-1", bad: true},
		{spec: "3GB", bad: true},
		{spec: "1MiB", bad: true},
		{spec: "99999999999TiB", bad: true},
	} {
		_, _, err := ParseMemoryLimit(tc.spec)
		if (err != nil) != tc.bad {
			t.Errorf("%q: error %v, want bad=%v", tc.spec, err, tc.bad)
			continue
		}
		c := Default()
		c.Runtime.MemoryLimit = tc.spec
		if verr := c.Validate(); (verr != nil) != tc.bad {
			t.Errorf("%q: Validate %v, want bad=%v", tc.spec, verr, tc.bad)
		}
		if tc.bad {
			continue
		}
		got, ok := c.Runtime.MemoryLimitBytes(8 << 30)
		if ok != (tc.limit != 0) || got != tc.limit {
			t.Errorf("%q: limit %d %v, want %d", tc.spec, got, ok, tc.limit)
		}
	}
	// A share of nothing known is no limit, not a limit of zero.
	if _, ok := (Runtime{MemoryLimit: "80%"}).MemoryLimitBytes(0); ok {
		t.Error("a share of unknown memory gave a limit")
	}
	for _, r := range []Runtime{{GOGC: 5, MemoryLimit: "80%", Procs: "all"}, {GOGC: -2, MemoryLimit: "80%", Procs: "all"}, {GOGC: -1, MemoryLimit: "off", Procs: "all"}} {
		c := Default()
		c.Runtime = r
		if c.Validate() == nil {
			t.Errorf("%+v accepted", r)
		}
	}
	c, err := Load("", []string{"SENIM_RUNTIME_GOGC=-1", "SENIM_RUNTIME_MEMORY_LIMIT=2GiB"})
	if err != nil || c.Runtime != (Runtime{GOGC: -1, MemoryLimit: "2GiB", Procs: "adaptive"}) {
		t.Fatalf("env overrides: %+v %v", c.Runtime, err)
	}
}

// runtime.procs is "adaptive" (the default), "all" or a number of
// processors; anything else is refused at load.
func TestRuntimeProcs(t *testing.T) {
	for _, tc := range []struct {
		spec     string
		adaptive bool
		n        int
		bad      bool
	}{
		{spec: "adaptive", adaptive: true},
		{spec: " all ", n: 0},
		{spec: "1", n: 1},
		{spec: "16", n: 16},
		{spec: "", bad: true},
		{spec: "0", bad: true},
		{spec: "-2", bad: true},
		{spec: "1025", bad: true},
		{spec: "auto", bad: true},
		{spec: "2.5", bad: true},
	} {
		adaptive, n, err := ParseProcs(tc.spec)
		if (err != nil) != tc.bad || adaptive != tc.adaptive || n != tc.n {
			t.Errorf("%q: %v %d %v, want %v %d bad=%v", tc.spec, adaptive, n, err, tc.adaptive, tc.n, tc.bad)
		}
		c := Default()
		c.Runtime.Procs = tc.spec
		if verr := c.Validate(); (verr != nil) != tc.bad || (tc.bad && !strings.Contains(verr.Error(), "runtime.procs")) {
			t.Errorf("%q: Validate %v, want bad=%v", tc.spec, verr, tc.bad)
		}
	}
	if c, err := Load("", nil); err != nil || c.Runtime.Procs != "adaptive" {
		t.Fatalf("default: %q, %v", c.Runtime.Procs, err)
	}
	if c, err := Load("", []string{"SENIM_RUNTIME_PROCS=2"}); err != nil || c.Runtime.Procs != "2" {
		t.Fatalf("env: %q, %v", c.Runtime.Procs, err)
	}
}

// act.snapshot_every: 0 turns snapshots off; a negative count is refused.
func TestActSnapshotEvery(t *testing.T) {
	c, err := Load("", []string{"SENIM_ACT_SNAPSHOT_EVERY=0"})
	if err != nil || c.Act.SnapshotEvery != 0 {
		t.Fatalf("0: %d, %v", c.Act.SnapshotEvery, err)
	}
	if c, err := Load("", nil); err != nil || c.Act.SnapshotEvery != 32 {
		t.Fatalf("default: %d, %v", c.Act.SnapshotEvery, err)
	}
	if _, err := Load("", []string{"SENIM_ACT_SNAPSHOT_EVERY=-1"}); err == nil || !strings.Contains(err.Error(), "act.snapshot_every") {
		t.Fatalf("-1: %v", err)
	}
}

func TestEventLogBlockCache(t *testing.T) {
	c, err := Load("", []string{"SENIM_EVENTLOG_BLOCK_CACHE_MB=256"})
	if err != nil || c.EventLog.BlockCacheMB != 256 {
		t.Fatalf("256: %d, %v", c.EventLog.BlockCacheMB, err)
	}
	if c, err := Load("", nil); err != nil || c.EventLog.BlockCacheMB != 64 {
		t.Fatalf("default: %d, %v", c.EventLog.BlockCacheMB, err)
	}
	for _, v := range []string{"0", "7", "1048577"} {
		if _, err := Load("", []string{"SENIM_EVENTLOG_BLOCK_CACHE_MB=" + v}); err == nil || !strings.Contains(err.Error(), "block_cache_mb") {
			t.Errorf("%s: %v", v, err)
		}
	}
}
