package incident

import (
	"bytes"
	"context"
	"database/sql"
	"github.com/probed/probed/status"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/testtool"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
)

const baseConfig = `
page: {name: Example CA, url: https://status.example.com, time_zone: Asia/Tokyo}
location: tokyo-1
components:
  - {id: ocsp, name: Online Certificate Status Protocol (OCSP)}
  - {id: crl, name: Certificate Revocation List (CRL)}
  - id: certcentral
    name: CertCentral
    components:
      - {id: api, name: CertCentral API, latency_objective: 1s}
probes:
  - {name: ocsp-good, component: ocsp, kind: http, http: {url: "http://127.0.0.1:1/good"}}
  - {name: ocsp-revoked, component: ocsp, kind: http, http: {url: "http://127.0.0.1:1/revoked"}}
  - {name: crl, component: crl, kind: http, http: {url: "http://127.0.0.1:1/crl"}}
  - {name: api, component: api, kind: http, http: {url: "http://127.0.0.1:1/api"}}
`

type harness struct {
	t    testing.TB
	ctx  context.Context
	clk  *clock.Fake
	dir  string
	cfg  *config.Config
	st   *store.Store
	eng  *Engine
	reg  *prometheus.Registry
	seen int // changes reported through OnChange
}

func newHarness(t testing.TB, incidents string) *harness {
	t.Helper()
	h := &harness{t: t, ctx: context.Background(), clk: clock.NewFake(time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)), dir: t.TempDir()}
	path := filepath.Join(h.dir, "probes.yaml")
	if err := os.WriteFile(path, []byte(baseConfig+incidents), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, probes.Kinds())
	if err != nil {
		t.Fatal(err)
	}
	h.cfg = cfg
	h.open()
	t.Cleanup(func() { h.st.Close() })
	return h
}

func (h *harness) open() {
	h.t.Helper()
	var err error
	h.st, err = store.Open(h.ctx, store.Options{Path: h.cfg.Storage.Path, Clock: h.clk})
	if err != nil {
		h.t.Fatal(err)
	}
	h.reg = prometheus.NewRegistry()
	h.eng, err = New(h.ctx, Options{Store: h.st, Config: func() *config.Config { return h.cfg }, Clock: h.clk, Registerer: h.reg})
	if err != nil {
		h.t.Fatal(err)
	}
	h.eng.OnChange(func() { h.seen++ })
}

// restart closes the database and builds a new engine on it, as a daemon
// restart would.
func (h *harness) restart() {
	h.t.Helper()
	if err := h.st.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
	if err := h.eng.Tick(h.ctx); err != nil {
		h.t.Fatal(err)
	}
}

// run feeds one result of probe at location (tokyo-1 when empty), then
// moves the clock by 30s.
func (h *harness) run(probe, location string, ok bool, d time.Duration) {
	h.t.Helper()
	p := h.cfg.Probe(probe)
	if location == "" {
		location = "tokyo-1"
	}
	r := probes.Result{Probe: probe, Kind: p.Kind, Component: p.Component, Location: location, Start: h.clk.Now(), Duration: d, Success: ok}
	if ok {
		r.Checks = []probes.Check{{Name: "http_status", OK: true}}
	} else {
		r.Checks = []probes.Check{{Name: "http_status", Severity: probes.Critical,
			Message: "status 503, want 200", Evidence: map[string]string{"status": "503", "want": "200"}}}
	}
	if err := h.eng.Record(h.ctx, r); err != nil {
		h.t.Fatal(err)
	}
	h.clk.Advance(30 * time.Second)
}

func (h *harness) fail(probe string, n int) {
	h.t.Helper()
	for range n {
		h.run(probe, "", false, 100*time.Millisecond)
	}
}

func (h *harness) ok(probe string, n int) {
	h.t.Helper()
	for range n {
		h.run(probe, "", true, 100*time.Millisecond)
	}
}

