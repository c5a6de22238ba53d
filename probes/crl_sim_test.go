package probes_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/pkisim"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
)

func crlSection(e *simEnv, extra string) string {
	s := "{url: " + e.sim.CRLURL() + ", issuer: issuer.pem, certificates: [revoked.pem]"
	if extra != "" {
		s += ", " + extra
	}
	return s + "}"
}

func TestCRLSimHealthy(t *testing.T) {
	e := newSimEnv(t, pkisim.Options{})
	st := &memState{}
	pr := buildProbe(t, e.dir, "crl", crlSection(e, ""), probes.Env{Clock: e.clock, State: st})
	r := runProbe(t, pr, e.clock, 5*time.Second)
	wantFailures(t, r, nil, []string{})
	for name, want := range map[string]float64{
		"probe_crl_entries":                       1,
		"probe_crl_this_update_timestamp_seconds": float64(e.clock.Now().Truncate(time.Minute).Unix()),
		"probe_crl_next_update_timestamp_seconds": float64(e.clock.Now().Truncate(time.Minute).Add(7 * 24 * time.Hour).Unix()),
	} {
		if v, ok := gauge(r, name); !ok || v != want {
			t.Errorf("%s = %v, %v; want %v", name, v, ok, want)
		}
	}
	for _, name := range []string{"probe_crl_number", "probe_crl_bytes", "probe_http_status_code"} {
		if v, ok := gauge(r, name); !ok || v <= 0 {
			t.Errorf("%s = %v, %v", name, v, ok)
		}
	}
	// A minute later the sim issues a new CRL with a higher number.
	e.clock.Advance(time.Minute)
	r = runProbe(t, pr, e.clock, 5*time.Second)
	wantFailures(t, r, nil, []string{})
	if c, _ := check(r, "crl_number_increasing"); !strings.Contains(c.Message, " after ") {
		t.Fatalf("second run: %q", c.Message)
	}
}

