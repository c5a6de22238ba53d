package probes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
)

// httpCase is one table row: a loopback server, the probe's http: keys
// besides url, and the checks that must fail with their messages. In a
// message, {url} and {host} stand for the server's; a message starting
// with ~ is a regular expression.
type httpCase struct {
	name    string
	handler http.HandlerFunc
	tls     *tls.Config // nil: plain http
	keys    string      // more http: keys, e.g. `status: [204]`
	timeout string      // the probe's timeout (default 5s)
	path    string      // requested path (default /)
	// fail maps each check that must fail to its message; every other
	// check must pass.
	fail map[string]string
	// warn maps checks that must fail with warning severity.
	warn map[string]string
	// pass lists checks that must be recorded as passed.
	pass []string
	// check inspects the report further.
	check func(t *testing.T, r *Report, url string)
	// noRequest: the server must never see a request (TLS refused first).
	noRequest bool
}

func TestHTTPChecks(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	fc := clock.NewFake(now)
	root := newTestCA(t, "probed test root")
	other := newTestCA(t, "some other root")
	dir := t.TempDir()
	root.writePEM(t, dir, "ca.pem")
	other.writePEM(t, dir, "other-ca.pem")

	serve := func(leaf *x509.Certificate, key any, chain ...*x509.Certificate) *tls.Config {
		c := tls.Certificate{PrivateKey: key, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
		for _, x := range chain {
			c.Certificate = append(c.Certificate, x.Raw)
		}
		return &tls.Config{Certificates: []tls.Certificate{c}}
	}
	good, goodKey := root.issue(t, leafOpts{cn: "good.test", ips: loopback, notAfter: now.Add(80 * 24 * time.Hour)})
	expired, expiredKey := root.issue(t, leafOpts{cn: "expired.test", ips: loopback, notBefore: now.Add(-90 * 24 * time.Hour), notAfter: now.Add(-49 * time.Hour)})
	soon, soonKey := root.issue(t, leafOpts{cn: "soon.test", ips: loopback, notAfter: now.Add(5*24*time.Hour + 30*time.Minute)})
	wrongHost, wrongHostKey := root.issue(t, leafOpts{cn: "other.example", dns: []string{"other.example", "www.other.example"}, notAfter: now.Add(80 * 24 * time.Hour)})
	// A chain whose intermediate expires before the leaf, presented with a
	// stray expired certificate that is on no verified path.
	interCert, interKey := root.issue(t, leafOpts{cn: "probed test intermediate", isCA: true, notAfter: now.Add(30 * 24 * time.Hour)})
	inter := &testCA{cert: interCert, key: interKey}
	chained, chainedKey := inter.issue(t, leafOpts{cn: "chained.test", ips: loopback, notAfter: now.Add(80 * 24 * time.Hour)})
	stray, _ := other.issue(t, leafOpts{cn: "stray expired", notBefore: now.Add(-400 * 24 * time.Hour), notAfter: now.Add(-24 * time.Hour)})

	ok := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }
	}
	tls12 := serve(good, goodKey)
	tls12.MaxVersion = tls.VersionTLS12

	cases := []httpCase{
		{name: "ok", handler: ok("hello"), pass: []string{"http_connect", "http_status", "http_body_size"},
			check: func(t *testing.T, r *Report, url string) {
				if v, found := sampleValue(r, "probe_http_status_code"); !found || v != 200 {
					t.Errorf("probe_http_status_code = %v (%v)", v, found)
				}
			}},
		{name: "status", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "down for maintenance")
		}, fail: map[string]string{"http_status": `GET {url}/ answered 503 Service Unavailable, want 2xx (body starts "down for maintenance")`}},
		{name: "status accepted list", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			keys: "status: [200, 204]", pass: []string{"http_status"}},
		{name: "status not in list", handler: ok("fine"), keys: "status: [204, 304]",
			fail: map[string]string{"http_status": `GET {url}/ answered 200 OK, want 204 or 304 (body starts "fine")`}},
		{name: "body must match", handler: ok(`{"status": "degraded"}`), keys: `body_matches: ['"status": "ok"', degraded]`,
			fail: map[string]string{"http_body_matches": `the body (22 bytes, starting "{\"status\": \"degraded\"}") does not match "status": "ok"`}},
		{name: "body must not match", handler: ok("ok\nerror: database unreachable\n"), keys: `body_not_matches: ['error: \w+', maintenance]`,
			fail: map[string]string{"http_body_not_matches": `the body matches error: \w+, which it must not: "error: database" at byte 3`}},
		{name: "json field", handler: ok(`{"status": {"indicator": "major"}, "components": [{"id": "ocsp"}]}`),
			keys: `json: [{path: status.indicator, equal: none}, {path: components.0.id, equal: ocsp}]`,
			fail: map[string]string{"http_json": `JSON field status.indicator is "major", want "none"`}},
		{name: "json field missing", handler: ok(`{"status": {}}`), keys: `json: [{path: status.indicator, equal: none}]`,
			fail: map[string]string{"http_json": `JSON field status.indicator is missing`}},
		{name: "json not json", handler: ok(`<html>maintenance</html>`), keys: `json: [{path: status, equal: ok}]`,
			fail: map[string]string{"http_json": `the body is not JSON (invalid character '<' looking for beginning of value); it starts "<html>maintenance</html>"`}},
		{name: "header match", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "x")
		}, keys: `header_matches: {Content-Type: "^application/json", X-Served-By: "."}`,
			fail: map[string]string{"http_header_matches": `header Content-Type is "text/plain", want a match for ^application/json`},
			check: func(t *testing.T, r *Report, url string) {
				if !hasCheck(r, "http_header_matches", false, "the response has no X-Served-By header; want one matching .") {
					t.Errorf("missing header not reported: %s", describeChecks(r))
				}
			}},
		{name: "body too large", handler: ok(strings.Repeat("a", 100)), keys: "max_body_bytes: 10",
			fail: map[string]string{"http_body_size": `the body of {url}/ is larger than the 10-byte limit (max_body_bytes); raise the limit if the page grew on purpose`}},
		{name: "tls ok with ca_file", handler: ok("secure"), tls: serve(good, goodKey), keys: "ca_file: ca.pem",
			pass: []string{"tls_chain", "tls_hostname", "tls_cert_expiry", "http_status"},
			check: func(t *testing.T, r *Report, url string) {
				for _, phase := range []string{"resolve", "connect", "tls", "processing", "transfer"} {
					if _, found := sampleValue(r, "probe_http_duration_seconds", Label{"phase", phase}); !found {
						t.Errorf("no probe_http_duration_seconds{phase=%q}", phase)
					}
				}
				if v, _ := sampleValue(r, "probe_http_duration_seconds", Label{"phase", "tls"}); v <= 0 {
					t.Errorf("tls phase %v, want > 0", v)
				}
				if v, _ := sampleValue(r, "probe_tls_cert_expiry_timestamp_seconds"); v != float64(good.NotAfter.Unix()) {
					t.Errorf("expiry metric %v, want %d", v, good.NotAfter.Unix())
				}
			}},
		{name: "expired certificate", handler: ok("x"), tls: serve(expired, expiredKey), keys: "ca_file: ca.pem", noRequest: true,
			pass: []string{"tls_chain", "tls_hostname"},
			fail: map[string]string{"tls_cert_expiry": fmt.Sprintf(`certificate "CN=expired.test" presented by {host} expired 2d1h ago (%s): renew it and deploy the new chain`, FormatTime(expired.NotAfter))}},
		{name: "certificate expiring soon", handler: ok("x"), tls: serve(soon, soonKey), keys: "ca_file: ca.pem", pass: []string{"http_status"},
			warn: map[string]string{"tls_cert_expiry": fmt.Sprintf(`certificate "CN=soon.test" presented by {host} expires in 5d0h (%s), within the 2w warning window (cert_expiry_warning)`, FormatTime(soon.NotAfter))}},
		{name: "wrong hostname", handler: ok("x"), tls: serve(wrongHost, wrongHostKey), keys: "ca_file: ca.pem", noRequest: true,
			pass: []string{"tls_chain"},
			fail: map[string]string{"tls_hostname": `certificate "CN=other.example" is valid for other.example, www.other.example, not for {host}: the server presents another site's certificate (or set server_name)`}},
		{name: "server_name", handler: ok("x"), tls: serve(wrongHost, wrongHostKey), keys: "ca_file: ca.pem, server_name: www.other.example",
			pass: []string{"tls_chain", "tls_hostname", "http_status"}},
		{name: "untrusted without ca_file", handler: ok("x"), tls: serve(good, goodKey), noRequest: true,
			pass: []string{"tls_hostname"},
			fail: map[string]string{"tls_chain": `{host}'s certificate "CN=good.test" chains to "CN=probed test root", which is not in the system's trusted roots: set ca_file to trust a private CA, or the server is missing an intermediate (it sent 1 certificate(s))`}},
		{name: "untrusted by another ca_file", handler: ok("x"), tls: serve(good, goodKey), keys: "ca_file: other-ca.pem", noRequest: true,
			pass: []string{"tls_hostname"},
			fail: map[string]string{"tls_chain": `{host}'s certificate "CN=good.test" chains to "CN=probed test root", which is not in ca_file other-ca.pem: the server uses another CA, or ca_file is out of date`}},
		{name: "insecure_skip_verify", handler: ok("x"), tls: serve(good, goodKey), keys: "insecure_skip_verify: true",
			pass: []string{"tls_cert_expiry", "http_status"},
			check: func(t *testing.T, r *Report, url string) {
				for _, c := range r.Checks() {
					if c.Name == "tls_chain" || c.Name == "tls_hostname" {
						t.Errorf("%s checked with insecure_skip_verify", c.Name)
					}
				}
			}},
		{name: "slow server", timeout: "300ms", handler: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			fail: map[string]string{"http_connect": `~^GET {url}/: timed out: no answer within the probe's timeout \(.*context deadline exceeded\) waiting for the response headers \(request sent [0-9.]+m?s ago\)$`}},
		{name: "slow body", timeout: "300ms", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "start")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, pass: []string{"http_connect", "http_status"},
			fail: map[string]string{"http_body_read": `~^reading the body of {url}/ failed after 5 bytes: timed out: no answer within the probe's timeout \(.*\) while reading the body \(first byte [0-9.]+m?s ago\)$`}},
		{name: "redirect followed", path: "/old", handler: redirecting, pass: []string{"http_redirect", "http_status"},
			check: func(t *testing.T, r *Report, url string) {
				if v, _ := sampleValue(r, "probe_http_redirects"); v != 1 {
					t.Errorf("probe_http_redirects = %v, want 1", v)
				}
			}},
		{name: "redirect not followed", path: "/old", handler: redirecting, keys: "redirects: none",
			fail: map[string]string{"http_status": `GET {url}/old answered 302 Found, want 2xx (redirect to /new not followed: redirects is none)`}},
		{name: "redirect expected", path: "/old", handler: redirecting, keys: "redirects: none, status: [302]", pass: []string{"http_status"}},
		{name: "redirect to another scheme", path: "/ftp", handler: redirecting,
			fail: map[string]string{"http_redirect": `redirect from {url}/ftp to ftp://files.example/pub refused: scheme "ftp": only http and https are followed`}},
		{name: "redirect loop", path: "/loop", handler: redirecting,
			fail: map[string]string{"http_redirect": `redirect from {url}/loop to {url}/loop refused: more than 10 redirects`}},
		{name: "tls version below minimum", handler: ok("x"), tls: tls12, keys: "ca_file: ca.pem, min_tls_version: '1.3'",
			pass: []string{"tls_chain", "http_status"},
			fail: map[string]string{"tls_version": `{host} negotiated TLS 1.2, below the minimum 1.3 (min_tls_version)`},
			check: func(t *testing.T, r *Report, url string) {
				if _, found := sampleValue(r, "probe_tls_version_info", Label{"version", "1.2"}); !found {
					t.Error("no probe_tls_version_info{version=1.2}")
				}
			}},
		{name: "tls version at minimum", handler: ok("x"), tls: serve(good, goodKey), keys: "ca_file: ca.pem, min_tls_version: '1.3'",
			pass: []string{"tls_version"}},
		{name: "earliest expiry of the verified chain", handler: ok("x"), tls: serve(chained, chainedKey, interCert, stray), keys: "ca_file: ca.pem",
			pass: []string{"tls_chain", "tls_hostname", "tls_cert_expiry"},
			check: func(t *testing.T, r *Report, url string) {
				v, _ := sampleValue(r, "probe_tls_cert_expiry_timestamp_seconds")
				if v != float64(interCert.NotAfter.Unix()) {
					t.Errorf("expiry metric %s, want the intermediate's %s (not the leaf's %s nor the stray's %s)",
						time.Unix(int64(v), 0).UTC(), interCert.NotAfter, chained.NotAfter, stray.NotAfter)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int32
			h := func(w http.ResponseWriter, r *http.Request) { hits.Add(1); tc.handler(w, r) }
			srv := httptest.NewUnstartedServer(http.HandlerFunc(h))
			// The handshakes probed refuses are the point of some cases.
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			if tc.tls != nil {
				srv.TLS = tc.tls
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			r := probeHTTP(t, fc, dir, srv.URL+orDefault(tc.path, "/"), tc.keys, orDefault(tc.timeout, "5s"))
			host := strings.Split(strings.TrimPrefix(strings.TrimPrefix(srv.URL, "https://"), "http://"), ":")[0]
			expand := func(s string) string {
				return strings.NewReplacer("{url}", srv.URL, "{host}", host).Replace(s)
			}
			for _, c := range r.Checks() {
				_, isFail := tc.fail[c.Name]
				_, isWarn := tc.warn[c.Name]
				switch {
				case c.OK:
				case isFail && c.Severity == Critical, isWarn && c.Severity == Warning:
				default:
					t.Errorf("unexpected failed check %s (%s): %s", c.Name, c.Severity, c.Message)
				}
			}
			for name, want := range tc.fail {
				expectFailure(t, r, name, Critical, expand(want))
			}
			for name, want := range tc.warn {
				expectFailure(t, r, name, Warning, expand(want))
			}
			for _, name := range tc.pass {
				if !hasCheck(r, name, true, "") {
					t.Errorf("check %s not passed; checks: %s", name, describeChecks(r))
				}
			}
			if r.Success() != (len(tc.fail) == 0) {
				t.Errorf("success = %v with failures %v", r.Success(), tc.fail)
			}
			if tc.noRequest && hits.Load() != 0 {
				t.Errorf("the server got %d request(s) although TLS refused it", hits.Load())
			}
			if tc.check != nil {
				tc.check(t, r, srv.URL)
			}
		})
	}
}

