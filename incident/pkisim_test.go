package incident

import (
	"context"
	"github.com/probed/probed/status"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/pkisim"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
)

// TestPKISimOCSPFaultDraftsAndWithdraws drives a real ocsp probe through the
// scheduler against the simulated CA: a stale-response fault held for
// failures_to_open runs drafts one incident whose evidence is the
// ocsp_next_update check with the values the probe stored; clearing the
// fault withdraws it.
func TestPKISimOCSPFaultDraftsAndWithdraws(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	sim, srv, err := pkisim.NewServer(pkisim.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	if err := sim.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "probes.yaml")
	doc := `components: [{id: ocsp, name: OCSP}, {id: crl, name: CRL}]
probes:
  - {name: ocsp-good, component: ocsp, kind: ocsp, interval: 30s, ocsp: {certificate: good.pem, issuer: issuer.pem, expect: good}}
incidents: {failures_to_open: 3, successes_to_close: 2}
`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, probes.Kinds())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Options{Path: cfg.Storage.Path, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, err := New(ctx, Options{Store: st, Config: func() *config.Config { return cfg }, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	sched := probes.NewScheduler(probes.SchedulerOptions{Clock: clk, Sink: probes.Sinks{st, eng}})
	if err := sched.Apply(cfg, probes.Env{Clock: clk}); err != nil {
		t.Fatal(err)
	}
	run := func(n int) {
		t.Helper()
		for range n {
			if _, err := sched.RunNow(ctx, "ocsp-good"); err != nil {
				t.Fatal(err)
			}
			clk.Advance(30 * time.Second)
		}
	}
	list := func() []status.Incident {
		t.Helper()
		l, err := st.ListIncidents(ctx, store.IncidentFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	run(2)
	if n := len(list()); n != 0 {
		t.Fatalf("a healthy responder drafted %d incidents", n)
	}
	faultAt := clk.Now()
	sim.Set(pkisim.OCSPStale, true)
	run(2)
	if n := len(list()); n != 0 {
		t.Fatalf("%d drafts before failures_to_open", n)
	}
	run(1)
	l := list()
	// Stale responses are still answers: a partial outage (the impact
	// table), titled by what failed.
	if len(l) != 1 || l[0].State != status.StateDraft || l[0].Components[0].Status != status.PartialOutage {
		t.Fatalf("incidents = %s", describe(l))
	}
	if l[0].Title["en"] != "OCSP responses are stale" || l[0].Title["ja"] != "OCSP応答が期限切れになっています" {
		t.Errorf("title = %q / %q", l[0].Title["en"], l[0].Title["ja"])
	}
	var ev *status.Evidence
	for i := range l[0].Evidence {
		if l[0].Evidence[i].Check == "ocsp_next_update" {
			ev = &l[0].Evidence[i]
		}
	}
	if ev == nil || ev.Probe != "ocsp-good" || !ev.Since.Equal(faultAt) || len(ev.Values) == 0 || ev.Message == "" {
		t.Fatalf("evidence = %+v, want ocsp_next_update since the fault with the probe's stored values", l[0].Evidence)
	}
	t.Logf("evidence: %s: %s %v", ev.Check, ev.Message, ev.Values)
	sim.Set(pkisim.OCSPStale, false)
	run(2)
	if l = list(); len(l) != 1 || l[0].State != status.StateWithdrawn {
		t.Fatalf("after the fault cleared: %s", describe(l))
	}
}
