package sfu_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/senim-kz/senim/media/turn"
)

// turnsCert and turnsKey are the TURN-over-TLS certificate of
// TestRelayOnlyOverTURNS. pion's TURN client checks it against the system's
// roots, which Go loads once per process: the certificate is made, and
// SSL_CERT_FILE set, before any test runs, so that every run of the test
// (-count=3) and any test before it see the same roots.
var turnsCert, turnsKey string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "senim-sfu-turns-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	turnsCert, turnsKey, err = turn.DevCertificate(dir, []string{"127.0.0.1"}, time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	roots, err := os.MkdirTemp(dir, "roots-")
	if err == nil {
		os.Setenv("SSL_CERT_FILE", turnsCert)
		os.Setenv("SSL_CERT_DIR", roots)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
