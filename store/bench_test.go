package store

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
)

// Run with (see README, Storage → Benchmarks):
//
//	go test ./store/ -run '^$' -bench Record -benchtime 500000x
//	go test ./store/ -run '^$' -bench Year -benchtime 1x -timeout 2h
//
// Each benchmark runs once per backend (sub-benchmarks sqlite and
// postgres; -store.backends=sqlite runs one). On PostgreSQL much of the
// work happens in the server's processes: the rates per CPU-second count
// this process and the server together (cpu-s), and this process alone
// (probed-cpu-s). BenchmarkYear takes minutes at its full size;
// -store.year.probes=100 runs a tenth of it.
var yearProbes = flag.Int("store.year.probes", 1000, "probes in BenchmarkYear")
var benchBatch = flag.Int("store.batch", 0, "BatchSize in BenchmarkRecord")
var yearDir = flag.String("store.year.dir", "", "folder BenchmarkYear leaves its probed.db in, for inspection (default: a temporary one)")
var benchBackends = flag.String("store.backends", "sqlite,postgres", "the backends the store benchmarks run on, comma-separated")

// benchBackend is a database a benchmark runs on.
type benchBackend struct{ driver string }

// eachBenchBackend runs f as a sub-benchmark per backend of -store.backends.
func eachBenchBackend(b *testing.B, f func(b *testing.B, be benchBackend)) {
	for _, d := range strings.Split(*benchBackends, ",") {
		if d != "sqlite" && d != "postgres" {
			b.Fatalf("-store.backends: unknown backend %q (sqlite or postgres)", d)
		}
		b.Run(d, func(b *testing.B) { f(b, benchBackend{d}) })
	}
}

// opts returns o on a new, empty database of the backend (a SQLite file in
// dir, a temporary folder when "").
func (be benchBackend) opts(b *testing.B, o Options, dir string) Options {
	if be.driver == "postgres" {
		o.Driver, o.DSN = "postgres", pg.DSN(b)
		return o
	}
	if dir == "" {
		dir = b.TempDir()
	}
	o.Path = filepath.Join(dir, "probed.db")
	return o
}

// cpu is the CPU time used so far by this process and, on PostgreSQL, the
// server's processes.
func (be benchBackend) cpu(b *testing.B) (self, server time.Duration) {
	self = cpuTime()
	if be.driver == "postgres" {
		var err error
		if server, err = pg.CPUTime(); err != nil {
			b.Fatal(err)
		}
	}
	return self, server
}

// reportCPU reports n results per CPU-second since (self0, server0): all
// of it (cpu-s) and this process's (probed-cpu-s).
func (be benchBackend) reportCPU(b *testing.B, n int, self0, server0 time.Duration) {
	self, server := be.cpu(b)
	b.ReportMetric(float64(n)/(self-self0+server-server0).Seconds(), "results/cpu-s")
	b.ReportMetric(float64(n)/(self-self0).Seconds(), "results/probed-cpu-s")
}

