package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/probed/probed/status"
	"time"
)

// StatusInterval is one stretch of a component's public status. To is nil
// for the interval in force.
type StatusInterval struct {
	Component  string     `json:"component"`
	Status     string     `json:"status"`
	From       time.Time  `json:"from"`
	To         *time.Time `json:"to"`
	IncidentID int64      `json:"incident_id,omitempty"`
}

// publicStatus computes a component's public status from published
// incidents and running maintenances: the worst wins (status.Rank), the
// oldest incident breaks ties.
func publicStatus(ctx context.Context, q querier, component string) (string, int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT i.id, i.kind, ic.status FROM incident_components ic JOIN incidents i ON i.id = ic.incident_id
		WHERE ic.component = ? AND i.state = 'published' AND (i.kind = 'incident' OR i.status IN ('in_progress', 'verifying'))
		ORDER BY i.id`, component)
	if err != nil {
		return "", 0, fmt.Errorf("public status of %s: %w", component, err)
	}
	defer rows.Close()
	worst, by := status.Operational, int64(0)
	for rows.Next() {
		var id int64
		var kind, st string
		if err := rows.Scan(&id, &kind, &st); err != nil {
			return "", 0, fmt.Errorf("public status of %s: %w", component, err)
		}
		if kind == status.KindMaintenance {
			st = status.UnderMaintenance
		}
		if status.Rank(st) > status.Rank(worst) {
			worst, by = st, id
		}
	}
	return worst, by, rows.Err()
}

// publicStatuses reads the statuses in force (from the log) of components.
func (s *Store) publicStatuses(ctx context.Context, tx *sql.Tx, comps []string) (map[string]string, error) {
	out := map[string]string{}
	for _, c := range comps {
		var st string
		err := tx.QueryRowContext(ctx, `SELECT status FROM component_status_log WHERE component = ? AND to_ms IS NULL`, c).Scan(&st)
		if errors.Is(err, sql.ErrNoRows) {
			st = status.Operational
		} else if err != nil {
			return nil, fmt.Errorf("status of %s: %w", c, err)
		}
		out[c] = st
	}
	return out, nil
}

// affected lists the components whose public status differs from old.
func (s *Store) affected(ctx context.Context, tx *sql.Tx, comps []string, old map[string]string) ([]status.AffectedComponent, error) {
	now, err := s.publicStatuses(ctx, tx, comps)
	if err != nil {
		return nil, err
	}
	out := []status.AffectedComponent{}
	for _, c := range comps {
		out = append(out, status.AffectedComponent{ID: c, OldStatus: old[c], NewStatus: now[c]})
	}
	return out, nil
}

// refreshStatuses recomputes components' public statuses and, where one
// changed, closes its interval in component_status_log and opens the next.
func (s *Store) refreshStatuses(ctx context.Context, tx *sql.Tx, comps []string, now time.Time) error {
	ms := now.UnixMilli()
	for _, c := range comps {
		st, by, err := publicStatus(ctx, tx, c)
		if err != nil {
			return err
		}
		var id, from int64
		var cur string
		err = tx.QueryRowContext(ctx, `SELECT id, status, from_ms FROM component_status_log WHERE component = ? AND to_ms IS NULL`, c).Scan(&id, &cur, &from)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("status log of %s: %w", c, err)
		case cur == st:
			continue
		case from >= ms:
			// Changed again within the same millisecond: rewrite, never a zero-length interval.
			if _, err := tx.ExecContext(ctx, `UPDATE component_status_log SET status = ?, incident_id = ? WHERE id = ?`, st, nullInt(by), id); err != nil {
				return fmt.Errorf("status log of %s: %w", c, err)
			}
			continue
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE component_status_log SET to_ms = ? WHERE id = ?`, ms, id); err != nil {
				return fmt.Errorf("status log of %s: %w", c, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO component_status_log (component, status, from_ms, incident_id) VALUES (?, ?, ?, ?)`, c, st, ms, nullInt(by)); err != nil {
			return fmt.Errorf("status log of %s: %w", c, err)
		}
	}
	return nil
}

// EnsureComponents opens an operational interval for every component that
// has none yet, so uptime is counted from when probed first knew it.
func (s *Store) EnsureComponents(ctx context.Context, comps []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return s.refreshStatuses(ctx, tx, comps, s.clock.Now())
	})
}

// ComponentStatuses returns the public status in force of every component
// the log knows.
func (s *Store) ComponentStatuses(ctx context.Context) (map[string]StatusInterval, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT component, status, from_ms, COALESCE(incident_id, 0) FROM component_status_log WHERE to_ms IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("component statuses: %w", err)
	}
	defer rows.Close()
	out := map[string]StatusInterval{}
	for rows.Next() {
		var iv StatusInterval
		var from int64
		if err := rows.Scan(&iv.Component, &iv.Status, &from, &iv.IncidentID); err != nil {
			return nil, fmt.Errorf("component statuses: %w", err)
		}
		iv.From = fromMS(from)
		out[iv.Component] = iv
	}
	return out, rows.Err()
}

// ComponentStatusLog returns a component's public status intervals that
// overlap [from, to), oldest first. Empty component: all components.
func (s *Store) ComponentStatusLog(ctx context.Context, component string, from, to time.Time) ([]StatusInterval, error) {
	q := `SELECT component, status, from_ms, to_ms, COALESCE(incident_id, 0) FROM component_status_log
		WHERE from_ms < ? AND (to_ms IS NULL OR to_ms > ?)`
	args := []any{to.UnixMilli(), from.UnixMilli()}
	if component != "" {
		q += ` AND component = ?`
		args = append(args, component)
	}
	q += ` ORDER BY component, from_ms`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("component status log: %w", err)
	}
	defer rows.Close()
	var out []StatusInterval
	for rows.Next() {
		var iv StatusInterval
		var f int64
		var t sql.NullInt64
		if err := rows.Scan(&iv.Component, &iv.Status, &f, &t, &iv.IncidentID); err != nil {
			return nil, fmt.Errorf("component status log: %w", err)
		}
		iv.From, iv.To = fromMS(f), nullTime(t)
		out = append(out, iv)
	}
	return out, rows.Err()
}