func (h *harness) incidents(state string) []status.Incident {
	h.t.Helper()
	list, err := h.st.ListIncidents(h.ctx, store.IncidentFilter{State: state, Kind: status.KindIncident})
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

func (h *harness) only(state string) status.Incident {
	h.t.Helper()
	all := h.incidents("")
	if len(all) != 1 || all[0].State != state {
		h.t.Fatalf("incidents = %s, want exactly one, %s", describe(all), state)
	}
	return all[0]
}

func describe(list []status.Incident) string {
	var parts []string
	for _, i := range list {
		var cs []string
		for _, c := range i.Components {
			cs = append(cs, c.ID+"="+c.Status)
		}
		parts = append(parts, i.State+"("+strings.Join(cs, ",")+")")
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (h *harness) public(component string) string {
	h.t.Helper()
	st, err := h.st.ComponentStatuses(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	if iv, ok := st[component]; ok {
		return iv.Status
	}
	return "none"
}

func (h *harness) events() []store.Event {
	h.t.Helper()
	ev, err := h.st.PendingEvents(h.ctx, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	return ev
}

func TestSustainedFailureDraftsExactlyOneIncidentWithEvidence(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 3, successes_to_close: 2}\n")
	start := h.clk.Now()
	h.fail("ocsp-good", 2)
	h.fail("ocsp-revoked", 2)
	if n := len(h.incidents("")); n != 0 {
		t.Fatalf("%d incidents after 2 failures, want none before failures_to_open", n)
	}
	h.fail("ocsp-good", 1)
	d := h.only(status.StateDraft)
	if d.Origin != status.OriginProbe || d.Impact != status.ImpactMajor || len(d.Components) != 1 || d.Components[0].Status != status.PartialOutage {
		t.Fatalf("draft = %+v, want ocsp partial_outage (one of two probes down), impact major", d)
	}
	if len(d.Evidence) != 1 {
		t.Fatalf("evidence = %+v", d.Evidence)
	}
	ev := d.Evidence[0]
	if ev.Probe != "ocsp-good" || ev.Location != "tokyo-1" || ev.Check != "http_status" || ev.Message != "status 503, want 200" ||
		!ev.Since.Equal(start) || ev.Values["status"] != "503" {
		t.Errorf("evidence = %+v, want the failed check since the first failure with its values", ev)
	}
	if d.Title["en"] != "Online Certificate Status Protocol (OCSP) is not reachable" || d.Title["ja"] != "Online Certificate Status Protocol (OCSP)に接続できません" {
		t.Errorf("titles = %q / %q", d.Title["en"], d.Title["ja"])
	}
	u := d.Updates[0]
	if u.Status != status.StatusInvestigating || !strings.Contains(u.Body["en"], "Requests to Online Certificate Status Protocol (OCSP) fail or time out.") || strings.Contains(u.Body["en"], "))") || !strings.Contains(u.Body["en"], "2026-03-01 10:00 JST") ||
		!strings.Contains(u.Body["ja"], "2026年3月1日 10:00 (JST)頃より") || !strings.Contains(u.Body["ja"], "調査") {
		t.Errorf("first update = %q / %q", u.Body["en"], u.Body["ja"])
	}
	// The second probe going down too makes it a major outage in the same draft.
	h.fail("ocsp-revoked", 1)
	d = h.only(status.StateDraft)
	if d.Components[0].Status != status.MajorOutage || d.Impact != status.ImpactCritical || len(d.Evidence) != 2 {
		t.Fatalf("after both probes down: %+v", d)
	}
	h.fail("ocsp-good", 3)
	d = h.only(status.StateDraft)
	if d.Evidence[0].Count != 4 {
		t.Errorf("evidence count = %d, want 4 (draft + 3 later failures)", d.Evidence[0].Count)
	}
	if h.public("ocsp") != status.Operational || len(h.events()) != 0 {
		t.Fatalf("a draft changed the public status (%s) or queued events (%d)", h.public("ocsp"), len(h.events()))
	}
	if h.seen == 0 {
		t.Error("OnChange never called")
	}
	if v := testutil.ToFloat64(mustGauge(t, h.reg, "probed_incidents", "state", "draft")); v != 1 {
		t.Errorf("probed_incidents{state=draft} = %v", v)
	}
}

func mustGauge(t *testing.T, reg *prometheus.Registry, name string, kv ...string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(kv); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == kv[i] && l.GetValue() == kv[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
			g.Set(m.GetGauge().GetValue())
			return g
		}
	}
	t.Fatalf("no %s%v", name, kv)
	return nil
}

func TestBlipDraftsNothing(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 3, successes_to_close: 2}\n")
	for range 5 {
		h.fail("crl", 2)
		h.ok("crl", 1)
	}
	h.fail("ocsp-good", 1)
	if n := len(h.incidents("")); n != 0 {
		t.Fatalf("blips drafted %d incidents", n)
	}
	if got := h.health()["crl"].Status; got != status.Operational {
		t.Fatalf("crl computed %s after blips", got)
	}
}

func TestRecoveryBeforeApprovalWithdraws(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 3, successes_to_close: 2}\n")
	h.fail("crl", 3)
	h.only(status.StateDraft)
	h.ok("crl", 1)
	h.only(status.StateDraft) // one success is not recovery yet
	h.ok("crl", 1)
	w := h.only(status.StateWithdrawn)
	if w.PublishedAt != nil || w.Reason == "" || len(h.events()) != 0 || h.public("crl") != status.Operational {
		t.Fatalf("withdrawn = %+v; events %d; crl %s", w, len(h.events()), h.public("crl"))
	}
	// A new outage is a new draft; the withdrawn one stays for the record.
	h.fail("crl", 3)
	if got := describe(h.incidents("")); got != "[draft(crl=major_outage) withdrawn(crl=major_outage)]" {
		t.Fatalf("incidents = %s", got)
	}
}

func TestApprovePublishesThenResolveProposal(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 2, successes_to_close: 2}\n")
	h.fail("crl", 2)
	d := h.only(status.StateDraft)
	p, err := h.eng.Approve(h.ctx, "alice", d.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != status.StatePublished || p.Status != status.StatusInvestigating || h.public("crl") != status.MajorOutage {
		t.Fatalf("approved = %+v; crl %s", p, h.public("crl"))
	}
	if v := testutil.ToFloat64(mustGauge(t, h.reg, "probed_component_status", "component", "crl", "status", "major_outage")); v != 1 {
		t.Errorf("probed_component_status{crl,major_outage} = %v", v)
	}
	if v := testutil.ToFloat64(mustGauge(t, h.reg, "probed_component_status", "component", "crl", "status", "operational")); v != 0 {
		t.Errorf("probed_component_status{crl,operational} = %v", v)
	}
	h.fail("crl", 3) // still failing: no second draft
	h.only(status.StatePublished)
	h.ok("crl", 2)
	q := h.only(status.StatePublished)
	p = &q
	if p.Proposal == nil || p.Proposal.Action != "resolve" || !strings.Contains(p.Proposal.Body["en"], "Certificate Revocation List (CRL) has been operating normally") ||
		!strings.Contains(p.Proposal.Body["ja"], "復旧") {
		t.Fatalf("proposal = %+v", p.Proposal)
	}
	if h.public("crl") != status.MajorOutage {
		t.Fatal("a proposal changed the public status")
	}
	h.fail("crl", 2) // failing again: the proposal goes, still no second draft
	if q = h.only(status.StatePublished); q.Proposal != nil {
		t.Fatalf("proposal kept after a relapse: %+v", p.Proposal)
	}
	h.ok("crl", 2)
	r, err := h.eng.Resolve(h.ctx, "alice", p.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != status.StateResolved || !strings.Contains(r.Updates[0].Body["en"], "operating normally") || h.public("crl") != status.Operational {
		t.Fatalf("resolved = %+v", r)
	}
	kinds := []string{}
	for _, e := range h.events() {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "incident_published,incident_resolved" {
		t.Fatalf("events = %v", kinds)
	}
}

func TestAutoResolve(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 2, successes_to_close: 2, auto_resolve: true}\n")
	h.fail("crl", 2)
	if _, err := h.eng.Approve(h.ctx, "alice", h.only(status.StateDraft).ID, true); err != nil {
		t.Fatal(err)
	}
	h.ok("crl", 2)
	r := h.only(status.StateResolved)
	audit, _ := h.st.ListAudit(h.ctx, store.AuditFilter{IncidentID: r.ID, Limit: 1})
	if audit[0].Actor != store.ActorEngine || audit[0].Action != "resolve" || h.public("crl") != status.Operational {
		t.Fatalf("last audit = %+v", audit[0])
	}
}

func TestComponentsJoinTheOpenDraft(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 2}\n")
	h.fail("crl", 2)
	h.fail("ocsp-good", 2)
	h.fail("ocsp-revoked", 2)
	d := h.only(status.StateDraft)
	if got := describe([]status.Incident{d}); got != "[draft(crl=major_outage,ocsp=major_outage)]" {
		t.Fatalf("draft = %s", got)
	}
	if d.Title["en"] != "Issues affecting Certificate Revocation List (CRL), Online Certificate Status Protocol (OCSP)" {
		t.Errorf("title = %q", d.Title["en"])
	}
	// crl recovers: the draft stays for ocsp, with crl shown operational.
	h.ok("crl", 2)
	d = h.only(status.StateDraft)
	if got := describe([]status.Incident{d}); got != "[draft(crl=operational,ocsp=major_outage)]" {
		t.Fatalf("draft = %s", got)
	}
}

func TestLatencyObjectiveDegrades(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 3, successes_to_close: 2}\n")
	for range 2 {
		h.run("api", "", true, 1500*time.Millisecond)
	}
	h.run("api", "", true, 200*time.Millisecond) // a fast run resets the count
	for range 3 {
		h.run("api", "", true, 1500*time.Millisecond)
	}
	d := h.only(status.StateDraft)
	if d.Components[0].Status != status.DegradedPerformance || d.Impact != status.ImpactMinor || d.Evidence[0].Check != "latency_objective" {
		t.Fatalf("draft = %+v", d)
	}
	h.run("api", "", true, 200*time.Millisecond)
	h.only(status.StateDraft)
	h.run("api", "", true, 200*time.Millisecond)
	h.only(status.StateWithdrawn)
}

