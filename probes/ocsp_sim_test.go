package probes_test

import (
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/pkisim"
	"github.com/probed/probed/probes"
)

func ocspSection(cert, expect string, extra string) string {
	s := "{certificate: " + cert + ", issuer: issuer.pem, methods: [post, get]"
	if expect != "" {
		s += ", expect: " + expect
	}
	if extra != "" {
		s += ", " + extra
	}
	return s + "}"
}

func TestOCSPSimHealthy(t *testing.T) {
	e := newSimEnv(t, pkisim.Options{})
	env := probes.Env{Clock: e.clock}
	cases := []struct {
		name, section, status string
	}{
		{"good", ocspSection("good.pem", "good", "nonce: true, responder: ocsp-signer.pem"), "good"},
		{"good sha256", ocspSection("good.pem", "good", "hash: sha256"), "good"},
		{"revoked with reason", ocspSection("revoked.pem", "revoked", "reason: keyCompromise"), "revoked"},
		{"never issued", "{never_issued: true, issuer: issuer.pem, url: " + e.sim.OCSPURL() + ", methods: [get, post]}", "unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pr := buildProbe(t, e.dir, "ocsp", tc.section, env)
			r := runProbe(t, pr, e.clock, 5*time.Second)
			wantFailures(t, r, nil, []string{})
			if v, ok := gauge(r, "probe_ocsp_cert_status", probes.Label{Name: "status", Value: tc.status}); !ok || v != 1 {
				t.Fatalf("probe_ocsp_cert_status{status=%s} = %v, %v\n%s", tc.status, v, ok, describe(r))
			}
			for _, g := range []string{"probe_ocsp_this_update_timestamp_seconds", "probe_ocsp_next_update_timestamp_seconds", "probe_ocsp_produced_at_timestamp_seconds", "probe_http_status_code"} {
				if _, ok := gauge(r, g); !ok {
					t.Errorf("no %s", g)
				}
			}
			if _, ok := gauge(r, "probe_http_duration_seconds", probes.Label{Name: "phase", Value: "processing"}); !ok {
				t.Error("no probe_http_duration_seconds{phase=processing}")
			}
			if tc.status == "revoked" {
				v, ok := gauge(r, "probe_ocsp_revocation_timestamp_seconds")
				if !ok || int64(v) != e.sim.RevokedAt().Unix() {
					t.Errorf("revocation timestamp %v, want %d", v, e.sim.RevokedAt().Unix())
				}
			}
			// Each method ran every check: the named ones appear twice.
			n := 0
			for _, c := range r.Checks() {
				if c.Name == "ocsp_status" {
					n++
				}
			}
			if n != 2 {
				t.Errorf("ocsp_status recorded %d times, want once per method\n%s", n, describe(r))
			}
		})
	}
}

