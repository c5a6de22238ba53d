package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/probed/probed/probes/run"
)

// ProbeHealth is the incident engine's memory of one probe at one location.
type ProbeHealth struct {
	Probe     string
	Location  string
	Component string
	Down      bool
	Slow      bool
	Fails     int // consecutive failed runs (capped)
	OKs       int // consecutive successful runs (capped)
	Slows     int // consecutive successful runs slower than the latency objective (capped)
	Since     time.Time
	Last      time.Time
	Checks    []run.Check // failed checks of the last failed run
}

// SaveProbeHealth writes a probe's health.
func (s *Store) SaveProbeHealth(ctx context.Context, h ProbeHealth) error {
	return s.SaveProbeHealths(ctx, []ProbeHealth{h})
}

// SaveProbeHealths writes several probes' health in one transaction: all
// or none.
func (s *Store) SaveProbeHealths(ctx context.Context, hs []ProbeHealth) error {
	checks := make([]string, len(hs))
	for i, h := range hs {
		b, err := json.Marshal(h.Checks)
		if err != nil {
			return fmt.Errorf("save probe health %s@%s: %w", h.Probe, h.Location, err)
		}
		checks[i] = string(b)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		for i, h := range hs {
			_, err := tx.ExecContext(ctx, `INSERT INTO engine_probes (probe, location, component, down, slow, fails, oks, slows, since_ms, last_ms, checks)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (probe, location) DO UPDATE SET component = excluded.component, down = excluded.down, slow = excluded.slow,
			  fails = excluded.fails, oks = excluded.oks, slows = excluded.slows, since_ms = excluded.since_ms, last_ms = excluded.last_ms, checks = excluded.checks`,
				h.Probe, h.Location, h.Component, boolInt(h.Down), boolInt(h.Slow), h.Fails, h.OKs, h.Slows, h.Since.UnixMilli(), h.Last.UnixMilli(), checks[i])
			if err != nil {
				return fmt.Errorf("save probe health %s@%s: %w", h.Probe, h.Location, err)
			}
		}
		return nil
	})
}

// LoadProbeHealth returns every probe's saved health.
func (s *Store) LoadProbeHealth(ctx context.Context) ([]ProbeHealth, error) {
	hs, _, err := s.probeHealthSince(ctx, -1)
	return hs, err
}

// probeHealthSince returns the health of the probes whose row was stamped
// after version since (PostgreSQL), or of every probe when since < 0, and
// the highest version among them (0 on SQLite, which stamps nothing).
func (s *Store) probeHealthSince(ctx context.Context, since int64) ([]ProbeHealth, int64, error) {
	q := `SELECT probe, location, component, down, slow, fails, oks, slows, since_ms, last_ms, checks, 0 FROM engine_probes ORDER BY probe, location`
	var args []any
	switch {
	case s.pg && since < 0:
		q = `SELECT probe, location, component, down, slow, fails, oks, slows, since_ms, last_ms, checks, version FROM engine_probes ORDER BY probe, location`
	case s.pg:
		q = `SELECT probe, location, component, down, slow, fails, oks, slows, since_ms, last_ms, checks, version FROM engine_probes WHERE version > ? ORDER BY version`
		args = append(args, since)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("load probe health: %w", err)
	}
	defer rows.Close()
	var out []ProbeHealth
	top := max(since, 0)
	for rows.Next() {
		var h ProbeHealth
		var down, slow int
		var since, last, version int64
		var checks string
		if err := rows.Scan(&h.Probe, &h.Location, &h.Component, &down, &slow, &h.Fails, &h.OKs, &h.Slows, &since, &last, &checks, &version); err != nil {
			return nil, 0, fmt.Errorf("load probe health: %w", err)
		}
		h.Down, h.Slow, h.Since, h.Last = down == 1, slow == 1, fromMS(since), fromMS(last)
		if err := json.Unmarshal([]byte(checks), &h.Checks); err != nil {
			return nil, 0, fmt.Errorf("load probe health %s: %w", h.Probe, err)
		}
		out = append(out, h)
		top = max(top, version)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("load probe health: %w", err)
	}
	return out, top, nil
}

