package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

const (
	// rollupGrace leaves a just-closed hour alone for runs still finishing;
	// a result that lands later still marks its hour dirty.
	rollupGrace = 2 * time.Minute
	// seriesChunk bounds the series one housekeeping transaction touches, so
	// that the writer never waits long behind the housekeeping.
	seriesChunk = 64
)

// HousekeepingReport says what one housekeeping pass did.
type HousekeepingReport struct {
	HoursRolledUp int              // hours packed and summarised (including recomputed ones)
	DaysRolledUp  int              // days summarised from their hours
	Deleted       map[string]int64 // rows deleted by retention, by table
}

// Housekeep runs a housekeeping pass at once and then every `every` (default
// 5 minutes) until ctx ends or the store closes. A failed pass is logged and
// counted; the next one starts where it stopped.
func (s *Store) Housekeep(ctx context.Context, every time.Duration) error {
	ctx, done, err := s.loop(ctx)
	if err != nil {
		return fmt.Errorf("housekeep store: %w", err)
	}
	defer done()
	if every <= 0 {
		every = 5 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if rep, err := s.RunHousekeeping(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.logger.Error("store housekeeping failed; the next pass resumes it", "err", err)
		} else if rep.HoursRolledUp > 0 || len(rep.Deleted) > 0 {
			s.logger.Debug("store housekeeping", "hours", rep.HoursRolledUp, "days", rep.DaysRolledUp, "deleted", rep.Deleted)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunHousekeeping runs one housekeeping pass at the store's clock's time: it
// packs and rolls up every closed hour not rolled up yet or changed since
// (recomputing, never adding, so a repeated pass changes nothing), rolls up
// closed days, and deletes what retention says has expired — each step in
// transactions over at most 64 series.
func (s *Store) RunHousekeeping(ctx context.Context) (HousekeepingReport, error) {
	s.hkMu.Lock()
	defer s.hkMu.Unlock()
	ctx = long(ctx) // a pass after a long outage rolls up many hours; the leader's lease bounds it
	start := time.Now()
	rep := HousekeepingReport{Deleted: map[string]int64{}}
	err := s.housekeep(ctx, &rep)
	s.m.hkDuration.Observe(time.Since(start).Seconds())
	s.m.hoursRolled.Add(float64(rep.HoursRolledUp))
	s.m.daysRolled.Add(float64(rep.DaysRolledUp))
	for t, n := range rep.Deleted {
		s.m.deleted.WithLabelValues(t).Add(float64(n))
	}
	if err != nil {
		s.m.hkRuns.WithLabelValues("failure").Inc()
		return rep, fmt.Errorf("store housekeeping: %w", err)
	}
	s.m.hkRuns.WithLabelValues("success").Inc()
	s.m.hkLast.Set(float64(s.clock.Now().UnixMilli()) / 1000)
	return rep, nil
}

func (s *Store) housekeep(ctx context.Context, rep *HousekeepingReport) error {
	now := s.clock.Now().UnixMilli()
	ids, err := s.seriesIDs(ctx)
	if err != nil {
		return err
	}
	rolled, err := s.markClosedHours(ctx, ids, floorDiv(now-rollupGrace.Milliseconds(), hourMs))
	if err != nil {
		return err
	}
	if err := s.rollupHours(ctx, ids, rep); err != nil {
		return err
	}
	if err := s.rollupDays(ctx, ids, rolled, rep); err != nil {
		return err
	}
	retention := time.Duration(s.retention.Load()).Milliseconds()
	rollupRetention := time.Duration(s.rollupRetention.Load()).Milliseconds()
	// An hour's raw results go once the whole hour is older than the
	// retention, and never before they are rolled up.
	rawCutoff := min(floorDiv(now-retention, hourMs), rolled)
	err = s.prune(ctx, ids, metaPrunedRaw, rawCutoff, 6, rep, []pruneTable{
		{"results", `DELETE FROM results WHERE series = ? AND at_ms < ?`, hourMs, `SELECT min(at_ms) FROM results WHERE series = ?`},
		{"results_packed", `DELETE FROM results_packed WHERE series = ? AND hour < ?`, 1, `SELECT min(hour) FROM results_packed WHERE series = ?`},
	})
	if err != nil {
		return err
	}
	// Hourly rollups are packed a day a row: a day's go once its last hour
	// is older than the rollup retention.
	err = s.prune(ctx, ids, metaPrunedHourly, floorDiv(floorDiv(now-rollupRetention, hourMs), 24), 7, rep, []pruneTable{
		{"rollup_hour_packed", `DELETE FROM rollup_hour_packed WHERE series = ? AND day < ?`, 1, `SELECT min(day) FROM rollup_hour_packed WHERE series = ?`},
	})
	if err != nil {
		return err
	}
	err = s.prune(ctx, ids, metaPrunedDaily, floorDiv(now-rollupRetention, dayMs), 30, rep, []pruneTable{
		{"rollup_day", `DELETE FROM rollup_day WHERE series = ? AND day < ?`, 1, `SELECT min(day) FROM rollup_day WHERE series = ?`},
	})
	if err != nil {
		return err
	}
	// What the on-call operator's webhooks were told is kept as long as
	// the raw results it came from, once every delivery of it is done.
	if err := s.pruneOperatorEvents(ctx, now-retention, rep); err != nil {
		return err
	}
	// So is what subscribers were told, and the confirmation mails.
	return s.pruneOutbox(ctx, now-retention, rep)
}

func (s *Store) seriesIDs(ctx context.Context) ([]int64, error) {
	ids, err := queryIDs(ctx, s.w, `SELECT id FROM series ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read series: %w", err)
	}
	return ids, nil
}

// markClosedHours marks for rollup every hour before closedBefore that has
// results and was not marked yet, and moves the watermark to closedBefore:
// from then on the writer marks an hour it writes into itself. It returns
// the watermark.
func (s *Store) markClosedHours(ctx context.Context, ids []int64, closedBefore int64) (int64, error) {
	var rolled int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, ok, err := getMeta(ctx, tx, metaRolled)
		if err != nil {
			return err
		}
		if !ok {
			r = closedBefore
			var first sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT min(at_ms) FROM results`).Scan(&first); err != nil {
				return fmt.Errorf("mark closed hours: %w", err)
			}
			if first.Valid {
				r = min(r, floorDiv(first.Int64, hourMs))
			}
		}
		rolled = max(r, closedBefore)
		if r < closedBefore {
			sel, err := tx.PrepareContext(ctx, `SELECT DISTINCT at_ms / 3600000 FROM results WHERE series = ? AND at_ms >= ? AND at_ms < ?`)
			if err != nil {
				return fmt.Errorf("mark closed hours: %w", err)
			}
			defer sel.Close()
			hours := map[int64]bool{}
			for _, id := range ids {
				rows, err := sel.QueryContext(ctx, id, r*hourMs, closedBefore*hourMs)
				if err != nil {
					return fmt.Errorf("mark closed hours: %w", err)
				}
				for rows.Next() {
					var h int64
					if err := rows.Scan(&h); err != nil {
						rows.Close()
						return fmt.Errorf("mark closed hours: %w", err)
					}
					hours[h] = true
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return fmt.Errorf("mark closed hours: %w", err)
				}
			}
			for h := range hours {
				if err := markDirtyHour(ctx, tx, h); err != nil {
					return fmt.Errorf("mark closed hours: %w", err)
				}
			}
		}
		return setMeta(ctx, tx, metaRolled, rolled)
	})
	return rolled, err
}

