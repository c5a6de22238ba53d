package incident

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/config"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/status"
)

// locAlert is the quorum alert Prometheus sends for one location (the
// shape of prometheus/probed.rules.yml's ProbeDownQuorum).
func locAlert(probe, component, location string, downSince, startsAt time.Time, locations int) PayloadAlert {
	return PayloadAlert{Status: "firing", Fingerprint: "fp-" + probe + "-" + location, StartsAt: startsAt,
		Labels: map[string]string{"alertname": "ProbeDownQuorum", "probe": probe, "component": component, "kind": "http",
			"location": location, "severity": "critical", "probed_draft": "true"},
		Annotations: map[string]string{"summary": probe + " is down at " + location,
			"down_since": fmt.Sprintf("%.3f", float64(downSince.UnixMilli())/1000), "locations": fmt.Sprint(locations)}}
}

func (h *harness) deliver(alerts ...PayloadAlert) {
	h.t.Helper()
	if _, err := h.eng.ReceiveAlerts(h.ctx, "alertmanager", &Payload{Version: "4", Status: alerts[0].Status, Alerts: alerts}); err != nil {
		h.t.Fatal(err)
	}
}

func resolvedAlert(a PayloadAlert, at time.Time) PayloadAlert {
	a.Status, a.EndsAt = "resolved", at
	return a
}

// evidenceAt lists an incident's evidence as source@location.
func evidenceAt(inc status.Incident) []string {
	var out []string
	for _, e := range inc.Evidence {
		out = append(out, e.Source+"@"+e.Location)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestHolderCountsEveryLocation: the holder's own results and the alerts
// for the other locations make one quorum. All three locations down is a
// major outage, two of three a partial one; the evidence is exactly what
// counted; the outage starts at the earliest failure among them and ends at
// the last recovery.
func TestHolderCountsEveryLocation(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, "incidents: {failures_to_open: 2, successes_to_close: 2, quorum: 2}\n")
	h.eng.logger = slog.New(slog.NewTextHandler(&logs, nil)).With("component", "incident")
	t0 := h.clk.Now()

	// The holder alone sees crl fail: one location of a quorum of two.
	h.fail("crl", 2) // tokyo-1 down since t0
	if n := len(h.incidents("")); n != 0 {
		t.Fatalf("one location drafted %d incidents", n)
	}
	// Prometheus' quorum alerts: osaka-1 and the holder's own location
	// (which must not count twice: its own results speak for it).
	osaka := locAlert("crl", "crl", "osaka-1", t0.Add(10*time.Second), t0.Add(40*time.Second), 3)
	self := locAlert("crl", "crl", "tokyo-1", t0.Add(-time.Hour), t0.Add(40*time.Second), 3)
	h.deliver(osaka, self)
	d := h.only(status.StateDraft)
	if d.Components[0].Status != status.PartialOutage || !d.Components[0].Since.Equal(t0) || d.Title["en"] != "Certificate Revocation List (CRL) is not reachable" {
		t.Fatalf("two of three locations: %+v, want a partial outage since %s", d.Components[0], t0)
	}
	if got := evidenceAt(d); !slices.Equal(got, []string{"alertmanager@osaka-1", "probe@tokyo-1"}) {
		t.Fatalf("evidence = %v, want the holder's probe and osaka-1's alert", got)
	}
	// The third location, whose failure began first: all down, a major
	// outage dated from that first failure.
	h.deliver(locAlert("crl", "crl", "fra-1", t0.Add(-5*time.Second), t0.Add(50*time.Second), 3))
	d = h.only(status.StateDraft)
	if d.Components[0].Status != status.MajorOutage || !d.Components[0].Since.Equal(t0.Add(-5*time.Second)) {
		t.Fatalf("all three locations: %+v %q, want a major outage since %s", d.Components[0], d.Title, t0.Add(-5*time.Second))
	}
	if got := evidenceAt(d); !slices.Equal(got, []string{"alertmanager@fra-1", "alertmanager@osaka-1", "probe@tokyo-1"}) {
		t.Fatalf("evidence = %v", got)
	}
	if v := testutil.ToFloat64(mustGauge(t, h.reg, "probed_component_detected_status", "component", "crl", "status", "major_outage")); v != 1 {
		t.Errorf("probed_component_detected_status{crl,major_outage} = %v", v)
	}
	created := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `msg="draft incident created"`) {
			created++
			if strings.Count(line, " component=") != 1 || !strings.Contains(line, "component_id=crl") {
				t.Errorf("log line carries component keys ambiguously: %s", line)
			}
		}
	}
	if created != 1 {
		t.Errorf("%d draft-created log lines, want 1:\n%s", created, logs.String())
	}

	// Recovery: the holder first (2 of 3 still down), then osaka-1's alert
	// resolves; fra-1 still fails alone, below the quorum.
	if _, err := h.eng.Approve(h.ctx, "alice", d.ID, true); err != nil {
		t.Fatal(err)
	}
	h.ok("crl", 2)
	if p := h.only(status.StatePublished); p.Proposal != nil || h.health()["crl"].Status != status.PartialOutage {
		t.Fatalf("holder recovered, two locations still down: proposal %+v, status %s", p.Proposal, h.health()["crl"].Status)
	}
	end := h.clk.Now().Add(-20 * time.Second)
	h.deliver(resolvedAlert(osaka, end), resolvedAlert(self, end.Add(-time.Minute)))
	p := h.only(status.StatePublished)
	if p.Proposal == nil || h.health()["crl"].Status != status.Operational {
		t.Fatalf("quorum broken: proposal %+v, status %s", p.Proposal, h.health()["crl"].Status)
	}
	if got := h.health()["crl"].Since; !got.Equal(end) {
		t.Errorf("recovered at %s, want osaka-1's recovery %s (the last of those that counted)", got, end)
	}
	if want := end.In(h.cfg.Page.Location).Format("15:04"); !strings.Contains(p.Proposal.Body["en"], "operating normally since 2026-03-01 "+want) {
		t.Errorf("proposal %q does not say %s", p.Proposal.Body, want)
	}
}

