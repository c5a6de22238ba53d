package probes

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/testtool"
)

// opensslTSA is a real RFC 3161 peer: every POST runs
// `openssl ts -reply` over the query, behind an httptest server.
type opensslTSA struct {
	dir string
	url string
	// signer is the TSA certificate openssl signs with.
	signer *x509.Certificate
	mu     sync.Mutex // openssl ts keeps its serial in a file
}

type opensslTSAOpts struct {
	essAlg   string // ess_cert_id_alg: sha1 (ESSCertID) or sha256 (ESSCertIDv2, default)
	digests  string // accepted imprint digests (default sha256, sha384, sha512)
	accuracy string // e.g. "secs:1"; empty: no accuracy in tokens
	// signerDigest is openssl's signer_digest (default sha256).
	signerDigest string
	// noTSAName leaves the TSTInfo tsa field out (tsa_name = no).
	noTSAName bool
	// needHeader, when set, answers 401 unless the request carries it.
	needHeader [2]string
	// mangle rewrites openssl's reply before it is sent.
	mangle func(w http.ResponseWriter, reply []byte)
}

// newOpenSSLTSA makes a root CA and a TSA signer with openssl in a temp dir
// and serves `openssl ts -reply` on loopback.
func newOpenSSLTSA(t testing.TB, o opensslTSAOpts) *opensslTSA {
	t.Helper()
	testtool.OpenSSL(t)
	dir := t.TempDir()
	if o.essAlg == "" {
		o.essAlg = "sha256"
	}
	if o.digests == "" {
		o.digests = "sha256, sha384, sha512"
	}
	taWriteFile(t, filepath.Join(dir, "ext.cnf"), "[tsa]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
	taOpenSSL(t, dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
		"-subj", "/CN=probed test TSA root", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	taOpenSSL(t, dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=probed test TSA")
	// openssl ca rather than x509 -req: it can backdate the signer, so a probe
	// clock set behind the TSA still sees a valid signer.
	taWriteFile(t, filepath.Join(dir, "ca.cnf"), "[ca]\ndefault_ca = ca_default\n[ca_default]\ndir = .\ndatabase = index.txt\nnew_certs_dir = .\nserial = caserial\ndefault_md = sha256\npolicy = pol\nunique_subject = no\n[pol]\ncommonName = supplied\n")
	taWriteFile(t, filepath.Join(dir, "index.txt"), "")
	taWriteFile(t, filepath.Join(dir, "caserial"), "1000\n")
	start := time.Now().Add(-time.Hour).UTC().Format("20060102150405Z")
	end := time.Now().Add(365 * 24 * time.Hour).UTC().Format("20060102150405Z")
	taOpenSSL(t, dir, "ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "tsa.csr", "-out", "tsa.pem",
		"-startdate", start, "-enddate", end, "-extfile", "ext.cnf", "-extensions", "tsa")
	taWriteFile(t, filepath.Join(dir, "tsaserial"), "01\n")
	signerDigest, tsaName := "sha256", "yes"
	if o.signerDigest != "" {
		signerDigest = o.signerDigest
	}
	if o.noTSAName {
		tsaName = "no"
	}
	cnf := fmt.Sprintf(`[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = %s
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa.key
signer_digest = %s
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5
digests = %s
clock_precision_digits = 3
ordering = no
tsa_name = %s
ess_cert_id_chain = no
ess_cert_id_alg = %s
`, dir, signerDigest, o.digests, tsaName, o.essAlg)
	if o.accuracy != "" {
		cnf += "accuracy = " + o.accuracy + "\n"
	}
	taWriteFile(t, filepath.Join(dir, "tsa.cnf"), cnf)
	pemBytes, err := os.ReadFile(filepath.Join(dir, "tsa.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemBytes)
	signer, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ts := &opensslTSA{dir: dir, signer: signer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := o.needHeader; h[0] != "" && r.Header.Get(h[0]) != h[1] {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "want POST application/timestamp-query", http.StatusBadRequest)
			return
		}
		reply, err := ts.reply(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if o.mangle != nil {
			o.mangle(w, reply)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		_, _ = w.Write(reply)
	}))
	t.Cleanup(srv.Close)
	ts.url = srv.URL + "/tsa"
	return ts
}

// reply runs openssl ts -reply over one query.
func (ts *opensslTSA) reply(r *http.Request) ([]byte, error) {
	q, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return nil, err
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	qf, rf := filepath.Join(ts.dir, "q.tsq"), filepath.Join(ts.dir, "r.tsr")
	_ = os.Remove(rf)
	if err := os.WriteFile(qf, q, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(r.Context(), "openssl", "ts", "-reply", "-config", filepath.Join(ts.dir, "tsa.cnf"), "-queryfile", qf, "-out", rf)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("openssl ts -reply: %v: %s", err, out)
	}
	return os.ReadFile(rf)
}

var allTSAChecks = []string{"tsa_connect", "tsa_http_status", "tsa_body_size", "tsa_content_type", "tsa_response_parse", "tsa_status", "tsa_token",
	"tsa_message_imprint", "tsa_nonce", "tsa_policy", "tsa_gen_time", "tsa_cert_included", "tsa_signature", "tsa_ess_cert_id",
	"tsa_signer_eku", "tsa_signer_not_ca", "tsa_signer_chain", "tsa_signer_validity"}

func TestTSAOpenSSLGood(t *testing.T) {
	for _, tc := range []struct {
		name, essAlg, hash string
	}{
		{"sha256 ESSCertIDv2", "sha256", "sha256"},
		{"sha384 ESSCertIDv2", "sha256", "sha384"},
		{"sha512 ESSCertID v1", "sha1", "sha512"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newOpenSSLTSA(t, opensslTSAOpts{essAlg: tc.essAlg, accuracy: "secs:1"})
			pr := taBuild(t, ts.dir, "tsa", fmt.Sprintf("{url: %s, hash: %s, roots: ca.pem, policy: 1.2.3.4.1, refuse_sha1: true}", ts.url, tc.hash), Env{Clock: clock.Real{}})
			r := taRun(t, pr, clock.Real{})
			taAssertFailed(t, r)
			taAssertPassed(t, r, append(allTSAChecks, "tsa_accuracy", "tsa_sha1_refused")...)
			want := "ESSCertIDv2"
			if tc.essAlg == "sha1" {
				want = "ESSCertID matches"
			}
			taAssertMessage(t, r, "tsa_ess_cert_id", want)
			taAssertMessage(t, r, "tsa_sha1_refused", "rejection", "badAlg")
			if v, ok := taSample(r, "probe_tsa_signer_expiry_timestamp_seconds"); !ok || int64(v) != ts.signer.NotAfter.Unix() {
				t.Errorf("signer expiry sample = %v, %v; want %d", v, ok, ts.signer.NotAfter.Unix())
			}
			if v, ok := taSample(r, "probe_tsa_accuracy_seconds"); !ok || v != 1 {
				t.Errorf("accuracy sample = %v, %v; want 1", v, ok)
			}
			if v, ok := taSample(r, "probe_tsa_status"); !ok || v != 0 {
				t.Errorf("status sample = %v, %v; want 0", v, ok)
			}
			if v, ok := taSample(r, "probe_tsa_clock_skew_seconds"); !ok || v < -1 || v > 1 {
				t.Errorf("skew sample = %v, %v; want within ±1s", v, ok)
			}
			if _, ok := taSample(r, "probe_http_duration_seconds", Label{"phase", "processing"}); !ok {
				t.Error("no probe_http_duration_seconds{phase=processing}")
			}
		})
	}
}

func TestTSAOpenSSLFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    opensslTSAOpts
		section string // %s is the URL
		clock   clock.Clock
		failed  []string
		message []string // fragments of the first failed check's message
	}{
		{name: "policy not served", section: "{url: %s, roots: ca.pem, policy: 1.2.3.9}",
			failed: []string{"tsa_status"}, message: []string{"rejection", "unacceptedPolicy", "does not serve the requested policy", `("Requested policy is not supported.")`}},
		{name: "other policy granted", section: "{url: %s, roots: ca.pem, policy: 1.2.3.4.5}", failed: nil},
		{name: "policy not allowed", section: "{url: %s, roots: ca.pem, allowed_policies: [1.2.3.4.7]}",
			failed: []string{"tsa_policy"}, message: []string{"1.2.3.4.1", "1.2.3.4.7"}},
		{name: "sha1 granted", opts: opensslTSAOpts{digests: "sha1, sha256"}, section: "{url: %s, roots: ca.pem, refuse_sha1: true}",
			failed: []string{"tsa_sha1_refused"}, message: []string{"granted a token over a SHA-1 imprint"}},
		{name: "hash not accepted", opts: opensslTSAOpts{digests: "sha256"}, section: "{url: %s, roots: ca.pem, hash: sha512}",
			failed: []string{"tsa_status"}, message: []string{"badAlg"}},
		{name: "wrong roots", section: "{url: %s, roots: other.pem}",
			failed: []string{"tsa_signer_chain"}, message: []string{"does not chain to the configured roots"}},
		{name: "TSA clock behind", section: "{url: %s, roots: ca.pem}", clock: clock.NewFake(time.Now().Add(10 * time.Second)),
			failed: []string{"tsa_gen_time"}, message: []string{"behind"}},
		{name: "TSA clock ahead", section: "{url: %s, roots: ca.pem}", clock: clock.NewFake(time.Now().Add(-10 * time.Second)),
			failed: []string{"tsa_gen_time"}, message: []string{"ahead"}},
		{name: "no certReq, signer in intermediates", section: "{url: %s, roots: ca.pem, cert_req: false, intermediates: tsa.pem}", failed: nil},
		{name: "no certReq, signer unknown", section: "{url: %s, roots: ca.pem, cert_req: false}",
			failed: []string{"tsa_signature"}, message: []string{"cannot find the signer certificate"}},
		{name: "wrong content type", opts: opensslTSAOpts{mangle: func(w http.ResponseWriter, reply []byte) {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(reply)
		}}, section: "{url: %s, roots: ca.pem}", failed: []string{"tsa_content_type"}, message: []string{"application/octet-stream"}},
		{name: "trailing garbage", opts: opensslTSAOpts{mangle: func(w http.ResponseWriter, reply []byte) {
			w.Header().Set("Content-Type", "application/timestamp-reply")
			_, _ = w.Write(append(reply, 0, 0, 0))
		}}, section: "{url: %s, roots: ca.pem}", failed: []string{"tsa_response_parse"}, message: []string{"3 bytes of trailing data"}},
		{name: "body over limit", section: "{url: %s, roots: ca.pem, max_body_bytes: 100}",
			failed: []string{"tsa_body_size"}, message: []string{"max_body_bytes (100 bytes)"}},
		{name: "server error", opts: opensslTSAOpts{mangle: func(w http.ResponseWriter, reply []byte) {
			http.Error(w, "backend down", http.StatusServiceUnavailable)
		}}, section: "{url: %s, roots: ca.pem}", failed: []string{"tsa_http_status"}, message: []string{"HTTP 503", "backend down"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.accuracy == "" {
				tc.opts.accuracy = "secs:1"
			}
			ts := newOpenSSLTSA(t, tc.opts)
			if strings.Contains(tc.section, "other.pem") {
				other := t.TempDir()
				taOpenSSL(t, other, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k", "-out", filepath.Join(ts.dir, "other.pem"), "-days", "30", "-subj", "/CN=other root")
			}
			c := tc.clock
			if c == nil {
				c = clock.Real{}
			}
			pr := taBuild(t, ts.dir, "tsa", fmt.Sprintf(tc.section, ts.url), Env{Clock: c})
			r := taRun(t, pr, c)
			taAssertFailed(t, r, tc.failed...)
			if len(tc.failed) > 0 {
				taAssertMessage(t, r, tc.failed[0], tc.message...)
			}
		})
	}
}

// TestTSAOpenSSLAccuracy: the accuracy an `openssl ts` token states is
// reported, not judged, unless max_accuracy is set (issue 12, fix 3: ±2 s,
// or no accuracy at all, is RFC 3161-conformant and no BR bounds it).
func TestTSAOpenSSLAccuracy(t *testing.T) {
	for _, tc := range []struct {
		name, accuracy, extra string
		ok                    bool
		severity              Severity
		message               string
	}{
		{"none stated", "", "", true, Critical, "token states no accuracy (optional, RFC 3161 §2.4.2)"},
		{"2s stated", "secs:2", "", true, Critical, "token states accuracy ±2s (informational: no max_accuracy set)"},
		{"2s over max_accuracy", "secs:2", ", max_accuracy: 1s", false, Critical, "token states accuracy ±2s, worse than the configured max_accuracy 1s"},
		{"500ms within max_accuracy", "millisecs:500", ", max_accuracy: 1s", true, Critical, "accuracy ±500ms, within max_accuracy 1s"},
		{"none stated with max_accuracy", "", ", max_accuracy: 1s", false, Warning, "token states no accuracy (optional, RFC 3161 §2.4.2), so max_accuracy 1s cannot be confirmed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newOpenSSLTSA(t, opensslTSAOpts{accuracy: tc.accuracy})
			pr := taBuild(t, ts.dir, "tsa", fmt.Sprintf("{url: %s, roots: ca.pem%s}", ts.url, tc.extra), Env{Clock: clock.Real{}})
			r := taRun(t, pr, clock.Real{})
			if tc.ok || tc.severity == Warning {
				taAssertFailed(t, r)
			} else {
				taAssertFailed(t, r, "tsa_accuracy")
			}
			ch, _ := taFindCheck(r, "tsa_accuracy")
			if ch.OK != tc.ok || ch.Severity != tc.severity || ch.Message != tc.message {
				t.Fatalf("tsa_accuracy = ok %v %s %q, want ok %v %s %q", ch.OK, ch.Severity, ch.Message, tc.ok, tc.severity, tc.message)
			}
		})
	}
}

// TestTSAOpenSSLNameAndAlgorithm (issue 12, items 6 and 7) on `openssl ts`
// tokens: the tsa name openssl writes (tsa_name = yes) is the signer's
// subject and passes, a token without one passes, certReq false gets no
// certificates, and signer_digest = sha1 fails exactly
// tsa_signature_algorithm.
func TestTSAOpenSSLNameAndAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    opensslTSAOpts
		section string
		check   string
		ok      bool
		message string
	}{
		{"tsa name is the signer", opensslTSAOpts{}, "{url: %s, roots: ca.pem}", "tsa_name", true, `TSTInfo tsa "CN=probed test TSA" is the signer's`},
		{"no tsa name", opensslTSAOpts{noTSAName: true}, "{url: %s, roots: ca.pem}", "tsa_name", true, "TSTInfo names no TSA (optional)"},
		{"no certReq, no certificates", opensslTSAOpts{}, "{url: %s, roots: ca.pem, cert_req: false, intermediates: tsa.pem}", "tsa_cert_included", true, "no certificates embedded, as certReq false asks (RFC 3161 §2.4.1)"},
		{"sha256 signer digest", opensslTSAOpts{}, "{url: %s, roots: ca.pem}", "tsa_signature_algorithm", true, "sha256 digest, ECDSA key"},
		{"sha1 signer digest", opensslTSAOpts{signerDigest: "sha1"}, "{url: %s, roots: ca.pem}", "tsa_signature_algorithm", false,
			"the token is signed over a SHA-1 digest (digest sha1, signature ecdsa-with-SHA1) (CSBR §7.1.3.2.1: no SHA-1 in timestamp tokens with genTime after 2022-04-30; this one dates from "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.accuracy = "secs:1"
			ts := newOpenSSLTSA(t, tc.opts)
			pr := taBuild(t, ts.dir, "tsa", fmt.Sprintf(tc.section, ts.url), Env{Clock: clock.Real{}})
			r := taRun(t, pr, clock.Real{})
			if tc.ok {
				taAssertFailed(t, r)
			} else {
				taAssertFailed(t, r, tc.check)
			}
			ch, _ := taFindCheck(r, tc.check)
			if ch.OK != tc.ok || !strings.HasPrefix(ch.Message, tc.message) {
				t.Fatalf("%s = ok %v %q, want ok %v and it to start %q", tc.check, ch.OK, ch.Message, tc.ok, tc.message)
			}
		})
	}
}