// TestCRLSimFaults runs each CRL fault after a healthy run (so the state
// holds a CRL to compare with) and asserts the exact check that fails.
func TestCRLSimFaults(t *testing.T) {
	cases := []struct {
		fault pkisim.Fault
		extra string
		crit  []string
		msg   string
	}{
		// The hold and unspecified faults add an entry the healthy CRL lacks;
		// turning them off drops it, which warns (expiry unknown).
		{pkisim.CRLExpired, "", []string{"crl_next_update"}, "nextUpdate passed 1h0m ago"},
		{pkisim.CRLNumberBack, "", []string{"crl_number_increasing"}, "went back from"},
		{pkisim.CRLDroppedSerial, "", []string{"crl_dropped_serial"}, "before their certificates expired"},
		{pkisim.CRLBadSignature, "", []string{"crl_signature"}, "does not verify"},
		{pkisim.CRLIssuerMismatch, "", []string{"crl_issuer_name"}, "the same name encoded differently"},
		{pkisim.CRLMissingNumber, "", []string{"crl_number"}, "no CRLNumber"},
		{pkisim.CRLHold, "", []string{"crl_entry_reasons"}, "certificateHold"},
		{pkisim.CRLReasonUnspecified, "", []string{"crl_entry_reasons"}, "explicit reasonCode unspecified"},
		{pkisim.CRLIDPMismatch, "", []string{"crl_idp"}, "another shard"},
		{pkisim.CRLUnknownCritical, "", []string{"crl_extensions"}, "unknown critical CRL extension 1.3.6.1.4.1.99999.1.1: relying parties must not use this CRL (RFC 5280 §5.2)"},
		{pkisim.CRLDelta, "", []string{"crl_delta"}, "the CRL carries a deltaCRLIndicator: a delta CRL is served where the full CRL belongs (RFC 5280 §5.2.4"},
		{pkisim.CRLIndirect, "", []string{"crl_idp_scope"}, "issuingDistributionPoint indirectCRL is TRUE (entries may belong to other CAs) (BR §7.2.2.1 allows none of these)"},
		{pkisim.CRLAttributeCerts, "", []string{"crl_idp_scope"}, "issuingDistributionPoint onlyContainsAttributeCerts is TRUE (RFC 5280 §5.2.5: conforming CRL issuers set it FALSE)"},
		{pkisim.CRLSomeReasons, "", []string{"crl_idp_scope"}, "issuingDistributionPoint onlySomeReasons is present (40): revocations for other reasons are not on this CRL"},
		{pkisim.CRLCriticalReason, "", []string{"crl_entry_extensions"}, "1 entries with a critical reasonCode, which must not be critical (RFC 5280 §5.3.1, BR §7.2.2): 0x4c01"},
		{pkisim.CRLUnknownCriticalEntry, "", []string{"crl_entry_extensions"}, "1 entries with unknown critical extension 1.3.6.1.4.1.99999.1.1: relying parties must not use this CRL (RFC 5280 §5.3): 0x4c02"},
		{pkisim.CRLReasonNotAllowed, "", []string{"crl_entry_reasons"}, "1 entries with reason cACompromise, which revokes CA certificates; a subscriber CRL may not use it (BR §7.2.2; set crl.kind: ca for a CRL of CA certificates): 0x4c03"},
		{pkisim.CRLSHA1, "", []string{"crl_signature_algorithm"}, "the CRL is signed with SHA-1 (ECDSA-SHA1) (BR §7.1.3.2.1: no SHA-1 CRL signatures from 2026-09-15; this one dates from 2026-11-25 09:00 UTC)"},
		{pkisim.CRLNotFound, "", []string{"crl_http_status"}, "HTTP 404"},
		{pkisim.CRLSlow, "", []string{"crl_transport"}, "timed out"},
		{pkisim.CRLDown, "", []string{"crl_transport"}, "GET"},
		{pkisim.CRLGarbage, "", []string{"crl_parse"}, "not a DER CRL"},
		{pkisim.CRLHuge, "max_bytes: 1048576", []string{"crl_body_size"}, "over max_bytes 1048576"},
	}
	covered := map[pkisim.Fault]bool{}
	for _, tc := range cases {
		covered[tc.fault] = true
		t.Run(string(tc.fault), func(t *testing.T) {
			e := newSimEnv(t, pkisim.Options{})
			pr := buildProbe(t, e.dir, "crl", crlSection(e, tc.extra), probes.Env{Clock: e.clock, State: &memState{}})
			wantFailures(t, runProbe(t, pr, e.clock, 5*time.Second), nil, []string{})
			e.sim.Set(tc.fault, true)
			timeout := 5 * time.Second
			if tc.fault == pkisim.CRLSlow {
				timeout = 500 * time.Millisecond // the fault holds the request until the deadline
			}
			r := runProbe(t, pr, e.clock, timeout)
			wantFailures(t, r, tc.crit, []string{})
			c, _ := check(r, tc.crit[0])
			if !strings.Contains(c.Message, tc.msg) {
				t.Fatalf("%s message %q does not contain %q", tc.crit[0], c.Message, tc.msg)
			}
			if c.Evidence["url"] != e.sim.CRLURL() {
				t.Fatalf("%s evidence %v lacks the url", tc.crit[0], c.Evidence)
			}
			if tc.fault != pkisim.CRLSlow && tc.fault != pkisim.CRLDown && c.Evidence["http_status"] == "" {
				t.Fatalf("%s evidence lacks the HTTP status: %v", tc.crit[0], c.Evidence)
			}
			// Off again: the next CRL is healthy and everything passes.
			e.sim.Set(tc.fault, false)
			e.clock.Advance(time.Minute)
			warn := []string{}
			switch tc.fault {
			case pkisim.CRLHold, pkisim.CRLReasonUnspecified, pkisim.CRLCriticalReason, pkisim.CRLUnknownCriticalEntry, pkisim.CRLReasonNotAllowed:
				warn = []string{"crl_dropped_serial"}
			}
			wantFailures(t, runProbe(t, pr, e.clock, 5*time.Second), nil, warn)
		})
	}
	for _, f := range pkisim.KnownFaults() {
		if strings.HasPrefix(string(f), "crl_") && !covered[f] {
			t.Errorf("fault %s has no test", f)
		}
	}
}

// TestCRLDroppedSerialKeepsFailing: the dropped serial is carried in the
// state, so the failure lasts while the entry is missing (enough runs for
// an incident to open), and ends when the certificate expires.
func TestCRLDroppedSerialKeepsFailing(t *testing.T) {
	e := newSimEnv(t, pkisim.Options{})
	pr := buildProbe(t, e.dir, "crl", crlSection(e, ""), probes.Env{Clock: e.clock, State: &memState{}})
	wantFailures(t, runProbe(t, pr, e.clock, 5*time.Second), nil, []string{})
	e.sim.Set(pkisim.CRLDroppedSerial, true)
	for i := range 3 {
		e.clock.Advance(time.Minute)
		r := runProbe(t, pr, e.clock, 5*time.Second)
		wantFailures(t, r, []string{"crl_dropped_serial"}, []string{})
		if c, _ := check(r, "crl_dropped_serial"); !strings.Contains(c.Message, strings.TrimLeft(e.sim.Revoked().SerialNumber.Text(16), "0")) {
			t.Fatalf("run %d: message %q does not name the serial", i, c.Message)
		}
	}
	// Past the certificate's expiry the removal is legitimate. The sim's
	// CRL is then a week old at most, so only the serial matters here.
	e.clock.Set(e.sim.Revoked().NotAfter.Add(time.Minute))
	r := runProbe(t, pr, e.clock, 5*time.Second)
	if c, _ := check(r, "crl_dropped_serial"); !c.OK {
		t.Fatalf("after expiry: %s\n%s", c.Message, describe(r))
	}
}

