package store

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/probed/probed/probes"
)

// bruteUptime adds up the generated results of probe in [from, to).
func bruteUptime(rs []probes.Result, probe string, from, to time.Time) Uptime {
	u := Uptime{From: from, To: to}
	for _, r := range rs {
		if r.Probe != probe || r.Start.Before(from) || !r.Start.Before(to) {
			continue
		}
		r = stored(r)
		u.Runs++
		if r.Success {
			u.Successes++
		}
		u.DurationSum += r.Duration
		u.DurationMax = max(u.DurationMax, r.Duration)
	}
	return u
}

// ProbeUptime, reading rollups for closed hours and days and raw results
// for the rest, adds up to exactly what the raw data says, for aligned and
// unaligned buckets, across the rollup watermark, and with a late result
// waiting for its hour and day to be recomputed.
func TestProbeUptimeMatchesRaw(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		rng := rand.New(rand.NewPCG(11, 5))
		s, fc, _ := testStore(t, db.opts(Options{Retention: 3 * 24 * time.Hour, RollupRetention: 30 * 24 * time.Hour}))
		end := t0.Add(6*24*time.Hour + 7*time.Hour + 23*time.Minute)
		rs := genResults(rng, 2, t0, end)
		feed(t, s, rng, rs, fc.Set)
		now := end.Add(3*time.Hour + 10*time.Minute)
		fc.Set(now)
		mustHousekeep(t, s)
		// Results after now (arrived late in feed's order) are not in any bucket below.
		hour := now.Truncate(time.Hour)

		cases := []struct {
			name     string
			from, to time.Time
			step     time.Duration
		}{
			{"days since the start, older than the raw retention", t0, now, 24 * time.Hour},
			{"hours over four days", t0.Add(50 * time.Hour), now, time.Hour},
			{"seven hours from an odd hour (a time zone's days)", t0.Add(9 * time.Hour), now, 7 * time.Hour},
			{"a week in one bucket", t0, t0.Add(7 * 24 * time.Hour), 7 * 24 * time.Hour},
			{"13 minutes from an unaligned start, recent", now.Add(-29*time.Hour - 17*time.Minute), now, 13 * time.Minute},
			{"across the rollup watermark", hour.Add(-5*time.Hour - 30*time.Minute), now, time.Hour},
			{"one unaligned bucket inside an hour", hour.Add(-2*time.Hour + 5*time.Minute), hour.Add(-2*time.Hour + 25*time.Minute), time.Hour},
		}
		run := func(label string) {
			for _, c := range cases {
				for _, probe := range []string{"probe-0", "probe-1"} {
					got, err := s.ProbeUptime(context.Background(), probe, c.from, c.to, c.step)
					if err != nil {
						t.Fatal(err)
					}
					var n int
					for b := c.from; b.Before(c.to); b = b.Add(c.step) {
						n++
					}
					if len(got) != n {
						t.Fatalf("%s %s %s: %d buckets, want %d", label, c.name, probe, len(got), n)
					}
					for _, u := range got {
						want := bruteUptime(rs, probe, u.From, u.To)
						u.Covered = 0
						if u != want {
							t.Errorf("%s %s %s bucket %s:\n got %+v\nwant %+v", label, c.name, probe, u.From, u, want)
						}
					}
				}
			}
		}
		run("after housekeeping")

		// A late result for an hour and a day already rolled up: counted at
		// once (its hour read raw), and the same after the recomputation.
		late := probes.Result{Probe: "probe-1", Kind: "http", Component: "comp-1", Location: "tokyo-1",
			Start: hour.Add(-26*time.Hour + 17*time.Second), Duration: 4 * time.Second, Success: false,
			Checks: []probes.Check{{Name: "http_status", Message: "late and failed"}}}
		rs = append(rs, late)
		if err := s.Record(context.Background(), late); err != nil {
			t.Fatal(err)
		}
		mustFlush(t, s)
		if n := count(t, s, `SELECT count(*) FROM dirty_hours`); n != 1 {
			t.Fatalf("%d dirty hours after a late result, want 1", n)
		}
		run("with a late result")
		mustHousekeep(t, s)
		run("after recomputing the late result")

		// A result written again over a packed one (a retried batch), now
		// failed: counted once, as written last, before and after its hour
		// is recomputed.
		k := slices.IndexFunc(rs, func(r probes.Result) bool {
			return r.Probe == "probe-0" && r.Success && r.Start.After(hour.Add(-20*time.Hour)) && r.Start.Before(hour.Add(-10*time.Hour))
		})
		if k < 0 {
			t.Fatal("no packed result of probe-0 to write again")
		}
		rs[k].Success, rs[k].Checks = false, []probes.Check{{Name: "http_status", Message: "written again"}}
		if err := s.Record(context.Background(), rs[k]); err != nil {
			t.Fatal(err)
		}
		mustFlush(t, s)
		run("with a result written over a packed one")
		mustHousekeep(t, s)
		run("after recomputing it")

		if _, err := s.ProbeUptime(context.Background(), "probe-0", now, now.Add(-time.Hour), time.Hour); err == nil {
			t.Error("a range ending before it starts: no error")
		}
		if _, err := s.ProbeUptime(context.Background(), "probe-0", t0, now, time.Second); err == nil {
			t.Error("a million buckets: no error")
		}
		got, err := s.ProbeUptime(context.Background(), "no-such-probe", t0, now, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range got {
			if _, ok := u.Ratio(); ok {
				t.Errorf("unknown probe has uptime %+v, want no data", u)
			}
		}
	})
}
