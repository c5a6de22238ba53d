package store

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/probed/probed/status"
	"strings"
	"time"
)

// ScheduleMaintenance publishes a maintenance window (an operator made it:
// no approval step) with status scheduled, and tells subscribers.
func (s *Store) ScheduleMaintenance(ctx context.Context, actor string, in status.NewMaintenance) (*status.Incident, error) {
	if in.Title.Empty() {
		return nil, fmt.Errorf("schedule maintenance: title is empty: %w", ErrInvalid)
	}
	if len(in.Components) == 0 {
		return nil, fmt.Errorf("schedule maintenance: no components: %w", ErrInvalid)
	}
	if in.Start.IsZero() || in.End.IsZero() {
		return nil, fmt.Errorf("schedule maintenance: start and end are required: %w", ErrInvalid)
	}
	if !in.End.After(in.Start) {
		return nil, fmt.Errorf("schedule maintenance: end %s is not after start %s: %w", in.End.Format(time.RFC3339), in.Start.Format(time.RFC3339), ErrInvalid)
	}
	comps := make([]status.ComponentImpact, 0, len(in.Components))
	seen := map[string]bool{}
	for _, c := range in.Components {
		if c == "" || seen[c] {
			return nil, fmt.Errorf("schedule maintenance: component %q empty or given twice: %w", c, ErrInvalid)
		}
		seen[c] = true
		comps = append(comps, status.ComponentImpact{ID: c, Status: status.UnderMaintenance})
	}
	in.Body = orDefault(in.Body, status.StatusScheduled)
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now()
		ms := now.UnixMilli()
		err := tx.QueryRowContext(ctx, `INSERT INTO incidents (kind, state, status, impact, origin, created_ms, updated_ms, published_ms, scheduled_for_ms, scheduled_until_ms)
			VALUES ('maintenance', 'published', 'scheduled', 'maintenance', 'manual', ?, ?, ?, ?, ?) RETURNING id`,
			ms, ms, ms, in.Start.UnixMilli(), in.End.UnixMilli()).Scan(&id)
		if err != nil {
			return fmt.Errorf("schedule maintenance: %w", err)
		}
		if err := setIncidentText(ctx, tx, id, textTitle, in.Title); err != nil {
			return err
		}
		if err := setComponents(ctx, tx, id, comps); err != nil {
			return err
		}
		uid, err := s.insertUpdate(ctx, tx, id, status.StatusScheduled, in.Body, ms, true, nil)
		if err != nil {
			return err
		}
		if _, err := s.insertEvent(ctx, tx, Event{Kind: EventMaintenanceScheduled, IncidentID: id, UpdateID: uid, Components: in.Components, CreatedAt: now}); err != nil {
			return err
		}
		after, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "schedule_maintenance", id, "", nil, after)
	})
	if err != nil {
		return nil, err
	}
	return s.GetIncident(ctx, id)
}

