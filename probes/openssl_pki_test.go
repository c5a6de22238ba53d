package probes_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
)

// TestOCSPAgainstOpenSSL runs the ocsp kind against `openssl ocsp`
// responders on loopback: a delegated responder (the one in the leaves'
// AIA), one signing as the issuing CA with a byKey ResponderID, one with a
// corrupted signature and one whose responses are valid for 11 days.
func TestOCSPAgainstOpenSSL(t *testing.T) {
	ports := [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}
	ca := newOpenSSLCA(t, ports[0], "http://127.0.0.1:1/crl/issuer.crl")
	goodSerial := slashPlusSerial(t, ca.cert("issuer.pem"))
	ca.issue("good", "leaf_ext", goodSerial)
	ca.issue("revoked", "leaf_ext", "")
	ca.revoke("revoked", "keyCompromise")
	ca.startOCSP(ports[0], "ocsp", "-ndays", "1")
	ca.startOCSP(ports[1], "issuer", "-nmin", "600", "-resp_key_id")
	ca.startOCSP(ports[2], "ocsp", "-ndays", "1", "-badsig")
	ca.startOCSP(ports[3], "ocsp", "-ndays", "11")
	url := func(i int) string { return fmt.Sprintf("http://127.0.0.1:%d/", ports[i]) }

	revokedAt := revocationTime(t, ca, "revoked")
	env := probes.Env{Clock: clock.Real{}}
	cases := []struct {
		name    string
		section string
		crit    []string
		check   string // a check whose message must contain msg
		msg     string
	}{
		{"delegated good sha1 post+get nonce pinned", "{certificate: good.pem, issuer: issuer.pem, responder: ocsp.pem, methods: [post, get], nonce: true}", nil, "ocsp_nonce", "echoed exactly"},
		{"delegated good sha256 post+get", "{certificate: good.pem, issuer: issuer.pem, methods: [post, get], hash: sha256}", nil, "ocsp_cert_id", "sha256"},
		{"revoked with reason sha1", "{certificate: revoked.pem, issuer: issuer.pem, expect: revoked, reason: keyCompromise, methods: [post, get]}", nil, "ocsp_status", "(keyCompromise)"},
		{"revoked with reason sha256", "{certificate: revoked.pem, issuer: issuer.pem, expect: revoked, reason: keyCompromise, hash: sha256, methods: [get]}", nil, "ocsp_status", "revoked at"},
		{"revoked is not good", "{certificate: revoked.pem, issuer: issuer.pem, expect: good}", []string{"ocsp_status"}, "ocsp_status", "want good"},
		{"never issued", "{never_issued: true, issuer: issuer.pem, url: " + url(0) + ", methods: [post, get]}", nil, "ocsp_status", "never-issued serial answered unknown"},
		{"issuer-signed resp_key_id", "{certificate: good.pem, issuer: issuer.pem, url: " + url(1) + ", methods: [post, get]}", nil, "ocsp_responder_id", "byKey"},
		{"issuer-signed not the pinned responder", "{certificate: good.pem, issuer: issuer.pem, url: " + url(1) + ", responder: ocsp.pem}", []string{"ocsp_signer"}, "ocsp_signer", "not by the pinned responder"},
		{"badsig", "{certificate: good.pem, issuer: issuer.pem, url: " + url(2) + "}", []string{"ocsp_signature"}, "ocsp_signature", "verifies neither"},
		{"ndays 11", "{certificate: good.pem, issuer: issuer.pem, url: " + url(3) + "}", []string{"ocsp_validity"}, "ocsp_validity", "over the 10d limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pr := buildProbe(t, ca.dir, "ocsp", tc.section, env)
			r := runProbe(t, pr, clock.Real{}, 10*time.Second)
			wantFailures(t, r, tc.crit, nil)
			c, ok := check(r, tc.check)
			if !ok || !strings.Contains(c.Message, tc.msg) {
				t.Fatalf("%s = %q, want it to contain %q\n%s", tc.check, c.Message, tc.msg, describe(r))
			}
			if strings.HasPrefix(tc.name, "revoked with reason") {
				if v, ok := gauge(r, "probe_ocsp_revocation_timestamp_seconds"); !ok || int64(v) != revokedAt.Unix() {
					t.Fatalf("revocation time %v, want %v (%d)", v, revokedAt, revokedAt.Unix())
				}
			}
		})
	}
}

