package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/probes"
)

// genResults makes random runs of several probes at two locations over
// [from, to): uneven intervals, millisecond starts, microsecond durations,
// failures with their failed checks, successes with a failed warning, and
// passed checks (which the store does not keep).
func genResults(rng *rand.Rand, nprobes int, from, to time.Time) []probes.Result {
	var out []probes.Result
	for p := range nprobes {
		for _, loc := range []string{"tokyo-1", "osaka-1"} {
			name := fmt.Sprintf("probe-%d", p)
			t := from.Add(time.Duration(rng.Int64N(int64(time.Minute))))
			for t.Before(to) {
				r := probes.Result{Probe: name, Kind: "http", Component: fmt.Sprintf("comp-%d", p%2), Location: loc,
					Start: t.Truncate(time.Millisecond), Duration: time.Duration(rng.Int64N(3_000_000)) * time.Microsecond, Success: true,
					Checks: []probes.Check{{Name: "http_status", OK: true}}}
				switch x := rng.IntN(100); {
				case x < 12:
					r.Success = false
					r.Checks = append(r.Checks, probes.Check{Name: "http_body_matches", Message: fmt.Sprintf("body did not match (%d)", x), Evidence: map[string]string{"len": fmt.Sprint(x)}})
				case x < 16:
					r.Checks = append(r.Checks, probes.Check{Name: "tls_cert_expiry", Severity: probes.Warning, Message: "expires in 9 days"})
				}
				out = append(out, r)
				t = t.Add(20*time.Second + time.Duration(rng.Int64N(int64(70*time.Second))))
			}
		}
	}
	return out
}

// stored is a result as the store gives it back: the failed checks only.
func stored(r probes.Result) probes.Result {
	r.Checks = r.FailedChecks()
	r.Start = time.UnixMilli(r.Start.UnixMilli())
	return r
}

func sortResults(rs []probes.Result) {
	slices.SortStableFunc(rs, func(a, b probes.Result) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Location, b.Location)
	})
}

// feed records the results in the order they would arrive — most within
// seconds of their start, some hours late — moving the clock with them
// and running the housekeeping every ~17 minutes on the way.
func feed(t *testing.T, s *Store, rng *rand.Rand, rs []probes.Result, setClock func(time.Time)) {
	t.Helper()
	type arrival struct {
		r  probes.Result
		at time.Time
	}
	var as []arrival
	for _, r := range rs {
		delay := r.Duration + time.Duration(rng.Int64N(int64(5*time.Second)))
		if rng.IntN(100) < 3 {
			delay += time.Duration(rng.Int64N(int64(3 * time.Hour)))
		}
		as = append(as, arrival{r, r.Start.Add(delay)})
	}
	slices.SortFunc(as, func(a, b arrival) int { return a.at.Compare(b.at) })
	ctx := context.Background()
	var next time.Time
	for _, a := range as {
		setClock(a.at)
		if err := s.Record(ctx, a.r); err != nil {
			t.Fatal(err)
		}
		if next.IsZero() {
			next = a.at
		}
		if a.at.After(next) {
			mustFlush(t, s)
			mustHousekeep(t, s)
			next = a.at.Add(17 * time.Minute)
		}
	}
	mustFlush(t, s)
}

type rollupKey struct {
	probe, location string
	unit            int64 // hour or day number
}

func expectedRollups(rs []probes.Result, unitMs int64, keep func(unit int64) bool) map[rollupKey]agg {
	out := map[rollupKey]agg{}
	for _, r := range rs {
		at := r.Start.UnixMilli()
		k := rollupKey{r.Probe, r.Location, floorDiv(at, unitMs)}
		if !keep(k.unit) {
			continue
		}
		a := out[k]
		a.add(entry{at: at, durUS: r.Duration.Microseconds(), ok: r.Success})
		out[k] = a
	}
	return out
}

