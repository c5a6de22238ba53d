package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Event kinds: what a subscriber can be told.
const (
	EventIncidentPublished    = "incident_published"
	EventIncidentUpdated      = "incident_updated"
	EventIncidentResolved     = "incident_resolved"
	EventMaintenanceScheduled = "maintenance_scheduled"
	EventMaintenanceStarted   = "maintenance_started"
	EventMaintenanceCompleted = "maintenance_completed"
	// EventMaintenanceReminder: a scheduled window starts within
	// notify.maintenance_reminder (one per window, see RemindMaintenances).
	EventMaintenanceReminder = "maintenance_reminder"
	// EventPostmortemPublished: a resolved incident's postmortem was
	// published (or republished) and the operator chose to tell
	// subscribers (PublishPostmortem with notify).
	EventPostmortemPublished = "postmortem_published"
)

// Event is one notifiable change, written in the same transaction as the
// change itself (see migrations/0030_events.sql).
type Event struct {
	ID         int64     `json:"id"`
	Kind       string    `json:"kind"`
	IncidentID int64     `json:"incident_id"`
	UpdateID   int64     `json:"update_id"`
	Components []string  `json:"components"`
	CreatedAt  time.Time `json:"created_at"`
	FannedOut  bool      `json:"fanned_out"`
}

// insertEvent writes an event inside the caller's transaction. Store methods
// that change incidents or maintenance call it; nothing else may.
func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, e Event) (int64, error) {
	comps, err := json.Marshal(e.Components)
	if err != nil {
		return 0, fmt.Errorf("insert event: %w", err)
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.clock.Now()
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO events (kind, incident_id, update_id, components, created_ms) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		e.Kind, nullInt(e.IncidentID), nullInt(e.UpdateID), string(comps), e.CreatedAt.UnixMilli()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert event: %w", err)
	}
	return id, nil
}

// PendingEvents returns events not fanned out yet, oldest first.
func (s *Store) PendingEvents(ctx context.Context, limit int) ([]Event, error) {
	rows, err := s.w.QueryContext(ctx, `SELECT id, kind, COALESCE(incident_id, 0), COALESCE(update_id, 0), components, created_ms
		FROM events WHERE fanned_out_ms IS NULL ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var comps string
		var created int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.IncidentID, &e.UpdateID, &comps, &created); err != nil {
			return nil, fmt.Errorf("pending events: %w", err)
		}
		if err := json.Unmarshal([]byte(comps), &e.Components); err != nil {
			return nil, fmt.Errorf("pending events: components of event %d: %w", e.ID, err)
		}
		e.CreatedAt = time.UnixMilli(created)
		out = append(out, e)
	}
	return out, rows.Err()
}

func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}
