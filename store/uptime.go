package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"
)

// Uptime is what one probe's runs add up to over one period.
type Uptime struct {
	From, To    time.Time
	Runs        int64
	Successes   int64
	DurationSum time.Duration
	DurationMax time.Duration
	// Covered is how much of the period probed was up and probing
	// (Coverage); the rest of it is no data.
	Covered time.Duration
}

// Ratio is the share of runs that succeeded; ok is false when there were
// no runs: no data, which is neither uptime nor downtime.
func (u Uptime) Ratio() (ratio float64, ok bool) {
	if u.Runs == 0 {
		return 0, false
	}
	return float64(u.Successes) / float64(u.Runs), true
}

// maxBuckets bounds one uptime query (a year of hours is 8,760).
const maxBuckets = 100_000

// span is a part of one bucket read from one source: a range of Unix
// milliseconds (raw), hours (rollup_hour_packed) or days (rollup_day).
type span struct {
	lo, hi int64
	bucket int
}

// ProbeUptime adds up a probe's runs (from every location) over [from, to)
// in buckets of step; the last bucket ends at to. Closed hours and UTC days
// come from the rollups, kept for storage.rollup_retention; the rest —
// recent hours not rolled up yet, and parts of hours at bucket edges — from
// the raw results, kept for storage.retention: for ranges older than that,
// put from and step on whole hours (whole days for speed).
func (s *Store) ProbeUptime(ctx context.Context, probe string, from, to time.Time, step time.Duration) ([]Uptime, error) {
	if step <= 0 || !to.After(from) {
		return nil, fmt.Errorf("probe uptime %s: want from before to and a positive step, got %s, %s, %s", probe, from, to, step)
	}
	if n := to.Sub(from) / step; n >= maxBuckets {
		return nil, fmt.Errorf("probe uptime %s: %d buckets, more than %d: use a larger step", probe, n, maxBuckets)
	}
	series, err := s.Series(ctx, probe)
	if err != nil {
		return nil, fmt.Errorf("probe uptime %s: %w", probe, err)
	}
	rolled, dirtyDays, err := s.rolledUp(ctx)
	if err != nil {
		return nil, fmt.Errorf("probe uptime %s: %w", probe, err)
	}
	rolledMs := rolled * hourMs
	var out []Uptime
	var raw, hours, days []span
	for t := from; t.Before(to); t = t.Add(step) {
		u := Uptime{From: t, To: minTime(t.Add(step), to)}
		i := len(out)
		out = append(out, u)
		a, b := u.From.UnixMilli(), u.To.UnixMilli()
		if rb := min(b, rolledMs); a < rb {
			h0, h1 := -floorDiv(-a, hourMs), floorDiv(rb, hourMs)
			if h0 >= h1 {
				raw = append(raw, span{a, rb, i})
			} else {
				raw = appendSpan(raw, span{a, h0 * hourMs, i})
				// Whole days from the daily rollup, unless a late result
				// has it waiting for recomputation; the rest by the hour.
				h := h0
				for d := -floorDiv(-h0, 24); (d+1)*24 <= h1; d++ {
					if dirtyDays[d] {
						continue
					}
					hours = appendSpan(hours, span{h, d * 24, i})
					days = appendSpan(days, span{d, d + 1, i})
					h = (d + 1) * 24
				}
				hours = appendSpan(hours, span{h, h1, i})
				raw = appendSpan(raw, span{h1 * hourMs, rb, i})
			}
		}
		raw = appendSpan(raw, span{max(a, rolledMs), b, i})
	}
	for _, sr := range series {
		if err := s.addRollups(ctx, out, `SELECT day, runs, successes, duration_sum_us, duration_max_us FROM rollup_day WHERE series = ? AND day >= ? AND day < ?`, sr.ID, days); err != nil {
			return nil, fmt.Errorf("probe uptime %s: %w", probe, err)
		}
		if err := s.addHourRollups(ctx, out, sr.ID, hours); err != nil {
			return nil, fmt.Errorf("probe uptime %s: %w", probe, err)
		}
		if err := s.addRaw(ctx, out, sr.ID, raw); err != nil {
			return nil, fmt.Errorf("probe uptime %s: %w", probe, err)
		}
	}
	cov, err := s.Coverage(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("probe uptime %s: %w", probe, err)
	}
	for i := range out {
		out[i].Covered = covered(cov, out[i].From, out[i].To)
	}
	return out, nil
}

// appendSpan appends x, joining it to the last span when they touch.
func appendSpan(ss []span, x span) []span {
	if x.lo >= x.hi {
		return ss
	}
	if n := len(ss); n > 0 && ss[n-1].bucket == x.bucket && ss[n-1].hi == x.lo {
		ss[n-1].hi = x.hi
		return ss
	}
	return append(ss, x)
}

