package probes_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
)

// TestOCSPBRValidityOpenSSL checks BR §4.9.10's validity rules on answers
// of `openssl ocsp` (issue 12, item 4): a 4-hour response is under the
// 8-hour minimum, `-ndays 10` (nextUpdate − thisUpdate = 240h, so 240h0m1s
// counted inclusively) is over the 10-day maximum, and a 24-hour response
// judged 20 hours after it was signed (the probe's clock moved ahead) is
// still served 4 hours before nextUpdate, past the 8 hours the BRs allow.
// -ndays 1 judged at once passes everything.
func TestOCSPBRValidityOpenSSL(t *testing.T) {
	ports := [3]int{freePort(t), freePort(t), freePort(t)}
	ca := newOpenSSLCA(t, ports[0], "http://127.0.0.1:1/crl/issuer.crl")
	ca.issue("good", "leaf_ext", "")
	ca.startOCSP(ports[0], "ocsp", "-ndays", "1")
	ca.startOCSP(ports[1], "ocsp", "-nmin", "240")
	ca.startOCSP(ports[2], "ocsp", "-ndays", "10")
	url := func(i int) string { return fmt.Sprintf("http://127.0.0.1:%d/", ports[i]) }
	for _, tc := range []struct {
		name  string
		port  int
		ahead time.Duration // how far the probe's clock is ahead of the responder's
		crit  []string
		msg   string
	}{
		{"24h judged at once", 0, 0, nil, ""},
		{"4h under the minimum", 1, 0, []string{"ocsp_validity_min"}, "validity interval is 4h0m1s (counted inclusively), under the 8h minimum (BR §4.9.10)"},
		{"240h over the maximum", 2, 0, []string{"ocsp_validity"}, "validity interval is 240h0m1s (nextUpdate − thisUpdate + 1s, counted inclusively), over the 10d limit (BR §4.9.10)"},
		{"24h served 4h before nextUpdate", 0, 20 * time.Hour, []string{"ocsp_refresh"}, "before nextUpdate (BR §4.9.10), so it should have been replaced by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var clk clock.Clock = clock.Real{}
			if tc.ahead != 0 {
				clk = clock.NewFake(time.Now().Add(tc.ahead))
			}
			pr := buildProbe(t, ca.dir, "ocsp", "{certificate: good.pem, issuer: issuer.pem, url: "+url(tc.port)+"}", probes.Env{Clock: clk})
			r := runProbe(t, pr, clk, 10*time.Second)
			wantFailures(t, r, tc.crit, nil)
			if tc.crit == nil {
				return
			}
			c, _ := check(r, tc.crit[0])
			if !strings.Contains(c.Message, tc.msg) {
				t.Fatalf("%s = %q, want it to contain %q", tc.crit[0], c.Message, tc.msg)
			}
			if tc.crit[0] == "ocsp_refresh" && !strings.Contains(c.Message, "the response is still served 4h0m before its nextUpdate") {
				t.Fatalf("ocsp_refresh = %q", c.Message)
			}
		})
	}
}

// TestOCSPSHA1OpenSSL (issue 12, fix 2 and item 7): a delegated responder
// whose certificate `openssl ca -md sha1` signed is issued by the CA, so
// ocsp_signer passes and only ocsp_signature_algorithm fails, naming SHA-1
// and the rule; a response `openssl ocsp -rmd sha1` signs fails the same
// check for the response's own signature.
func TestOCSPSHA1OpenSSL(t *testing.T) {
	ports := [2]int{freePort(t), freePort(t)}
	ca := newOpenSSLCA(t, ports[0], "http://127.0.0.1:1/crl/issuer.crl")
	ca.issue("good", "leaf_ext", "")
	ca.run("req", "-new", "-config", "ca.cnf", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=ocsp-sha1", "-keyout", "ocsp-sha1.key", "-out", "ocsp-sha1.csr")
	ca.run("ca", "-batch", "-config", "ca.cnf", "-extensions", "ocsp_ext", "-md", "sha1", "-notext", "-in", "ocsp-sha1.csr", "-out", "ocsp-sha1.pem")
	if alg := ca.cert("ocsp-sha1.pem").SignatureAlgorithm.String(); alg != "ECDSA-SHA1" {
		t.Fatalf("openssl signed the responder certificate with %s, want ECDSA-SHA1", alg)
	}
	ca.startOCSP(ports[0], "ocsp-sha1", "-ndays", "1")
	ca.startOCSP(ports[1], "ocsp", "-ndays", "1", "-rmd", "sha1")

	pr := buildProbe(t, ca.dir, "ocsp", fmt.Sprintf("{certificate: good.pem, issuer: issuer.pem, url: http://127.0.0.1:%d/}", ports[0]), probes.Env{Clock: clock.Real{}})
	r := runProbe(t, pr, clock.Real{}, 10*time.Second)
	wantFailures(t, r, []string{"ocsp_signature_algorithm"}, nil)
	if c, _ := check(r, "ocsp_signer"); !c.OK || !strings.Contains(c.Message, `delegated responder "ocsp-sha1" issued by the issuing CA`) {
		t.Fatalf("ocsp_signer = %v %q", c.OK, c.Message)
	}
	c, _ := check(r, "ocsp_signature_algorithm")
	if want := `responder certificate "ocsp-sha1" is signed with SHA-1 (ECDSA-SHA1) (BR 1.x §7.1.3: no SHA-1 signed OCSP responder certificates issued from 2017-01-01; this one dates from `; !strings.HasPrefix(c.Message, want) {
		t.Fatalf("ocsp_signature_algorithm = %q, want it to start %q", c.Message, want)
	}

	pr = buildProbe(t, ca.dir, "ocsp", fmt.Sprintf("{certificate: good.pem, issuer: issuer.pem, url: http://127.0.0.1:%d/}", ports[1]), probes.Env{Clock: clock.Real{}})
	r = runProbe(t, pr, clock.Real{}, 10*time.Second)
	wantFailures(t, r, []string{"ocsp_signature_algorithm"}, nil)
	c, _ = check(r, "ocsp_signature_algorithm")
	if want := "the response is signed with SHA-1 (ecdsa-with-SHA1) (BR §7.1.3.2.1: no SHA-1 OCSP response signatures with producedAt from 2022-06-01; this one dates from "; !strings.HasPrefix(c.Message, want) {
		t.Fatalf("ocsp_signature_algorithm = %q, want it to start %q", c.Message, want)
	}
}
