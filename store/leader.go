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

// Several holders on one PostgreSQL database: each serves the page, the
// console and the APIs and accepts operator writes, but one at a time, the
// leader, does what must happen once (drafting and withdrawing from
// results and alerts, maintenance steps, resolve proposals, housekeeping,
// fanning events out and claiming deliveries). It leads while it holds the
// lease, a row renewed on the database's clock; epoch, one more at every
// change of holder, is the fencing token: a write made under a context from
// Fenced checks, in its own transaction, that the lease is still at that
// epoch, and is refused with ErrDeposed otherwise, so a leader that lost
// the lease (paused, cut off) and wakes late can change nothing.
//
// On SQLite the one process always leads: Lead returns epoch 1 and fenced
// writes are not checked.

// ErrDeposed is returned by a fenced write (Fenced) made after another
// holder took the lease: its leader was deposed and must stop acting.
var ErrDeposed = errors.New("deposed: another holder has taken the leader lease")

// ErrSchemaNewer is Lead's error once another holder, a newer probed, has
// applied a migration this one does not know: it must not lead (its
// statements may no longer fit the schema) and must be upgraded.
var ErrSchemaNewer = errors.New("the database has a migration unknown to this probed")

type fenceKey struct{}

// Fenced returns ctx carrying epoch: every write transaction run with it
// first checks that the leader lease is still at epoch (ErrDeposed if not).
// The leader runs its duties under such a context.
func Fenced(ctx context.Context, epoch int64) context.Context {
	return context.WithValue(ctx, fenceKey{}, epoch)
}

// FenceOf returns the epoch ctx is fenced with, if any.
func FenceOf(ctx context.Context) (int64, bool) {
	ep, ok := ctx.Value(fenceKey{}).(int64)
	return ep, ok
}

// checkFence refuses tx when ctx is fenced with an epoch the lease has
// moved past. The row is read FOR KEY SHARE: a change of holder (which
// updates epoch, a key) waits for this transaction to end, while the
// leader's own renewals do not.
func (s *Store) checkFence(ctx context.Context, tx *sql.Tx) error {
	ep, ok := FenceOf(ctx)
	if !ok || !s.pg {
		return nil
	}
	var cur int64
	if err := tx.QueryRowContext(ctx, `SELECT epoch FROM leader_lease WHERE name = 'leader' FOR KEY SHARE`).Scan(&cur); err != nil {
		return fmt.Errorf("check leader lease: %w", err)
	}
	if cur != ep {
		return fmt.Errorf("%w (this holder led at epoch %d; the lease is at epoch %d)", ErrDeposed, ep, cur)
	}
	return nil
}

// dbNowMS is the database's clock in ms, the one lease times are kept in.
const dbNowMS = `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`

// Lead takes or renews the leader lease for holder for ttl, on the
// database's clock. epoch is the one this holder leads at (0: it does not
// lead). It returns the epoch it leads at now, or 0 when another holder's
// lease has not expired. A renewal keeps the epoch; taking an expired
// lease adds one to it (and waits for the previous leader's fenced
// transactions in flight to end, at most 2 s, then gives up with an error
// for this round). On SQLite it returns 1: the one process always leads.
func (s *Store) Lead(ctx context.Context, holder string, ttl time.Duration, epoch int64) (int64, error) {
	if !s.pg {
		return 1, nil
	}
	if ttl <= 0 {
		return 0, fmt.Errorf("lead: ttl must be positive, not %s", ttl)
	}
	if err := s.checkSchema(ctx); err != nil {
		return 0, err
	}
	ms := ttl.Milliseconds()
	if epoch != 0 {
		var got int64
		err := s.l.QueryRowContext(ctx, `UPDATE leader_lease SET expires_ms = `+dbNowMS+` + ? WHERE name = 'leader' AND epoch = ? RETURNING epoch`, ms, epoch).Scan(&got)
		if err == nil {
			return got, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("renew leader lease on %s: %w", s.where, err)
		}
		// Another holder has it now; try below whether it expired since.
	}
	tx, err := s.l.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("take leader lease on %s: %w", s.where, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '2s'`); err != nil {
		return 0, fmt.Errorf("take leader lease on %s: %w", s.where, err)
	}
	var got int64
	err = tx.QueryRowContext(ctx, `UPDATE leader_lease SET holder = ?, epoch = epoch + 1, since_ms = `+dbNowMS+`, expires_ms = `+dbNowMS+` + ?
		WHERE name = 'leader' AND expires_ms < `+dbNowMS+` RETURNING epoch`, holder, ms).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("take leader lease on %s: %w", s.where, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("take leader lease on %s: %w", s.where, err)
	}
	return got, nil
}

// checkSchema returns ErrSchemaNewer, and sets ProblemSchemaNewer (ERROR,
// /readyz fails), when schema_migrations holds a migration above the last
// this probed knows: a newer holder started on the shared database while
// this one runs (README "Upgrading several holders").
func (s *Store) checkSchema(ctx context.Context) error {
	var name string
	err := s.l.QueryRowContext(ctx, `SELECT name FROM schema_migrations WHERE version > ? ORDER BY version LIMIT 1`, s.lastMigration).Scan(&name)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		s.setProblem(ProblemSchemaNewer, "")
		return nil
	case err != nil:
		return fmt.Errorf("lead: read schema_migrations on %s: %w", s.where, err)
	}
	s.setProblem(ProblemSchemaNewer, "the database has migration "+name+", unknown to this probed: a newer probed migrated it; this holder no longer leads: stop it and upgrade it")
	return fmt.Errorf("lead on %s: %w (%s): upgrade this holder", s.where, ErrSchemaNewer, name)
}

// Resign gives the lease up at once if it is still at epoch (a clean
// stop), so another holder leads without waiting for it to expire.
func (s *Store) Resign(ctx context.Context, epoch int64) error {
	if !s.pg || epoch == 0 {
		return nil
	}
	if _, err := s.l.ExecContext(ctx, `UPDATE leader_lease SET expires_ms = 0 WHERE name = 'leader' AND epoch = ?`, epoch); err != nil {
		return fmt.Errorf("resign leader lease on %s: %w", s.where, err)
	}
	return nil
}

// Leadership is the leader lease as the database has it.
type Leadership struct {
	Holder  string    `json:"holder"`
	Epoch   int64     `json:"epoch"`
	Since   time.Time `json:"since"`
	Expires time.Time `json:"expires"`
	// Live is false when the lease has expired (no holder leads until
	// one takes it) or was never taken.
	Live bool `json:"live"`
}

// Leader reads the lease: who leads, since when, at which epoch. On SQLite
// the one process leads (Holder empty, Epoch 1, Live).
func (s *Store) Leader(ctx context.Context) (Leadership, error) {
	if !s.pg {
		return Leadership{Epoch: 1, Live: true}, nil
	}
	var l Leadership
	var since, exp, now int64
	err := s.r.QueryRowContext(ctx, `SELECT holder, epoch, since_ms, expires_ms, `+dbNowMS+` FROM leader_lease WHERE name = 'leader'`).
		Scan(&l.Holder, &l.Epoch, &since, &exp, &now)
	if err != nil {
		return Leadership{}, fmt.Errorf("read leader lease: %w", err)
	}
	l.Since, l.Expires, l.Live = time.UnixMilli(since), time.UnixMilli(exp), l.Epoch > 0 && exp > now
	return l, nil
}

// Kinds of leader inbox items.
const (
	InboxResult = "result" // a probe result (JSON of run.Result, failed checks only)
	InboxAlerts = "alerts" // an Alertmanager delivery, as the incident engine encoded it
)

// InboxItem is one thing a holder handed the leader.
type InboxItem struct {
	ID      int64
	Kind    string
	Holder  string
	Body    []byte
	Created time.Time
}

// QueueForLeader puts an item in the leader's inbox at once (an
// Alertmanager delivery received by a holder that does not lead). Results
// get there with the writer's batches instead (Options.InboxHolder).
func (s *Store) QueueForLeader(ctx context.Context, holder, kind string, body []byte) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO leader_inbox (kind, holder, body, created_ms) VALUES (?, ?, ?, ?)`,
			kind, holder, string(body), s.clock.Now().UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("queue %s for the leader: %w", kind, err)
	}
	return nil
}

