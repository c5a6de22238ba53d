package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/probed/probed/probes"
)

type seriesKey struct{ probe, location string }

type queued struct {
	res   probes.Result
	flush chan struct{} // non-nil: a Flush marker, closed once everything before it is written
}

// Record queues a result for the writer. It blocks while the queue is full
// (back-pressure rather than loss) until ctx ends; it never fails the probe.
func (s *Store) Record(ctx context.Context, r probes.Result) error {
	select {
	case s.queue <- queued{res: r}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("record result: %w", ctx.Err())
	}
}

// Flush waits until every result queued before it is written (or ctx ends).
func (s *Store) Flush(ctx context.Context) error {
	ch := make(chan struct{})
	select {
	case s.queue <- queued{flush: ch}:
	case <-ctx.Done():
		return fmt.Errorf("flush: %w", ctx.Err())
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush: %w", ctx.Err())
	}
}

// writer drains the queue in batches. A failed batch is retried with backoff
// (a locked database is a wait, never a lost result or a probe failure).
func (s *Store) writer() {
	defer close(s.done)
	var batch []probes.Result
	var flushes []chan struct{}
	for {
		item, ok := <-s.queue
		if !ok {
			return
		}
		batch, flushes = s.add(batch, flushes, item)
	fill:
		for len(batch) < s.batch {
			select {
			case item, ok = <-s.queue:
				if !ok {
					s.writeWithRetry(batch)
					for _, f := range flushes {
						close(f)
					}
					return
				}
				batch, flushes = s.add(batch, flushes, item)
			default:
				break fill
			}
		}
		s.writeWithRetry(batch)
		for _, f := range flushes {
			close(f)
		}
		batch, flushes = batch[:0], flushes[:0]
	}
}

func (s *Store) add(batch []probes.Result, flushes []chan struct{}, item queued) ([]probes.Result, []chan struct{}) {
	if item.flush != nil {
		return batch, append(flushes, item.flush)
	}
	return append(batch, item.res), flushes
}

func (s *Store) writeWithRetry(batch []probes.Result) {
	if len(batch) == 0 {
		return
	}
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.writeBatch(context.Background(), batch)
		if err == nil {
			s.written.Add(float64(len(batch)))
			s.batchSizes.Observe(float64(len(batch)))
			return
		}
		s.writeErrs.Inc()
		s.logger.Error("store write failed; retrying", "results", len(batch), "attempt", attempt, "err", err)
		if attempt >= 20 {
			s.logger.Error("store write gave up; results dropped", "results", len(batch))
			return
		}
		time.Sleep(backoff) // back-off between retries of a locked or failing database, not a test wait
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Store) writeBatch(ctx context.Context, batch []probes.Result) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO results (series, at_ms, duration_us, success, failed) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("write results: %w", err)
		}
		defer ins.Close()
		for _, r := range batch {
			id, err := s.seriesID(ctx, tx, r)
			if err != nil {
				return err
			}
			var failed any
			if fc := r.FailedChecks(); len(fc) > 0 {
				b, err := json.Marshal(fc)
				if err != nil {
					return fmt.Errorf("write results: %w", err)
				}
				failed = string(b)
			}
			if _, err := ins.ExecContext(ctx, id, r.Start.UnixMilli(), r.Duration.Microseconds(), boolInt(r.Success), failed); err != nil {
				return fmt.Errorf("write results: %w", err)
			}
		}
		return nil
	})
}

func (s *Store) seriesID(ctx context.Context, tx *sql.Tx, r probes.Result) (int64, error) {
	k := seriesKey{r.Probe, r.Location}
	s.seriesMu.Lock()
	id, ok := s.series[k]
	s.seriesMu.Unlock()
	if ok {
		return id, nil
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO series (probe, location, component, kind) VALUES (?, ?, ?, ?)
		ON CONFLICT (probe, location) DO UPDATE SET component = excluded.component, kind = excluded.kind RETURNING id`,
		r.Probe, r.Location, r.Component, r.Kind).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("series %s@%s: %w", r.Probe, r.Location, err)
	}
	// Cached only after commit would be stricter; a rolled-back insert is
	// re-created under the same unique key, so the id stays valid.
	s.seriesMu.Lock()
	s.series[k] = id
	s.seriesMu.Unlock()
	return id, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Results returns a probe's stored results in [from, to), oldest first, with
// their failed checks.
func (s *Store) Results(ctx context.Context, probe string, from, to time.Time) ([]probes.Result, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT s.probe, s.kind, s.component, s.location, r.at_ms, r.duration_us, r.success, r.failed
		FROM results r JOIN series s ON s.id = r.series
		WHERE s.probe = ? AND r.at_ms >= ? AND r.at_ms < ? ORDER BY r.at_ms`, probe, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	defer rows.Close()
	var out []probes.Result
	for rows.Next() {
		var r probes.Result
		var at, dur int64
		var success int
		var failed sql.NullString
		if err := rows.Scan(&r.Probe, &r.Kind, &r.Component, &r.Location, &at, &dur, &success, &failed); err != nil {
			return nil, fmt.Errorf("read results: %w", err)
		}
		r.Start = time.UnixMilli(at)
		r.Duration = time.Duration(dur) * time.Microsecond
		r.Success = success == 1
		if failed.Valid {
			if err := json.Unmarshal([]byte(failed.String), &r.Checks); err != nil {
				return nil, fmt.Errorf("read results: failed checks: %w", err)
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
