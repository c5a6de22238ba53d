package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/probed/probed/status"
	"time"
)

// AuditEntry is one recorded action: who (a token's name, or "probed" for
// the engine), what, when, and the incident before and after.
type AuditEntry struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	IncidentID int64           `json:"incident_id,omitempty"`
	Detail     string          `json:"detail,omitempty"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	Actor      string
	IncidentID int64
	// Limit caps the answer (default 200), newest first.
	Limit int
}

// audit writes an audit entry inside the caller's transaction.
func (s *Store) audit(ctx context.Context, tx *sql.Tx, actor, action string, incidentID int64, detail string, before, after any) error {
	enc := func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case *status.Incident:
			if x == nil {
				return nil, nil
			}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	}
	b, err := enc(before)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	a, err := enc(after)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if actor == "" {
		return fmt.Errorf("audit %s: no actor", action)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at_ms, actor, action, incident_id, detail, before, after) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.clock.Now().UnixMilli(), actor, action, nullInt(incidentID), detail, b, a); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// Audit records an action that changes no incident (a login, a token made).
func (s *Store) Audit(ctx context.Context, actor, action, detail string) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.audit(ctx, tx, actor, action, 0, detail, nil, nil) })
}

// ListAudit returns audit entries, newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 200
	}
	q := `SELECT id, at_ms, actor, action, COALESCE(incident_id, 0), detail, before, after FROM audit_log WHERE 1 = 1`
	var args []any
	if f.Actor != "" {
		q += ` AND actor = ?`
		args = append(args, f.Actor)
	}
	if f.IncidentID != 0 {
		q += ` AND incident_id = ?`
		args = append(args, f.IncidentID)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		var b, a sql.NullString
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.IncidentID, &e.Detail, &b, &a); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.At = fromMS(at)
		if b.Valid {
			e.Before = json.RawMessage(b.String)
		}
		if a.Valid {
			e.After = json.RawMessage(a.String)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