func TestQuorumOfLocations(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 2, quorum: 2}\n")
	h.fail("ocsp-good", 5)
	h.fail("ocsp-revoked", 5)
	if n := len(h.incidents("")); n != 0 {
		t.Fatalf("a single location drafted %d incidents with quorum 2", n)
	}
	for range 2 {
		h.run("crl", "tokyo-1", false, time.Millisecond)
		h.run("crl", "osaka-1", true, time.Millisecond)
	}
	if n := len(h.incidents("")); n != 0 {
		t.Fatalf("one location of two drafted %d incidents with quorum 2", n)
	}
	for range 2 {
		h.run("crl", "osaka-1", false, time.Millisecond)
	}
	d := h.only(status.StateDraft)
	if len(d.Evidence) != 2 || d.Components[0].Status != status.MajorOutage {
		t.Fatalf("draft = %+v, want evidence from both locations", d)
	}
}

func TestRejectedOutageIsNotDraftedAgain(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 2}\n")
	h.fail("crl", 2)
	if _, err := h.eng.Reject(h.ctx, "bob", h.only(status.StateDraft).ID, "the CRL probe points at a test CA"); err != nil {
		t.Fatal(err)
	}
	h.fail("crl", 5)
	if err := h.eng.Tick(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.only(status.StateRejected)
	if h.public("crl") != status.Operational || len(h.events()) != 0 {
		t.Fatal("a rejected draft changed something public")
	}
	h.ok("crl", 2)
	h.fail("crl", 2)
	if got := describe(h.incidents("")); got != "[draft(crl=major_outage) rejected(crl=major_outage)]" {
		t.Fatalf("after a new outage: %s", got)
	}
}

