package probes_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/vectors"
	"github.com/probed/probed/probes"
)

// pkitsCase is one NIST PKITS CRL fetched by the crl probe.
type pkitsCase struct {
	crl, issuer string            // files in testdata/public/pkits
	at          string            // the instant it is judged at
	crit        []string          // exactly the critical checks that fail
	want        map[string]string // check → part of its message
}

func runPKITS(t *testing.T, tc pkitsCase) *probes.Report {
	t.Helper()
	dir := t.TempDir()
	body, err := os.ReadFile(vectors.Path("pkits/" + tc.crl))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	issuer := vectors.Path("pkits/" + tc.issuer)
	at, err := time.Parse(time.RFC3339, tc.at)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(at)
	// PKITS CRLs are valid for 21 years: judged as CA CRLs with the
	// validity limit widened, so every other check speaks.
	section := fmt.Sprintf("{url: %q, issuer: %q, kind: ca, max_validity: 25y}", srv.URL+"/"+tc.crl, issuer)
	pr := buildProbe(t, dir, "crl", section, probes.Env{Clock: clk, State: &memState{}})
	return runProbe(t, pr, clk, 10*time.Second)
}

// TestPKITSCRLs runs the crl probe on NIST PKITS CRLs (2011 edition:
// sha256WithRSAEncryption, 2048-bit keys) served from loopback, each
// judged at a stated instant, and asserts exactly which checks fail and
// why. PKITS CRLs are valid from 2010-01-01 to 2030-12-31 (21 years), so
// they are judged as CA CRLs with max_validity 25y; the one valid to 2050
// shows the validity limit.
func TestPKITSCRLs(t *testing.T) {
	const at = "2010-01-01T12:00:00Z" // 3.5 hours after most PKITS thisUpdates
	for _, tc := range []pkitsCase{
		// 4.4 and 4.1: the good CRL and its broken siblings.
		{crl: "GoodCACRL.crl", issuer: "GoodCACert.crt", at: at},
		{crl: "BadCRLSignatureCACRL.crl", issuer: "BadCRLSignatureCACert.crt", at: at,
			crit: []string{"crl_signature"}, want: map[string]string{"crl_signature": `signature does not verify under the issuer "Bad CRL Signature CA"`}},
		{crl: "BadCRLIssuerNameCACRL.crl", issuer: "BadCRLIssuerNameCACert.crt", at: at,
			crit: []string{"crl_issuer_name"}, want: map[string]string{"crl_issuer_name": `CRL issuer "CN=Incorrect CRL Issuer Name,O=Test Certificates 2011,C=US" is a different name than the CA subject "CN=Bad CRL Issuer Name CA`}},
		// The trust anchor's CRL served for another CA.
		{crl: "WrongCRLCACRL.crl", issuer: "WrongCRLCACert.crt", at: at,
			crit: []string{"crl_signature", "crl_issuer_name", "crl_aki"}, want: map[string]string{"crl_issuer_name": `CRL issuer "CN=Trust Anchor,O=Test Certificates 2011,C=US"`}},
		// Unknown critical extensions: the CRL must not be used.
		{crl: "UnknownCRLExtensionCACRL.crl", issuer: "UnknownCRLExtensionCACert.crt", at: at,
			crit: []string{"crl_extensions"}, want: map[string]string{"crl_extensions": "unknown critical CRL extension 2.16.840.1.101.2.1.12.2: relying parties must not use this CRL (RFC 5280 §5.2)"}},
		{crl: "UnknownCRLEntryExtensionCACRL.crl", issuer: "UnknownCRLEntryExtensionCACert.crt", at: at,
			crit: []string{"crl_entry_extensions"}, want: map[string]string{"crl_entry_extensions": "1 entries with unknown critical extension 2.16.840.1.101.2.1.12.2: relying parties must not use this CRL (RFC 5280 §5.3): 0x1"}},
		// Delta CRLs at a full CRL's URL; the base CRL's entries are on
		// hold, which the BRs forbid.
		{crl: "deltaCRLCA1CRL.crl", issuer: "deltaCRLCA1Cert.crt", at: at,
			crit: []string{"crl_entry_reasons"}, want: map[string]string{"crl_entry_reasons": "2 entries with reason certificateHold, which the BRs forbid (§7.2.2): 0x4, 0x5"}},
		{crl: "deltaCRLCA1deltaCRL.crl", issuer: "deltaCRLCA1Cert.crt", at: "2011-01-01T12:00:00Z",
			crit: []string{"crl_delta", "crl_entry_reasons"}, want: map[string]string{"crl_delta": "the CRL carries a deltaCRLIndicator", "crl_entry_reasons": "2 entries with reason removeFromCRL"}},
		{crl: "deltaCRLIndicatorNoBaseCACRL.crl", issuer: "deltaCRLIndicatorNoBaseCACert.crt", at: "2010-05-01T12:00:00Z",
			crit: []string{"crl_delta"}},
		// 4.4.11: nextUpdate 2010-01-02, fresh the day before, stale after.
		{crl: "OldCRLnextUpdateCACRL.crl", issuer: "OldCRLnextUpdateCACert.crt", at: at},
		{crl: "OldCRLnextUpdateCACRL.crl", issuer: "OldCRLnextUpdateCACert.crt", at: "2010-01-03T12:00:00Z",
			crit: []string{"crl_next_update"}, want: map[string]string{"crl_next_update": "nextUpdate passed 1d3h ago (2010-01-02 08:30 UTC)"}},
		// 4.4.13: nextUpdate in 2050 as GeneralizedTime parses; 40 years is
		// over even the widened limit.
		{crl: "GeneralizedTimeCRLnextUpdateCACRL.crl", issuer: "GeneralizedTimeCRLnextUpdateCACert.crt", at: at,
			crit: []string{"crl_validity"}, want: map[string]string{"crl_validity": "validity nextUpdate − thisUpdate is 14610d3h, over the 9125d limit"}},
		// 4.14: an indirect CRL whose entries carry a critical
		// certificateIssuer (RFC 5280 §5.3.3 makes it critical): it parses,
		// and its scope is what the BRs forbid.
		{crl: "indirectCRLCA5CRL.crl", issuer: "indirectCRLCA5Cert.crt", at: at,
			crit: []string{"crl_idp_scope", "crl_idp"}, want: map[string]string{"crl_idp_scope": "issuingDistributionPoint indirectCRL is TRUE"}},
		{crl: "onlyContainsAttributeCertsCACRL.crl", issuer: "onlyContainsAttributeCertsCACert.crt", at: at,
			crit: []string{"crl_idp_scope", "crl_idp"}, want: map[string]string{"crl_idp_scope": "onlyContainsAttributeCerts is TRUE"}},
		{crl: "onlySomeReasonsCA1compromiseCRL.crl", issuer: "onlySomeReasonsCA1Cert.crt", at: at,
			crit: []string{"crl_idp_scope", "crl_idp"}, want: map[string]string{"crl_idp_scope": "onlySomeReasons is present"}},
		// onlyContainsCACerts / onlyContainsUserCerts are scopes the BRs
		// allow; the IDP names no distribution point, so it cannot name
		// the URL fetched.
		{crl: "onlyContainsCACertsCACRL.crl", issuer: "onlyContainsCACertsCACert.crt", at: at, crit: []string{"crl_idp"},
			want: map[string]string{"crl_idp": "issuingDistributionPoint names no distribution point URI, so it cannot name "}},
		{crl: "onlyContainsUserCertsCACRL.crl", issuer: "onlyContainsUserCertsCACert.crt", at: at, crit: []string{"crl_idp"},
			want: map[string]string{"crl_idp": "issuingDistributionPoint names no distribution point URI, so it cannot name "}},
		// 4.4.15-16: a negative serial and a 20-octet one are read and pass
		// (the certificates, not the CRLs, are what those tests reject).
		{crl: "NegativeSerialNumberCACRL.crl", issuer: "NegativeSerialNumberCACert.crt", at: at},
		{crl: "LongSerialNumberCACRL.crl", issuer: "LongSerialNumberCACert.crt", at: at},
	} {
		t.Run(tc.crl+"@"+tc.at, func(t *testing.T) {
			r := runPKITS(t, tc)
			wantFailures(t, r, tc.crit, []string{})
			for name, msg := range tc.want {
				c, _ := check(r, name)
				if !strings.Contains(c.Message, msg) {
					t.Errorf("%s: message %q, want it to contain %q", name, c.Message, msg)
				}
			}
			if _, ok := check(r, "crl_signature"); !ok {
				t.Error("crl_signature was not judged")
			}
		})
	}
}