// BenchmarkRecord measures the batched insert rate: results from 1,000
// probes queued with Record as the scheduler does, written by the writer in
// batches, until Flush says they are all on disk.
func BenchmarkRecord(b *testing.B) {
	eachBenchBackend(b, func(b *testing.B, be benchBackend) {
		// Record waits as long as it takes for room in the queue: the
		// benchmark measures the writer's rate, not what a full queue drops.
		s, err := Open(context.Background(), be.opts(b, Options{BatchSize: *benchBatch, RecordWait: time.Hour}, ""))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		res := make([]probes.Result, 1000)
		for i := range res {
			res[i] = probes.Result{Probe: fmt.Sprintf("probe-%04d", i), Kind: "http", Component: "api", Location: "tokyo-1", Success: true, Duration: 123456 * time.Microsecond}
		}
		b.ResetTimer()
		t := time.Now()
		self, server := be.cpu(b)
		for i := range b.N {
			r := res[i%len(res)]
			r.Start = start.Add(time.Duration(i/len(res)) * 30 * time.Second)
			if err := s.Record(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/time.Since(t).Seconds(), "results/s")
		// On a shared machine the wall-clock rate moves with the load; the
		// rate per CPU-second (writer, database and Record together) does not.
		be.reportCPU(b, b.N, self, server)
	})
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkYear builds the database of one year of N probes (default
// 1,000) run every 30 s with the default retention (14 days raw) and
// rollups (400 days), and reports its size. The last 15 days go through
// the production path — the writer's batches, then the hourly
// housekeeping on a fake clock (packing, rollups, retention pruning the
// oldest day) — and the 350 days before are rolled up as the housekeeping
// does (hourly rows hour by hour, days summed from them) from generated
// hourly counts, since their raw results would be gone by now anyway.
func BenchmarkYear(b *testing.B) {
	eachBenchBackend(b, func(b *testing.B, be benchBackend) {
		for range b.N {
			s, _ := year(b, be, *yearProbes, *yearDir)
			s.Close()
		}
	})
}

// BenchmarkProbeUptime times ProbeUptime for one probe on a year of 20
// probes (the rows one probe reads do not depend on how many others there are).
func BenchmarkProbeUptime(b *testing.B) {
	eachBenchBackend(b, func(b *testing.B, be benchBackend) { probeUptime(b, be) })
}

func probeUptime(b *testing.B, be benchBackend) {
	s, end := year(b, be, 20, "")
	defer s.Close()
	for _, c := range []struct {
		name string
		days int
		step time.Duration
	}{{"365d-daily", 365, 24 * time.Hour}, {"90d-daily", 90, 24 * time.Hour}, {"24h-hourly", 1, time.Hour}, {"7d-5m", 7, 5 * time.Minute}} {
		b.Run(c.name, func(b *testing.B) {
			from := end.Add(-time.Duration(c.days) * 24 * time.Hour)
			self, server := be.cpu(b)
			for range b.N {
				if _, err := s.ProbeUptime(context.Background(), "probe-0007", from, end, c.step); err != nil {
					b.Fatal(err)
				}
			}
			// The CPU a query costs, the server's included: steadier than
			// ns/op on a loaded machine, where each round trip to the
			// server waits for a core.
			self2, server2 := be.cpu(b)
			b.ReportMetric(float64((self2-self+server2-server).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			if be.driver == "postgres" {
				b.ReportMetric(float64((server2-server).Microseconds())/1000/float64(b.N), "server-cpu-ms/op")
			}
		})
	}
}

// year builds the database of one year of nprobes probes in dir (a
// temporary folder when ""), reports its size and returns it open, with the
// time the year ends.
func year(b *testing.B, be benchBackend, nprobes int, dir string) (*Store, time.Time) {
	ctx := context.Background()
	end := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	begin := end.Add(-365 * 24 * time.Hour)
	rawFrom := end.Add(-15 * 24 * time.Hour) // whole days: end is a midnight
	fc := clock.NewFake(begin)
	s, err := Open(ctx, be.opts(b, Options{Clock: fc}, dir))
	if err != nil {
		b.Fatal(err)
	}
	empty := s.SizeBytes()
	rng := rand.New(rand.NewPCG(1, 2))
	series := make([]probes.Result, nprobes)
	offsets := make([]time.Duration, nprobes)
	for i := range series {
		series[i] = probes.Result{Probe: fmt.Sprintf("probe-%04d", i), Kind: []string{"ocsp", "crl", "tsa", "acme", "http"}[i%5],
			Component: fmt.Sprintf("component-%02d", i%40), Location: "tokyo-1"}
		offsets[i] = time.Duration(rng.Int64N(int64(30 * time.Second)))
	}
	// The series rows, as the writer makes them.
	if err := s.writeBatch(ctx, series); err != nil {
		b.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM results`); err != nil {
		b.Fatal(err)
	}
	ids, err := s.seriesIDs(ctx)
	if err != nil {
		b.Fatal(err)
	}
	t := time.Now()

	// 350 days of rollups, with the housekeeping's statements: a series'
	// day of hourly rollups packed into its row (the housekeeping writes it
	// an hour at a time), then the day summed from them.
	runsPerHour := int64(time.Hour / (30 * time.Second))
	for d := floorDiv(begin.UnixMilli(), dayMs); d < floorDiv(rawFrom.UnixMilli(), dayMs); d++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			for _, id := range ids {
				hs := make([]hourAgg, 24)
				for i := range hs {
					a := agg{runs: runsPerHour, successes: runsPerHour - int64(rng.IntN(100)/97), durMaxUS: 200_000 + rng.Int64N(800_000)}
					a.durSumUS = a.runs * (50_000 + rng.Int64N(150_000))
					hs[i] = hourAgg{hour: d*24 + int64(i), agg: a}
				}
				if err := putHourRollups(ctx, tx, id, d, hs); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for c := range slices.Chunk(ids, seriesChunk) {
			if err := s.tx(ctx, func(tx *sql.Tx) error { return consolidateDay(ctx, tx, c, d) }); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.tx(ctx, func(tx *sql.Tx) error { return setMeta(ctx, tx, metaRolled, floorDiv(rawFrom.UnixMilli(), hourMs)) }); err != nil {
		b.Fatal(err)
	}
	rollupTime := time.Since(t)

	// 15 days of results through the writer and the hourly housekeeping.
	t = time.Now()
	self, server := be.cpu(b)
	var written int
	batch := make([]probes.Result, 0, s.batch)
	for hour := rawFrom; hour.Before(end); hour = hour.Add(time.Hour) {
		for tick := hour; tick.Before(hour.Add(time.Hour)); tick = tick.Add(30 * time.Second) {
			for i, r := range series {
				r.Start = tick.Add(offsets[i])
				r.Duration = time.Duration(20_000+rng.Int64N(600_000)) * time.Microsecond
				r.Success = true
				if rng.IntN(1000) == 0 {
					r.Success = false
					r.Checks = []probes.Check{{Name: "ocsp_next_update", Message: "nextUpdate 2027-02-11 09:00:00 UTC passed 2h13m ago",
						Evidence: map[string]string{"next_update": "2027-02-11T09:00:00Z"}}}
				}
				batch = append(batch, r)
				if len(batch) == cap(batch) {
					if err := s.writeBatch(ctx, batch); err != nil {
						b.Fatal(err)
					}
					written += len(batch)
					batch = batch[:0]
				}
			}
		}
		if err := s.writeBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		written += len(batch)
		batch = batch[:0]
		fc.Set(hour.Add(time.Hour + rollupGrace + time.Second))
		if _, err := s.RunHousekeeping(ctx); err != nil {
			b.Fatal(err)
		}
		if s.pg {
			// Autovacuum reclaims the rows each hour's packing and pruning
			// delete within a minute or so of real time; in a year compressed
			// into minutes it cannot keep up, so the benchmark runs the
			// VACUUM it would have run (its CPU counted as the server's).
			if _, err := s.w.ExecContext(ctx, `VACUUM results, results_packed, rollup_hour_packed, dirty_hours, dirty_days, store_meta`); err != nil {
				b.Fatal(err)
			}
		}
	}
	rawTime := time.Since(t)
	be.reportCPU(b, written, self, server)
	if !s.pg {
		if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
	}
	size := s.SizeBytes()
	rows := map[string]int64{}
	for _, table := range []string{"results", "results_packed", "rollup_hour_packed", "rollup_day"} {
		var n int64
		if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			b.Fatal(err)
		}
		rows[table] = n
	}
	var free, pages int64
	if !s.pg {
		s.w.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free)
		s.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages)
	}
	b.Logf("%s, %d probes, one year: %.1f MB (empty: %.1f MB; %d pages, %d free); rows %v; rollups generated in %s, %d results written and housekept in %s (%.0f results/s)",
		be.driver, nprobes, float64(size)/1e6, float64(empty)/1e6, pages, free, rows, rollupTime.Round(time.Second), written, rawTime.Round(time.Second), float64(written)/rawTime.Seconds())
	if s.pg {
		// Where the space goes: each table with its indexes and TOAST, and
		// the dead rows autovacuum has not reclaimed yet.
		rows, err := s.r.QueryContext(ctx, `SELECT relname, pg_total_relation_size(relid), n_live_tup, n_dead_tup FROM pg_stat_user_tables ORDER BY 2 DESC LIMIT 6`)
		if err != nil {
			b.Fatal(err)
		}
		var parts []string
		for rows.Next() {
			var name string
			var bytes, live, dead int64
			if err := rows.Scan(&name, &bytes, &live, &dead); err != nil {
				b.Fatal(err)
			}
			parts = append(parts, fmt.Sprintf("%s %.1f MB (%d live, %d dead rows)", name, float64(bytes)/1e6, live, dead))
		}
		rows.Close()
		b.Logf("postgres tables: %s", strings.Join(parts, "; "))
	}
	b.ReportMetric(float64(size)/1e6, "MB")
	b.ReportMetric(float64(size)/float64(nprobes)/1e6, "MB/probe")
	return s, end
}

// BenchmarkCopyYear times `probed store migrate` of a year: the SQLite
// database of BenchmarkYear (-store.year.probes) copied into an empty
// PostgreSQL database, in rows copied a second (the holder is stopped
// meanwhile: this is the move's downtime).
func BenchmarkCopyYear(b *testing.B) {
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		s, _ := year(b, benchBackend{"sqlite"}, *yearProbes, dir)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		dsn := pg.DSN(b)
		b.StartTimer()
		t := time.Now()
		self, server := benchBackend{"postgres"}.cpu(b)
		rep, err := Copy(context.Background(), CopyOptions{From: filepath.Join(dir, "probed.db"), To: dsn})
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(t)
		self2, server2 := benchBackend{"postgres"}.cpu(b)
		b.ReportMetric(d.Seconds(), "s/copy")
		b.ReportMetric(float64(rep.Rows())/d.Seconds(), "rows/s")
		b.Logf("%d probes: %d rows in %d tables copied in %s (CPU: %s this process, %s the server)", *yearProbes, rep.Rows(), len(rep.Tables),
			d.Round(time.Millisecond), (self2 - self).Round(time.Millisecond), (server2 - server).Round(time.Millisecond))
	}
}
