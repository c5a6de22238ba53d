package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/probed/probed/status"
)

// Operator event kinds: what an on-call operator's webhook can be told
// (notify.operator_webhooks). Subscribers never see these.
const (
	OperatorDraftCreated    = "draft_created"
	OperatorDraftApproved   = "draft_approved"
	OperatorDraftRejected   = "draft_rejected"
	OperatorDraftWithdrawn  = "draft_withdrawn"
	OperatorResolveProposed = "resolve_proposed"
)

// OperatorEventKinds returns every operator event kind, in lifecycle order.
func OperatorEventKinds() []string {
	return []string{OperatorDraftCreated, OperatorDraftApproved, OperatorDraftRejected, OperatorDraftWithdrawn, OperatorResolveProposed}
}

// OperatorEvent is one change an operator is told about, with the incident
// as it stood right after it.
type OperatorEvent struct {
	ID        int64
	Kind      string
	Actor     string
	Detail    string // the reason of a rejection or withdrawal
	Incident  status.Incident
	CreatedAt time.Time
}

// OperatorDelivery is an operator event owed to one configured webhook.
type OperatorDelivery struct {
	ID        int64
	Webhook   string // notify.operator_webhooks[].name
	Attempts  int    // including the one being made
	CreatedAt time.Time
	Event     OperatorEvent
}

// Outcomes of an operator delivery (OperatorOutcome.Result).
const (
	OperatorSent    = "sent"
	OperatorRetry   = "pending"
	OperatorFailed  = "failed"
	OperatorDropped = "dropped"
)

// OperatorOutcome is what became of one attempt.
type OperatorOutcome struct {
	ID     int64
	Result string    // OperatorSent, OperatorRetry (with Due), OperatorFailed, OperatorDropped
	Due    time.Time // OperatorRetry: not before
	Err    string
}

// insertOperatorEvent writes an operator event inside the caller's
// transaction, with the incident as it is now in tx.
func (s *Store) insertOperatorEvent(ctx context.Context, tx *sql.Tx, kind, actor string, id int64, detail string) error {
	inc, err := s.getIncident(ctx, tx, id)
	if err != nil {
		return err
	}
	b, err := json.Marshal(inc)
	if err != nil {
		return fmt.Errorf("operator event %s of %d: %w", kind, id, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO operator_events (kind, incident_id, actor, detail, incident, created_ms) VALUES (?, ?, ?, ?, ?, ?)`,
		kind, id, actor, detail, string(b), s.clock.Now().UnixMilli()); err != nil {
		return fmt.Errorf("operator event %s of %d: %w", kind, id, err)
	}
	return nil
}

// FanOutOperator writes, for every operator event not fanned out yet, one
// pending delivery for each webhook whose name wants lists the event's
// kind under, and marks the events fanned out, in one transaction. It
// returns how many deliveries it wrote.
func (s *Store) FanOutOperator(ctx context.Context, wants map[string][]string) (int, error) {
	n := 0
	now := s.clock.Now().UnixMilli()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `SELECT id, kind FROM operator_events WHERE fanned_out_ms IS NULL ORDER BY id LIMIT 500`)
		if err != nil {
			return fmt.Errorf("fan out operator events: %w", err)
		}
		type ev struct {
			id   int64
			kind string
		}
		var evs []ev
		for rows.Next() {
			var e ev
			if err := rows.Scan(&e.id, &e.kind); err != nil {
				rows.Close()
				return fmt.Errorf("fan out operator events: %w", err)
			}
			evs = append(evs, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("fan out operator events: %w", err)
		}
		for _, e := range evs {
			for _, name := range wants[e.kind] {
				res, err := tx.ExecContext(ctx, `INSERT INTO operator_deliveries (event, webhook, state, due_ms, created_ms)
					VALUES (?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING`, e.id, name, now, now)
				if err != nil {
					return fmt.Errorf("fan out operator event %d: %w", e.id, err)
				}
				m, _ := res.RowsAffected()
				n += int(m)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE operator_events SET fanned_out_ms = ? WHERE id = ?`, now, e.id); err != nil {
				return fmt.Errorf("fan out operator event %d: %w", e.id, err)
			}
		}
		return nil
	})
	return n, err
}

