package incident

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/config"
	"github.com/probed/probed/store"
)

// A follower's view, refreshed with only what changed since its last read,
// is the one a holder starting now reads whole: the same locations,
// component statuses, firing alerts and probes down per component, after
// each of the leader's steps. Only its first read was whole. And a
// location that stops reporting turns stale on the follower too: a refresh
// does not restart its count of silence.
func TestFollowerRefreshReadsOnlyWhatChanged(t *testing.T) {
	a, b, cfg, clk := twoHolderEngines(t, "incidents: {failures_to_open: 2, successes_to_close: 2, quorum: 1}\n")
	actx := a.lead(t, time.Minute)
	ctx := context.Background()
	steps := 0
	check := func(what string) {
		t.Helper()
		if err := a.eng.drainLeaderInbox(actx); err != nil {
			t.Fatal(err)
		}
		if err := b.eng.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		steps++
		fresh, err := New(ctx, Options{Store: b.st, Config: func() *config.Config { return cfg }, Clock: clk, Registerer: prometheus.NewRegistry(), Holder: "fresh"})
		if err != nil {
			t.Fatal(err)
		}
		gotLocs, _ := b.eng.Locations(ctx)
		wantLocs, _ := fresh.Locations(ctx)
		// Probes down or slow per component, counted afresh.
		ailing := map[string]int{}
		hs, err := b.st.LoadProbeHealth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			if h.Down || h.Slow {
				ailing[h.Component]++
			}
		}
		gotComps, _ := b.eng.ComponentHealth(ctx)
		wantComps, _ := fresh.ComponentHealth(ctx)
		if !slices.Equal(gotLocs, wantLocs) || !maps.Equal(gotComps, wantComps) || !maps.Equal(b.eng.ailing, ailing) ||
			len(b.eng.alerts) != len(fresh.alerts) || len(b.eng.probes) != len(fresh.probes) {
			t.Fatalf("after %s, the follower's view:\n%+v\n%+v\nailing %v, %d alerts\nwant:\n%+v\n%+v\nailing %v, %d alerts",
				what, gotLocs, gotComps, b.eng.ailing, len(b.eng.alerts), wantLocs, wantComps, ailing, len(fresh.alerts))
		}
		for comp, m := range fresh.byComp {
			if !maps.EqualFunc(m, b.eng.byComp[comp], func(x, y *store.ProbeHealth) bool { return x.Last.Equal(y.Last) && x.Down == y.Down }) {
				t.Fatalf("after %s, the follower indexes %s's probes as %v, want %v", what, comp, b.eng.byComp[comp], m)
			}
		}
	}
	check("nothing")
	for range 2 {
		a.record(t, cfg, clk, "crl", "tokyo-1", false)
		clk.Advance(30 * time.Second)
	}
	check("tokyo-1 down (a draft)")
	if ch, _ := b.eng.ComponentHealth(ctx); ch["crl"].Status == "" || ch["crl"].Status == "operational" {
		t.Fatalf("the follower's crl after the outage: %+v", ch["crl"])
	}
	for range 2 {
		b.record(t, cfg, clk, "crl", "osaka-1", false)
		b.record(t, cfg, clk, "api", "osaka-1", true)
		clk.Advance(30 * time.Second)
	}
	check("osaka-1 down too, its api up")
	if _, err := b.eng.ReceiveAlerts(ctx, "alertmanager", &Payload{Version: "4", Status: "firing",
		Alerts: []PayloadAlert{locAlert("ocsp-good", "ocsp", "paris-1", clk.Now(), clk.Now(), 3)}}); err != nil {
		t.Fatal(err)
	}
	check("an alert from paris-1")
	for range 2 {
		a.record(t, cfg, clk, "crl", "tokyo-1", true)
		b.record(t, cfg, clk, "crl", "osaka-1", true)
		clk.Advance(30 * time.Second)
	}
	check("both locations up again")
	if whole, changes := testutil.ToFloat64(b.eng.viewLoads.WithLabelValues("whole")), testutil.ToFloat64(b.eng.viewLoads.WithLabelValues("changes")); whole != 1 || changes != float64(steps) {
		t.Errorf("the follower's view loads: %v whole, %v changes; want 1 whole (at start) and %d changes", whole, changes, steps)
	}

	// Nobody reports for an hour: every location is stale on the follower,
	// refreshed all along, as on the leader.
	for range 4 {
		clk.Advance(15 * time.Minute)
		if err := b.eng.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	locs, _ := b.eng.Locations(ctx)
	for _, l := range locs {
		if !l.Stale {
			t.Errorf("the follower shows %s@%s not stale after an hour of silence", l.Probe, l.Location)
		}
	}
	if len(locs) != 3 {
		t.Errorf("the follower's locations: %+v, want 3", locs)
	}
}
