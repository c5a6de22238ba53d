package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Delivery kinds.
const (
	DeliveryEvent   = "event"   // tell a subscriber about an event
	DeliveryConfirm = "confirm" // ask an address to confirm its subscription
)

// Delivery results, as FinishDeliveries takes them.
const (
	DeliverySent    = "sent"    // accepted by the SMTP server or webhook
	DeliveryRetry   = "retry"   // failed for now: try again at Due
	DeliveryFailed  = "failed"  // failed for good (5xx, retries exhausted)
	DeliveryDropped = "dropped" // not sent on purpose (unsubscribed, quarantined)
)

// Delivery is one claimed outbox row with what it takes to send it.
type Delivery struct {
	ID        int64
	Kind      string
	Attempts  int // including the one this claim starts
	CreatedAt time.Time
	// InDoubt is true when a run that died had begun sending it (StartSend)
	// and not recorded how it went: it may have been sent already, so
	// sending it again may duplicate it. A row a dead run had only claimed
	// is not in doubt.
	InDoubt    bool
	Event      Event // zero for confirmations
	Subscriber Subscriber
}

// FanOut writes one pending delivery of an event for each active subscriber
// of any of the components, and marks the event fanned out, in one
// transaction: a crash leaves either both or neither. It returns the number
// of deliveries written; running it twice for one event adds none.
func (s *Store) FanOut(ctx context.Context, eventID int64, components []string) (int, error) {
	var n int64
	now := s.clock.Now().UnixMilli()
	list, _ := json.Marshal(cleanComponents(components))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (kind, event, subscriber, channel, state, due_ms, created_ms)
			SELECT DISTINCT 'event', CAST(? AS BIGINT), s.id, s.kind, 'pending', CAST(? AS BIGINT), CAST(? AS BIGINT)
			FROM subscriber_components sc JOIN subscribers s ON s.id = sc.subscriber
			WHERE s.state = 'active' AND sc.component IN (SELECT value FROM json_each(?))
			ORDER BY s.id
			ON CONFLICT DO NOTHING`, eventID, now, now, string(list))
		if err != nil {
			return fmt.Errorf("fan out event %d: %w", eventID, err)
		}
		n, _ = res.RowsAffected()
		res, err = tx.ExecContext(ctx, `UPDATE events SET fanned_out_ms = ? WHERE id = ?`, now, eventID)
		if err != nil {
			return fmt.Errorf("fan out event %d: %w", eventID, err)
		}
		if m, _ := res.RowsAffected(); m != 1 {
			return fmt.Errorf("fan out event %d: %w", eventID, ErrNotFound)
		}
		return nil
	})
	return int(n), err
}

// ClaimDeliveries takes up to limit pending deliveries due by now to
// subscribers of a kind (empty: any) for the worker run named lease, oldest
// first, and counts the attempt. Rows held by this same run are skipped
// (they are in flight); rows held by another run are taken over and flagged
// InDoubt.
func (s *Store) ClaimDeliveries(ctx context.Context, lease, kind string, limit int) ([]Delivery, error) {
	var out []Delivery
	now := s.clock.Now().UnixMilli()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Two statements rather than (? = '' OR channel = ?), which would
		// keep SQLite from the channel index.
		filter, args := ``, []any{now, lease, limit}
		if kind != "" {
			filter, args = ` AND d.channel = ?`, []any{now, lease, kind, limit}
		}
		rows, err := tx.QueryContext(ctx, `SELECT d.id, d.kind, d.attempts, d.created_ms, COALESCE(d.lease, ''), d.sending,
				COALESCE(e.id, 0), COALESCE(e.kind, ''), COALESCE(e.incident_id, 0), COALESCE(e.update_id, 0), COALESCE(e.components, '[]'), COALESCE(e.created_ms, 0),
				s.id, s.kind, s.address, s.state, s.salt, COALESCE(s.secret, ''), s.failures, s.pending_components IS NOT NULL, COALESCE(s.confirm_sent_ms, 0), s.language
			FROM deliveries d JOIN subscribers s ON s.id = d.subscriber LEFT JOIN events e ON e.id = d.event
			WHERE d.state = 'pending' AND d.due_ms <= ? AND (d.lease IS NULL OR d.lease != ?)`+filter+`
			ORDER BY d.due_ms, d.id LIMIT ?`+s.skipLocked(`d`), args...)
		if err != nil {
			return fmt.Errorf("claim deliveries: %w", err)
		}
		comps := map[string][]string{}
		var ids []int64
		for rows.Next() {
			var d Delivery
			var old, ecomps string
			var created, ecreated, sent int64
			var pending, sending bool
			if err := rows.Scan(&d.ID, &d.Kind, &d.Attempts, &created, &old, &sending,
				&d.Event.ID, &d.Event.Kind, &d.Event.IncidentID, &d.Event.UpdateID, &ecomps, &ecreated,
				&d.Subscriber.ID, &d.Subscriber.Kind, &d.Subscriber.Address, &d.Subscriber.State, &d.Subscriber.Salt, &d.Subscriber.Secret,
				&d.Subscriber.Failures, &pending, &sent, &d.Subscriber.Language); err != nil {
				rows.Close()
				return fmt.Errorf("claim deliveries: %w", err)
			}
			d.Attempts++
			d.CreatedAt = time.UnixMilli(created)
			d.InDoubt = old != "" && sending
			if d.Event.ID != 0 {
				d.Event.CreatedAt = time.UnixMilli(ecreated)
				c, ok := comps[ecomps]
				if !ok {
					if err := json.Unmarshal([]byte(ecomps), &c); err != nil {
						rows.Close()
						return fmt.Errorf("claim deliveries: components of event %d: %w", d.Event.ID, err)
					}
					comps[ecomps] = c
				}
				d.Event.Components = c
			}
			if pending {
				d.Subscriber.PendingComponents = []string{}
			}
			if sent != 0 {
				d.Subscriber.ConfirmSentAt = time.UnixMilli(sent)
			}
			out = append(out, d)
			ids = append(ids, d.ID)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("claim deliveries: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		list, _ := json.Marshal(ids)
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease = ?, sending = 0, attempts = attempts + 1 WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))`,
			lease, string(list)); err != nil {
			return fmt.Errorf("claim deliveries: %w", err)
		}
		return nil
	})
	return out, err
}