func readRollups(t *testing.T, s *Store, table, col string) map[rollupKey]agg {
	t.Helper()
	rows, err := s.r.Query(`SELECT s.probe, s.location, r.` + col + `, r.runs, r.successes, r.duration_sum_us, r.duration_max_us FROM ` + table + ` r JOIN series s ON s.id = r.series`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[rollupKey]agg{}
	for rows.Next() {
		var k rollupKey
		var a agg
		if err := rows.Scan(&k.probe, &k.location, &k.unit, &a.runs, &a.successes, &a.durSumUS, &a.durMaxUS); err != nil {
			t.Fatal(err)
		}
		out[k] = a
	}
	return out
}

// readHourlyRollups reads every hourly rollup out of the packed days.
func readHourlyRollups(t *testing.T, s *Store) map[rollupKey]agg {
	t.Helper()
	rows, err := s.r.Query(`SELECT s.probe, s.location, r.day, r.data FROM rollup_hour_packed r JOIN series s ON s.id = r.series`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[rollupKey]agg{}
	for rows.Next() {
		var probe, location string
		var d int64
		var data []byte
		if err := rows.Scan(&probe, &location, &d, &data); err != nil {
			t.Fatal(err)
		}
		hs, err := decodeHours(d, data)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) == 0 {
			t.Errorf("%s@%s day %d: a packed row without hours", probe, location, d)
		}
		for _, h := range hs {
			out[rollupKey{probe, location, h.hour}] = h.agg
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func compareRollups(t *testing.T, what string, got, want map[rollupKey]agg) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s %v: missing, want %+v", what, k, w)
		} else if g != w {
			t.Errorf("%s %v = %+v, want %+v (raw)", what, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s %v = %+v, not in the raw data", what, k, g)
		}
	}
}

func allResults(t *testing.T, s *Store, nprobes int) []probes.Result {
	t.Helper()
	var out []probes.Result
	for p := range nprobes {
		rs, err := s.Results(context.Background(), fmt.Sprintf("probe-%d", p), time.Unix(0, 0), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rs...)
	}
	sortResults(out)
	return out
}

func expectResults(rs []probes.Result, keep func(probes.Result) bool) []probes.Result {
	var out []probes.Result
	for _, r := range rs {
		if keep(r) {
			out = append(out, stored(r))
		}
	}
	sortResults(out)
	return out
}

func compareResults(t *testing.T, got, want []probes.Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Start.Equal(w.Start) || g.Probe != w.Probe || g.Location != w.Location || g.Component != w.Component || g.Kind != w.Kind ||
			g.Duration != w.Duration || g.Success != w.Success || !reflect.DeepEqual(g.Checks, w.Checks) {
			t.Fatalf("result %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// dump is every table the housekeeping writes, as text, to compare passes.
func dump(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT series, at_ms, duration_us, success, COALESCE(failed, '') FROM results ORDER BY series, at_ms`,
		`SELECT series, hour, data, 0, '' FROM results_packed ORDER BY series, hour`,
		`SELECT series, day, data, 0, '' FROM rollup_hour_packed ORDER BY series, day`,
		`SELECT series, day, runs, successes, duration_sum_us || '/' || duration_max_us FROM rollup_day ORDER BY series, day`,
	} {
		rows, err := s.w.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b2, c, d, e any
			if err := rows.Scan(&a, &b2, &c, &d, &e); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, a, b2, c, d, e)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

func count(t *testing.T, s *Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.w.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Property: over random data, arriving in random order with late results,
// each hourly and daily rollup equals the raw results it summarises, packing
// loses nothing, and a repeated or forced re-run of the housekeeping — even
// with the same results recorded twice — changes nothing.
func TestRollupsEqualRaw(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		for seed := range uint64(4) {
			t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 42))
				s, fc, reg := testStore(t, db.fresh(t).opts(Options{BatchSize: 1 + rng.IntN(500)}))
				nprobes := 3 + rng.IntN(3)
				start := t0.Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
				end := start.Add(36*time.Hour + time.Duration(rng.Int64N(int64(36*time.Hour))))
				rs := genResults(rng, nprobes, start, end)
				feed(t, s, rng, rs, fc.Set)
				fc.Set(end.Add(26 * time.Hour))
				mustHousekeep(t, s)

				all := func(int64) bool { return true }
				compareRollups(t, "hourly rollup", readHourlyRollups(t, s), expectedRollups(rs, hourMs, all))
				compareRollups(t, "daily rollup", readRollups(t, s, "rollup_day", "day"), expectedRollups(rs, dayMs, all))
				compareResults(t, allResults(t, s, nprobes), expectResults(rs, func(probes.Result) bool { return true }))
				if n := count(t, s, `SELECT count(*) FROM results WHERE failed IS NULL`); n != 0 {
					t.Errorf("%d results without failed checks left unpacked", n)
				}
				if n := count(t, s, `SELECT count(*) FROM results_packed`); n == 0 {
					t.Error("nothing was packed")
				}
				if n := count(t, s, `SELECT (SELECT count(*) FROM dirty_hours) + (SELECT count(*) FROM dirty_days)`); n != 0 {
					t.Errorf("%d dirty marks left", n)
				}
				if got := testutil.ToFloat64(s.m.hoursRolled); got == 0 {
					t.Error("probed_store_rollup_hours_total did not move")
				}
				_ = reg

				before := dump(t, s)
				if rep := mustHousekeep(t, s); rep.HoursRolledUp != 0 || rep.DaysRolledUp != 0 {
					t.Errorf("a second pass with nothing new did work: %+v", rep)
				}
				if after := dump(t, s); after != before {
					t.Error("a second pass changed the tables")
				}
				// Force every hour to be recomputed, with part of the results
				// recorded a second time (as a retried batch would).
				for _, r := range rs[:len(rs)/3] {
					if err := s.Record(context.Background(), r); err != nil {
						t.Fatal(err)
					}
				}
				mustFlush(t, s)
				for k := range readHourlyRollups(t, s) {
					if _, err := s.w.Exec(`INSERT INTO dirty_hours (hour, gen) VALUES (?, 1) ON CONFLICT DO NOTHING`, k.unit); err != nil {
						t.Fatal(err)
					}
				}
				if rep := mustHousekeep(t, s); rep.HoursRolledUp == 0 || rep.DaysRolledUp == 0 {
					t.Errorf("forced recomputation did nothing: %+v", rep)
				}
				if after := dump(t, s); after != before {
					t.Error("recomputing the rollups (with duplicates recorded) changed them")
				}
			})
		}
	})
}

// Retention deletes exactly the raw results of hours wholly older than
// storage.retention (their rollups stay), and exactly the rollups older
// than storage.rollup_retention: the hourly ones a day at a time (packed a
// day a row), once the day's last hour is older.
func TestRetentionDeletesWhatItShould(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		rng := rand.New(rand.NewPCG(7, 7))
		s, fc, _ := testStore(t, db.opts(Options{Retention: 2 * 24 * time.Hour, RollupRetention: 4 * 24 * time.Hour}))
		const nprobes = 3
		rs := genResults(rng, nprobes, t0, t0.Add(7*24*time.Hour))
		feed(t, s, rng, rs, fc.Set)

		check := func(now time.Time) {
			t.Helper()
			fc.Set(now)
			mustHousekeep(t, s)
			n := now.UnixMilli()
			rawCut := floorDiv(n-2*dayMs, hourMs)
			hourCut, dayCut := floorDiv(n-4*dayMs, hourMs), floorDiv(n-4*dayMs, dayMs)
			closed := floorDiv(n-rollupGrace.Milliseconds(), hourMs)
			compareResults(t, allResults(t, s, nprobes), expectResults(rs, func(r probes.Result) bool {
				return floorDiv(r.Start.UnixMilli(), hourMs) >= rawCut
			}))
			compareRollups(t, "hourly rollup", readHourlyRollups(t, s),
				expectedRollups(rs, hourMs, func(h int64) bool { return floorDiv(h, 24) >= floorDiv(hourCut, 24) && h < closed }))
			compareRollups(t, "daily rollup", readRollups(t, s, "rollup_day", "day"),
				expectedRollups(rs, dayMs, func(d int64) bool { return d >= dayCut && (d+1)*24 <= closed }))
		}
		// (feed's clock ends up to 3h past the last start: late arrivals)
		check(t0.Add(7*24*time.Hour + 3*time.Hour + 30*time.Minute))
		check(t0.Add(7*24*time.Hour + 13*time.Hour + 5*time.Minute))
		check(t0.Add(9*24*time.Hour + 59*time.Minute))
		for _, table := range []string{"results", "results_packed", "rollup_hour_packed", "rollup_day"} {
			if testutil.ToFloat64(s.m.deleted.WithLabelValues(table)) == 0 {
				t.Errorf("probed_store_retention_deleted_rows_total{table=%q} is 0", table)
			}
		}
		// Long after everything expired, nothing is left.
		check(t0.Add(30 * 24 * time.Hour))
		if n := count(t, s, `SELECT (SELECT count(*) FROM results) + (SELECT count(*) FROM results_packed) + (SELECT count(*) FROM rollup_hour_packed) + (SELECT count(*) FROM rollup_day)`); n != 0 {
			t.Errorf("%d rows left after every retention passed", n)
		}
	})
}

// Raw results are deleted only once rolled up: after a long stop, the
// first pass rolls the backlog up before it prunes it, so the rollups
// still count every run.
func TestRetentionAfterLongStopKeepsRollups(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		rng := rand.New(rand.NewPCG(3, 3))
		s, fc, _ := testStore(t, db.opts(Options{Retention: 24 * time.Hour}))
		rs := genResults(rng, 2, t0, t0.Add(3*24*time.Hour))
		for _, r := range rs {
			if err := s.Record(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
		mustFlush(t, s)
		fc.Set(t0.Add(20 * 24 * time.Hour))
		rep := mustHousekeep(t, s)
		if rep.Deleted["results_packed"] == 0 {
			t.Errorf("nothing pruned after the stop: %+v", rep)
		}
		compareRollups(t, "hourly rollup", readHourlyRollups(t, s), expectedRollups(rs, hourMs, func(int64) bool { return true }))
		if got := allResults(t, s, 2); len(got) != 0 {
			t.Errorf("%d raw results older than the retention kept", len(got))
		}
	})
}

// Many series: the housekeeping works through them 64 at a time.
func TestHousekeepingManySeries(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		s, fc, _ := testStore(t, db.opts(Options{}))
		var rs []probes.Result
		for p := range 150 {
			for i := range 10 {
				rs = append(rs, probes.Result{Probe: fmt.Sprint("p", p), Kind: "http", Component: "c", Location: "l",
					Start: t0.Add(time.Duration(i) * 7 * time.Minute), Duration: time.Duration(p) * time.Millisecond, Success: i%3 != 0})
			}
		}
		for _, r := range rs {
			if err := s.Record(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
		mustFlush(t, s)
		fc.Set(t0.Add(25 * time.Hour))
		mustHousekeep(t, s)
		compareRollups(t, "hourly rollup", readHourlyRollups(t, s), expectedRollups(rs, hourMs, func(int64) bool { return true }))
		compareRollups(t, "daily rollup", readRollups(t, s, "rollup_day", "day"), expectedRollups(rs, dayMs, func(int64) bool { return true }))
	})
}

// The loop runs passes until its context ends, and Close stops it too.
func TestHousekeepLoop(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		s, _, _ := testStore(t, db.opts(Options{}))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Housekeep(ctx, time.Millisecond) }()
		waitFor(t, "two housekeeping passes", func() bool { return testutil.ToFloat64(s.m.hkRuns.WithLabelValues("success")) >= 2 })
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Housekeep returned %v after its context ended, want nil", err)
		}
		passes := testutil.ToFloat64(s.m.hkRuns.WithLabelValues("success"))
		go func() { done <- s.Housekeep(context.Background(), time.Hour) }()
		waitFor(t, "one more pass", func() bool { return testutil.ToFloat64(s.m.hkRuns.WithLabelValues("success")) > passes })
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Housekeep returned %v at Close, want nil", err)
		}
		if err := s.Housekeep(context.Background(), time.Hour); err == nil {
			t.Fatal("Housekeep on a closed store: no error")
		}
	})
}