// DueOperatorDeliveries claims up to limit pending operator deliveries due
// by now, oldest first, each counting its attempt: a claim moves the row's
// due time hold ahead, so no other dispatcher (another holder of the same
// database) takes it meanwhile, and a dispatcher that dies holding it
// leaves it to be sent again once hold has passed (at least once). The
// claim re-checks the due time in its UPDATE, so two dispatchers claiming
// at once never both get a row.
func (s *Store) DueOperatorDeliveries(ctx context.Context, limit int, hold time.Duration) ([]OperatorDelivery, error) {
	var out []OperatorDelivery
	now := s.clock.Now().UnixMilli()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT d.id, d.webhook, d.attempts, d.created_ms, e.id, e.kind, e.actor, e.detail, e.incident, e.created_ms
			FROM operator_deliveries d JOIN operator_events e ON e.id = d.event
			WHERE d.state = 'pending' AND d.due_ms <= ? ORDER BY d.due_ms, d.id LIMIT ?`, now, limit)
		if err != nil {
			return fmt.Errorf("due operator deliveries: %w", err)
		}
		var cand []OperatorDelivery
		for rows.Next() {
			var d OperatorDelivery
			var created, evCreated int64
			var inc string
			if err := rows.Scan(&d.ID, &d.Webhook, &d.Attempts, &created, &d.Event.ID, &d.Event.Kind, &d.Event.Actor, &d.Event.Detail, &inc, &evCreated); err != nil {
				rows.Close()
				return fmt.Errorf("due operator deliveries: %w", err)
			}
			if err := json.Unmarshal([]byte(inc), &d.Event.Incident); err != nil {
				rows.Close()
				return fmt.Errorf("due operator deliveries: incident of event %d: %w", d.Event.ID, err)
			}
			d.CreatedAt, d.Event.CreatedAt = fromMS(created), fromMS(evCreated)
			cand = append(cand, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("due operator deliveries: %w", err)
		}
		for _, d := range cand {
			res, err := tx.ExecContext(ctx, `UPDATE operator_deliveries SET attempts = attempts + 1, due_ms = ?
				WHERE id = ? AND state = 'pending' AND due_ms <= ?`, now+hold.Milliseconds(), d.ID, now)
			if err != nil {
				return fmt.Errorf("due operator deliveries: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				d.Attempts++
				out = append(out, d)
			}
		}
		return nil
	})
	return out, err
}

// FinishOperatorDelivery records the outcome of an attempt. Like the
// subscriber outbox's FinishDeliveries it is fenced when ctx is (the
// leader's duties run fenced): a deposed leader's outcome is refused with
// ErrDeposed and the delivery, still held, goes to the new leader once
// its hold has passed (at least once, as for subscribers).
func (s *Store) FinishOperatorDelivery(ctx context.Context, o OperatorOutcome) error {
	now := s.clock.Now().UnixMilli()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if o.Result == OperatorRetry {
			_, err = tx.ExecContext(ctx, `UPDATE operator_deliveries SET due_ms = ?, last_error = ? WHERE id = ? AND state = 'pending'`,
				o.Due.UnixMilli(), o.Err, o.ID)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE operator_deliveries SET state = ?, done_ms = ?, last_error = ? WHERE id = ? AND state = 'pending'`,
				o.Result, now, o.Err, o.ID)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("finish operator delivery %d: %w", o.ID, err)
	}
	return nil
}

