package incident

import (
	"context"
	"flag"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/config"
	"github.com/probed/probed/probes/run"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// Run with (see README, Several holders → Staying current):
//
//	go test ./incident/ -run '^$' -bench FollowerRefresh -benchtime 200x
//
// -incident.refresh.probes sets how many probes' health the database holds.
var refreshProbes = flag.Int("incident.refresh.probes", 10000, "probes whose health BenchmarkFollowerRefresh saves")

// BenchmarkFollowerRefresh measures one follower's Refresh after one change
// the leader committed, on a real PostgreSQL holding the health of
// -incident.refresh.probes probes (one location each), 200 components and
// 5 firing alerts: per kind of change, the CPU of a refresh (this process
// and the server's processes together, cpu-ms/refresh; this process alone,
// probed-cpu-ms/refresh) and the rows it read (rows/refresh). The
// leader's write is outside the figures.
func BenchmarkFollowerRefresh(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Driver: "postgres", DSN: pg.DSN(b), InboxHolder: "follower"})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)
	hs := make([]store.ProbeHealth, *refreshProbes)
	for i := range hs {
		hs[i] = store.ProbeHealth{Probe: fmt.Sprintf("probe-%05d", i), Location: "tokyo-1", Component: fmt.Sprintf("comp-%03d", i%200),
			OKs: 3, Since: at.Add(-time.Hour), Last: at}
		if i%500 == 0 {
			hs[i] = store.ProbeHealth{Probe: hs[i].Probe, Location: "tokyo-1", Component: hs[i].Component, Down: true, Fails: 3, Since: at.Add(-time.Minute), Last: at,
				Checks: []run.Check{{Name: "http_status", Message: "status 503, want 200", Evidence: map[string]string{"status": "503"}}}}
		}
	}
	if err := st.SaveProbeHealths(ctx, hs); err != nil {
		b.Fatal(err)
	}
	for c := range 200 {
		if err := st.SaveComponentHealth(ctx, store.ComponentHealth{Component: fmt.Sprintf("comp-%03d", c), Status: status.Operational, Since: at}); err != nil {
			b.Fatal(err)
		}
	}
	for a := range 5 {
		al := store.Alert{Fingerprint: fmt.Sprintf("fp-%d", a), StartsAt: at, Component: fmt.Sprintf("comp-%03d", a), Alertname: "ProbeDown", Status: "firing",
			CompStatus: status.PartialOutage, Labels: map[string]string{"probe": hs[a].Probe, "location": "paris-1"}, Annotations: map[string]string{}}
		if _, err := st.RecordAlert(ctx, al); err != nil {
			b.Fatal(err)
		}
	}
	draft, err := st.CreateDraft(ctx, store.ActorEngine, status.NewIncident{Title: status.Text{"en": "CRL late"}, Body: status.Text{"en": "Looking."},
		Components: []status.ComponentImpact{{ID: "comp-000", Status: status.PartialOutage}}})
	if err != nil {
		b.Fatal(err)
	}
	cfg := &config.Config{}
	eng, err := New(ctx, Options{Store: st, Config: func() *config.Config { return cfg }, Registerer: prometheus.NewRegistry(), Holder: "follower"})
	if err != nil {
		b.Fatal(err)
	}
	for _, change := range []struct {
		name  string
		write func(i int) error
	}{
		// The leader saved one probe's health (its last run).
		{"probe", func(i int) error {
			h := hs[i%len(hs)]
			h.Last = at.Add(time.Duration(i+1) * time.Second)
			return st.SaveProbeHealth(ctx, h)
		}},
		// The leader changed one component's computed status.
		{"component", func(i int) error {
			s := status.Operational
			if i%2 == 0 {
				s = status.DegradedPerformance
			}
			return st.SaveComponentHealth(ctx, store.ComponentHealth{Component: fmt.Sprintf("comp-%03d", i%200), Status: s, Since: at.Add(time.Duration(i) * time.Second)})
		}},
		// Nothing changed (a follower's periodic refresh).
		{"nothing", func(int) error { return nil }},
		// An operator edited a draft: nothing of the engine's view changed.
		{"incident", func(i int) error {
			_, err := st.EditDraft(ctx, "carol", draft.ID, status.DraftEdit{Title: status.Text{"en": fmt.Sprintf("CRL late (%d)", i)}})
			return err
		}},
	} {
		b.Run(change.name, func(b *testing.B) {
			if err := eng.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			var self, server time.Duration
			rows0 := testutil.ToFloat64(eng.viewRows)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				if err := change.write(i); err != nil {
					b.Fatal(err)
				}
				server0, err := pg.CPUTime()
				if err != nil {
					b.Fatal(err)
				}
				self0 := processCPU()
				b.StartTimer()
				if err := eng.Refresh(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				self1 := processCPU()
				server1, err := pg.CPUTime()
				if err != nil {
					b.Fatal(err)
				}
				self += self1 - self0
				server += server1 - server0
				b.StartTimer()
			}
			b.ReportMetric(float64(self+server)/float64(b.N)/1e6, "cpu-ms/refresh")
			b.ReportMetric(float64(self)/float64(b.N)/1e6, "probed-cpu-ms/refresh")
			b.ReportMetric((testutil.ToFloat64(eng.viewRows)-rows0)/float64(b.N), "rows/refresh")
		})
	}
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