// AdvanceMaintenances moves maintenances whose time has come: scheduled →
// in_progress at scheduled_for, in_progress/verifying → completed at
// scheduled_until. It returns the ids it moved.
func (s *Store) AdvanceMaintenances(ctx context.Context, now time.Time) ([]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, status FROM incidents WHERE kind = 'maintenance' AND state = 'published'
		AND ((status = 'scheduled' AND scheduled_for_ms <= ?) OR (status IN ('in_progress', 'verifying') AND scheduled_until_ms <= ?)) ORDER BY id`,
		now.UnixMilli(), now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("advance maintenances: %w", err)
	}
	type due struct {
		id     int64
		status string
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.status); err != nil {
			rows.Close()
			return nil, fmt.Errorf("advance maintenances: %w", err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("advance maintenances: %w", err)
	}
	var moved []int64
	for _, d := range list {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			inc, err := s.getIncident(ctx, tx, d.id)
			if err != nil {
				return err
			}
			if inc.State != status.StatePublished || inc.Status != d.status {
				return nil // moved meanwhile by an operator
			}
			if inc.Status == status.StatusScheduled {
				if err := s.moveMaintenance(ctx, tx, ActorEngine, inc, status.StatusInProgress, nil); err != nil {
					return err
				}
				if inc.ScheduledUntil == nil || inc.ScheduledUntil.After(now) {
					return nil
				}
				// The whole window passed while probed was down: record both steps.
				if inc, err = s.getIncident(ctx, tx, d.id); err != nil {
					return err
				}
			}
			return s.moveMaintenance(ctx, tx, ActorEngine, inc, status.StatusCompleted, nil)
		})
		if err != nil {
			return moved, err
		}
		moved = append(moved, d.id)
	}
	return moved, nil
}

// VerifyMaintenance marks an in-progress maintenance verifying (the
// operator is checking the work); components stay under maintenance.
func (s *Store) VerifyMaintenance(ctx context.Context, actor string, id int64, body status.Text) (*status.Incident, error) {
	return s.operatorMove(ctx, actor, id, status.StatusVerifying, body)
}

// CompleteMaintenance ends an in-progress or verifying maintenance early.
func (s *Store) CompleteMaintenance(ctx context.Context, actor string, id int64, body status.Text) (*status.Incident, error) {
	return s.operatorMove(ctx, actor, id, status.StatusCompleted, body)
}

// StartMaintenance starts a scheduled maintenance before its time.
func (s *Store) StartMaintenance(ctx context.Context, actor string, id int64, body status.Text) (*status.Incident, error) {
	return s.operatorMove(ctx, actor, id, status.StatusInProgress, body)
}

func (s *Store) operatorMove(ctx context.Context, actor string, id int64, to string, body status.Text) (*status.Incident, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		inc, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if inc.Kind != status.KindMaintenance || inc.State != status.StatePublished {
			return fmt.Errorf("move maintenance %d to %s: it is a %s %s: %w", id, to, inc.State, inc.Kind, ErrState)
		}
		if !status.CanMoveMaintenance(inc.Status, to) {
			return fmt.Errorf("move maintenance %d to %s: it is %s (want %s): %w", id, to, inc.Status, strings.Join(status.MaintenanceFrom(to), " or "), ErrState)
		}
		return s.moveMaintenance(ctx, tx, actor, inc, to, body)
	})
	if err != nil {
		return nil, err
	}
	return s.GetIncident(ctx, id)
}

// moveMaintenance changes a maintenance's status with its update, public
// statuses, event and audit entry.
func (s *Store) moveMaintenance(ctx context.Context, tx *sql.Tx, actor string, before *status.Incident, to string, body status.Text) error {
	now := s.clock.Now()
	ms := now.UnixMilli()
	var event string
	switch to {
	case status.StatusInProgress:
		event = EventMaintenanceStarted
		body = orDefault(body, to)
	case status.StatusVerifying:
		body = orDefault(body, to)
	case status.StatusCompleted:
		event = EventMaintenanceCompleted
		body = orDefault(body, to)
	}
	comps := before.ComponentIDs()
	old, err := s.publicStatuses(ctx, tx, comps)
	if err != nil {
		return err
	}
	q := `UPDATE incidents SET status = ?, updated_ms = ? WHERE id = ?`
	if to == status.StatusCompleted {
		q = `UPDATE incidents SET status = ?, updated_ms = ?, state = 'resolved', resolved_ms = ` + fmt.Sprint(ms) + ` WHERE id = ?`
	}
	if _, err := tx.ExecContext(ctx, q, to, ms, before.ID); err != nil {
		return fmt.Errorf("move maintenance %d to %s: %w", before.ID, to, err)
	}
	if err := s.refreshStatuses(ctx, tx, comps, now); err != nil {
		return err
	}
	affected, err := s.affected(ctx, tx, comps, old)
	if err != nil {
		return err
	}
	uid, err := s.insertUpdate(ctx, tx, before.ID, to, body, ms, event != "", affected)
	if err != nil {
		return err
	}
	if event != "" {
		if _, err := s.insertEvent(ctx, tx, Event{Kind: event, IncidentID: before.ID, UpdateID: uid, Components: comps, CreatedAt: now}); err != nil {
			return err
		}
	}
	after, err := s.getIncident(ctx, tx, before.ID)
	if err != nil {
		return err
	}
	return s.audit(ctx, tx, actor, "maintenance_"+to, before.ID, "", before, after)
}

// CancelMaintenance calls off a scheduled maintenance (state withdrawn;
// subscribers who were told it was planned are told it is off). One already
// in progress is completed early instead.
func (s *Store) CancelMaintenance(ctx context.Context, actor string, id int64, reason string) (*status.Incident, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if before.Kind != status.KindMaintenance || before.State != status.StatePublished {
			return fmt.Errorf("cancel maintenance %d: it is a %s %s: %w", id, before.State, before.Kind, ErrState)
		}
		if before.Status != status.StatusScheduled {
			return s.moveMaintenance(ctx, tx, actor, before, status.StatusCompleted, reasonText(reason))
		}
		now := s.clock.Now()
		ms := now.UnixMilli()
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = 'withdrawn', reason = ?, updated_ms = ? WHERE id = ?`, reason, ms, id); err != nil {
			return fmt.Errorf("cancel maintenance %d: %w", id, err)
		}
		body := orDefault(reasonText(reason), status.StateWithdrawn)
		uid, err := s.insertUpdate(ctx, tx, id, before.Status, body, ms, true, nil)
		if err != nil {
			return err
		}
		if _, err := s.insertEvent(ctx, tx, Event{Kind: EventIncidentUpdated, IncidentID: id, UpdateID: uid, Components: before.ComponentIDs(), CreatedAt: now}); err != nil {
			return err
		}
		after, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "cancel_maintenance", id, reason, before, after)
	})
	if err != nil {
		return nil, err
	}
	return s.GetIncident(ctx, id)
}