// redirecting serves /old → /new, /ftp → ftp://..., /loop → /loop.
func redirecting(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/old":
		http.Redirect(w, r, "/new", http.StatusFound)
	case "/ftp":
		http.Redirect(w, r, "ftp://files.example/pub", http.StatusFound)
	case "/loop":
		http.Redirect(w, r, "/loop", http.StatusFound)
	default:
		io.WriteString(w, "arrived")
	}
}

// A closed port is reported as such, and a secret header never reaches a
// server whose certificate is refused.
func TestHTTPConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := probeHTTP(t, clock.Real{}, t.TempDir(), "http://"+addr+"/", "", "2s")
	if got := failedCheckNames(r); !slices.Equal(got, []string{"http_connect"}) {
		t.Fatalf("failed %v, want [http_connect]", got)
	}
	want := fmt.Sprintf("GET http://%s/: connection refused by %s: nothing listens there, or a firewall rejects it", addr, addr)
	if msg := r.Failed()[0].Message; msg != want {
		t.Errorf("message\n got %q\nwant %q", msg, want)
	}
}

// probeHTTP builds an http probe for url with more keys and runs it once
// with its timeout.
func probeHTTP(t *testing.T, c clock.Clock, dir, url, keys, timeout string) *Report {
	t.Helper()
	section := fmt.Sprintf("url: %q", url)
	if keys != "" {
		section += ", " + keys
	}
	cfg := rtConfig(t, dir, fmt.Sprintf("  - {name: h, component: api, kind: http, interval: 1m, timeout: %s, http: {%s}}\n", timeout, section))
	p := &cfg.Probes[0]
	pr, err := Build(p, Env{Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.Timeout.D())
	defer cancel()
	r := NewReport(c, nil)
	pr.Probe(ctx, r)
	return r
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// expectFailure asserts that check name failed with severity sev and the
// message want (a regular expression after ~) in at least one instance.
func expectFailure(t *testing.T, r *Report, name string, sev Severity, want string) {
	t.Helper()
	var got []string
	for _, c := range r.Failed() {
		if c.Name != name || c.Severity != sev {
			continue
		}
		if re, ok := strings.CutPrefix(want, "~"); ok && regexp.MustCompile(re).MatchString(c.Message) || c.Message == want {
			return
		}
		got = append(got, c.Message)
	}
	if len(got) == 0 {
		t.Errorf("check %s did not fail (%s); checks: %s", name, sev, describeChecks(r))
		return
	}
	t.Errorf("%s message\n got %q\nwant %q", name, got, want)
}

func hasCheck(r *Report, name string, ok bool, message string) bool {
	return slices.ContainsFunc(r.Checks(), func(c Check) bool {
		return c.Name == name && c.OK == ok && (message == "" || c.Message == message)
	})
}

func failedCheckNames(r *Report) []string {
	var out []string
	for _, c := range r.Failed() {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func describeChecks(r *Report) string {
	var b strings.Builder
	for _, c := range r.Checks() {
		fmt.Fprintf(&b, "\n  %s ok=%v %s: %s", c.Name, c.OK, c.Severity, c.Message)
	}
	return b.String()
}

// sampleValue finds a sample by name and labels.
func sampleValue(r *Report, name string, labels ...Label) (float64, bool) {
	for _, s := range r.Samples() {
		if s.Name == name && (len(labels) == 0 || slices.Equal(s.Labels, labels)) {
			return s.Value, true
		}
	}
	return 0, false
}
