package store

import (
	"context"
	"database/sql"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// migrationsBefore is the embedded migrations of the backend numbered below
// v: a database as a probed from before migration v left it.
func migrationsBefore(t *testing.T, driver string, v int) fs.FS {
	t.Helper()
	dir := "migrations"
	if driver == "postgres" {
		dir = "migrations/postgres"
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(sub, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, name := range names {
		n, err := strconv.Atoi(name[:strings.IndexByte(name, '_')])
		if err != nil {
			t.Fatal(err)
		}
		if n >= v {
			continue
		}
		b, err := fs.ReadFile(sub, name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = &fstest.MapFile{Data: b}
	}
	return out
}

// Migration 0075 moves every hourly rollup row of a database written before
// it into its day's packed row, varints spelled out in SQL: every value
// reads back the same through the Go decoder (values at each varint's
// length boundary up to 62 bits), hours at a day's ends and with gaps, and
// retention's hourly watermark becomes a day.
func TestHourlyRollupsMigrateToPackedDays(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		old, err := Open(ctx, db.opts(Options{migrations: migrationsBefore(t, db.driver, 75)}))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"ocsp", "crl"} {
			if _, err := old.w.Exec(`INSERT INTO series (probe, location, component, kind) VALUES (?, 'tokyo-1', 'c', 'http')`, p); err != nil {
				t.Fatal(err)
			}
		}
		ids, err := old.seriesIDs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		day := t0.UnixMilli() / dayMs
		values := []int64{0, 1, 127, 128, 16383, 16384, 1<<21 - 1, 1 << 21, 1<<28 - 1, 1 << 28, 1 << 35, 1<<42 + 5, 1<<49 - 1, 1 << 56, 1<<62 + 3}
		want := map[rollupKey]agg{}
		hours := []int64{day * 24, day*24 + 1, day*24 + 7, day*24 + 23, day*24 + 24, day*24 + 47, day*24 + 24*30 + 12}
		for i, h := range hours {
			for j, id := range ids {
				v := values[(i*3+j*5)%len(values)]
				a := agg{runs: v, successes: v - v/3, durSumUS: values[(i+j+4)%len(values)], durMaxUS: values[(i*2+j+1)%len(values)]}
				if _, err := old.w.Exec(`INSERT INTO rollup_hour (series, hour, runs, successes, duration_sum_us, duration_max_us) VALUES (?, ?, ?, ?, ?, ?)`,
					id, h, a.runs, a.successes, a.durSumUS, a.durMaxUS); err != nil {
					t.Fatal(err)
				}
				want[rollupKey{[]string{"ocsp", "crl"}[j], "tokyo-1", h}] = a
			}
		}
		if _, err := old.w.Exec(`INSERT INTO store_meta (key, value) VALUES ('pruned_rollup_hour', ?), (?, ?)`, day*24+5, metaRolled, day*24+48); err != nil {
			t.Fatal(err)
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		s, _, _ := testStore(t, db.opts(Options{}))
		compareRollups(t, "hourly rollup after 0075", readHourlyRollups(t, s), want)
		if n := count(t, s, `SELECT count(*) FROM rollup_hour_packed`); n != 3*int64(len(ids)) {
			t.Errorf("%d packed days, want 3 days for each of %d series", n, len(ids))
		}
		if v, ok, err := getMeta(ctx, s.r, metaPrunedHourly); err != nil || !ok || v != day {
			t.Errorf("hourly retention watermark = %d, %v, %v; want day %d", v, ok, err, day)
		}
		if _, ok, _ := getMeta(ctx, s.r, "pruned_rollup_hour"); ok {
			t.Error("the watermark in hours is still there")
		}
		// The moved rows are what the store reads and rewrites.
		if err := s.tx(ctx, func(tx *sql.Tx) error {
			return putHourRollup(ctx, tx, ids[0], day*24+2, agg{runs: 120, successes: 119, durSumUS: 3_600_000, durMaxUS: 90_000})
		}); err != nil {
			t.Fatal(err)
		}
		want[rollupKey{"ocsp", "tokyo-1", day*24 + 2}] = agg{runs: 120, successes: 119, durSumUS: 3_600_000, durMaxUS: 90_000}
		compareRollups(t, "hourly rollup after a write", readHourlyRollups(t, s), want)
		// An uptime query by the hour reads them (the first two days are
		// rolled up).
		us, err := s.ProbeUptime(ctx, "crl", t0, t0.Add(48*time.Hour), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for i, u := range us {
			w := want[rollupKey{"crl", "tokyo-1", day*24 + int64(i)}]
			sumOK := w.durSumUS > 1<<50 || u.DurationSum == time.Duration(w.durSumUS)*time.Microsecond // beyond 2^50 µs a time.Duration overflows
			if u.Runs != w.runs || u.Successes != w.successes || !sumOK {
				t.Errorf("uptime of hour %d: %d runs, %d successes, %s; want %+v", i, u.Runs, u.Successes, u.DurationSum, w)
			}
		}
	})
}
