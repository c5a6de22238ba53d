package probes

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/probed/probed/internal/clock"
)

// Config refuses credentials in probe URLs, but a server can redirect to a
// URL that carries them: no message or evidence may repeat the password.
func TestHTTPRedactsCredentialsInRedirects(t *testing.T) {
	t.Parallel()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			http.Redirect(w, r, "http://probe:hunter2@"+srv.Listener.Addr().String()+"/down", http.StatusFound)
		case "/ftp":
			http.Redirect(w, r, "ftp://probe:hunter2@"+srv.Listener.Addr().String()+"/x", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "down")
		}
	}))
	defer srv.Close()
	for path, failed := range map[string]string{"/": "http_status", "/ftp": "http_redirect"} {
		r := probeHTTP(t, clock.Real{}, t.TempDir(), srv.URL+path, "", "5s")
		if !hasFailed(r, failed) {
			t.Errorf("%s: %s did not fail: %s", path, failed, describeChecks(r))
		}
		for _, c := range r.Checks() {
			if strings.Contains(c.Message, "hunter2") {
				t.Errorf("%s: %s message holds the password: %q", path, c.Name, c.Message)
			}
			for k, v := range c.Evidence {
				if strings.Contains(v, "hunter2") {
					t.Errorf("%s: %s evidence %s holds the password: %q", path, c.Name, k, v)
				}
			}
		}
		if !strings.Contains(describeChecks(r), "probe:xxxxx@") {
			t.Errorf("%s: the redirect target is not shown redacted: %s", path, describeChecks(r))
		}
	}
}

func hasFailed(r *Report, name string) bool {
	for _, c := range r.Failed() {
		if c.Name == name {
			return true
		}
	}
	return false
}

// redactURL hides a password and never returns text it cannot parse.
func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://127.0.0.1/x":         "http://127.0.0.1/x",
		"http://u:hunter2@h/x?q=1":   "http://u:xxxxx@h/x?q=1",
		"http://u:hunter2%zz@h/x":    "(unparseable URL)",
		"https://ocsp.example.com/a": "https://ocsp.example.com/a",
	} {
		if got := redactURL(raw); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