// rollupHours consolidates every dirty hour: packs its results, recomputes
// its hourly rollups, and marks its day.
func (s *Store) rollupHours(ctx context.Context, ids []int64, rep *HousekeepingReport) error {
	type mark struct{ hour, gen int64 }
	var marks []mark
	rows, err := s.w.QueryContext(ctx, `SELECT hour, gen FROM dirty_hours ORDER BY hour`)
	if err != nil {
		return fmt.Errorf("read dirty hours: %w", err)
	}
	for rows.Next() {
		var m mark
		if err := rows.Scan(&m.hour, &m.gen); err != nil {
			rows.Close()
			return fmt.Errorf("read dirty hours: %w", err)
		}
		marks = append(marks, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read dirty hours: %w", err)
	}
	pruned, _, err := getMeta(ctx, s.w, metaPrunedRaw)
	if err != nil {
		return err
	}
	for _, m := range marks {
		// An hour whose raw results retention has deleted keeps its rollup:
		// recomputing it from a late straggler would lose the rest.
		live := m.hour >= pruned
		if live {
			for c := range slices.Chunk(ids, seriesChunk) {
				if err := s.tx(ctx, func(tx *sql.Tx) error { return consolidateHour(ctx, tx, c, m.hour) }); err != nil {
					return fmt.Errorf("roll up hour %s: %w", time.UnixMilli(m.hour*hourMs).UTC().Format(time.RFC3339), err)
				}
			}
		}
		err := s.tx(ctx, func(tx *sql.Tx) error {
			// Only the mark acted on: a result written meanwhile moved gen on.
			if _, err := tx.ExecContext(ctx, `DELETE FROM dirty_hours WHERE hour = ? AND gen = ?`, m.hour, m.gen); err != nil {
				return err
			}
			if !live {
				return nil
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO dirty_days (day) VALUES (?) ON CONFLICT DO NOTHING`, floorDiv(m.hour, 24))
			return err
		})
		if err != nil {
			return fmt.Errorf("clear dirty hour: %w", err)
		}
		if live {
			rep.HoursRolledUp++
		}
	}
	return nil
}

// consolidateHour recomputes hour h of the given series from their raw
// results: the results without failed checks go into the packed row, and
// the hourly rollup is replaced by what all of them add up to.
func consolidateHour(ctx context.Context, tx *sql.Tx, ids []int64, h int64) error {
	from, to := h*hourMs, (h+1)*hourMs
	for _, id := range ids {
		single, err := scanEntries(ctx, tx, `SELECT at_ms, duration_us, success, failed FROM results WHERE series = ? AND at_ms >= ? AND at_ms < ?`, id, from, to)
		if err != nil {
			return err
		}
		var data []byte
		err = tx.QueryRowContext(ctx, `SELECT data FROM results_packed WHERE series = ? AND hour = ?`, id, h).Scan(&data)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var packed []entry
		if data != nil {
			if packed, err = decodePacked(from, data); err != nil {
				return fmt.Errorf("series %d: %w", id, err)
			}
		}
		if len(single) == 0 && len(packed) == 0 {
			continue
		}
		all := mergeEntries(packed, single)
		var a agg
		var packable []entry
		for _, e := range all {
			a.add(e)
			if e.failed == "" {
				packable = append(packable, e)
			}
		}
		newPackable := slices.ContainsFunc(single, func(e entry) bool { return e.failed == "" })
		switch {
		case len(packable) == 0 && data != nil:
			if _, err := tx.ExecContext(ctx, `DELETE FROM results_packed WHERE series = ? AND hour = ?`, id, h); err != nil {
				return err
			}
		case newPackable || len(packable) != len(packed):
			if _, err := tx.ExecContext(ctx, `INSERT INTO results_packed (series, hour, data) VALUES (?, ?, ?)
				ON CONFLICT (series, hour) DO UPDATE SET data = excluded.data`, id, h, encodePacked(from, packable)); err != nil {
				return err
			}
		}
		if newPackable {
			if _, err := tx.ExecContext(ctx, `DELETE FROM results WHERE series = ? AND at_ms >= ? AND at_ms < ? AND failed IS NULL`, id, from, to); err != nil {
				return err
			}
		}
		if err := putHourRollup(ctx, tx, id, h, a); err != nil {
			return err
		}
	}
	return nil
}

// putHourRollup replaces one hourly rollup inside its day's packed row.
func putHourRollup(ctx context.Context, tx *sql.Tx, series, h int64, a agg) error {
	d := floorDiv(h, 24)
	hs, err := readHourRollups(ctx, tx, series, d)
	if err != nil {
		return err
	}
	i, found := slices.BinarySearchFunc(hs, h, func(x hourAgg, h int64) int { return cmp.Compare(x.hour, h) })
	if found {
		hs[i].agg = a
	} else {
		hs = slices.Insert(hs, i, hourAgg{hour: h, agg: a})
	}
	return putHourRollups(ctx, tx, series, d, hs)
}

// readHourRollups returns the hourly rollups of one series and day.
func readHourRollups(ctx context.Context, q querier, series, d int64) ([]hourAgg, error) {
	var data []byte
	err := q.QueryRowContext(ctx, `SELECT data FROM rollup_hour_packed WHERE series = ? AND day = ?`, series, d).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	hs, err := decodeHours(d, data)
	if err != nil {
		return nil, fmt.Errorf("series %d: %w", series, err)
	}
	return hs, nil
}

// putHourRollups replaces the packed hourly rollups of one series and day.
func putHourRollups(ctx context.Context, tx *sql.Tx, series, d int64, hs []hourAgg) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO rollup_hour_packed (series, day, data) VALUES (?, ?, ?)
		ON CONFLICT (series, day) DO UPDATE SET data = excluded.data`, series, d, encodeHours(d, hs))
	return err
}

func scanEntries(ctx context.Context, q querier, query string, args ...any) ([]entry, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []entry
	for rows.Next() {
		var e entry
		var failed sql.NullString
		if err := rows.Scan(&e.at, &e.durUS, &e.ok, &failed); err != nil {
			return nil, err
		}
		e.failed = failed.String
		out = append(out, e)
	}
	return out, rows.Err()
}

// rollupDays recomputes the daily rollup of every marked day that is closed
// (all its hours before the watermark) from its hourly rollups.
func (s *Store) rollupDays(ctx context.Context, ids []int64, rolled int64, rep *HousekeepingReport) error {
	var days []int64
	rows, err := s.w.QueryContext(ctx, `SELECT day FROM dirty_days WHERE day * 24 + 24 <= ? ORDER BY day`, rolled)
	if err != nil {
		return fmt.Errorf("read dirty days: %w", err)
	}
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return fmt.Errorf("read dirty days: %w", err)
		}
		days = append(days, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read dirty days: %w", err)
	}
	for _, d := range days {
		for c := range slices.Chunk(ids, seriesChunk) {
			if err := s.tx(ctx, func(tx *sql.Tx) error { return consolidateDay(ctx, tx, c, d) }); err != nil {
				return fmt.Errorf("roll up day %s: %w", time.UnixMilli(d*dayMs).UTC().Format(time.DateOnly), err)
			}
		}
		if err := s.tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM dirty_days WHERE day = ?`, d)
			return err
		}); err != nil {
			return fmt.Errorf("clear dirty day: %w", err)
		}
		rep.DaysRolledUp++
	}
	return nil
}

func consolidateDay(ctx context.Context, tx *sql.Tx, ids []int64, d int64) error {
	for _, id := range ids {
		hs, err := readHourRollups(ctx, tx, id, d)
		if err != nil {
			return err
		}
		if len(hs) == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM rollup_day WHERE series = ? AND day = ?`, id, d); err != nil {
				return err
			}
			continue
		}
		var a agg
		for _, h := range hs {
			a.merge(h.agg)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO rollup_day (series, day, runs, successes, duration_sum_us, duration_max_us) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (series, day) DO UPDATE SET runs = excluded.runs, successes = excluded.successes,
			duration_sum_us = excluded.duration_sum_us, duration_max_us = excluded.duration_max_us`,
			id, d, a.runs, a.successes, a.durSumUS, a.durMaxUS); err != nil {
			return err
		}
	}
	return nil
}

// pruneTable is one table retention deletes from: del takes a series id and
// a bound (the cutoff times scale); first finds a series' oldest row.
type pruneTable struct {
	name  string
	del   string
	scale int64
	first string
}

// prune deletes, per series, the rows of tables before cutoff (in the
// tables' common unit: hours or days), stepping from the last cutoff by at
// most step units and 64 series per transaction, so no transaction grows
// with the backlog.
func (s *Store) prune(ctx context.Context, ids []int64, key string, cutoff, step int64, rep *HousekeepingReport, tables []pruneTable) error {
	from, ok, err := getMeta(ctx, s.w, key)
	if err != nil {
		return err
	}
	if ok && from >= cutoff {
		return nil
	}
	if !ok {
		from = cutoff
		for _, t := range tables {
			for _, id := range ids {
				var first sql.NullInt64
				if err := s.w.QueryRowContext(ctx, t.first, id).Scan(&first); err != nil {
					return fmt.Errorf("prune %s: %w", t.name, err)
				}
				if first.Valid {
					from = min(from, floorDiv(first.Int64, t.scale))
				}
			}
		}
	}
	for lo := from; ; {
		hi := min(lo+step, cutoff)
		chunks := slices.Collect(slices.Chunk(ids, seriesChunk))
		if len(chunks) == 0 {
			chunks = [][]int64{nil}
		}
		for i, c := range chunks {
			err := s.tx(ctx, func(tx *sql.Tx) error {
				for _, t := range tables {
					for _, id := range c {
						res, err := tx.ExecContext(ctx, t.del, id, hi*t.scale)
						if err != nil {
							return fmt.Errorf("prune %s: %w", t.name, err)
						}
						n, _ := res.RowsAffected()
						if n > 0 {
							rep.Deleted[t.name] += n
						}
					}
				}
				if i == len(chunks)-1 {
					return setMeta(ctx, tx, key, hi)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if hi >= cutoff {
			return nil
		}
		lo = hi
	}
}