// revocationTime reads a certificate's revocation time from index.txt.
func revocationTime(t *testing.T, ca *opensslCA, cn string) time.Time {
	t.Helper()
	b, err := os.ReadFile(ca.path("index.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, "\t")
		if len(f) >= 6 && f[0] == "R" && strings.HasSuffix(f[5], "CN="+cn) {
			ts, _, _ := strings.Cut(f[2], ",")
			tm, err := time.Parse("060102150405Z", ts)
			if err != nil {
				t.Fatal(err)
			}
			return tm
		}
	}
	t.Fatalf("%s not revoked in index.txt:\n%s", cn, b)
	return time.Time{}
}

// crlServer serves whatever CRL the test sets, as a distribution point does.
type crlServer struct {
	mu  sync.Mutex
	der []byte
}

func (s *crlServer) set(b []byte) { s.mu.Lock(); s.der = b; s.mu.Unlock() }

func (s *crlServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b := s.der
	s.mu.Unlock()
	if r.URL.Path != "/crl/issuer.crl" || b == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	_, _ = w.Write(b)
}

// TestCRLAgainstOpenSSL checks CRLs made by `openssl ca -gencrl` as they
// evolve: revocations, an old CRL served again, an entry removed before its
// certificate expired (index.txt edited, as a botched cleanup would), and a
// certificateHold entry.
func TestCRLAgainstOpenSSL(t *testing.T) {
	dp := &crlServer{}
	srv := httptest.NewServer(dp)
	t.Cleanup(srv.Close)
	crlURL := srv.URL + "/crl/issuer.crl"
	ca := newOpenSSLCA(t, freePort(t), crlURL)
	ca.issue("good", "leaf_ext", "")
	ca.issue("revoked", "leaf_ext", "")
	ca.issue("revoked2", "leaf_ext", "")
	ca.issue("held", "leaf_ext", "")
	ca.revoke("revoked", "keyCompromise")

	st := &memState{}
	pr := buildProbe(t, ca.dir, "crl", "{url: "+crlURL+", issuer: issuer.pem, certificates: [revoked.pem]}", probes.Env{Clock: clock.Real{}, State: st})
	run := func() *probes.Report { return runProbe(t, pr, clock.Real{}, 10*time.Second) }

	first := ca.gencrl()
	dp.set(first)
	r := run()
	wantFailures(t, r, nil, []string{})
	if v, _ := gauge(r, "probe_crl_number"); v != 0x1000 {
		t.Fatalf("probe_crl_number = %v, want 4096 (crlnumber 1000 hex)", v)
	}
	if v, _ := gauge(r, "probe_crl_entries"); v != 1 {
		t.Fatalf("probe_crl_entries = %v, want 1", v)
	}
	if c, _ := check(r, "crl_idp"); !strings.Contains(c.Message, "critical issuingDistributionPoint names "+crlURL) {
		t.Fatalf("crl_idp: %q", c.Message)
	}

	ca.revoke("revoked2", "superseded")
	dp.set(ca.gencrl())
	r = run()
	wantFailures(t, r, nil, []string{})
	if c, _ := check(r, "crl_number_increasing"); c.Message != "CRL number 4097 after 4096" {
		t.Fatalf("crl_number_increasing: %q", c.Message)
	}

	// The old CRL comes back (a stale cache or a rolled-back mirror).
	dp.set(first)
	r = run()
	wantFailures(t, r, []string{"crl_number_increasing"}, []string{"crl_dropped_serial"})
	if c, _ := check(r, "crl_number_increasing"); !strings.Contains(c.Message, "went back from 4097 to 4096") {
		t.Fatalf("crl_number_increasing: %q", c.Message)
	}

	// revoked.pem's entry removed while the certificate is still valid.
	unrevoke(t, ca, "revoked")
	dp.set(ca.gencrl())
	r = run()
	wantFailures(t, r, []string{"crl_dropped_serial"}, []string{})
	if c, _ := check(r, "crl_dropped_serial"); !strings.Contains(c.Message, strings.ToLower(ca.cert("revoked.pem").SerialNumber.Text(16))) {
		t.Fatalf("crl_dropped_serial: %q", c.Message)
	}

	// certificateHold, which the BRs forbid.
	ca.run("ca", "-config", "ca.cnf", "-revoke", "held.pem", "-crl_hold", "holdInstructionReject")
	dp.set(ca.gencrl())
	r = run()
	wantFailures(t, r, []string{"crl_dropped_serial", "crl_entry_reasons"}, []string{})
	if c, _ := check(r, "crl_entry_reasons"); !strings.Contains(c.Message, "certificateHold") {
		t.Fatalf("crl_entry_reasons: %q", c.Message)
	}
}

var revokedLine = regexp.MustCompile(`(?m)^R\t([0-9Z]+)\t[^\t]*\t(.*CN=%s)$`)

// unrevoke turns a certificate's index.txt line back to valid.
func unrevoke(t *testing.T, ca *opensslCA, cn string) {
	t.Helper()
	b, err := os.ReadFile(ca.path("index.txt"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(strings.Replace(revokedLine.String(), "%s", regexp.QuoteMeta(cn), 1))
	out := re.ReplaceAll(b, []byte("V\t$1\t\t$2"))
	if string(out) == string(b) {
		t.Fatalf("%s not revoked in index.txt:\n%s", cn, b)
	}
	if err := os.WriteFile(ca.path("index.txt"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}