func TestMaintenanceMovesOnTimeAndSuppressesItsComponentsOnly(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 2}\n")
	t0 := h.clk.Now()
	m, err := h.eng.ScheduleMaintenance(h.ctx, "dave", status.NewMaintenance{Title: status.Text{"en": "OCSP responder upgrade"}, Components: []string{"ocsp"},
		Start: t0.Add(time.Hour), End: t0.Add(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.ScheduleMaintenance(h.ctx, "dave", status.NewMaintenance{Title: status.Text{"en": "x"}, Components: []string{"certcentral"}, Start: t0, End: t0.Add(time.Hour)}); err == nil {
		t.Fatal("a maintenance on a group was accepted")
	}
	maintStatus := func() string {
		t.Helper()
		got, err := h.st.GetIncident(h.ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	tick := func() {
		t.Helper()
		if err := h.eng.Tick(h.ctx); err != nil {
			t.Fatal(err)
		}
	}
	tick()
	if maintStatus() != status.StatusScheduled || h.public("ocsp") != status.Operational {
		t.Fatalf("before the window: %s, ocsp %s", maintStatus(), h.public("ocsp"))
	}
	h.clk.Set(t0.Add(time.Hour))
	tick()
	if maintStatus() != status.StatusInProgress || h.public("ocsp") != status.UnderMaintenance || h.public("crl") != status.Operational {
		t.Fatalf("in the window: %s, ocsp %s", maintStatus(), h.public("ocsp"))
	}
	h.fail("ocsp-good", 4)
	h.fail("ocsp-revoked", 4)
	if n := len(h.incidents("")); n != 0 {
		t.Fatalf("failures under maintenance drafted %d incidents", n)
	}
	h.fail("crl", 2)
	if got := describe(h.incidents("")); got != "[draft(crl=major_outage)]" {
		t.Fatalf("a component outside the window: %s", got)
	}
	if _, err := h.eng.VerifyMaintenance(h.ctx, "dave", m.ID, nil); err != nil {
		t.Fatal(err)
	}
	if maintStatus() != status.StatusVerifying || h.public("ocsp") != status.UnderMaintenance {
		t.Fatalf("verifying: %s, ocsp %s", maintStatus(), h.public("ocsp"))
	}
	// The probes still fail when the window closes (a location silent that
	// long would have left the quorum).
	h.clk.Set(t0.Add(3*time.Hour - 2*time.Minute))
	h.fail("ocsp-good", 1)
	h.fail("ocsp-revoked", 1)
	h.fail("crl", 1)
	h.clk.Set(t0.Add(3 * time.Hour))
	tick()
	if maintStatus() != status.StatusCompleted || h.public("ocsp") != status.Operational {
		t.Fatalf("after the window: %s, ocsp %s", maintStatus(), h.public("ocsp"))
	}
	// Still failing after the window: now it drafts (joining the open draft).
	if got := describe(h.incidents("")); got != "[draft(crl=major_outage,ocsp=major_outage)]" {
		t.Fatalf("after the window: %s", got)
	}
	var kinds []string
	for _, e := range h.events() {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "maintenance_scheduled,maintenance_started,maintenance_completed" {
		t.Fatalf("events = %v", kinds)
	}
	log, err := h.st.ComponentStatusLog(h.ctx, "ocsp", t0, t0.Add(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 3 || log[1].Status != status.UnderMaintenance || !log[1].From.Equal(t0.Add(time.Hour)) || !log[1].To.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("ocsp status log = %+v", log)
	}
}

func TestAlertsDraftAndResolveIdempotently(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 2}\n")
	starts := h.clk.Now().Add(-5 * time.Minute)
	firing := &Payload{Version: "4", Status: "firing", Alerts: []PayloadAlert{
		{Status: "firing", Fingerprint: "f1", StartsAt: starts, Labels: map[string]string{"alertname": "ProbeDownQuorum", "component": "crl", "probe": "crl", "severity": "critical"},
			Annotations: map[string]string{"summary": "crl is failing from 2 location(s)"}},
		{Status: "firing", Fingerprint: "f2", StartsAt: starts, Labels: map[string]string{"alertname": "Other"}},
	}}
	for i := range 2 {
		rep, err := h.eng.ReceiveAlerts(h.ctx, "alertmanager", firing)
		if err != nil {
			t.Fatal(err)
		}
		if (i == 0 && rep.New != 1) || (i == 1 && rep.Repeated != 1) || len(rep.Ignored) != 1 {
			t.Fatalf("delivery %d: %+v", i, rep)
		}
	}
	d := h.only(status.StateDraft)
	// The crl probe is up, the alert says down: one of two sources, partial outage.
	if d.Origin != status.OriginAlertmanager || len(d.Evidence) != 1 || d.Evidence[0].Source != "alertmanager" ||
		d.Evidence[0].Message != "crl is failing from 2 location(s)" || d.Evidence[0].Values["label.severity"] != "critical" || d.Components[0].Status != status.MajorOutage {
		t.Fatalf("draft = %+v", d)
	}
	resolved := &Payload{Version: "4", Status: "resolved", Alerts: []PayloadAlert{firing.Alerts[0]}}
	resolved.Alerts[0].Status = "resolved"
	resolved.Alerts[0].EndsAt = h.clk.Now()
	if _, err := h.eng.ReceiveAlerts(h.ctx, "alertmanager", resolved); err != nil {
		t.Fatal(err)
	}
	h.only(status.StateWithdrawn)
	audit, _ := h.st.ListAudit(h.ctx, store.AuditFilter{Actor: "alertmanager"})
	if len(audit) != 3 {
		t.Fatalf("audit entries by alertmanager = %d, want one per delivery", len(audit))
	}
}

func TestRestartKeepsOneIncidentPerOutage(t *testing.T) {
	cases := []struct {
		name  string
		setup func(h *harness)
		after func(h *harness)
		want  string
	}{
		{"counting failures", func(h *harness) { h.fail("crl", 2) }, func(h *harness) { h.fail("crl", 1) }, "[draft(crl=major_outage)]"},
		{"draft", func(h *harness) { h.fail("crl", 3) }, func(h *harness) { h.fail("crl", 3) }, "[draft(crl=major_outage)]"},
		{"published", func(h *harness) {
			h.fail("crl", 3)
			h.eng.Approve(h.ctx, "alice", h.only(status.StateDraft).ID, true)
		}, func(h *harness) { h.fail("crl", 3) }, "[published(crl=major_outage)]"},
		{"resolve proposed", func(h *harness) {
			h.fail("crl", 3)
			h.eng.Approve(h.ctx, "alice", h.only(status.StateDraft).ID, true)
			h.ok("crl", 2)
		}, func(h *harness) { h.ok("crl", 3) }, "[published(crl=major_outage)]"},
		{"withdrawn", func(h *harness) {
			h.fail("crl", 3)
			h.ok("crl", 2)
		}, func(h *harness) { h.ok("crl", 3) }, "[withdrawn(crl=major_outage)]"},
		{"rejected", func(h *harness) {
			h.fail("crl", 3)
			h.eng.Reject(h.ctx, "bob", h.only(status.StateDraft).ID, "known")
		}, func(h *harness) { h.fail("crl", 3) }, "[rejected(crl=major_outage)]"},
		{"maintenance", func(h *harness) {
			now := h.clk.Now()
			h.eng.ScheduleMaintenance(h.ctx, "dave", status.NewMaintenance{Title: status.Text{"en": "m"}, Components: []string{"crl"}, Start: now, End: now.Add(time.Hour)})
			h.fail("crl", 3)
		}, func(h *harness) { h.fail("crl", 3) }, "[]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "incidents: {failures_to_open: 3, successes_to_close: 2}\n")
			tc.setup(h)
			events := len(h.events())
			audit, _ := h.st.ListAudit(h.ctx, store.AuditFilter{})
			h.restart()
			if n := len(h.events()); n != events {
				t.Fatalf("restart queued %d events, had %d", n, events)
			}
			if a, _ := h.st.ListAudit(h.ctx, store.AuditFilter{}); len(a) != len(audit) {
				t.Fatalf("restart did %d things, want nothing", len(a)-len(audit))
			}
			tc.after(h)
			if got := describe(h.incidents("")); got != tc.want {
				t.Fatalf("incidents = %s, want %s", got, tc.want)
			}
			if n := len(h.events()); n != events {
				t.Fatalf("events %d → %d after the restart", events, n)
			}
		})
	}
}

func TestReloadedComponentGetsAStatusLog(t *testing.T) {
	h := newHarness(t, "")
	if h.public("acme") != "none" {
		t.Fatal("acme known before it is configured")
	}
	path := filepath.Join(h.dir, "probes.yaml")
	if err := os.WriteFile(path, []byte(baseConfig+"  - {name: acme, component: acme, kind: http, http: {url: \"http://127.0.0.1:1/acme\"}}\n"+
		"incidents: {failures_to_open: 2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The component list is at the top of the file: add acme to it.
	data, _ := os.ReadFile(path)
	data = []byte(strings.Replace(string(data), "  - {id: crl,", "  - {id: acme, name: ACME}\n  - {id: crl,", 1))
	os.WriteFile(path, data, 0o600)
	cfg, err := config.Load(path, probes.Kinds())
	if err != nil {
		t.Fatal(err)
	}
	h.cfg = cfg
	if err := h.eng.Tick(h.ctx); err != nil {
		t.Fatal(err)
	}
	if h.public("acme") != status.Operational {
		t.Fatalf("acme after reload = %s, want an open operational interval", h.public("acme"))
	}
	h.fail("acme", 2)
	if got := describe(h.incidents("")); got != "[draft(acme=major_outage)]" {
		t.Fatalf("incidents = %s", got)
	}
}

// TestMetricsLint: the engine's metrics pass `promtool check metrics`, and
// every status of every leaf is present.
func TestMetricsLint(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 1}\n")
	h.fail("crl", 1)
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "probed_component_status{"); n != 3*len(status.ComponentStatuses()) {
		t.Errorf("%d probed_component_status series, want %d (3 leaves × every status)", n, 3*len(status.ComponentStatuses()))
	}
	cmd := exec.Command(testtool.Promtool(t), "check", "metrics")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// health is the engine's component health, failing the test on an error.
func (h *harness) health() map[string]store.ComponentHealth {
	h.t.Helper()
	m, err := h.eng.ComponentHealth(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

// locations is the engine's locations, failing the test on an error.
func (h *harness) locations() []Location {
	h.t.Helper()
	l, err := h.eng.Locations(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

// A hysteresis step (a failure short of failures_to_open) is saved outside
// the engine's lock: while another process holds the database locked and
// the save waits on it, the engine's own view (ComponentHealth, what the
// console and /metrics read) answers at once; the save completes once the
// lock is gone, and a restart finds it.
func TestProbeHealthSavedOutsideTheLock(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 3}\n")
	if err := h.st.Close(); err != nil {
		t.Fatal(err)
	}
	var err error
	if h.st, err = store.Open(h.ctx, store.Options{Path: h.cfg.Storage.Path, Clock: h.clk, BusyTimeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if h.eng, err = New(h.ctx, Options{Store: h.st, Config: func() *config.Config { return h.cfg }, Clock: h.clk}); err != nil {
		t.Fatal(err)
	}
	h.ok("crl", 1) // the component is known (its first status is a decision)
	db, err := sql.Open("sqlite3", "file:"+h.cfg.Storage.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(h.ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	recorded := make(chan error, 1)
	go func() {
		recorded <- h.eng.Record(h.ctx, probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: "tokyo-1", Start: h.clk.Now(),
			Checks: []probes.Check{{Name: "http_status", Severity: probes.Critical, Message: "status 503, want 200"}}})
	}()
	// The save is under way once its lock is taken (only a write takes it;
	// the locked database holds it there).
	deadline := time.Now().Add(30 * time.Second)
	for h.eng.healthMu.TryLock() {
		h.eng.healthMu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the probe health was never being saved")
		}
	}
	ctx, cancel := context.WithTimeout(h.ctx, time.Second)
	defer cancel()
	if _, err := h.eng.ComponentHealth(ctx); err != nil {
		t.Fatalf("the engine's view while a probe health save waits on a locked database: %v", err)
	}
	select {
	case err := <-recorded:
		t.Fatalf("Record returned (%v) while the database is locked", err)
	default:
	}
	if _, err := conn.ExecContext(h.ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := <-recorded; err != nil {
		t.Fatal(err)
	}
	hs, err := h.st.LoadProbeHealth(h.ctx)
	if err != nil || len(hs) != 1 || hs[0].Fails != 1 || hs[0].Down {
		t.Fatalf("saved probe health = %+v, %v; want crl with one failure, not down", hs, err)
	}
}

// A decision saves the probe health it rests on first: when a component
// goes down, the saved health already says the probe is down, so a
// restart at any point after finds the two in step and drafts nothing
// twice.
func TestDecisionSavesProbeHealthFirst(t *testing.T) {
	h := newHarness(t, "incidents: {failures_to_open: 2}\n")
	h.fail("crl", 2)
	if n := len(h.incidents(status.StateDraft)); n != 1 {
		t.Fatalf("%d drafts, want 1", n)
	}
	hs, err := h.st.LoadProbeHealth(h.ctx)
	if err != nil || len(hs) != 1 || !hs[0].Down || hs[0].Fails != 2 {
		t.Fatalf("saved probe health = %+v, %v; want crl down after two failures", hs, err)
	}
	h.restart()
	h.fail("crl", 1)
	if n := len(h.incidents(status.StateDraft)); n != 1 {
		t.Fatalf("%d drafts after a restart and another failure, want still 1", n)
	}
}