// TestCRLDroppedSerialUnknownExpiry: without the certificate in the config,
// a disappearing serial is a warning, once.
func TestCRLDroppedSerialUnknownExpiry(t *testing.T) {
	e := newSimEnv(t, pkisim.Options{})
	pr := buildProbe(t, e.dir, "crl", "{url: "+e.sim.CRLURL()+", issuer: issuer.pem}", probes.Env{Clock: e.clock, State: &memState{}})
	wantFailures(t, runProbe(t, pr, e.clock, 5*time.Second), nil, []string{})
	e.sim.Set(pkisim.CRLDroppedSerial, true)
	e.clock.Advance(time.Minute)
	r := runProbe(t, pr, e.clock, 5*time.Second)
	wantFailures(t, r, nil, []string{"crl_dropped_serial"})
	e.clock.Advance(time.Minute)
	wantFailures(t, runProbe(t, pr, e.clock, 5*time.Second), nil, []string{})
}

// TestCRLStateErrorIsWarning: a broken store never fails the probe.
func TestCRLStateErrorIsWarning(t *testing.T) {
	e := newSimEnv(t, pkisim.Options{})
	st := &memState{fail: errors.New("database is locked")}
	pr := buildProbe(t, e.dir, "crl", crlSection(e, ""), probes.Env{Clock: e.clock, State: st})
	r := runProbe(t, pr, e.clock, 5*time.Second)
	wantFailures(t, r, nil, []string{"crl_state"})
	if c, _ := check(r, "crl_state"); !strings.Contains(c.Message, "database is locked") {
		t.Fatalf("crl_state message %q", c.Message)
	}
	// Corrupt state is reported the same way.
	st2 := &memState{}
	_ = st2.PutState(context.Background(), "p", "crl", []byte{9, 9, 9})
	pr = buildProbe(t, e.dir, "crl", crlSection(e, ""), probes.Env{Clock: e.clock, State: st2})
	r = runProbe(t, pr, e.clock, 5*time.Second)
	wantFailures(t, r, nil, []string{"crl_state"})
}

// TestCRLRestart proves the number regression and the dropped serial are
// caught across a restart: the state lives in a real SQLite store that is
// closed and reopened between runs, with a freshly built prober each time.
func TestCRLRestart(t *testing.T) {
	ctx := context.Background()
	e := newSimEnv(t, pkisim.Options{})
	path := filepath.Join(t.TempDir(), "probed.db")
	runOnce := func() *probes.Report {
		t.Helper()
		st, err := store.Open(ctx, store.Options{Path: path, Clock: e.clock})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
		}()
		pr := buildProbe(t, e.dir, "crl", crlSection(e, ""), probes.Env{Clock: e.clock, State: st})
		return runProbe(t, pr, e.clock, 5*time.Second)
	}
	wantFailures(t, runOnce(), nil, []string{})

	e.sim.Set(pkisim.CRLNumberBack, true)
	wantFailures(t, runOnce(), []string{"crl_number_increasing"}, []string{})
	e.clock.Advance(time.Minute)
	// Still failing after another restart: the state kept the higher number.
	wantFailures(t, runOnce(), []string{"crl_number_increasing"}, []string{})
	e.sim.Set(pkisim.CRLNumberBack, false)
	e.clock.Advance(time.Minute)
	wantFailures(t, runOnce(), nil, []string{})

	e.sim.Set(pkisim.CRLDroppedSerial, true)
	e.clock.Advance(time.Minute)
	wantFailures(t, runOnce(), []string{"crl_dropped_serial"}, []string{})
	e.clock.Advance(time.Minute)
	wantFailures(t, runOnce(), []string{"crl_dropped_serial"}, []string{})
	e.sim.Set(pkisim.CRLDroppedSerial, false)
	e.clock.Advance(time.Minute)
	wantFailures(t, runOnce(), nil, []string{})
}

// TestCRLCACompromiseOnCACRL: cACompromise is a reason BR §7.2.2 allows on
// CRLs of CA certificates (crl.kind: ca), so the fault that fails a
// subscriber CRL passes there.
func TestCRLCACompromiseOnCACRL(t *testing.T) {
	e := newSimEnv(t, pkisim.Options{})
	e.sim.Set(pkisim.CRLReasonNotAllowed, true)
	pr := buildProbe(t, e.dir, "crl", crlSection(e, "kind: ca"), probes.Env{Clock: e.clock, State: &memState{}})
	r := runProbe(t, pr, e.clock, 5*time.Second)
	wantFailures(t, r, nil, []string{})
	if c, _ := check(r, "crl_entry_reasons"); c.Message != "every reasonCode is one the BRs allow" {
		t.Fatalf("crl_entry_reasons: %q", c.Message)
	}
}
