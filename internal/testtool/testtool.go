// Package testtool holds helpers shared by Senim's tests: waiting with a
// deadline instead of sleeping, and finding the peer tools (openssl, qpdf,
// zbarimg…) that interop tests drive, and this host's own address.
package testtool

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// RequireTool returns the path of an external program the test needs. On CI
// (CI=true) a missing tool fails the test, because .ci/run installs it; on a
// developer's machine the test is skipped with a note on how to install it.
func RequireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found on CI; .ci/run must install the Debian package %s", name, debianPackage)
	}
	t.Skipf("%s not found: apt-get install -y %s", name, debianPackage)
	return ""
}

// BrowserTMPDIR is a TMPDIR setting for a browser the test starts: a
// directory of its own, removed when the test ends. Chromium keeps its
// singleton socket in a directory it makes under TMPDIR and leaves it
// behind when it is killed, as a test's browser is; under the system's
// /tmp those piled up, one a test. The path is short (os.MkdirTemp, not
// t.TempDir, which holds the test's name): a socket's path must fit in
// 108 bytes. Register it before the browser's own cleanup, so that the
// browser has exited when the directory goes.
func BrowserTMPDIR(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "chr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return "TMPDIR=" + dir
}

// Eventually polls cond every tick until it returns nil or the deadline
// passes, then fails the test with cond's last error.
func Eventually(t testing.TB, within, tick time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", within, err)
		}
		time.Sleep(tick)
	}
}

// OwnIPv4 is an address of one of this host's interfaces, not loopback:
// where a service listening on all addresses is reached from outside. The
// test is skipped on a host that has none.
func OwnIPv4(t testing.TB) net.IP {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.To4()
		}
	}
	t.Skip("this host has no IPv4 address besides loopback")
	return nil
}
