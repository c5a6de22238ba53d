// Command statuspage serves the public status page on loopback with a
// synthetic year of history, for load tests (bench/statuspage.sh drives it
// with wrk). It prints the URL, then serves until stdin closes or it gets
// SIGINT/SIGTERM; on exit it prints the heap in use.
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/probed/probed/status"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/web/httpserver"
	"github.com/probed/probed/web/statuspage"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "statuspage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("statuspage", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on (loopback only)")
	comps := fs.Int("components", 200, "number of components (a tenth of them groups)")
	days := fs.Int("days", 365, "days of history")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("parse -listen: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %s: load tests stay on loopback", *listen)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	cfg := config.Default()
	cfg.Page = config.Page{Name: "Example CA", URL: "https://status.example.com", TimeZone: "UTC", Languages: []string{"en", "ja"}}
	cfg.Components = components(*comps)
	data := history(cfg.Components, now, *days)

	p, err := statuspage.New(statuspage.Options{Config: func() *config.Config { return &cfg }, Source: static{data},
		Clock: clock.Real{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	start := time.Now()
	if err := p.Rebuild(context.Background()); err != nil {
		return err
	}
	build := time.Since(start)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := httpserver.New(ln.Addr().String(), p.Handler(), slog.New(slog.DiscardHandler))
	go hs.Serve(ln)
	s := p.Snapshot()
	fmt.Printf("url http://%s\ncomponents %d incidents %d maintenances %d status_changes %d build_ms %d\n",
		ln.Addr(), len(s.Flat), len(s.Incidents), len(s.Maintenances), len(data.StatusLog), build.Milliseconds())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	hs.Close()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("heap_inuse_mb %.1f\n", float64(ms.HeapInuse)/(1<<20))
	return nil
}

type static struct{ d statuspage.Data }

func (s static) PublicData(ctx context.Context, from, to time.Time) (statuspage.Data, error) {
	return s.d, nil
}

// components makes n components: groups of nine leaves.
func components(n int) []config.Component {
	var out []config.Component
	for g := 0; len(out)*10 < n; g++ {
		grp := config.Component{ID: fmt.Sprintf("group-%02d", g), Name: fmt.Sprintf("Service Group %d", g)}
		for l := 0; l < 9; l++ {
			grp.Components = append(grp.Components, config.Component{ID: fmt.Sprintf("svc-%02d-%d", g, l),
				Name: fmt.Sprintf("Certificate Service %d.%d", g, l), Description: "A CA endpoint probed by probed"})
		}
		out = append(out, grp)
	}
	return out
}

// history makes a year of public history: about one incident a day across
// the page (each a few minutes to hours long, with four updates), a
// maintenance a week, and the status log that goes with them.
func history(cs []config.Component, now time.Time, days int) statuspage.Data {
	rng := rand.New(rand.NewPCG(1, 2))
	var leaves []string
	for _, g := range cs {
		for _, l := range g.Components {
			leaves = append(leaves, l.ID)
		}
	}
	start := now.AddDate(0, 0, -days)
	d := statuspage.Data{FirstData: start}
	for _, l := range leaves {
		d.StatusLog = append(d.StatusLog, statuspage.StatusChange{Component: l, Status: status.Operational, At: start})
	}
	id := int64(1)
	statuses := []string{status.DegradedPerformance, status.PartialOutage, status.MajorOutage}
	impacts := map[string]string{status.DegradedPerformance: "minor", status.PartialOutage: "major", status.MajorOutage: "critical"}
	for t := start.Add(time.Duration(rng.IntN(24)) * time.Hour); t.Before(now.Add(-2 * time.Hour)); t = t.Add(time.Duration(12+rng.IntN(24)) * time.Hour) {
		comp := leaves[rng.IntN(len(leaves))]
		st := statuses[rng.IntN(len(statuses))]
		dur := time.Duration(5+rng.IntN(180)) * time.Minute
		end := t.Add(dur)
		body := "We are investigating elevated error rates for this service. Certificates already issued are not affected."
		r := statuspage.Record{ID: id, Kind: status.KindIncident, State: status.StateResolved, Status: "resolved", Impact: impacts[st],
			Title:      status.Text{"en": fmt.Sprintf("Elevated errors on %s", comp), "ja": fmt.Sprintf("%s のエラー増加", comp)},
			Components: []statuspage.RecordComponent{{ID: comp, Status: st}}, CreatedAt: t, PublishedAt: t, StartedAt: t, ResolvedAt: end,
			Updates: []statuspage.RecordUpdate{
				{ID: id*10 + 1, Status: "investigating", Body: status.Text{"en": body, "ja": "調査しています。"}, CreatedAt: t, Notify: true,
					Affected: []statuspage.AffectedComponent{{ID: comp, OldStatus: status.Operational, NewStatus: st}}},
				{ID: id*10 + 2, Status: "identified", Body: status.Text{"en": "The issue has been identified and a fix is being implemented."}, CreatedAt: t.Add(dur / 4)},
				{ID: id*10 + 3, Status: "monitoring", Body: status.Text{"en": "A fix has been implemented and we are monitoring the results."}, CreatedAt: t.Add(dur / 2)},
				{ID: id*10 + 4, Status: "resolved", Body: status.Text{"en": "This incident has been resolved."}, CreatedAt: end, Notify: true,
					Affected: []statuspage.AffectedComponent{{ID: comp, OldStatus: st, NewStatus: status.Operational}}},
			}}
		d.Records = append(d.Records, r)
		d.StatusLog = append(d.StatusLog, statuspage.StatusChange{Component: comp, Status: st, At: t},
			statuspage.StatusChange{Component: comp, Status: status.Operational, At: end})
		id++
	}
	for t := start.Add(50 * time.Hour); t.Before(now.AddDate(0, 0, 14)); t = t.AddDate(0, 0, 7) {
		comp := leaves[rng.IntN(len(leaves))]
		end := t.Add(2 * time.Hour)
		r := statuspage.Record{ID: id, Kind: status.KindMaintenance, State: status.StatePublished, Status: "scheduled",
			Title: status.Text{"en": "Scheduled maintenance of " + comp}, Components: []statuspage.RecordComponent{{ID: comp, Status: status.UnderMaintenance}},
			CreatedAt: t.AddDate(0, 0, -7), PublishedAt: t.AddDate(0, 0, -7), ScheduledFor: t, ScheduledUntil: end,
			Updates: []statuspage.RecordUpdate{{ID: id*10 + 1, Status: "scheduled", Body: status.Text{"en": "We will be undergoing scheduled maintenance during this time."}, CreatedAt: t.AddDate(0, 0, -7)}}}
		switch {
		case end.Before(now):
			r.State, r.Status, r.ResolvedAt = status.StateResolved, "completed", end
			r.Updates = append(r.Updates,
				statuspage.RecordUpdate{ID: id*10 + 2, Status: "in_progress", Body: status.Text{"en": "Scheduled maintenance is currently in progress."}, CreatedAt: t},
				statuspage.RecordUpdate{ID: id*10 + 3, Status: "completed", Body: status.Text{"en": "The scheduled maintenance has been completed."}, CreatedAt: end})
		case t.Before(now):
			r.Status = "in_progress"
			r.Updates = append(r.Updates, statuspage.RecordUpdate{ID: id*10 + 2, Status: "in_progress", Body: status.Text{"en": "Scheduled maintenance is currently in progress."}, CreatedAt: t})
		}
		d.Records = append(d.Records, r)
		id++
	}
	return d
}