// DeleteProbeHealth forgets a probe no longer configured.
func (s *Store) DeleteProbeHealth(ctx context.Context, probe string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM engine_probes WHERE probe = ?`, probe); err != nil {
			return fmt.Errorf("delete probe health %s: %w", probe, err)
		}
		return nil
	})
}

// ComponentHealth is the status the engine computes for a component.
type ComponentHealth struct {
	Component string
	Status    string
	Since     time.Time
}

// SaveComponentHealth writes a component's computed status.
func (s *Store) SaveComponentHealth(ctx context.Context, h ComponentHealth) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO engine_components (component, status, since_ms) VALUES (?, ?, ?)
			ON CONFLICT (component) DO UPDATE SET status = excluded.status, since_ms = excluded.since_ms`, h.Component, h.Status, h.Since.UnixMilli())
		if err != nil {
			return fmt.Errorf("save component health %s: %w", h.Component, err)
		}
		return nil
	})
}

// LoadComponentHealth returns every component's saved computed status.
func (s *Store) LoadComponentHealth(ctx context.Context) (map[string]ComponentHealth, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT component, status, since_ms FROM engine_components`)
	if err != nil {
		return nil, fmt.Errorf("load component health: %w", err)
	}
	defer rows.Close()
	out := map[string]ComponentHealth{}
	for rows.Next() {
		var h ComponentHealth
		var since int64
		if err := rows.Scan(&h.Component, &h.Status, &since); err != nil {
			return nil, fmt.Errorf("load component health: %w", err)
		}
		h.Since = fromMS(since)
		out[h.Component] = h
	}
	return out, rows.Err()
}

// Alert is an Alertmanager alert as received.
type Alert struct {
	Fingerprint string            `json:"fingerprint"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      *time.Time        `json:"ends_at,omitempty"`
	Component   string            `json:"component"`
	Alertname   string            `json:"alertname"`
	Status      string            `json:"status"`           // firing | resolved
	CompStatus  string            `json:"component_status"` // the component status it stands for
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	ReceivedAt  time.Time         `json:"received_at"`
}

