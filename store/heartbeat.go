package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Interval is a span of time [Start, End).
type Interval struct {
	Start, End time.Time
}

// Heartbeat records that probed is up and probing: it opens a running
// interval now, moves its last-seen time forward every `every` (default
// 15s) until ctx ends or the store closes, then closes it (a clean stop).
// After a crash the interval ends at its last-seen time, so the time
// probed was down reads as no data (Coverage), never as uptime. A failed
// write is logged and retried at the next beat: the heartbeat never stops
// the daemon. holder names whose runs these are ("" for the one process of
// a SQLite store): several holders share one PostgreSQL database, and
// each asks at its start only whether its own last run stopped cleanly.
func (s *Store) Heartbeat(ctx context.Context, holder string, every time.Duration) error {
	ctx, done, err := s.loop(ctx)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	defer done()
	if every <= 0 {
		every = 15 * time.Second
	}
	var id int64
	beat := func() {
		var err error
		if id == 0 {
			id, err = s.startRun(ctx, holder)
		} else {
			err = s.touchRun(ctx, id)
		}
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("heartbeat not recorded; retried at the next beat", "err", err)
		}
	}
	beat()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if id == 0 {
				return nil
			}
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := s.stopRun(cctx, id); err != nil {
				s.logger.Warn("clean stop not recorded: the running interval ends at its last heartbeat", "err", err)
			}
			return nil
		case <-t.C:
			beat()
		}
	}
}

// startRun opens this process's running interval and reports how the
// previous run of the same holder ended (another holder's run, running or
// crashed, is that holder's to report).
func (s *Store) startRun(ctx context.Context, holder string) (int64, error) {
	now := s.clock.Now().UnixMilli()
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var last, stopped sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT last_seen_ms, stopped_ms FROM daemon_runs WHERE holder = ? ORDER BY id DESC LIMIT 1`, holder).Scan(&last, &stopped)
		if err == nil && !stopped.Valid {
			s.logger.Warn("probed did not stop cleanly last time: no data from its last heartbeat until now",
				"holder", holder, "last_seen", time.UnixMilli(last.Int64).UTC(), "now", time.UnixMilli(now).UTC())
		}
		return tx.QueryRowContext(ctx, `INSERT INTO daemon_runs (holder, started_ms, last_seen_ms) VALUES (?, ?, ?) RETURNING id`, holder, now, now).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("start heartbeat: %w", err)
	}
	s.runID.Store(id)
	return id, nil
}

func (s *Store) touchRun(ctx context.Context, id int64) error {
	now := s.clock.Now().UnixMilli()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE daemon_runs SET last_seen_ms = CASE WHEN last_seen_ms > ? THEN last_seen_ms ELSE ? END WHERE id = ?`, now, now, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

func (s *Store) stopRun(ctx context.Context, id int64) error {
	now := s.clock.Now().UnixMilli()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE daemon_runs SET last_seen_ms = CASE WHEN last_seen_ms > ? THEN last_seen_ms ELSE ? END, stopped_ms = ? WHERE id = ?`, now, now, now, id)
		return err
	})
	s.runID.CompareAndSwap(id, 0)
	if err != nil {
		return fmt.Errorf("stop heartbeat: %w", err)
	}
	return nil
}

// Coverage returns when probed was up and probing within [from, to),
// merged and in order; the gaps between are no data. The interval of the
// running process reaches now, not just its last heartbeat.
func (s *Store) Coverage(ctx context.Context, from, to time.Time) ([]Interval, error) {
	f, t := from.UnixMilli(), to.UnixMilli()
	now := s.clock.Now().UnixMilli()
	live := s.runID.Load()
	rows, err := s.r.QueryContext(ctx, `SELECT id, started_ms, COALESCE(stopped_ms, last_seen_ms) FROM daemon_runs
		WHERE started_ms < ? ORDER BY started_ms`, t)
	if err != nil {
		return nil, fmt.Errorf("read coverage: %w", err)
	}
	defer rows.Close()
	var out []Interval
	for rows.Next() {
		var id, start, end int64
		if err := rows.Scan(&id, &start, &end); err != nil {
			return nil, fmt.Errorf("read coverage: %w", err)
		}
		if id == live {
			end = max(end, now)
		}
		start, end = max(start, f), min(end, t)
		if end <= start {
			continue
		}
		if n := len(out); n > 0 && start <= out[n-1].End.UnixMilli() {
			if end > out[n-1].End.UnixMilli() {
				out[n-1].End = time.UnixMilli(end)
			}
			continue
		}
		out = append(out, Interval{Start: time.UnixMilli(start), End: time.UnixMilli(end)})
	}
	return out, rows.Err()
}

// covered is how much of [from, to) the intervals cover.
func covered(ivs []Interval, from, to time.Time) time.Duration {
	var d time.Duration
	for _, iv := range ivs {
		s, e := maxTime(iv.Start, from), minTime(iv.End, to)
		if e.After(s) {
			d += e.Sub(s)
		}
	}
	return d
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