// rolledUp returns the hour before which the hourly rollups are complete
// (none waits for recomputation) and the days whose daily rollup waits, in
// one statement (a round trip each costs more than these reads on
// PostgreSQL).
func (s *Store) rolledUp(ctx context.Context) (int64, map[int64]bool, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT 'r', value FROM store_meta WHERE key = ?
		UNION ALL SELECT 'h', min(hour) FROM dirty_hours WHERE hour >= (SELECT coalesce(max(value), 0) FROM store_meta WHERE key = ?)
		UNION ALL SELECT 'd', day FROM dirty_days`, metaRolled, metaPrunedRaw)
	if err != nil {
		return 0, nil, fmt.Errorf("read rollup state: %w", err)
	}
	defer rows.Close()
	var rolled int64
	var dirty sql.NullInt64
	days := map[int64]bool{}
	for rows.Next() {
		var what string
		var v sql.NullInt64
		if err := rows.Scan(&what, &v); err != nil {
			return 0, nil, fmt.Errorf("read rollup state: %w", err)
		}
		switch what {
		case "r":
			rolled = v.Int64
		case "h":
			dirty = v
		case "d":
			days[v.Int64] = true
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("read rollup state: %w", err)
	}
	if dirty.Valid {
		rolled = min(rolled, dirty.Int64)
	}
	return rolled, days, nil
}

// find returns the span holding v, if any; spans are sorted and disjoint.
func find(ss []span, v int64) (span, bool) {
	i := sort.Search(len(ss), func(i int) bool { return ss[i].hi > v })
	if i < len(ss) && ss[i].lo <= v {
		return ss[i], true
	}
	return span{}, false
}

func (u *Uptime) addEntry(e entry) {
	u.Runs++
	if e.ok {
		u.Successes++
	}
	d := time.Duration(e.durUS) * time.Microsecond
	u.DurationSum += d
	u.DurationMax = max(u.DurationMax, d)
}

func (u *Uptime) add(a agg) {
	u.Runs += a.runs
	u.Successes += a.successes
	u.DurationSum += time.Duration(a.durSumUS) * time.Microsecond
	u.DurationMax = max(u.DurationMax, time.Duration(a.durMaxUS)*time.Microsecond)
}

// addRollups reads the rollup rows under spans in one range query and adds
// each to its bucket.
func (s *Store) addRollups(ctx context.Context, out []Uptime, query string, series int64, spans []span) error {
	if len(spans) == 0 {
		return nil
	}
	rows, err := s.r.QueryContext(ctx, query, series, spans[0].lo, spans[len(spans)-1].hi)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k int64
		var a agg
		if err := rows.Scan(&k, &a.runs, &a.successes, &a.durSumUS, &a.durMaxUS); err != nil {
			return err
		}
		if sp, ok := find(spans, k); ok {
			out[sp.bucket].add(a)
		}
	}
	return rows.Err()
}

// addHourRollups reads the packed days holding the hours under spans in one
// range query and adds each hour to its bucket.
func (s *Store) addHourRollups(ctx context.Context, out []Uptime, series int64, spans []span) error {
	if len(spans) == 0 {
		return nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT day, data FROM rollup_hour_packed WHERE series = ? AND day >= ? AND day < ?`,
		series, floorDiv(spans[0].lo, 24), floorDiv(spans[len(spans)-1].hi-1, 24)+1)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var d int64
		var data []byte
		if err := rows.Scan(&d, &data); err != nil {
			return err
		}
		hs, err := decodeHours(d, data)
		if err != nil {
			return fmt.Errorf("series %d: %w", series, err)
		}
		for _, h := range hs {
			if sp, ok := find(spans, h.hour); ok {
				out[sp.bucket].add(h.agg)
			}
		}
	}
	return rows.Err()
}

// addRaw reads the raw results under spans, in one query per run of spans
// less than six hours apart, and adds each to its bucket.
func (s *Store) addRaw(ctx context.Context, out []Uptime, series int64, spans []span) error {
	for i := 0; i < len(spans); {
		j := i + 1
		for j < len(spans) && spans[j].lo-spans[j-1].hi < 6*hourMs {
			j++
		}
		run := spans[i:j]
		err := eachRaw(ctx, s.r, series, run[0].lo, run[len(run)-1].hi, func(e entry) {
			if sp, ok := find(run, e.at); ok {
				out[sp.bucket].addEntry(e)
			}
		})
		if err != nil {
			return err
		}
		i = j
	}
	return nil
}