// TestOCSPSimFaults turns each OCSP fault on alone and asserts the exact
// check that fails and that no other critical check does.
func TestOCSPSimFaults(t *testing.T) {
	e := newSimEnv(t, pkisim.Options{})
	env := probes.Env{Clock: e.clock}
	good := ocspSection("good.pem", "good", "")
	cases := []struct {
		fault   pkisim.Fault
		section string
		crit    []string
		warn    []string
		msg     string // a substring the failed check's message must hold
	}{
		{pkisim.OCSPStale, good, []string{"ocsp_next_update"}, nil, "nextUpdate passed 2h0m ago (2026-11-25 07:00 UTC)"},
		{pkisim.OCSPTooOld, good, []string{"ocsp_this_update_age"}, nil, "thisUpdate is 5d0h old"},
		{pkisim.OCSPFuture, good, []string{"ocsp_this_update"}, nil, "1h0m in the future"},
		{pkisim.OCSPLongValidity, good, []string{"ocsp_validity"}, nil, "over the 10d limit"},
		{pkisim.OCSPShortValidity, good, []string{"ocsp_validity_min"}, nil, "validity interval is 4h0m1s (counted inclusively), under the 8h minimum (BR §4.9.10)"},
		{pkisim.OCSPLateRefresh, good, []string{"ocsp_refresh"}, nil, "the response is still served 4h0m before its nextUpdate (2026-11-25 13:00 UTC): responses valid for 16h or more must be replaced at least 8h before nextUpdate (BR §4.9.10), so it should have been replaced by 2026-11-25 05:00 UTC"},
		{pkisim.OCSPValidity240h, good, []string{"ocsp_validity"}, nil, "validity interval is 240h0m1s (nextUpdate − thisUpdate + 1s, counted inclusively), over the 10d limit (BR §4.9.10)"},
		{pkisim.OCSPSHA1, good, []string{"ocsp_signature_algorithm"}, nil, "the response is signed with SHA-1 (ecdsa-with-SHA1) (BR §7.1.3.2.1: no SHA-1 OCSP response signatures with producedAt from 2022-06-01; this one dates from 2026-11-25 09:00 UTC)"},
		{pkisim.OCSPSignerSHA1, good, []string{"ocsp_signature_algorithm"}, nil, `responder certificate "probed sim OCSP Responder, SHA-1 signed" is signed with SHA-1 (ECDSA-SHA1) (BR 1.x §7.1.3: no SHA-1 signed OCSP responder certificates issued from 2017-01-01; this one dates from 2026-11-25 08:00 UTC)`},
		{pkisim.OCSPWeakKey, good, []string{"ocsp_signature_algorithm"}, nil, `the response is signed by "probed sim OCSP Responder, RSA-1024" with an RSA key of 1024 bits, under the 2048 the BRs require (§6.1.5) (BR §6.1.5, from 2014-01-01; this one dates from 2026-11-25 09:00 UTC)`},
		{pkisim.OCSPWrongSigner, good, []string{"ocsp_signer"}, nil, "not by the issuing CA"},
		{pkisim.OCSPSignerNoEKU, good, []string{"ocsp_signer_eku"}, nil, "lacks id-kp-OCSPSigning"},
		{pkisim.OCSPSignerNoCheck, good, []string{"ocsp_signer_nocheck"}, nil, "lacks id-pkix-ocsp-nocheck"},
		{pkisim.OCSPOtherSerial, good, []string{"ocsp_cert_id"}, nil, "serial 0x"},
		{pkisim.OCSPOtherIssuer, good, []string{"ocsp_cert_id"}, nil, "issuerNameHash"},
		{pkisim.OCSPTryLater, good, []string{"ocsp_response_status"}, nil, "tryLater"},
		{pkisim.OCSPUnauthorized, good, []string{"ocsp_response_status"}, nil, "unauthorized"},
		{pkisim.OCSPMalformed, good, []string{"ocsp_response_status"}, nil, "malformedRequest"},
		{pkisim.OCSPGoodForRevoked, ocspSection("revoked.pem", "revoked", ""), []string{"ocsp_status"}, nil, "is good, want revoked"},
		{pkisim.OCSPUnknownForGood, good, []string{"ocsp_status"}, nil, "is unknown, want good"},
		{pkisim.OCSPWrongNonce, ocspSection("good.pem", "good", "nonce: true"), []string{"ocsp_nonce"}, nil, "nonce echoed as"},
		{pkisim.OCSPCriticalExtension, good, []string{"ocsp_extensions"}, nil, "unknown critical extension 1.3.6.1.4.1.99999.1.1"},
		{pkisim.OCSPBadCacheHeaders, good, nil, []string{"ocsp_cache_headers"}, "past nextUpdate"},
		{pkisim.OCSPWrongContentType, good, []string{"ocsp_content_type"}, nil, `"text/html; charset=utf-8"`},
		{pkisim.OCSPNotFound, good, []string{"ocsp_http_status"}, nil, "HTTP 404"},
		{pkisim.OCSPSlow, good, []string{"ocsp_transport"}, nil, "timed out"},
		{pkisim.OCSPDown, good, []string{"ocsp_transport"}, nil, "POST"},
		{pkisim.OCSPGarbage, good, []string{"ocsp_parse"}, nil, "not an OCSP response"},
		{pkisim.OCSPHuge, good, []string{"ocsp_body_size"}, nil, "1048576-byte limit"},
	}
	covered := map[pkisim.Fault]bool{}
	for _, tc := range cases {
		covered[tc.fault] = true
		t.Run(string(tc.fault), func(t *testing.T) {
			e.sim.Set(tc.fault, true)
			defer e.sim.Set(tc.fault, false)
			pr := buildProbe(t, e.dir, "ocsp", tc.section, env)
			timeout := 5 * time.Second
			if tc.fault == pkisim.OCSPSlow {
				timeout = 500 * time.Millisecond // the fault holds the request until the deadline
			}
			r := runProbe(t, pr, e.clock, timeout)
			warn := tc.warn
			if warn == nil {
				warn = []string{}
			}
			wantFailures(t, r, tc.crit, warn)
			name := append(tc.crit, tc.warn...)[0]
			c, _ := check(r, name)
			if !strings.Contains(c.Message, tc.msg) {
				t.Fatalf("%s message %q does not contain %q", name, c.Message, tc.msg)
			}
			if len(c.Evidence) == 0 || c.Evidence["url"] == "" {
				t.Fatalf("%s has no evidence: %v", name, c.Evidence)
			}
			if tc.fault != pkisim.OCSPSlow && tc.fault != pkisim.OCSPDown && c.Evidence["http_status"] == "" {
				t.Fatalf("%s evidence lacks the HTTP status: %v", name, c.Evidence)
			}
		})
	}
	for _, f := range pkisim.KnownFaults() {
		if strings.HasPrefix(string(f), "ocsp_") && !covered[f] {
			t.Errorf("fault %s has no test", f)
		}
	}
}