// skipLocked is the locking clause of a claim on PostgreSQL: lock the rows
// of table alias t as they are read, skipping rows another transaction
// holds. SQLite has one writer at a time and no such clause.
func (s *Store) skipLocked(t string) string {
	if !s.pg {
		return ``
	}
	return ` FOR UPDATE OF ` + t + ` SKIP LOCKED`
}

// DeliveryOutcome is what happened to one claimed delivery.
type DeliveryOutcome struct {
	ID         int64
	Subscriber int64
	Result     string    // DeliverySent, DeliveryRetry, DeliveryFailed or DeliveryDropped
	Due        time.Time // DeliveryRetry: when to try again
	Err        string
	// ClearFailures resets the subscriber's count of failures in a row
	// (set on a success when the count was not zero).
	ClearFailures bool
	// Blame counts a DeliveryFailed against the subscriber (its address
	// or endpoint refused); a relay that was down for good is not its fault.
	Blame bool
}

// FinishDeliveries records outcomes in one transaction. A failure for good
// adds one to the subscriber's failures in a row; at quarantineAfter the
// subscriber is quarantined and its pending deliveries dropped. It returns
// the subscribers quarantined now.
func (s *Store) FinishDeliveries(ctx context.Context, outs []DeliveryOutcome, quarantineAfter int) ([]int64, error) {
	if len(outs) == 0 {
		return nil, nil
	}
	var quarantined []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		quarantined, err = s.finish(ctx, tx, outs, quarantineAfter)
		return err
	})
	return quarantined, err
}

