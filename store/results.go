package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/probed/probed/probes/run"
)

type seriesKey struct{ probe, location string }

// seriesInfo is a series row as cached by the writer.
type seriesInfo struct {
	id              int64
	component, kind string
}

// queued is one item for the writer: a result, a Flush marker, or (neither)
// a nudge from PutState to write the probe states waiting.
type queued struct {
	res   run.Result
	ok    bool          // res is a result
	flush chan struct{} // non-nil: a Flush marker, closed once everything before it is written
}

// Record queues a result for the writer and returns at once. When the
// queue is full (the database has been locked for a long while) it waits
// up to Options.RecordWait, then drops the result, counted in
// probed_store_results_dropped_total. Its error is for the caller's log,
// never a probe failure.
func (s *Store) Record(ctx context.Context, r run.Result) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("record result %s: %w", r.Probe, ErrClosed)
	}
	select {
	case s.queue <- queued{res: r, ok: true}:
		return nil
	default:
	}
	t := time.NewTimer(s.recordWait)
	defer t.Stop()
	select {
	case s.queue <- queued{res: r, ok: true}:
		return nil
	case <-s.closing:
		return fmt.Errorf("record result %s: %w", r.Probe, ErrClosed)
	case <-ctx.Done():
		s.m.dropped.Inc()
		return fmt.Errorf("record result %s: queue full, result dropped: %w", r.Probe, ctx.Err())
	case <-t.C:
		s.m.dropped.Inc()
		return fmt.Errorf("record result %s: %w", r.Probe, ErrQueueFull)
	}
}

// Flush waits until every result queued before it is written (or ctx ends).
func (s *Store) Flush(ctx context.Context) error {
	ch := make(chan struct{})
	if err := s.enqueueFlush(ctx, ch); err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush: %w", ctx.Err())
	}
}

func (s *Store) enqueueFlush(ctx context.Context, ch chan struct{}) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("flush: %w", ErrClosed)
	}
	select {
	case s.queue <- queued{flush: ch}:
		return nil
	case <-s.closing:
		return fmt.Errorf("flush: %w", ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("flush: %w", ctx.Err())
	}
}

// writer drains the queue in batches until Close closes it.
func (s *Store) writer() {
	defer close(s.done)
	var batch []run.Result
	var flushes []chan struct{}
	for {
		item, ok := <-s.queue
		if !ok {
			return
		}
		batch, flushes = s.add(batch, flushes, item)
		open := true
	fill:
		for len(batch) < s.batch {
			select {
			case item, open = <-s.queue:
				if !open {
					break fill
				}
				batch, flushes = s.add(batch, flushes, item)
			default:
				break fill
			}
		}
		s.write(batch)
		for _, f := range flushes {
			close(f)
		}
		if !open {
			return
		}
		batch, flushes = batch[:0], flushes[:0]
	}
}

func (s *Store) add(batch []run.Result, flushes []chan struct{}, item queued) ([]run.Result, []chan struct{}) {
	switch {
	case item.flush != nil:
		return batch, append(flushes, item.flush)
	case item.ok:
		return append(batch, item.res), flushes
	}
	return batch, flushes // a nudge: write batches the states waiting
}