// TestTSAHeadersSecret: a header value read from a file reaches the TSA and
// never appears in a check message or evidence.
func TestTSAHeadersSecret(t *testing.T) {
	const secret = "Bearer s3cr3t-token-value"
	ts := newOpenSSLTSA(t, opensslTSAOpts{accuracy: "secs:1", needHeader: [2]string{"Authorization", secret}})
	taWriteFile(t, filepath.Join(ts.dir, "token"), secret+"\n")
	pr := taBuild(t, ts.dir, "tsa", fmt.Sprintf("{url: %s, roots: ca.pem, header_files: {authorization: token}, headers: {X-Probe: probed}}", ts.url), Env{Clock: clock.Real{}})
	r := taRun(t, pr, clock.Real{})
	taAssertFailed(t, r)

	t.Setenv("PROBED_TEST_TSA_AUTH", "Bearer wrong")
	pr = taBuild(t, ts.dir, "tsa", fmt.Sprintf("{url: %s, roots: ca.pem, header_env: {Authorization: PROBED_TEST_TSA_AUTH}}", ts.url), Env{Clock: clock.Real{}})
	r = taRun(t, pr, clock.Real{})
	taAssertFailed(t, r, "tsa_http_status")
	taAssertMessage(t, r, "tsa_http_status", "HTTP 401")
	for _, c := range r.Checks() {
		blob := c.Message + fmt.Sprint(c.Evidence)
		if strings.Contains(blob, "s3cr3t") || strings.Contains(blob, "Bearer wrong") {
			t.Fatalf("check %s leaks the header value: %s", c.Name, blob)
		}
	}
}