// TestHoldersOwnNonCountingProbeIsNoEvidence: two other locations down and
// the holder's own probe up is a partial outage whose evidence holds only
// the alerts; the holder's probe failing once (not yet down) adds nothing;
// once it counts, it is evidence and the outage is total.
func TestHoldersOwnNonCountingProbeIsNoEvidence(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 2, quorum: 2}\n")
	h.ok("crl", 2)
	t0 := h.clk.Now()
	h.deliver(locAlert("crl", "crl", "osaka-1", t0, t0.Add(30*time.Second), 3), locAlert("crl", "crl", "fra-1", t0, t0.Add(30*time.Second), 3))
	d := h.only(status.StateDraft)
	if d.Components[0].Status != status.PartialOutage || !slices.Equal(evidenceAt(d), []string{"alertmanager@fra-1", "alertmanager@osaka-1"}) {
		t.Fatalf("draft %+v, evidence %v", d.Components[0], evidenceAt(d))
	}
	h.fail("crl", 1)
	if got := evidenceAt(h.only(status.StateDraft)); !slices.Equal(got, []string{"alertmanager@fra-1", "alertmanager@osaka-1"}) {
		t.Fatalf("one failed run of the holder's probe (not down yet) became evidence: %v", got)
	}
	h.fail("crl", 1)
	d = h.only(status.StateDraft)
	if d.Components[0].Status != status.MajorOutage || !slices.Equal(evidenceAt(d), []string{"alertmanager@fra-1", "alertmanager@osaka-1", "probe@tokyo-1"}) {
		t.Fatalf("draft %+v, evidence %v", d.Components[0], evidenceAt(d))
	}
}

