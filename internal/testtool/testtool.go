// Package testtool finds the system programs that some tests run as real
// peers: openssl, promtool, Prometheus, Alertmanager and Chromium.
//
// A test that needs one calls the function named for it. When the program is
// missing the test is skipped with a message naming the program and the
// Debian package that provides it, so `go test ./...` passes on a laptop
// without them. With PROBED_REQUIRE_TOOLS=1 (set by `make test`, and so by
// CI) a missing program fails the test instead: CI never skips.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the environment variable that turns a missing program from a
// skip into a failure.
const RequireEnv = "PROBED_REQUIRE_TOOLS"

// OpenSSL returns the path of openssl.
func OpenSSL(t testing.TB) string {
	t.Helper()
	return Path(t, "openssl", "openssl")
}

// Promtool returns the path of promtool.
func Promtool(t testing.TB) string {
	t.Helper()
	return Path(t, "prometheus", "promtool")
}

// Prometheus returns the path of the Prometheus server.
func Prometheus(t testing.TB) string {
	t.Helper()
	return Path(t, "prometheus", "prometheus")
}

// Alertmanager returns the path of Alertmanager (Debian names it
// prometheus-alertmanager).
func Alertmanager(t testing.TB) string {
	t.Helper()
	return Path(t, "prometheus-alertmanager", "prometheus-alertmanager", "alertmanager")
}

// Chromium returns the path of Chromium, for headless browser tests.
func Chromium(t testing.TB) string {
	t.Helper()
	return Path(t, "chromium", "chromium", "chromium-browser")
}

// Path returns the first of names found on PATH. When none is, the test is
// skipped, or fails when PROBED_REQUIRE_TOOLS=1; either way the message names
// the program and pkg, the Debian package that installs it.
func Path(t testing.TB, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	Missing(t, pkg, names[0]+" not found on PATH")
	return ""
}

// Missing ends t for a program that is not there (what says how it was
// looked for): skipped, or failed when PROBED_REQUIRE_TOOLS=1, the message
// naming pkg, the Debian package that installs it.
func Missing(t testing.TB, pkg, what string) {
	t.Helper()
	msg := what + " (Debian package " + pkg + "; `make test` installs it when run as root)"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg + "; " + RequireEnv + "=1 makes this a failure")
		return
	}
	t.Skip(msg + "; skipped (set " + RequireEnv + "=1 to fail instead)")
}