// write writes a batch and the probe states waiting, retrying with backoff
// while the failure is transient: a locked database is a wait, never a lost
// result. A result the database refuses outright is dropped alone, loudly.
// Only Close's deadline ends the retries.
func (s *Store) write(batch []run.Result) {
	if len(batch) == 0 && !s.statesWaiting() {
		return
	}
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		select {
		case <-s.abandon:
			s.drop(batch, "the store closed before they could be written", nil)
			if ws := s.takeStates(); len(ws) > 0 {
				s.logger.Error("probe states not saved: the store closed before they could be written", "states", len(ws))
			}
			return
		default:
		}
		err := s.writeBatch(context.Background(), batch)
		if err == nil {
			if len(batch) > 0 {
				s.m.written.Add(float64(len(batch)))
				s.m.batchSizes.Observe(float64(len(batch)))
			}
			return
		}
		s.m.writeErrs.Inc()
		if !s.transient(err) {
			// Probe states ride with every batch: one the database refuses
			// must not make every batch fail.
			if ws := s.takeStates(); len(ws) > 0 {
				s.statesWritten(ws)
				s.logger.Error("probe states dropped: the database refused the batch that carried them", "states", len(ws), "err", err)
				continue
			}
			if len(batch) <= 1 {
				s.drop(batch, "the database refused it", err)
				return
			}
			// Find the one the database refuses; write the others.
			for i := range batch {
				s.write(batch[i : i+1])
			}
			return
		}
		if attempt == 1 || attempt%10 == 0 {
			s.logger.Warn("store write failed; retrying", "results", len(batch), "attempt", attempt, "err", err)
		}
		select {
		case <-time.After(backoff): // back-off between retries of a locked or failing database
		case <-s.abandon:
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Store) drop(batch []run.Result, why string, err error) {
	s.lost.Add(int64(len(batch)))
	s.m.dropped.Add(float64(len(batch)))
	for _, r := range batch {
		s.logger.Error("result dropped: "+why, "probe", r.Probe, "start", r.Start, "err", err)
	}
}

// writeBatch writes results, and the probe states waiting, in one
// transaction. A result for an hour already rolled up marks that hour
// dirty, in the same transaction, so the next housekeeping pass recomputes it.
func (s *Store) writeBatch(ctx context.Context, batch []run.Result) error {
	pending := map[seriesKey]seriesInfo{}
	states := s.takeStates()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.writeStates(ctx, tx, states); err != nil {
			return err
		}
		if err := s.inboxResults(ctx, tx, s.inboxHolder, batch); err != nil {
			return err
		}
		rolled, _, err := getMeta(ctx, tx, metaRolled)
		if err != nil {
			return fmt.Errorf("write results: %w", err)
		}
		var ins *sql.Stmt
		var rows pgResults
		if s.pg {
			rows = newPGResults(len(batch))
		} else {
			ins, err = tx.PrepareContext(ctx, `INSERT INTO results (series, at_ms, duration_us, success, failed) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (series, at_ms) DO UPDATE SET duration_us = excluded.duration_us, success = excluded.success, failed = excluded.failed`)
			if err != nil {
				return fmt.Errorf("write results: %w", err)
			}
			defer ins.Close()
		}
		var late []int64
		for _, r := range batch {
			id, err := s.seriesID(ctx, tx, r, pending)
			if err != nil {
				return err
			}
			var failed any
			if fc := r.FailedChecks(); len(fc) > 0 {
				b, err := json.Marshal(fc)
				if err != nil {
					return fmt.Errorf("write result %s: %w", r.Probe, err)
				}
				failed = string(b)
			}
			at := r.Start.UnixMilli()
			if s.pg {
				rows.add(id, at, r.Duration.Microseconds(), int64(boolInt(r.Success)), failed)
			} else if _, err := ins.ExecContext(ctx, id, at, r.Duration.Microseconds(), boolInt(r.Success), failed); err != nil {
				return fmt.Errorf("write result %s: %w", r.Probe, err)
			}
			if h := floorDiv(at, hourMs); h < rolled && !slices.Contains(late, h) {
				late = append(late, h)
			}
		}
		if s.pg {
			if err := rows.write(ctx, tx); err != nil {
				return fmt.Errorf("write results: %w", err)
			}
		}
		for _, h := range late {
			if err := markDirtyHour(ctx, tx, h); err != nil {
				return fmt.Errorf("write results: %w", err)
			}
		}
		return nil
	})
	if err == nil {
		s.statesWritten(states)
		// Cached only once committed: a rolled-back series row has no id.
		s.seriesMu.Lock()
		maps.Copy(s.series, pending)
		s.seriesMu.Unlock()
	}
	return err
}

// pgResults are a batch's results for PostgreSQL, written by one
// statement over arrays (a statement a result would cost a round trip to
// the server each). A result repeated in the batch (the same series and
// start) keeps its last copy, as the statements one after the other would.
type pgResults struct {
	at                        map[[2]int64]int // (series, at_ms) → index
	series, atMs, durUS, succ []int64
	failed                    []*string
}

func newPGResults(n int) pgResults {
	return pgResults{at: make(map[[2]int64]int, n), series: make([]int64, 0, n), atMs: make([]int64, 0, n),
		durUS: make([]int64, 0, n), succ: make([]int64, 0, n), failed: make([]*string, 0, n)}
}