// MaintenanceWindows returns, per component, the maintenance that covers it
// at now: in progress or verifying, or scheduled with now inside its window
// (the ticker may not have started it yet). Failures of these components
// draft nothing.
func (s *Store) MaintenanceWindows(ctx context.Context, now time.Time) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT ic.component, i.id FROM incidents i JOIN incident_components ic ON ic.incident_id = i.id
		WHERE i.kind = 'maintenance' AND i.state = 'published'
		  AND (i.status IN ('in_progress', 'verifying') OR (i.status = 'scheduled' AND i.scheduled_for_ms <= ? AND i.scheduled_until_ms > ?))
		ORDER BY i.id`, now.UnixMilli(), now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("maintenance windows: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var c string
		var id int64
		if err := rows.Scan(&c, &id); err != nil {
			return nil, fmt.Errorf("maintenance windows: %w", err)
		}
		if _, ok := out[c]; !ok {
			out[c] = id
		}
	}
	return out, rows.Err()
}

// NextMaintenanceChange is the earliest future scheduled_for or
// scheduled_until of a live maintenance after now (zero when none), so the
// ticker can tell when it must look next.
func (s *Store) NextMaintenanceChange(ctx context.Context, now time.Time) (time.Time, error) {
	var next sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT MIN(t) FROM (
		SELECT scheduled_for_ms AS t FROM incidents WHERE kind = 'maintenance' AND state = 'published' AND status = 'scheduled' AND scheduled_for_ms > ?
		UNION ALL
		SELECT scheduled_until_ms FROM incidents WHERE kind = 'maintenance' AND state = 'published' AND scheduled_until_ms > ?) AS changes`,
		now.UnixMilli(), now.UnixMilli()).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("next maintenance change: %w", err)
	}
	if !next.Valid {
		return time.Time{}, nil
	}
	return fromMS(next.Int64), nil
}

// reasonText is an operator's reason as an update body: one text, kept as
// typed and filed under English (readers of every language fall back to it).
func reasonText(reason string) status.Text {
	if strings.TrimSpace(reason) == "" {
		return nil
	}
	return status.Text{"en": reason}
}

// RemindMaintenances writes one maintenance_reminder event for each
// scheduled window whose start is at most lead away, exactly once per
// window (the events table remembers), and returns their ids. A window
// scheduled at or after its reminder time gets none: its scheduled mail has just
// gone. lead 0 reminds nothing.
func (s *Store) RemindMaintenances(ctx context.Context, now time.Time, lead time.Duration) ([]int64, error) {
	if lead <= 0 {
		return nil, nil
	}
	ms, leadMS := now.UnixMilli(), lead.Milliseconds()
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM incidents i WHERE kind = 'maintenance' AND state = 'published' AND status = 'scheduled'
		AND scheduled_for_ms > ? AND scheduled_for_ms - ? <= ? AND created_ms < scheduled_for_ms - ?
		AND NOT EXISTS (SELECT 1 FROM events e WHERE e.kind = ? AND e.incident_id = i.id) ORDER BY id`,
		ms, leadMS, ms, leadMS, EventMaintenanceReminder)
	if err != nil {
		return nil, fmt.Errorf("remind maintenances: %w", err)
	}
	var due []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("remind maintenances: %w", err)
		}
		due = append(due, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("remind maintenances: %w", err)
	}
	var sent []int64
	for _, id := range due {
		wrote := false
		err := s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE kind = ? AND incident_id = ?`, EventMaintenanceReminder, id).Scan(&n); err != nil {
				return err
			}
			inc, err := s.getIncident(ctx, tx, id)
			if err != nil {
				return err
			}
			if n > 0 || inc.State != status.StatePublished || inc.Status != status.StatusScheduled {
				return nil // reminded or moved meanwhile
			}
			if _, err := s.insertEvent(ctx, tx, Event{Kind: EventMaintenanceReminder, IncidentID: id, Components: inc.ComponentIDs(), CreatedAt: now}); err != nil {
				return err
			}
			wrote = true
			return nil
		})
		if err != nil {
			return sent, fmt.Errorf("remind maintenance %d: %w", id, err)
		}
		if wrote {
			sent = append(sent, id)
		}
	}
	return sent, nil
}

// NextReminder is when the next maintenance reminder falls due (the
// earliest scheduled start minus lead, after now, of a window not yet
// reminded), or zero.
func (s *Store) NextReminder(ctx context.Context, now time.Time, lead time.Duration) (time.Time, error) {
	if lead <= 0 {
		return time.Time{}, nil
	}
	var next sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT MIN(scheduled_for_ms - ?) FROM incidents i WHERE kind = 'maintenance' AND state = 'published'
		AND status = 'scheduled' AND scheduled_for_ms - ? > ? AND created_ms < scheduled_for_ms - ?
		AND NOT EXISTS (SELECT 1 FROM events e WHERE e.kind = ? AND e.incident_id = i.id)`,
		lead.Milliseconds(), lead.Milliseconds(), now.UnixMilli(), lead.Milliseconds(), EventMaintenanceReminder).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("next maintenance reminder: %w", err)
	}
	if !next.Valid {
		return time.Time{}, nil
	}
	return fromMS(next.Int64), nil
}