// TestStaleLocationLeavesTheQuorum: a location that stops reporting stops
// counting after incidents.stale_intervals of the probe's intervals —
// visibly in the metric and the log — and counts again when it reports.
func TestStaleLocationLeavesTheQuorum(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, "incidents: {failures_to_open: 1, successes_to_close: 1, quorum: 2}\n")
	h.eng.logger = slog.New(slog.NewTextHandler(&logs, nil))
	// Two locations (1m interval) see crl down: a draft.
	h.run("crl", "tokyo-1", false, time.Millisecond)
	h.run("crl", "osaka-1", false, time.Millisecond)
	d := h.only(status.StateDraft)
	if d.Components[0].Status != status.MajorOutage {
		t.Fatalf("draft = %+v", d.Components[0])
	}
	// osaka-1 goes silent; tokyo-1 keeps failing. Within three intervals
	// osaka-1 still counts.
	last := h.clk.Now().Add(-30 * time.Second) // osaka-1's last result
	for h.clk.Now().Before(last.Add(3 * time.Minute)) {
		h.run("crl", "tokyo-1", false, time.Millisecond)
	}
	if err := h.eng.Tick(h.ctx); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(mustGauge(t, h.reg, "probed_location_stale", "probe", "crl", "location", "osaka-1")); v != 0 || h.only(status.StateDraft).State != status.StateDraft {
		t.Fatalf("osaka-1 silent for 3m (3 intervals): stale %v", v)
	}
	h.run("crl", "tokyo-1", false, time.Millisecond)
	h.run("crl", "tokyo-1", false, time.Millisecond)
	if err := h.eng.Tick(h.ctx); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(mustGauge(t, h.reg, "probed_location_stale", "probe", "crl", "location", "osaka-1")); v != 1 {
		t.Fatalf("osaka-1 silent for more than 3 intervals: probed_location_stale = %v", v)
	}
	if v := testutil.ToFloat64(mustGauge(t, h.reg, "probed_location_stale", "probe", "crl", "location", "tokyo-1")); v != 0 {
		t.Fatalf("tokyo-1 reporting: probed_location_stale = %v", v)
	}
	// tokyo-1 alone is below the quorum: the draft is withdrawn.
	h.only(status.StateWithdrawn)
	if !strings.Contains(logs.String(), `msg="location left the quorum: no results" probe=crl location=osaka-1`) {
		t.Fatalf("no log line for the stale location:\n%s", logs.String())
	}
	var ls []Location
	for _, l := range h.locations() {
		if l.Probe == "crl" {
			ls = append(ls, l)
		}
	}
	if len(ls) != 2 || ls[1].Location != "tokyo-1" || ls[1].Stale || ls[0].Location != "osaka-1" || !ls[0].Stale {
		t.Fatalf("Locations() = %+v", ls)
	}
	// osaka-1 reports again: back in the quorum, logged.
	h.run("crl", "osaka-1", false, time.Millisecond)
	if !strings.Contains(logs.String(), `msg="location reports again and is back in the quorum" probe=crl location=osaka-1`) {
		t.Fatalf("no log line for the returning location:\n%s", logs.String())
	}
	if got := h.health()["crl"].Status; got != status.MajorOutage {
		t.Fatalf("osaka-1 back and down: crl %s", got)
	}
}

// TestTrackerExportsDownAsTheEngineJudges: a prober-only instance exports
// probed_probe_down with the same hysteresis the holder applies, and the
// first failed run as its since.
func TestTrackerExportsDownAsTheEngineJudges(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 2, successes_to_close: 2}\n")
	reg := prometheus.NewRegistry()
	tr, err := NewTracker(func() *config.Config { return h.cfg }, reg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := h.clk.Now()
	run := func(ok bool) {
		t.Helper()
		r := probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: "tokyo-1", Start: h.clk.Now(), Success: ok}
		if err := tr.Record(h.ctx, r); err != nil {
			t.Fatal(err)
		}
		h.clk.Advance(30 * time.Second)
	}
	down := func() float64 {
		return testutil.ToFloat64(mustGauge(t, reg, "probed_probe_down", "probe", "crl", "location", "tokyo-1"))
	}
	run(false)
	if down() != 0 {
		t.Fatal("down after one failure with failures_to_open 2")
	}
	run(false)
	if down() != 1 {
		t.Fatal("not down after two failures")
	}
	if v := testutil.ToFloat64(mustGauge(t, reg, "probed_probe_down_since_timestamp_seconds", "probe", "crl", "location", "tokyo-1")); v != float64(t0.Unix()) {
		t.Fatalf("down since %v, want the first failed run %d", v, t0.Unix())
	}
	run(true)
	if down() != 1 {
		t.Fatal("up after one success with successes_to_close 2")
	}
	run(true)
	if down() != 0 {
		t.Fatal("still down after two successes")
	}
	if n := testutil.CollectAndCount(reg, "probed_probe_down_since_timestamp_seconds"); n != 0 {
		t.Fatalf("%d down-since series while every probe is up", n)
	}
	if n := testutil.CollectAndCount(reg, "probed_probe_down"); n != len(h.cfg.Probes) {
		t.Fatalf("%d probed_probe_down series, want one per probe (%d)", n, len(h.cfg.Probes))
	}
}

// TestRestartAfterSilenceLogsOnlyTheSilent: after a restart following a
// long stop, every location keeps its say for its intervals (no draft is
// withdrawn, nobody is called silent before it could report); one that
// then stays silent leaves the quorum and is logged.
func TestRestartAfterSilenceLogsOnlyTheSilent(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, "incidents: {failures_to_open: 1, quorum: 2}\n")
	h.run("crl", "tokyo-1", false, time.Millisecond)
	h.run("crl", "osaka-1", false, time.Millisecond)
	h.only(status.StateDraft)
	h.clk.Advance(time.Hour) // probed was stopped for an hour
	h.restart()
	h.eng.logger = slog.New(slog.NewTextHandler(&logs, nil))
	if err := h.eng.Tick(h.ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.health()["crl"].Status; got != status.MajorOutage {
		t.Fatalf("right after the restart the locations lost their say: crl %s", got)
	}
	if strings.Contains(logs.String(), "left the quorum") {
		t.Fatalf("locations called silent right after the restart:\n%s", logs.String())
	}
	h.only(status.StateDraft)
	// tokyo-1 reports, osaka-1 does not: after three intervals only
	// osaka-1 is logged.
	for range 7 {
		h.run("crl", "tokyo-1", true, time.Millisecond)
	}
	if err := h.eng.Tick(h.ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "probe=crl location=osaka-1") || strings.Contains(logs.String(), "location=tokyo-1") {
		t.Fatalf("want osaka-1 alone logged as silent:\n%s", logs.String())
	}
	h.only(status.StateWithdrawn) // tokyo-1 recovered, osaka-1 out: the failure cleared
}