// StartSend records outs (as FinishDeliveries) and marks delivery id, held
// by the run lease, as being sent, in one transaction, just before the run
// hands it to the relay or webhook. If the run dies before it records the
// outcome, the next run gets it InDoubt. held is false when the delivery is
// no longer pending under lease (an outcome just recorded quarantined its
// subscriber and dropped it): do not send it.
func (s *Store) StartSend(ctx context.Context, lease string, id int64, outs []DeliveryOutcome, quarantineAfter int) (quarantined []int64, held bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if quarantined, err = s.finish(ctx, tx, outs, quarantineAfter); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET sending = 1 WHERE id = ? AND lease = ? AND state = 'pending'`, id, lease)
		if err != nil {
			return fmt.Errorf("start send of delivery %d: %w", id, err)
		}
		n, err := res.RowsAffected()
		held = err == nil && n == 1
		return err
	})
	return quarantined, held, err
}

// finish records outcomes in tx and returns the subscribers quarantined.
func (s *Store) finish(ctx context.Context, tx *sql.Tx, outs []DeliveryOutcome, quarantineAfter int) ([]int64, error) {
	var quarantined []int64
	now := s.clock.Now().UnixMilli()
	err := func() error {
		sent, err := tx.PrepareContext(ctx, `UPDATE deliveries SET state = 'sent', lease = NULL, sending = 0, done_ms = ?, last_error = NULL WHERE id = ?`)
		if err != nil {
			return fmt.Errorf("finish deliveries: %w", err)
		}
		defer sent.Close()
		for _, o := range outs {
			var err error
			switch o.Result {
			case DeliverySent:
				_, err = sent.ExecContext(ctx, now, o.ID)
				if err == nil && o.ClearFailures {
					_, err = tx.ExecContext(ctx, `UPDATE subscribers SET failures = 0, last_error = NULL WHERE id = ?`, o.Subscriber)
				}
			case DeliveryRetry:
				_, err = tx.ExecContext(ctx, `UPDATE deliveries SET lease = NULL, sending = 0, due_ms = ?, last_error = ? WHERE id = ? AND state = 'pending'`,
					o.Due.UnixMilli(), o.Err, o.ID)
			case DeliveryDropped:
				_, err = tx.ExecContext(ctx, `UPDATE deliveries SET state = 'dropped', lease = NULL, sending = 0, done_ms = ?, last_error = ? WHERE id = ? AND state = 'pending'`,
					now, o.Err, o.ID)
			case DeliveryFailed:
				var q bool
				q, err = failDelivery(ctx, tx, o, now, quarantineAfter)
				if q {
					quarantined = append(quarantined, o.Subscriber)
				}
			default:
				err = fmt.Errorf("unknown result %q", o.Result)
			}
			if err != nil {
				return fmt.Errorf("finish delivery %d: %w", o.ID, err)
			}
		}
		return nil
	}()
	return quarantined, err
}

func failDelivery(ctx context.Context, tx *sql.Tx, o DeliveryOutcome, now int64, quarantineAfter int) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = 'failed', lease = NULL, sending = 0, done_ms = ?, last_error = ? WHERE id = ? AND state = 'pending'`,
		now, o.Err, o.ID)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 || !o.Blame {
		return false, nil
	}
	var failures int
	var state string
	if err := tx.QueryRowContext(ctx, `UPDATE subscribers SET failures = failures + 1, last_error = ? WHERE id = ? RETURNING failures, state`,
		o.Err, o.Subscriber).Scan(&failures, &state); err != nil {
		return false, err
	}
	if failures < quarantineAfter || state != SubscriberActive {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET state = ?, updated_ms = ? WHERE id = ?`, SubscriberQuarantined, now, o.Subscriber); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = 'dropped', lease = NULL, sending = 0, done_ms = ?, last_error = 'quarantined'
		WHERE subscriber = ? AND state = 'pending'`, now, o.Subscriber); err != nil {
		return false, err
	}
	return true, nil
}

// PendingDeliveries counts deliveries not yet sent, failed or dropped.
func (s *Store) PendingDeliveries(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE state = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending deliveries: %w", err)
	}
	return n, nil
}

// NextDue returns when the earliest pending delivery of a channel (email or
// webhook) is due, or the zero time when none is pending.
func (s *Store) NextDue(ctx context.Context, channel string) (time.Time, error) {
	var due sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MIN(due_ms) FROM deliveries WHERE state = 'pending' AND channel = ?`, channel).Scan(&due); err != nil {
		return time.Time{}, fmt.Errorf("next due delivery: %w", err)
	}
	if !due.Valid {
		return time.Time{}, nil
	}
	return time.UnixMilli(due.Int64), nil
}

// DeliveryCounts counts deliveries by state, optionally of one event only
// (eventID 0: all).
func (s *Store) DeliveryCounts(ctx context.Context, eventID int64) (map[string]int, error) {
	q := `SELECT state, COUNT(*) FROM deliveries`
	var args []any
	if eventID != 0 {
		q += ` WHERE event = ?`
		args = append(args, eventID)
	}
	return s.countByState(ctx, "deliveries", q+` GROUP BY state`, args...)
}

// InDoubtDeliveries counts pending deliveries a run other than lease had
// begun sending and not recorded: after a crash, the ones whose outcome is
// unknown.
func (s *Store) InDoubtDeliveries(ctx context.Context, lease string) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND sending = 1 AND lease IS NOT NULL AND lease != ?`, lease).Scan(&n); err != nil {
		return 0, fmt.Errorf("count in-doubt deliveries: %w", err)
	}
	return n, nil
}

// DeliveryLog is one delivery as the console and tests see it.
type DeliveryLog struct {
	ID         int64  `json:"id"`
	Kind       string `json:"kind"`
	EventID    int64  `json:"event_id,omitempty"`
	Subscriber int64  `json:"subscriber"`
	Address    string `json:"address"`
	State      string `json:"state"`
	Attempts   int    `json:"attempts"`
	LastError  string `json:"last_error,omitempty"`
}