// TakeInbox returns up to limit items of the leader's inbox, oldest first,
// without removing them: the leader evaluates them, then AckInbox deletes
// them, so a leader that dies in between leaves them to the next (an item
// may be read twice, never lost; the engine counts nothing twice). Run it fenced: a deposed leader
// gets ErrDeposed.
func (s *Store) TakeInbox(ctx context.Context, limit int) ([]InboxItem, error) {
	var out []InboxItem
	lock := s.skipLocked(`leader_inbox`)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, kind, holder, body, created_ms FROM leader_inbox ORDER BY id LIMIT ?`+lock, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var it InboxItem
			var body string
			var created int64
			if err := rows.Scan(&it.ID, &it.Kind, &it.Holder, &body, &created); err != nil {
				return err
			}
			it.Body, it.Created = []byte(body), time.UnixMilli(created)
			out = append(out, it)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read the leader inbox: %w", err)
	}
	return out, nil
}

// AckInbox deletes inbox items by id, once evaluated.
func (s *Store) AckInbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	list, _ := json.Marshal(ids)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM leader_inbox WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))`, string(list))
		return err
	})
	if err != nil {
		return fmt.Errorf("acknowledge %d leader inbox items: %w", len(ids), err)
	}
	return nil
}

// InboxLength counts the items waiting for the leader.
func (s *Store) InboxLength(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM leader_inbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the leader inbox: %w", err)
	}
	return n, nil
}

// inboxResults inserts the batch's results in the leader's inbox in tx,
// in their order (on PostgreSQL one statement over an array, as the
// results themselves are written).
func (s *Store) inboxResults(ctx context.Context, tx *sql.Tx, holder string, batch []run.Result) error {
	if holder == "" || len(batch) == 0 {
		return nil
	}
	now := s.clock.Now().UnixMilli()
	bodies := make([]string, 0, len(batch))
	for _, r := range batch {
		r.Checks = r.FailedChecks()
		body, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("queue result %s for the leader: %w", r.Probe, err)
		}
		bodies = append(bodies, string(body))
	}
	if s.pg {
		if _, err := tx.ExecContext(ctx, `INSERT INTO leader_inbox (kind, holder, body, created_ms)
			SELECT CAST(? AS TEXT), CAST(? AS TEXT), u.body, CAST(? AS BIGINT) FROM unnest(?::text[]) WITH ORDINALITY AS u(body, n) ORDER BY u.n`,
			InboxResult, holder, now, bodies); err != nil {
			return fmt.Errorf("queue results for the leader: %w", err)
		}
		return nil
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO leader_inbox (kind, holder, body, created_ms) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("queue results for the leader: %w", err)
	}
	defer ins.Close()
	for _, b := range bodies {
		if _, err := ins.ExecContext(ctx, InboxResult, holder, b, now); err != nil {
			return fmt.Errorf("queue results for the leader: %w", err)
		}
	}
	return nil
}