// TestDeadProberLeavesTheTotal: when a prober dies in a total outage its
// alert resolves and Prometheus' count of locations drops; the holder takes
// the count of the latest delivery, so the remaining locations, all down,
// are still a major outage.
func TestDeadProberLeavesTheTotal(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 1, quorum: 2}\n")
	h.fail("crl", 1)
	t0 := h.clk.Now()
	osaka := locAlert("crl", "crl", "osaka-1", t0, t0.Add(20*time.Second), 3)
	fra := locAlert("crl", "crl", "fra-1", t0, t0.Add(20*time.Second), 3)
	h.deliver(osaka, fra)
	if d := h.only(status.StateDraft); d.Components[0].Status != status.MajorOutage {
		t.Fatalf("three of three: %s", d.Components[0].Status)
	}
	// fra-1's prober dies: its alert resolves; osaka-1's is repeated with
	// Prometheus' new count.
	osaka.Annotations = map[string]string{"summary": osaka.Annotations["summary"], "down_since": osaka.Annotations["down_since"], "locations": "2"}
	h.deliver(resolvedAlert(fra, h.clk.Now()), osaka)
	if d := h.only(status.StateDraft); d.Components[0].Status != status.MajorOutage {
		t.Fatalf("two of the two locations left, both down: %s, want major_outage", d.Components[0].Status)
	}
}

// TestAilingCount: the per-component count of down or slow probes that lets
// a healthy component skip the walk over its probes stays equal to a
// recount through failures, slowness, recoveries, several locations, a
// probe moved to another component by a reload, and a restart; and a
// component with a down probe elsewhere still drafts.
func TestAilingCount(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 2, successes_to_close: 2}\n")
	check := func(step string) {
		t.Helper()
		want := map[string]int{}
		for _, p := range h.eng.probes {
			if p.Down || p.Slow {
				want[p.Component]++
			}
		}
		if !maps.Equal(h.eng.ailing, want) {
			t.Fatalf("%s: ailing %v, recount %v", step, h.eng.ailing, want)
		}
	}
	h.ok("crl", 2)
	check("healthy")
	h.fail("crl", 2)
	check("crl down")
	h.run("crl", "osaka-1", false, time.Millisecond)
	h.run("crl", "osaka-1", false, time.Millisecond)
	check("crl down at two locations")
	if got := h.health()["crl"].Status; got != status.MajorOutage {
		t.Fatalf("crl %s, want major_outage", got)
	}
	h.run("api", "", true, 2*time.Second)
	h.run("api", "", true, 2*time.Second)
	check("api slow")
	if got := h.health()["api"].Status; got != status.DegradedPerformance {
		t.Fatalf("api %s, want degraded_performance", got)
	}
	// A healthy result of another probe leaves the failing component failing.
	h.ok("ocsp-good", 1)
	if got := h.health()["crl"].Status; got != status.MajorOutage {
		t.Fatalf("crl %s after an ocsp result, want major_outage", got)
	}
	// The crl probe moves to the ocsp component: its next result files it there.
	moved := strings.Replace(baseConfig, "{name: crl, component: crl,", "{name: crl, component: ocsp,", 1)
	cfg, err := config.Parse([]byte(moved+"incidents: {failures_to_open: 2, successes_to_close: 2}\n"), "probes.yaml", probes.Kinds())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Storage.Path = h.cfg.Storage.Path
	h.cfg = cfg
	h.fail("crl", 1)
	check("crl moved to ocsp")
	h.run("crl", "osaka-1", true, time.Millisecond)
	h.run("crl", "osaka-1", true, time.Millisecond)
	h.ok("crl", 2)
	h.run("api", "", true, time.Millisecond)
	h.run("api", "", true, time.Millisecond)
	check("recovered")
	h.fail("api", 2)
	h.restart()
	check("after a restart")
	if len(h.eng.ailing) != 1 || h.eng.ailing["api"] != 1 {
		t.Fatalf("after a restart: ailing %v, want api 1", h.eng.ailing)
	}
}