// Deliveries lists the deliveries to one subscriber (0: all), newest first,
// at most limit.
func (s *Store) Deliveries(ctx context.Context, subscriber int64, limit int) ([]DeliveryLog, error) {
	var where []string
	var args []any
	if subscriber != 0 {
		where = append(where, `d.subscriber = ?`)
		args = append(args, subscriber)
	}
	q := `SELECT d.id, d.kind, COALESCE(d.event, 0), d.subscriber, s.address, d.state, d.attempts, COALESCE(d.last_error, '')
		FROM deliveries d JOIN subscribers s ON s.id = d.subscriber`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY d.id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []DeliveryLog
	for rows.Next() {
		var d DeliveryLog
		if err := rows.Scan(&d.ID, &d.Kind, &d.EventID, &d.Subscriber, &d.Address, &d.State, &d.Attempts, &d.LastError); err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// pruneOutbox deletes the subscriber events created before cutoff (ms)
// whose every delivery is done — sent, failed or dropped, or none wanted —
// with those deliveries, and the confirmation mails created before cutoff
// that are done. An event not fanned out yet, or with a delivery still
// pending (a retry, or one in doubt after a crash), is kept however old:
// pruning never loses what is owed to a subscriber. So is a maintenance
// reminder while its window is still scheduled: its row is what tells
// RemindMaintenances the window was reminded. The newest event and the
// newest delivery are kept too: SQLite gives a new row the highest id
// plus one, so deleting the newest would hand its id out again, and a
// delivery's id is what webhook receivers drop duplicates by
// (X-Probed-Delivery).
//
// A transaction deletes at most pruneBatch events and stops taking more
// once it has deleted pruneBatch deliveries: an event has a delivery per
// subscriber, so bounding the events alone would not bound it; it is never
// larger than the one fan-out that wrote an event's deliveries.
func (s *Store) pruneOutbox(ctx context.Context, cutoff int64, rep *HousekeepingReport) error {
	// The pending check is a scalar subquery, not NOT EXISTS: PostgreSQL
	// turns NOT EXISTS into an anti-join and, with statistics not yet
	// caught up with a large fan-out, chose a nested loop over every
	// pending delivery for each event (a backlog of 1,000 events took 29 s
	// beside 200,000 pending deliveries). A subquery per event is one probe
	// of deliveries_by_event whatever the statistics say.
	done := `SELECT e.id FROM events e WHERE e.created_ms < ? AND e.fanned_out_ms IS NOT NULL
		AND e.id < (SELECT max(id) FROM events) AND e.id != COALESCE((SELECT event FROM deliveries ORDER BY id DESC LIMIT 1), 0)
		AND (SELECT d.id FROM deliveries d WHERE d.event = e.id AND d.state = 'pending' LIMIT 1) IS NULL
		AND NOT (e.kind = '` + EventMaintenanceReminder + `' AND EXISTS (SELECT 1 FROM incidents i WHERE i.id = e.incident_id AND i.status = 'scheduled'))
		ORDER BY e.id LIMIT ?`
	confirms := `SELECT id FROM deliveries WHERE kind = 'confirm' AND state != 'pending' AND created_ms < ?
		AND id < (SELECT max(id) FROM deliveries) ORDER BY id LIMIT ?`
	for {
		more := false
		err := s.tx(ctx, func(tx *sql.Tx) error {
			ids, err := queryIDs(ctx, tx, done, cutoff, pruneBatch)
			if err != nil {
				return fmt.Errorf("prune events: %w", err)
			}
			delDeliveries, err := tx.PrepareContext(ctx, `DELETE FROM deliveries WHERE event = ?`)
			if err != nil {
				return fmt.Errorf("prune deliveries: %w", err)
			}
			defer delDeliveries.Close()
			delEvent, err := tx.PrepareContext(ctx, `DELETE FROM events WHERE id = ?`)
			if err != nil {
				return fmt.Errorf("prune events: %w", err)
			}
			defer delEvent.Close()
			var events, deliveries int64
			more = len(ids) == pruneBatch
			for _, id := range ids {
				res, err := delDeliveries.ExecContext(ctx, id)
				if err != nil {
					return fmt.Errorf("prune deliveries of event %d: %w", id, err)
				}
				n, _ := res.RowsAffected()
				if _, err := delEvent.ExecContext(ctx, id); err != nil {
					return fmt.Errorf("prune event %d: %w", id, err)
				}
				events, deliveries = events+1, deliveries+n
				if deliveries >= pruneBatch {
					more = true
					break
				}
			}
			cids, err := queryIDs(ctx, tx, confirms, cutoff, pruneBatch)
			if err != nil {
				return fmt.Errorf("prune confirmations: %w", err)
			}
			if len(cids) > 0 {
				list, _ := json.Marshal(cids)
				res, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))`, string(list))
				if err != nil {
					return fmt.Errorf("prune confirmations: %w", err)
				}
				n, _ := res.RowsAffected()
				deliveries += n
				more = more || len(cids) == pruneBatch
			}
			if deliveries > 0 {
				rep.Deleted["deliveries"] += deliveries
			}
			if events > 0 {
				rep.Deleted["events"] += events
			}
			return nil
		})
		if err != nil || !more {
			return err
		}
	}
}

// queryIDs runs a query of one integer column.
func queryIDs(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
