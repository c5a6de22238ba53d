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
	rows, err := s.r.QueryContext(ctx, `SELECT probe, location, component, down, slow, fails, oks, slows, since_ms, last_ms, checks FROM engine_probes ORDER BY probe, location`)
	if err != nil {
		return nil, fmt.Errorf("load probe health: %w", err)
	}
	defer rows.Close()
	var out []ProbeHealth
	for rows.Next() {
		var h ProbeHealth
		var down, slow int
		var since, last int64
		var checks string
		if err := rows.Scan(&h.Probe, &h.Location, &h.Component, &down, &slow, &h.Fails, &h.OKs, &h.Slows, &since, &last, &checks); err != nil {
			return nil, fmt.Errorf("load probe health: %w", err)
		}
		h.Down, h.Slow, h.Since, h.Last = down == 1, slow == 1, fromMS(since), fromMS(last)
		if err := json.Unmarshal([]byte(checks), &h.Checks); err != nil {
			return nil, fmt.Errorf("load probe health %s: %w", h.Probe, err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
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
