package probes_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/vectors"
	"github.com/probed/probed/probes"
)

// The whole-probe fuzz targets feed arbitrary bytes, as a hostile or broken
// server would send them, through a kind's complete run: parsing and every
// check after it. The transport is a function (no sockets), so a target
// runs thousands of times a second. What must hold on any input: the run
// returns, records its checks with names and messages, and fails when the
// answer is not what a conforming server sends.

// fuzzTransport answers every request with what respond returns.
type fuzzTransport func(*http.Request) *http.Response

func (f fuzzTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	resp := f(req)
	resp.Request = req
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	return resp, nil
}

func fuzzResponse(status int, contentType string, body []byte) *http.Response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
}

// fuzzRun builds the probe of one kind from section (files resolved in
// testdata/public) and runs it once at the instant at.
func fuzzRun(t *testing.T, pr probes.Prober, at time.Time) *probes.Report {
	clk := clock.NewFake(at)
	r := runProbe(t, pr, clk, 5*time.Second)
	if in := r.Internal(); in != nil {
		t.Fatalf("the run failed as probed's own (%s): %v", in.Reason, in.Err)
	}
	checks := r.Checks()
	if len(checks) == 0 {
		t.Fatal("the run recorded no check")
	}
	for _, c := range checks {
		if c.Name == "" || c.Message == "" {
			t.Fatalf("check without a name or message: %+v", c)
		}
	}
	return r
}

func fuzzBuild(f *testing.F, kind, section string, tr http.RoundTripper, at time.Time) probes.Prober {
	dir := f.TempDir()
	section = strings.ReplaceAll(section, "$PUB", vectors.Dir())
	return buildProbe(f, dir, kind, section, probes.Env{Clock: clock.NewFake(at), State: &memState{}, Dialer: probes.DialerConfig{Transport: tr}})
}

func seedFiles(f *testing.F, pattern string) {
	for _, b := range vectors.Files(f, pattern) {
		f.Add(b)
	}
}

// fuzzBody fuzzes a kind whose server answers every request with the
// fuzzed body; verdict adds what must hold for that kind.
func fuzzBody(f *testing.F, kind, section, contentType string, at time.Time, verdict func(t *testing.T, b []byte, r *probes.Report)) {
	var body []byte
	tr := fuzzTransport(func(*http.Request) *http.Response { return fuzzResponse(200, contentType, body) })
	pr := fuzzBuild(f, kind, section, tr, at)
	f.Fuzz(func(t *testing.T, b []byte) {
		body = b
		verdict(t, b, fuzzRun(t, pr, at))
	})
}

// onlySigned is the verdict that no run passes unless the named signature
// check held.
func onlySigned(name string) func(*testing.T, []byte, *probes.Report) {
	return func(t *testing.T, _ []byte, r *probes.Report) {
		if c, _ := check(r, name); r.Success() && !c.OK {
			t.Fatalf("passed without %s holding\n%s", name, describe(r))
		}
	}
}

// FuzzOCSPProbe: any body as the answer to the GTS CA 1C3 OCSP request;
// none passes without a verified signature.
func FuzzOCSPProbe(f *testing.F) {
	seedFiles(f, "ocsp/*.der")
	fuzzBody(f, "ocsp", "{url: 'http://ocsp.test/', issuer: $PUB/ocsp/gts-ca-1c3.pem, serial: f374542e3c7a68360a00000001103462, methods: [post, get]}",
		"application/ocsp-response", time.Date(2021, 11, 7, 14, 25, 51, 0, time.UTC), onlySigned("ocsp_signature"))
}

// FuzzCRLProbe: any body at the GoodCA CRL's URL; none passes without a
// verified signature.
func FuzzCRLProbe(f *testing.F) {
	seedFiles(f, "pkits/*.crl")
	fuzzBody(f, "crl", "{url: 'http://crl.test/GoodCACRL.crl', issuer: $PUB/pkits/GoodCACert.crt, kind: ca, max_validity: 25y}",
		"application/pkix-crl", time.Date(2010, 1, 1, 12, 0, 0, 0, time.UTC), onlySigned("crl_signature"))
}

// FuzzTSAProbe: any body as the TSA's reply; none passes (the nonce and
// imprint are fresh each run).
func FuzzTSAProbe(f *testing.F) {
	seedFiles(f, "tsa/*.tsr")
	fuzzBody(f, "tsa", "{url: 'http://tsa.test/', roots: $PUB/tsa/globalsign-primary-sha256-ca-for-adobe.pem, cert_req: true}",
		"application/timestamp-reply", time.Date(2017, 4, 19, 6, 29, 53, 0, time.UTC), func(t *testing.T, _ []byte, r *probes.Report) {
			if r.Success() {
				t.Fatalf("a reply that cannot echo this run's nonce passed\n%s", describe(r))
			}
		})
}

// FuzzACMEProbe: any directory document, Replay-Nonce and Cache-Control
// headers and error document from an ACME server.
func FuzzACMEProbe(f *testing.F) {
	f.Add([]byte(`{"newNonce":"https://acme.test/nonce","newAccount":"https://acme.test/acct","newOrder":"https://acme.test/order","revokeCert":"https://acme.test/revoke","keyChange":"https://acme.test/key","renewalInfo":"https://acme.test/ari","meta":{"termsOfService":"https://acme.test/tos","externalAccountRequired":false}}`),
		"oFvnlFP1wIhRlYS2jTaXbA", "no-store", "application/problem+json", []byte(`{"type":"urn:ietf:params:acme:error:malformed","detail":"no JWS"}`))
	f.Add([]byte(`{"newNonce":"http://x","meta":[]}`), "bad nonce!", "max-age=60", "text/html", []byte(`<html>`))
	f.Add([]byte(`[]`), "", "", "", []byte(nil))
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	var dir, problem []byte
	var nonce, cacheControl, problemType string
	tr := fuzzTransport(func(req *http.Request) *http.Response {
		switch {
		case req.URL.Path == "/directory":
			return fuzzResponse(200, "application/json", dir)
		case req.Method == http.MethodPost:
			return fuzzResponse(400, problemType, problem)
		}
		resp := fuzzResponse(200, "", nil)
		if req.Method == http.MethodGet {
			resp.StatusCode = 204
		}
		resp.Header["Replay-Nonce"] = []string{nonce}
		resp.Header["Cache-Control"] = []string{cacheControl}
		return resp
	})
	pr := fuzzBuild(f, "acme", "{directory: 'https://acme.test/directory', expect_meta: [termsOfService]}", tr, at)
	f.Fuzz(func(t *testing.T, d []byte, n, cc, pt string, p []byte) {
		dir, nonce, cacheControl, problemType, problem = d, n, cc, pt, p
		r := fuzzRun(t, pr, at)
		if c, ok := check(r, "acme_directory"); !ok || c.OK && !bytes.Contains(d, []byte("{")) {
			t.Fatalf("acme_directory %+v on a directory that is no JSON object\n%s", c, describe(r))
		}
	})
}
