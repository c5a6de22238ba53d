package probes

import (
	"context"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/pkisim"
)

// newSimForTSAACME starts the simulated CA on a fake clock: plain HTTP for the
// TSA, TLS for ACME. dir holds the sim's PEM files and sim-tls.pem, the
// certificate of the TLS listener.
func newSimForTSAACME(t testing.TB) (sim *pkisim.Sim, acmeBase, dir string, clk *clock.Fake) {
	t.Helper()
	clk = clock.NewFake(time.Now())
	sim, srv, err := pkisim.NewServer(pkisim.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	tlsSrv := sim.NewTLSServer()
	t.Cleanup(tlsSrv.Close)
	dir = t.TempDir()
	if err := sim.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	taWriteFile(t, filepath.Join(dir, "sim-tls.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})))
	return sim, tlsSrv.URL, dir, clk
}

// timeoutFor is the run's deadline: the *Slow faults answer only when the
// client gives up, so their runs get a short one; the rest answer at once
// and get a generous one (the machine may be loaded).
func timeoutFor(f pkisim.Fault) time.Duration {
	if f == pkisim.TSASlow || f == pkisim.ACMESlow {
		return 300 * time.Millisecond
	}
	return 20 * time.Second
}

func runWithTimeout(t testing.TB, pr Prober, c clock.Clock, d time.Duration) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	r := NewReport(c, nil)
	pr.Probe(ctx, r)
	return r
}

// TestTSAPkisimFaults: one run per TSA fault; exactly the named check fails.
func TestTSAPkisimFaults(t *testing.T) {
	cases := []struct {
		fault pkisim.Fault
		check string
		msg   string
	}{
		{"", "", ""},
		{pkisim.TSARejection, "tsa_status", "rejection, failInfo timeNotAvailable"},
		{pkisim.TSAWrongNonce, "tsa_nonce", "differs from the request's"},
		{pkisim.TSAImprintMismatch, "tsa_message_imprint", "the TSA stamped something else"},
		{pkisim.TSAClockSkew, "tsa_gen_time", "TSA clock is 30"},
		{pkisim.TSAWrongPolicy, "tsa_policy", pkisim.OtherTSAPolicy.String()},
		{pkisim.TSANoCert, "tsa_cert_included", "request set certReq"},
		{pkisim.TSASignerNoEKU, "tsa_signer_eku", "has no extendedKeyUsage"},
		{pkisim.TSASignerEKUNotCritical, "tsa_signer_eku", "is not critical"},
		{pkisim.TSASignerExpired, "tsa_signer_validity", "expired 10m ago"},
		{pkisim.TSABadSignature, "tsa_signature", "does not verify"},
		{pkisim.TSAUnrequestedCerts, "tsa_cert_included", "request left certReq false but the token embeds 1 certificates: RFC 3161 §2.4.1 says the certificates field MUST NOT be present then"},
		{pkisim.TSAWrongName, "tsa_name", `TSTInfo tsa names "CN=probed sim Unrelated CA,O=probed sim,C=JP", which is not a name of the signer "CN=probed sim TSA,O=probed sim,C=JP" (RFC 3161 §2.4.2: it must correspond to a subject name of the certificate that verifies the token)`},
		{pkisim.TSASHA1, "tsa_signature_algorithm", "the token is signed over a SHA-1 digest (digest sha1, signature ecdsa-with-SHA1) (CSBR §7.1.3.2.1: no SHA-1 in timestamp tokens with genTime after 2022-04-30; this one dates from "},
		{pkisim.TSASlow, "tsa_connect", "timed out"},
		{pkisim.TSADown, "tsa_connect", "POST"},
		{pkisim.TSAGarbage, "tsa_response_parse", "not a DER TimeStampResp"},
	}
	covered := map[pkisim.Fault]bool{}
	for _, tc := range cases {
		covered[tc.fault] = true
	}
	for _, f := range pkisim.TSAFaults() {
		if !covered[f] {
			t.Errorf("TSA fault %s has no test case", f)
		}
		if !slices.Contains(pkisim.KnownFaults(), f) {
			t.Errorf("TSA fault %s missing from KnownFaults", f)
		}
	}
	for _, tc := range cases {
		name := string(tc.fault)
		if name == "" {
			name = "no fault"
		}
		t.Run(name, func(t *testing.T) {
			sim, _, dir, clk := newSimForTSAACME(t)
			if tc.fault != "" {
				sim.Set(tc.fault, true)
			}
			extra := ""
			if tc.fault == pkisim.TSAUnrequestedCerts {
				extra = ", cert_req: false" // the fault embeds certificates all the same
			}
			pr := taBuild(t, dir, "tsa", fmt.Sprintf("{url: %s, roots: tsa-root.pem, intermediates: tsa.pem, policy: %s, refuse_sha1: true%s}", sim.TSAURL(), pkisim.TSAPolicy, extra), Env{Clock: clk})
			r := runWithTimeout(t, pr, clk, timeoutFor(tc.fault))
			if tc.check == "" {
				taAssertFailed(t, r)
				taAssertPassed(t, r, append(allTSAChecks, "tsa_accuracy", "tsa_sha1_refused")...)
				if v, _ := taSample(r, "probe_tsa_accuracy_seconds"); v != pkisim.TSAAccuracy.Seconds() {
					t.Errorf("accuracy = %v", v)
				}
				if v, _ := taSample(r, "probe_tsa_signer_expiry_timestamp_seconds"); int64(v) != sim.TSASigner().NotAfter.Unix() {
					t.Errorf("signer expiry = %v", v)
				}
				return
			}
			taAssertFailed(t, r, tc.check)
			taAssertMessage(t, r, tc.check, tc.msg)
		})
	}
}

// TestACMEPkisimFaults: one run per ACME fault; exactly the named check
// fails (for the warning fault: none critical, the warning recorded).
func TestACMEPkisimFaults(t *testing.T) {
	cases := []struct {
		fault pkisim.Fault
		check string // critical check that fails; "" for none
		warn  string // warning check that fails
		msg   string
	}{
		{fault: ""},
		{fault: pkisim.ACMEMissingFields, check: "acme_directory_fields", msg: "directory lacks revokeCert, keyChange"},
		{fault: pkisim.ACMENotHTTPS, check: "acme_directory_https", msg: `newNonce="http://`},
		{fault: pkisim.ACMENonceMissing, check: "acme_nonce_header", msg: "HEAD carried no Replay-Nonce"},
		{fault: pkisim.ACMENonceBad, check: "acme_nonce_header", msg: "is not base64url"},
		{fault: pkisim.ACMENoCacheHeader, warn: "acme_nonce_cache", msg: "want no-store"},
		{fault: pkisim.ACMEErrorNotProblem, check: "acme_error_format", msg: `Content-Type "text/html"`},
		{fault: pkisim.ACMESlow, check: "acme_directory", msg: "timed out"},
		{fault: pkisim.ACMEDown, check: "acme_directory", msg: "GET https://"},
		{fault: pkisim.ACMEGarbage, check: "acme_directory", msg: "directory is not a JSON object"},
	}
	covered := map[pkisim.Fault]bool{}
	for _, tc := range cases {
		covered[tc.fault] = true
	}
	for _, f := range pkisim.ACMEFaults() {
		if !covered[f] {
			t.Errorf("ACME fault %s has no test case", f)
		}
		if !slices.Contains(pkisim.KnownFaults(), f) {
			t.Errorf("ACME fault %s missing from KnownFaults", f)
		}
	}
	for _, tc := range cases {
		name := string(tc.fault)
		if name == "" {
			name = "no fault"
		}
		t.Run(name, func(t *testing.T) {
			sim, base, dir, clk := newSimForTSAACME(t)
			if tc.fault != "" {
				sim.Set(tc.fault, true)
			}
			pr := taBuild(t, dir, "acme", fmt.Sprintf("{directory: %s%s, roots: sim-tls.pem, expect_eab: false, expect_ari: true, expect_meta: [termsOfService]}", base, pkisim.ACMEDirectoryPath), Env{Clock: clk})
			r := runWithTimeout(t, pr, clk, timeoutFor(tc.fault))
			switch {
			case tc.check != "":
				taAssertFailed(t, r, tc.check)
				taAssertMessage(t, r, tc.check, tc.msg)
			case tc.warn != "":
				taAssertFailed(t, r)
				c, _ := taFindCheck(r, tc.warn)
				if c.OK || c.Severity != Warning {
					t.Fatalf("%s = %+v, want a failed warning", tc.warn, c)
				}
				taAssertMessage(t, r, tc.warn, tc.msg)
			default:
				taAssertFailed(t, r)
				taAssertPassed(t, r, append(acmeBasicChecks, "acme_nonce_cache", "acme_eab", "acme_ari")...)
				taAssertMessage(t, r, "acme_meta", pkisim.ACMETermsOfService)
			}
		})
	}
}