func (p *pgResults) add(series, at, durUS, success int64, failed any) {
	var f *string
	if s, ok := failed.(string); ok {
		f = &s
	}
	if i, ok := p.at[[2]int64{series, at}]; ok {
		p.durUS[i], p.succ[i], p.failed[i] = durUS, success, f
		return
	}
	p.at[[2]int64{series, at}] = len(p.series)
	p.series, p.atMs, p.durUS, p.succ, p.failed = append(p.series, series), append(p.atMs, at), append(p.durUS, durUS), append(p.succ, success), append(p.failed, f)
}

func (p *pgResults) write(ctx context.Context, tx *sql.Tx) error {
	if len(p.series) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO results (series, at_ms, duration_us, success, failed)
		SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[])
		ON CONFLICT (series, at_ms) DO UPDATE SET duration_us = excluded.duration_us, success = excluded.success, failed = excluded.failed`,
		p.series, p.atMs, p.durUS, p.succ, p.failed)
	return err
}

func markDirtyHour(ctx context.Context, tx *sql.Tx, h int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO dirty_hours (hour, gen) VALUES (?, 1) ON CONFLICT (hour) DO UPDATE SET gen = dirty_hours.gen + 1`, h)
	return err
}

func (s *Store) seriesID(ctx context.Context, tx *sql.Tx, r run.Result, pending map[seriesKey]seriesInfo) (int64, error) {
	k := seriesKey{r.Probe, r.Location}
	if in, ok := pending[k]; ok && in.component == r.Component && in.kind == r.Kind {
		return in.id, nil
	}
	s.seriesMu.Lock()
	in, ok := s.series[k]
	s.seriesMu.Unlock()
	if ok && in.component == r.Component && in.kind == r.Kind {
		return in.id, nil
	}
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO series (probe, location, component, kind) VALUES (?, ?, ?, ?)
		ON CONFLICT (probe, location) DO UPDATE SET component = excluded.component, kind = excluded.kind RETURNING id`,
		r.Probe, r.Location, r.Component, r.Kind).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("write series %s@%s: %w", r.Probe, r.Location, err)
	}
	pending[k] = seriesInfo{id: id, component: r.Component, kind: r.Kind}
	return id, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Series is one probe as seen from one location.
type Series struct {
	ID        int64
	Probe     string
	Location  string
	Component string
	Kind      string
}

// Series lists the stored series of probe, or of every probe when probe is "".
func (s *Store) Series(ctx context.Context, probe string) ([]Series, error) {
	q := `SELECT id, probe, location, component, kind FROM series`
	var args []any
	if probe != "" {
		q += ` WHERE probe = ?`
		args = append(args, probe)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read series: %w", err)
	}
	defer rows.Close()
	var out []Series
	for rows.Next() {
		var x Series
		if err := rows.Scan(&x.ID, &x.Probe, &x.Location, &x.Component, &x.Kind); err != nil {
			return nil, fmt.Errorf("read series: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// Results returns a probe's stored results in [from, to), oldest first, with
// their failed checks. Results older than storage.retention are gone; the
// rollups (ProbeUptime) keep their counts.
func (s *Store) Results(ctx context.Context, probe string, from, to time.Time) ([]run.Result, error) {
	series, err := s.Series(ctx, probe)
	if err != nil {
		return nil, fmt.Errorf("read results %s: %w", probe, err)
	}
	var out []run.Result
	for _, sr := range series {
		es, err := readRaw(ctx, s.r, sr.ID, from.UnixMilli(), to.UnixMilli())
		if err != nil {
			return nil, fmt.Errorf("read results %s: %w", probe, err)
		}
		for _, e := range es {
			r := run.Result{Probe: sr.Probe, Kind: sr.Kind, Component: sr.Component, Location: sr.Location,
				Start: time.UnixMilli(e.at), Duration: time.Duration(e.durUS) * time.Microsecond, Success: e.ok}
			if e.failed != "" {
				if err := json.Unmarshal([]byte(e.failed), &r.Checks); err != nil {
					return nil, fmt.Errorf("read results %s: failed checks at %s: %w", probe, r.Start, err)
				}
			}
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b run.Result) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Location, b.Location)
	})
	return out, nil
}

// readRaw returns one series' raw results in [from, to) ms, per-row and
// packed, sorted by start.
func readRaw(ctx context.Context, q querier, series, from, to int64) ([]entry, error) {
	if from >= to {
		return nil, nil
	}
	single, err := readSingles(ctx, q, series, from, to)
	if err != nil {
		return nil, err
	}
	packed, err := readPacked(ctx, q, series, floorDiv(from, hourMs), floorDiv(to-1, hourMs)+1)
	if err != nil {
		return nil, err
	}
	packed = slices.DeleteFunc(packed, func(e entry) bool { return e.at < from || e.at >= to })
	return mergeEntries(packed, single), nil
}

// eachRaw calls f on each of one series' raw results in [from, to) ms, as
// readRaw returns them but in no particular order, without gathering them:
// what an uptime query over days of raw results wants.
func eachRaw(ctx context.Context, q querier, series, from, to int64, f func(entry)) error {
	if from >= to {
		return nil
	}
	single, err := readSingles(ctx, q, series, from, to)
	if err != nil {
		return err
	}
	// A per-row result replaces a packed one of the same start.
	replaced := make(map[int64]bool, len(single))
	for _, e := range single {
		replaced[e.at] = true
		f(e)
	}
	rows, err := q.QueryContext(ctx, `SELECT hour, data FROM results_packed WHERE series = ? AND hour >= ? AND hour < ?`,
		series, floorDiv(from, hourMs), floorDiv(to-1, hourMs)+1)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var h int64
		var data sql.RawBytes // read before the next row: no copy
		if err := rows.Scan(&h, &data); err != nil {
			return err
		}
		err := walkPacked(h*hourMs, data, func(e entry) {
			if e.at >= from && e.at < to && !replaced[e.at] {
				f(e)
			}
		})
		if err != nil {
			return fmt.Errorf("series %d hour %d: %w", series, h, err)
		}
	}
	return rows.Err()
}

// readSingles returns one series' per-row results in [from, to) ms, sorted.
func readSingles(ctx context.Context, q querier, series, from, to int64) ([]entry, error) {
	rows, err := q.QueryContext(ctx, `SELECT at_ms, duration_us, success, failed FROM results WHERE series = ? AND at_ms >= ? AND at_ms < ? ORDER BY at_ms`, series, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var single []entry
	for rows.Next() {
		var e entry
		var failed sql.NullString
		if err := rows.Scan(&e.at, &e.durUS, &e.ok, &failed); err != nil {
			return nil, err
		}
		e.failed = failed.String
		single = append(single, e)
	}
	return single, rows.Err()
}

// readPacked decodes one series' packed hours in [fromHour, toHour).
func readPacked(ctx context.Context, q querier, series, fromHour, toHour int64) ([]entry, error) {
	rows, err := q.QueryContext(ctx, `SELECT hour, data FROM results_packed WHERE series = ? AND hour >= ? AND hour < ? ORDER BY hour`, series, fromHour, toHour)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []entry
	for rows.Next() {
		var h int64
		var data sql.RawBytes // read before the next row: no copy
		if err := rows.Scan(&h, &data); err != nil {
			return nil, err
		}
		if out == nil {
			// A result packs into 5-6 bytes; as many for each hour asked for.
			out = make([]entry, 0, min(len(data)/5*int(toHour-fromHour), 1<<16))
		}
		if out, err = appendPacked(out, h*hourMs, data); err != nil {
			return nil, fmt.Errorf("series %d hour %d: %w", series, h, err)
		}
	}
	return out, rows.Err()
}

// Meta keys (table store_meta).
const (
	metaRolled       = "rolled_before_hour"
	metaPrunedRaw    = "pruned_results_hour"
	metaPrunedHourly = "pruned_rollup_hour_packed" // a day: rollup_hour_packed holds a day a row
	metaPrunedDaily  = "pruned_rollup_day"
)

func getMeta(ctx context.Context, q querier, key string) (int64, bool, error) {
	var v int64
	err := q.QueryRowContext(ctx, `SELECT value FROM store_meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", key, err)
	}
	return v, true, nil
}

func setMeta(ctx context.Context, tx *sql.Tx, key string, v int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, v); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}