// TestOCSPAlgorithmPolicyDates: the algorithm policy judges a response by
// its own producedAt. A SHA-1 response produced the day before the BR
// sunset (2022-06-01) passes ocsp_signature_algorithm, naming the finding
// as allowed then; the same response a day later fails.
func TestOCSPAlgorithmPolicyDates(t *testing.T) {
	for _, tc := range []struct {
		at  time.Time
		ok  bool
		msg string
	}{
		{time.Date(2022, 5, 31, 12, 0, 0, 0, time.UTC), true, "response signed with ECDSA-SHA1, responder certificate signed with ECDSA-SHA256; the response is signed with SHA-1 (ecdsa-with-SHA1) (allowed before 2022-06-01)"},
		{time.Date(2022, 6, 1, 12, 0, 0, 0, time.UTC), false, "the response is signed with SHA-1 (ecdsa-with-SHA1) (BR §7.1.3.2.1: no SHA-1 OCSP response signatures with producedAt from 2022-06-01; this one dates from 2022-06-01 12:00 UTC)"},
	} {
		t.Run(tc.at.Format("2006-01-02"), func(t *testing.T) {
			clk := clock.NewFake(tc.at)
			sim, srv, err := pkisim.NewServer(pkisim.Options{Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			dir := t.TempDir()
			if err := sim.WriteFiles(dir); err != nil {
				t.Fatal(err)
			}
			sim.Set(pkisim.OCSPSHA1, true)
			pr := buildProbe(t, dir, "ocsp", ocspSection("good.pem", "good", ""), probes.Env{Clock: clk})
			r := runProbe(t, pr, clk, 5*time.Second)
			if tc.ok {
				wantFailures(t, r, nil, nil)
			} else {
				wantFailures(t, r, []string{"ocsp_signature_algorithm"}, nil)
			}
			c, _ := check(r, "ocsp_signature_algorithm")
			if c.OK != tc.ok || !strings.Contains(c.Message, tc.msg) {
				t.Fatalf("ocsp_signature_algorithm = %v %q, want %v and %q", c.OK, c.Message, tc.ok, tc.msg)
			}
		})
	}
}
