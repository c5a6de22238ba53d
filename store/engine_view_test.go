package store

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"
)

// names lists the probes of hs.
func names(hs []ProbeHealth) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Probe)
	}
	slices.Sort(out)
	return out
}

// A follower (B) reads the engine's view whole once, then only what the
// leader (A) changed since: one probe's health, the components after a
// component's status changed, the alerts after an alert, nothing after a
// change the view is not built from; every probe's health again after a
// deletion. On SQLite every read is whole.
func TestLoadEngineViewReadsWhatChanged(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		a, _, _ := testStore(t, db.opts(Options{}))
		b := a
		if db.driver == "postgres" {
			b, _, _ = testStore(t, db.opts(Options{}))
		}
		save := func(probes ...string) {
			t.Helper()
			var hs []ProbeHealth
			for _, p := range probes {
				hs = append(hs, ProbeHealth{Probe: p, Location: "tokyo-1", Component: "crl", Down: p == "p2", Since: t0, Last: t0.Add(time.Minute)})
			}
			if err := a.SaveProbeHealths(ctx, hs); err != nil {
				t.Fatal(err)
			}
		}
		save("p1", "p2", "p3")
		if err := a.SaveComponentHealth(ctx, ComponentHealth{Component: "crl", Status: "partial_outage", Since: t0}); err != nil {
			t.Fatal(err)
		}
		load := func(mark EngineMark) EngineView {
			t.Helper()
			v, err := b.LoadEngineView(ctx, mark)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		v := load(EngineMark{})
		if !v.Full || !slices.Equal(names(v.Probes), []string{"p1", "p2", "p3"}) || v.Components["crl"].Status != "partial_outage" || !v.AlertsRead || len(v.Alerts) != 0 {
			t.Fatalf("first read = %+v, want everything", v)
		}
		if !v.Probes[1].Down || v.Probes[1].Last != t0.Add(time.Minute) {
			t.Fatalf("p2 read as %+v", v.Probes[1])
		}
		if db.driver == "sqlite" {
			if v = load(v.Mark); !v.Full || len(v.Probes) != 3 || v.Components == nil || !v.AlertsRead {
				t.Fatalf("second read on SQLite = %+v, want everything again", v)
			}
			return
		}
		steps := []struct {
			name   string
			change func()
			full   bool
			probes []string
			comps  bool
			alerts int // -1: not read
		}{
			{"nothing", func() {}, false, nil, false, -1},
			{"one probe's health", func() { save("p2") }, false, []string{"p2"}, false, -1},
			{"two probes' health", func() { save("p3"); save("p1") }, false, []string{"p1", "p3"}, false, -1},
			{"a component's status", func() {
				if err := a.SaveComponentHealth(ctx, ComponentHealth{Component: "crl", Status: "major_outage", Since: t0}); err != nil {
					t.Fatal(err)
				}
			}, false, nil, true, -1},
			{"an alert", func() {
				if _, err := a.RecordAlert(ctx, Alert{Fingerprint: "f1", StartsAt: t0, Component: "crl", Alertname: "ProbeDown", Status: "firing", CompStatus: "major_outage"}); err != nil {
					t.Fatal(err)
				}
			}, false, nil, false, 1},
			{"a component the engine does not hold", func() {
				if err := a.EnsureComponents(ctx, []string{"ocsp"}); err != nil {
					t.Fatal(err)
				}
			}, false, nil, false, -1},
			{"a deleted probe", func() {
				if err := a.DeleteProbeHealth(ctx, "p3"); err != nil {
					t.Fatal(err)
				}
			}, true, []string{"p1", "p2"}, false, -1},
		}
		for _, s := range steps {
			s.change()
			got := load(v.Mark)
			if got.Full != s.full || !slices.Equal(names(got.Probes), s.probes) || (got.Components != nil) != s.comps ||
				(s.alerts < 0 && got.AlertsRead) || (s.alerts >= 0 && (!got.AlertsRead || len(got.Alerts) != s.alerts)) {
				t.Fatalf("after %s: full %v, probes %v, components %v, alerts read %v (%d); want full %v, probes %v, components %v, alerts %d",
					s.name, got.Full, names(got.Probes), got.Components, got.AlertsRead, len(got.Alerts), s.full, s.probes, s.comps, s.alerts)
			}
			if s.comps && got.Components["crl"].Status != "major_outage" {
				t.Fatalf("after %s: components %+v", s.name, got.Components)
			}
			v = got
		}
	})
}

// Two writers of probe health stamp their rows in the order they commit:
// a write waits for one in flight, so a follower that reads between them
// misses neither (without the wait the later write, committed first, would
// carry the higher stamp and the earlier one's row would never be read).
func TestLoadEngineViewMissesNoWriteInFlight(t *testing.T) {
	dsn := pg.DSN(t)
	ctx := context.Background()
	a, _, _ := testStore(t, Options{Driver: "postgres", DSN: dsn})
	b, _, _ := testStore(t, Options{Driver: "postgres", DSN: dsn})
	h := func(p string) ProbeHealth {
		return ProbeHealth{Probe: p, Location: "tokyo-1", Component: "crl", Since: t0, Last: t0}
	}
	if err := a.SaveProbeHealths(ctx, []ProbeHealth{h("p1"), h("p2")}); err != nil {
		t.Fatal(err)
	}
	v, err := b.LoadEngineView(ctx, EngineMark{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// Another writer stamps p1 and has not committed yet.
	tx, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE engine_probes SET fails = 1 WHERE probe = 'p1'`); err != nil {
		t.Fatal(err)
	}
	saved := make(chan error, 1)
	go func() {
		p2 := h("p2")
		p2.Fails = 2
		saved <- a.SaveProbeHealth(ctx, p2)
	}()
	waitFor(t, "A's write to wait for the one in flight", func() bool {
		var n int
		err := other.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&n)
		return err == nil && n == 1
	})
	if got, err := b.LoadEngineView(ctx, v.Mark); err != nil || len(got.Probes) != 0 {
		t.Fatalf("read with both writes in flight: %v, %v; want nothing", names(got.Probes), err)
	} else {
		v = got
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	got, err := b.LoadEngineView(ctx, v.Mark)
	if err != nil {
		t.Fatal(err)
	}
	fails := map[string]int{}
	for _, h := range got.Probes {
		fails[h.Probe] = h.Fails
	}
	if got.Full || len(fails) != 2 || fails["p1"] != 1 || fails["p2"] != 2 {
		t.Fatalf("read after both committed: full %v, %+v; want p1 with 1 failure and p2 with 2", got.Full, got.Probes)
	}
}