// NextOperatorDue returns when the earliest pending operator delivery is
// due, or the zero time when none is pending.
func (s *Store) NextOperatorDue(ctx context.Context) (time.Time, error) {
	var due sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MIN(due_ms) FROM operator_deliveries WHERE state = 'pending'`).Scan(&due); err != nil {
		return time.Time{}, fmt.Errorf("next operator delivery: %w", err)
	}
	if !due.Valid {
		return time.Time{}, nil
	}
	return time.UnixMilli(due.Int64), nil
}

// PendingOperatorDeliveries counts operator deliveries not sent yet
// (retries included) and events not fanned out yet.
func (s *Store) PendingOperatorDeliveries(ctx context.Context) (int, error) {
	var n, m int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM operator_deliveries WHERE state = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending operator deliveries: %w", err)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM operator_events WHERE fanned_out_ms IS NULL`).Scan(&m); err != nil {
		return 0, fmt.Errorf("count pending operator events: %w", err)
	}
	return n + m, nil
}

// OperatorDeliveryLog is one operator delivery as the store keeps it.
type OperatorDeliveryLog struct {
	ID         int64
	Webhook    string
	Kind       string
	IncidentID int64
	State      string
	Attempts   int
	LastError  string
}

// OperatorDeliveries lists operator deliveries, oldest first.
func (s *Store) OperatorDeliveries(ctx context.Context) ([]OperatorDeliveryLog, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT d.id, d.webhook, e.kind, e.incident_id, d.state, d.attempts, COALESCE(d.last_error, '')
		FROM operator_deliveries d JOIN operator_events e ON e.id = d.event ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("operator deliveries: %w", err)
	}
	defer rows.Close()
	var out []OperatorDeliveryLog
	for rows.Next() {
		var l OperatorDeliveryLog
		if err := rows.Scan(&l.ID, &l.Webhook, &l.Kind, &l.IncidentID, &l.State, &l.Attempts, &l.LastError); err != nil {
			return nil, fmt.Errorf("operator deliveries: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// pruneBatch bounds the events (and subscriber deliveries) one pruning
// transaction deletes,
// so that the writer never waits long behind the housekeeping.
const pruneBatch = 500

// pruneOperatorEvents deletes the operator events created before cutoff
// (ms) whose every delivery is done — sent, failed or dropped — with
// those deliveries. An event not fanned out yet, or with a delivery still
// pending (retries included), is kept however old: pruning never loses
// what is owed to a webhook. The newest event and the event of the newest
// delivery are kept too, as in pruneOutbox: SQLite numbers a new row from
// the highest id left, and receivers drop duplicates by the event's id and
// the delivery's (X-Probed-Delivery: op-<n>).
func (s *Store) pruneOperatorEvents(ctx context.Context, cutoff int64, rep *HousekeepingReport) error {
	done := `SELECT e.id FROM operator_events e WHERE e.created_ms < ? AND e.fanned_out_ms IS NOT NULL
		AND e.id < (SELECT max(id) FROM operator_events) AND e.id != COALESCE((SELECT event FROM operator_deliveries ORDER BY id DESC LIMIT 1), 0)
		AND NOT EXISTS (SELECT 1 FROM operator_deliveries d WHERE d.event = e.id AND d.state = 'pending') ORDER BY e.id LIMIT ?`
	for {
		var events int64
		err := s.tx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM operator_deliveries WHERE event IN (`+done+`)`, cutoff, pruneBatch)
			if err != nil {
				return fmt.Errorf("prune operator_deliveries: %w", err)
			}
			deliveries, _ := res.RowsAffected()
			if res, err = tx.ExecContext(ctx, `DELETE FROM operator_events WHERE id IN (`+done+`)`, cutoff, pruneBatch); err != nil {
				return fmt.Errorf("prune operator_events: %w", err)
			}
			events, _ = res.RowsAffected()
			if deliveries > 0 {
				rep.Deleted["operator_deliveries"] += deliveries
			}
			if events > 0 {
				rep.Deleted["operator_events"] += events
			}
			return nil
		})
		if err != nil || events < pruneBatch {
			return err
		}
	}
}