// RecordAlert stores an alert keyed on fingerprint + startsAt and reports
// whether anything changed: a retried delivery, a repeated firing alert or
// a late firing after its resolution change nothing.
func (s *Store) RecordAlert(ctx context.Context, a Alert) (bool, error) {
	if a.Fingerprint == "" || a.StartsAt.IsZero() {
		return false, fmt.Errorf("record alert: fingerprint and startsAt are required: %w", ErrInvalid)
	}
	labels, err := json.Marshal(a.Labels)
	if err != nil {
		return false, fmt.Errorf("record alert: %w", err)
	}
	ann, err := json.Marshal(a.Annotations)
	if err != nil {
		return false, fmt.Errorf("record alert: %w", err)
	}
	var ends any
	if a.EndsAt != nil {
		ends = a.EndsAt.UnixMilli()
	}
	changed := false
	err = s.tx(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now().UnixMilli()
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM alerts WHERE fingerprint = ? AND starts_ms = ?`, a.Fingerprint, a.StartsAt.UnixMilli()).Scan(&status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO alerts (fingerprint, starts_ms, component, alertname, status, comp_status, labels, annotations, ends_ms, received_ms, updated_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Fingerprint, a.StartsAt.UnixMilli(), a.Component, a.Alertname, a.Status, a.CompStatus,
				string(labels), string(ann), ends, now, now)
			changed = err == nil
		case err != nil:
		case status == "firing" && a.Status == "resolved":
			_, err = tx.ExecContext(ctx, `UPDATE alerts SET status = 'resolved', ends_ms = ?, annotations = ?, updated_ms = ? WHERE fingerprint = ? AND starts_ms = ?`,
				ends, string(ann), now, a.Fingerprint, a.StartsAt.UnixMilli())
			changed = err == nil
		}
		if err != nil {
			return fmt.Errorf("record alert %s: %w", a.Fingerprint, err)
		}
		return nil
	})
	return changed, err
}

// FiringAlerts returns the alerts firing now, oldest first.
func (s *Store) FiringAlerts(ctx context.Context) ([]Alert, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT fingerprint, starts_ms, component, alertname, status, comp_status, labels, annotations, received_ms
		FROM alerts WHERE status = 'firing' ORDER BY starts_ms`)
	if err != nil {
		return nil, fmt.Errorf("firing alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		var starts, recv int64
		var labels, ann string
		if err := rows.Scan(&a.Fingerprint, &starts, &a.Component, &a.Alertname, &a.Status, &a.CompStatus, &labels, &ann, &recv); err != nil {
			return nil, fmt.Errorf("firing alerts: %w", err)
		}
		a.StartsAt, a.ReceivedAt = fromMS(starts), fromMS(recv)
		if err := json.Unmarshal([]byte(labels), &a.Labels); err != nil {
			return nil, fmt.Errorf("firing alerts: %w", err)
		}
		if err := json.Unmarshal([]byte(ann), &a.Annotations); err != nil {
			return nil, fmt.Errorf("firing alerts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// EngineMark is how far a view of the engine's saved state has read
// (LoadEngineView). The zero mark has read nothing.
type EngineMark struct {
	read   bool             // a whole view was read
	probes int64            // the highest engine_probes.version read
	kinds  map[string]int64 // store_change_kinds' versions, as read
}

// The kinds of change (store_change_kinds, migration 0077) an engine view
// is built from: the components' statuses, the firing alerts, and the
// deletions of probe health (its writes are stamped per row instead).
var engineKinds = []string{"engine_components", "alerts", "engine_probes"}

// EngineView is the engine's saved state (probe health, component
// statuses, firing alerts), whole or what changed since a mark.
type EngineView struct {
	// Full tells Probes holds every probe's health: the mark had read
	// nothing, some probe's health was deleted since, or the store is
	// SQLite. Otherwise Probes holds only the probes whose health was
	// written since the mark.
	Full   bool
	Probes []ProbeHealth
	// Components holds every component's status, or is nil when none
	// changed since the mark.
	Components map[string]ComponentHealth
	// Alerts holds the alerts firing now when AlertsRead; when the alerts
	// did not change since the mark they are not read.
	Alerts     []Alert
	AlertsRead bool
	// Mark is how far this view has read: the next call's since.
	Mark EngineMark
	// Rows is how many rows the view read.
	Rows int
}

// LoadEngineView reads the engine's saved state: whole for the zero mark,
// else only the kinds that changed since it (PostgreSQL, migration 0077).
// A follower calls it at every change it hears of, so that with 10,000
// probes it reads the few rows that changed rather than all of them. On
// SQLite, where one process holds the file and never follows, it reads
// everything every time.
func (s *Store) LoadEngineView(ctx context.Context, since EngineMark) (EngineView, error) {
	v := EngineView{Mark: EngineMark{read: true, probes: since.probes, kinds: map[string]int64{}}}
	if s.pg {
		// The counters first: whatever they do not count yet is read
		// again at the next call, never missed.
		q := `SELECT kind, version FROM store_change_kinds WHERE kind IN (?, ?, ?)`
		rows, err := s.r.QueryContext(ctx, q, engineKinds[0], engineKinds[1], engineKinds[2])
		if err != nil {
			return EngineView{}, fmt.Errorf("load the engine's view: read the change counters: %w", err)
		}
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return EngineView{}, fmt.Errorf("load the engine's view: read the change counters: %w", err)
			}
			v.Mark.kinds[k] = n
			v.Rows++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return EngineView{}, fmt.Errorf("load the engine's view: read the change counters: %w", err)
		}
	}
	moved := func(kind string) bool {
		return !since.read || !s.pg || v.Mark.kinds[kind] != since.kinds[kind]
	}
	v.Full = moved("engine_probes")
	from := since.probes
	if v.Full {
		from = -1
	}
	var err error
	if v.Probes, v.Mark.probes, err = s.probeHealthSince(ctx, from); err != nil {
		return EngineView{}, err
	}
	v.Rows += len(v.Probes)
	if moved("engine_components") {
		if v.Components, err = s.LoadComponentHealth(ctx); err != nil {
			return EngineView{}, err
		}
		v.Rows += len(v.Components)
	}
	if moved("alerts") {
		if v.Alerts, err = s.FiringAlerts(ctx); err != nil {
			return EngineView{}, err
		}
		v.AlertsRead = true
		v.Rows += len(v.Alerts)
	}
	return v, nil
}
