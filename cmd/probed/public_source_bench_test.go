package main

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
	"github.com/probed/probed/web/statuspage"
)

// BenchmarkPublicRebuild measures what every holder does after each change
// it hears of (at most once a second) and every minute: rebuild the public
// page's snapshot from the store, whole. On a real PostgreSQL holding 200
// components (20 groups) and a year of 365 incidents (a draft approved,
// then resolved 30 min later, in English and Japanese) and 52 weekly
// maintenances: read reads the page's data (storeSource.PublicData), rebuild
// reads, builds and renders it (statuspage.Site.Rebuild). CPU of this
// process and the server's processes together (cpu-ms/op) and of this
// process alone (probed-cpu-ms/op). It does not depend on the number of
// probes: the page is built from the operators' decisions, not from
// results. Run with
//
//	go test ./cmd/probed/ -run '^$' -bench PublicRebuild -benchtime 20x
func BenchmarkPublicRebuild(b *testing.B) {
	ctx := context.Background()
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(end.AddDate(-1, 0, 0))
	st, err := store.Open(ctx, store.Options{Driver: "postgres", DSN: pg.DSN(b), Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.Page = config.Page{Name: "Example CA", URL: "https://status.example.com", TimeZone: "UTC", Languages: []string{"en", "ja"}}
	var leaves []string
	for g := range 20 {
		group := config.Component{ID: fmt.Sprintf("group-%02d", g), Name: fmt.Sprintf("Group %d", g)}
		for c := range 10 {
			id := fmt.Sprintf("comp-%02d-%d", g, c)
			group.Components = append(group.Components, config.Component{ID: id, Name: "Component " + id})
			leaves = append(leaves, id)
		}
		cfg.Components = append(cfg.Components, group)
	}
	if err := st.EnsureComponents(ctx, leaves); err != nil {
		b.Fatal(err)
	}
	for d := range 365 {
		clk.Set(end.AddDate(-1, 0, d).Add(10 * time.Hour))
		comp := leaves[(d*7)%len(leaves)]
		draft, err := st.CreateDraft(ctx, store.ActorEngine, status.NewIncident{Title: status.Text{"en": "Elevated errors on " + comp, "ja": comp + " のエラー増加"},
			Body: status.Text{"en": "Requests fail.", "ja": "要求が失敗しています。"}, Origin: status.OriginProbe,
			Components: []status.ComponentImpact{{ID: comp, Status: status.PartialOutage}}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Approve(ctx, "alice", draft.ID, false); err != nil {
			b.Fatal(err)
		}
		clk.Advance(30 * time.Minute)
		if _, err := st.Resolve(ctx, "alice", draft.ID, status.Text{"en": "Resolved.", "ja": "解決しました。"}); err != nil {
			b.Fatal(err)
		}
		if d%7 == 3 {
			start := end.AddDate(-1, 0, d+1).Add(2 * time.Hour)
			if _, err := st.ScheduleMaintenance(ctx, "alice", status.NewMaintenance{Title: status.Text{"en": "Upgrade of " + comp}, Components: []string{comp},
				Start: start, End: start.Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := st.AdvanceMaintenances(ctx, clk.Now()); err != nil {
			b.Fatal(err)
		}
	}
	clk.Set(end)
	if _, err := st.AdvanceMaintenances(ctx, clk.Now()); err != nil {
		b.Fatal(err)
	}
	src := storeSource{Store: st}
	p, err := statuspage.New(statuspage.Options{Config: func() *config.Config { return &cfg }, Source: src, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	for _, op := range []struct {
		name string
		run  func() error
	}{
		{"read", func() error {
			_, err := src.PublicData(ctx, end.AddDate(0, 0, -statuspage.DefaultUptimeDays-1), end)
			return err
		}},
		{"rebuild", func() error { return p.Rebuild(ctx) }},
	} {
		b.Run(op.name, func(b *testing.B) {
			server0, err := pg.CPUTime()
			if err != nil {
				b.Fatal(err)
			}
			self0 := processCPU()
			for b.Loop() {
				if err := op.run(); err != nil {
					b.Fatal(err)
				}
			}
			self := processCPU() - self0
			server1, err := pg.CPUTime()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(self+server1-server0)/float64(b.N)/1e6, "cpu-ms/op")
			b.ReportMetric(float64(self)/float64(b.N)/1e6, "probed-cpu-ms/op")
		})
	}
	// What was measured is the page described above, not an empty one.
	if s := p.Snapshot(); len(s.ByID) != 220 || len(s.Incidents) != 365 || len(s.Maintenances) != 52 {
		b.Fatalf("the snapshot holds %d components, %d incidents, %d maintenances; want 220, 365, 52", len(s.ByID), len(s.Incidents), len(s.Maintenances))
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
