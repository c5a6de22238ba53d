package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Subscriber kinds.
const (
	SubscriberEmail   = "email"
	SubscriberWebhook = "webhook"
)

// Subscriber states.
const (
	SubscriberPending      = "pending"      // asked on the public form, not confirmed yet
	SubscriberActive       = "active"       // receives notifications
	SubscriberUnsubscribed = "unsubscribed" // left; kept so old links answer sensibly
	SubscriberQuarantined  = "quarantined"  // deliveries failed for good too often
)

// Subscriber sources.
const (
	SourceWeb      = "web"
	SourceOperator = "operator"
)

// ErrNothingToConfirm is returned when a confirmation link is used but no
// choice awaits confirmation (already confirmed, or superseded).
var ErrNothingToConfirm = errors.New("nothing to confirm")

// Subscriber is one e-mail address or webhook URL and what it chose.
type Subscriber struct {
	ID                int64     `json:"id"`
	Kind              string    `json:"kind"`
	Address           string    `json:"address"`
	State             string    `json:"state"`
	Source            string    `json:"source"`
	Components        []string  `json:"components"`
	PendingComponents []string  `json:"pending_components,omitempty"`
	Failures          int       `json:"failures"`
	LastError         string    `json:"last_error,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
	ConfirmedAt       time.Time `json:"confirmed_at,omitzero"`
	ConfirmSentAt     time.Time `json:"confirm_sent_at,omitzero"`
	// Language is the page language the subscriber chose ("" unknown):
	// the links mailed to it carry it.
	Language string `json:"language,omitempty"`

	// Salt keys this subscriber's signed links; Secret signs its webhooks.
	// Neither is ever shown in listings.
	Salt   []byte `json:"-"`
	Secret string `json:"-"`
}

func addressKey(kind, address string) string {
	return kind + ":" + strings.ToLower(strings.TrimSpace(address))
}

const subscriberCols = `id, kind, address, state, source, salt, COALESCE(secret, ''), pending_components, COALESCE(confirm_sent_ms, 0),
	failures, COALESCE(last_error, ''), created_ms, updated_ms, COALESCE(confirmed_ms, 0), language`

type scanner interface{ Scan(dest ...any) error }

func scanSubscriber(row scanner) (Subscriber, error) {
	var s Subscriber
	var pending sql.NullString
	var sent, created, updated, confirmed int64
	if err := row.Scan(&s.ID, &s.Kind, &s.Address, &s.State, &s.Source, &s.Salt, &s.Secret, &pending, &sent,
		&s.Failures, &s.LastError, &created, &updated, &confirmed, &s.Language); err != nil {
		return s, err
	}
	if pending.Valid {
		if err := json.Unmarshal([]byte(pending.String), &s.PendingComponents); err != nil {
			return s, fmt.Errorf("pending components of subscriber %d: %w", s.ID, err)
		}
		if s.PendingComponents == nil {
			s.PendingComponents = []string{}
		}
	}
	s.CreatedAt, s.UpdatedAt = time.UnixMilli(created), time.UnixMilli(updated)
	if sent != 0 {
		s.ConfirmSentAt = time.UnixMilli(sent)
	}
	if confirmed != 0 {
		s.ConfirmedAt = time.UnixMilli(confirmed)
	}
	return s, nil
}

func (s *Store) loadComponents(ctx context.Context, q querier, subs []Subscriber) error {
	if len(subs) == 0 {
		return nil
	}
	idx := make(map[int64]int, len(subs))
	ids := make([]int64, len(subs))
	for i := range subs {
		idx[subs[i].ID] = i
		ids[i] = subs[i].ID
		subs[i].Components = []string{}
	}
	list, _ := json.Marshal(ids)
	rows, err := q.QueryContext(ctx, `SELECT subscriber, component FROM subscriber_components
		WHERE subscriber IN (SELECT CAST(value AS BIGINT) FROM json_each(?)) ORDER BY subscriber, component`, string(list))
	if err != nil {
		return fmt.Errorf("read subscriber components: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var c string
		if err := rows.Scan(&id, &c); err != nil {
			return fmt.Errorf("read subscriber components: %w", err)
		}
		i := idx[id]
		subs[i].Components = append(subs[i].Components, c)
	}
	return rows.Err()
}

func (s *Store) subscriberWhere(ctx context.Context, q querier, where string, args ...any) (Subscriber, error) {
	sub, err := scanSubscriber(q.QueryRowContext(ctx, `SELECT `+subscriberCols+` FROM subscribers WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return sub, ErrNotFound
	}
	if err != nil {
		return sub, fmt.Errorf("read subscriber: %w", err)
	}
	one := []Subscriber{sub}
	if err := s.loadComponents(ctx, q, one); err != nil {
		return sub, err
	}
	return one[0], nil
}

// Subscriber returns the subscriber with an id, or ErrNotFound.
func (s *Store) Subscriber(ctx context.Context, id int64) (Subscriber, error) {
	return s.subscriberWhere(ctx, s.r, `id = ?`, id)
}

// SubscriberByAddress returns the subscriber of a kind with an address
// (compared without case), or ErrNotFound.
func (s *Store) SubscriberByAddress(ctx context.Context, kind, address string) (Subscriber, error) {
	return s.subscriberWhere(ctx, s.r, `address_key = ?`, addressKey(kind, address))
}

// Subscribers lists subscribers, oldest first; state filters when not empty.
func (s *Store) Subscribers(ctx context.Context, state string) ([]Subscriber, error) {
	q := `SELECT ` + subscriberCols + ` FROM subscribers`
	var args []any
	if state != "" {
		q += ` WHERE state = ?`
		args = append(args, state)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list subscribers: %w", err)
	}
	var out []Subscriber
	for rows.Next() {
		sub, err := scanSubscriber(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list subscribers: %w", err)
		}
		out = append(out, sub)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list subscribers: %w", err)
	}
	// Components in chunks: json_each over a huge list is fine, but keep
	// each statement's argument small.
	for i := 0; i < len(out); i += 500 {
		if err := s.loadComponents(ctx, s.r, out[i:min(i+500, len(out))]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SubscriberCounts returns how many subscribers are in each state.
func (s *Store) SubscriberCounts(ctx context.Context) (map[string]int, error) {
	return s.countByState(ctx, "subscribers", `SELECT state, COUNT(*) FROM subscribers GROUP BY state`)
}

func newSalt() ([]byte, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("make salt: %w", err)
	}
	return b, nil
}

func cleanComponents(comps []string) []string {
	out := slices.Clone(comps)
	slices.Sort(out)
	out = slices.Compact(out)
	return slices.DeleteFunc(out, func(c string) bool { return c == "" })
}

func setSubscriberComponents(ctx context.Context, tx *sql.Tx, id int64, comps []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM subscriber_components WHERE subscriber = ?`, id); err != nil {
		return fmt.Errorf("set components: %w", err)
	}
	if len(comps) == 0 {
		return nil
	}
	list, _ := json.Marshal(comps)
	if _, err := tx.ExecContext(ctx, `INSERT INTO subscriber_components (component, subscriber) SELECT value, CAST(? AS BIGINT) FROM json_each(?) WHERE true ON CONFLICT DO NOTHING`, id, string(list)); err != nil {
		return fmt.Errorf("set components: %w", err)
	}
	return nil
}

// SubscriptionRequest is the outcome of RequestSubscription.
type SubscriptionRequest struct {
	Subscriber Subscriber
	// Queued is true when a confirmation mail was queued; false when one was
	// queued less than the minimum gap ago (the request is recorded, no mail).
	Queued bool
}

// RequestSubscription records a public request to subscribe address to
// components, awaiting confirmation: a new address becomes pending; an
// active one keeps its current choice until the new one is confirmed. The
// language the request was made in ("" unknown) replaces the one kept. A
// confirmation mail is queued unless one was queued less than minGap ago,
// so repeated requests never send more than one per address per minGap.
func (s *Store) RequestSubscription(ctx context.Context, address, language string, components []string, minGap time.Duration) (SubscriptionRequest, error) {
	var out SubscriptionRequest
	now := s.clock.Now()
	comps, _ := json.Marshal(cleanComponents(components))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		sub, err := s.subscriberWhere(ctx, tx, `address_key = ?`, addressKey(SubscriberEmail, address))
		switch {
		case errors.Is(err, ErrNotFound):
			salt, err := newSalt()
			if err != nil {
				return err
			}
			err = tx.QueryRowContext(ctx, `INSERT INTO subscribers (kind, address, address_key, state, source, salt, pending_components, created_ms, updated_ms, language)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, SubscriberEmail, strings.TrimSpace(address), addressKey(SubscriberEmail, address),
				SubscriberPending, SourceWeb, salt, string(comps), now.UnixMilli(), now.UnixMilli(), language).Scan(&sub.ID)
			if err != nil {
				return fmt.Errorf("request subscription: %w", err)
			}
		case err != nil:
			return err
		default:
			if sub.Kind != SubscriberEmail {
				return fmt.Errorf("request subscription: the address is a %s subscriber: %w", sub.Kind, ErrInvalid)
			}
			state := sub.State
			if state == SubscriberUnsubscribed {
				state = SubscriberPending
			}
			if language == "" {
				language = sub.Language
			}
			if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET pending_components = ?, state = ?, updated_ms = ?, language = ? WHERE id = ?`,
				string(comps), state, now.UnixMilli(), language, sub.ID); err != nil {
				return fmt.Errorf("request subscription: %w", err)
			}
			if !sub.ConfirmSentAt.IsZero() && now.Sub(sub.ConfirmSentAt) < minGap {
				out.Subscriber, err = s.subscriberWhere(ctx, tx, `id = ?`, sub.ID)
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET confirm_sent_ms = ? WHERE id = ?`, now.UnixMilli(), sub.ID); err != nil {
			return fmt.Errorf("request subscription: %w", err)
		}
		// A confirmation still waiting in the outbox already carries a link
		// that confirms the latest choice: no second one.
		res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (kind, subscriber, channel, state, due_ms, created_ms) VALUES ('confirm', ?, 'email', 'pending', ?, ?) ON CONFLICT DO NOTHING`,
			sub.ID, now.UnixMilli(), now.UnixMilli())
		if err != nil {
			return fmt.Errorf("request subscription: queue confirmation: %w", err)
		}
		n, _ := res.RowsAffected()
		out.Queued = n == 1
		out.Subscriber, err = s.subscriberWhere(ctx, tx, `id = ?`, sub.ID)
		return err
	})
	return out, err
}

// ConfirmSubscription applies the choice awaiting confirmation and makes the
// subscriber active. It returns ErrNothingToConfirm when no choice waits.
func (s *Store) ConfirmSubscription(ctx context.Context, id int64) (Subscriber, error) {
	var out Subscriber
	err := s.tx(ctx, func(tx *sql.Tx) error {
		sub, err := s.subscriberWhere(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if sub.PendingComponents == nil {
			return ErrNothingToConfirm
		}
		now := s.clock.Now().UnixMilli()
		state := SubscriberActive
		if len(sub.PendingComponents) == 0 {
			state = SubscriberUnsubscribed
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET state = ?, pending_components = NULL, failures = 0,
			confirmed_ms = COALESCE(confirmed_ms, ?), updated_ms = ? WHERE id = ?`, state, now, now, id); err != nil {
			return fmt.Errorf("confirm subscription: %w", err)
		}
		if err := setSubscriberComponents(ctx, tx, id, sub.PendingComponents); err != nil {
			return err
		}
		out, err = s.subscriberWhere(ctx, tx, `id = ?`, id)
		return err
	})
	return out, err
}

// SetSubscriberLanguage sets the page language a subscriber's mailed links
// carry.
func (s *Store) SetSubscriberLanguage(ctx context.Context, id int64, language string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE subscribers SET language = ? WHERE id = ?`, language, id)
		if err != nil {
			return fmt.Errorf("set subscriber language: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("set subscriber language: subscriber %d: %w", id, ErrNotFound)
		}
		return nil
	})
}

// SetSubscriberComponents replaces a subscriber's choice and makes it
// active (the caller has proved the address is theirs: a signed link that
// was only ever mailed to it, or an operator); an empty choice unsubscribes.
func (s *Store) SetSubscriberComponents(ctx context.Context, id int64, components []string) (Subscriber, error) {
	comps := cleanComponents(components)
	if len(comps) == 0 {
		return s.Unsubscribe(ctx, id)
	}
	var out Subscriber
	err := s.tx(ctx, func(tx *sql.Tx) error {
		sub, err := s.subscriberWhere(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		now := s.clock.Now().UnixMilli()
		if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET state = ?, pending_components = NULL, failures = 0, updated_ms = ?,
			confirmed_ms = COALESCE(confirmed_ms, ?) WHERE id = ?`, SubscriberActive, now, now, sub.ID); err != nil {
			return fmt.Errorf("set components: %w", err)
		}
		if err := setSubscriberComponents(ctx, tx, id, comps); err != nil {
			return err
		}
		out, err = s.subscriberWhere(ctx, tx, `id = ?`, id)
		return err
	})
	return out, err
}

// Unsubscribe stops every notification to a subscriber at once: its choice
// is cleared and its undelivered messages are dropped. Unsubscribing twice
// is not an error.
func (s *Store) Unsubscribe(ctx context.Context, id int64) (Subscriber, error) {
	var out Subscriber
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now().UnixMilli()
		res, err := tx.ExecContext(ctx, `UPDATE subscribers SET state = ?, pending_components = NULL, updated_ms = ? WHERE id = ?`,
			SubscriberUnsubscribed, now, id)
		if err != nil {
			return fmt.Errorf("unsubscribe: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if err := setSubscriberComponents(ctx, tx, id, nil); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = 'dropped', done_ms = ?, last_error = 'unsubscribed'
			WHERE subscriber = ? AND state = 'pending'`, now, id); err != nil {
			return fmt.Errorf("unsubscribe: %w", err)
		}
		out, err = s.subscriberWhere(ctx, tx, `id = ?`, id)
		return err
	})
	return out, err
}

// AddSubscriber adds (or re-activates) a subscriber on an operator's word:
// active at once, no confirmation. For a webhook, secret signs its posts.
func (s *Store) AddSubscriber(ctx context.Context, kind, address string, components []string, secret string) (Subscriber, error) {
	if kind != SubscriberEmail && kind != SubscriberWebhook {
		return Subscriber{}, fmt.Errorf("add subscriber: unknown kind %q: %w", kind, ErrInvalid)
	}
	comps := cleanComponents(components)
	if len(comps) == 0 {
		return Subscriber{}, fmt.Errorf("add subscriber: no components: %w", ErrInvalid)
	}
	var out Subscriber
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now().UnixMilli()
		salt, err := newSalt()
		if err != nil {
			return err
		}
		var sec any
		if secret != "" {
			sec = secret
		}
		var id int64
		err = tx.QueryRowContext(ctx, `INSERT INTO subscribers (kind, address, address_key, state, source, salt, secret, created_ms, updated_ms, confirmed_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (address_key) DO UPDATE SET state = excluded.state, source = excluded.source, secret = COALESCE(excluded.secret, subscribers.secret),
				pending_components = NULL, failures = 0, last_error = NULL, updated_ms = excluded.updated_ms,
				confirmed_ms = COALESCE(subscribers.confirmed_ms, excluded.confirmed_ms)
			RETURNING id`, kind, strings.TrimSpace(address), addressKey(kind, address), SubscriberActive, SourceOperator, salt, sec, now, now, now).Scan(&id)
		if err != nil {
			return fmt.Errorf("add subscriber: %w", err)
		}
		if err := setSubscriberComponents(ctx, tx, id, comps); err != nil {
			return err
		}
		out, err = s.subscriberWhere(ctx, tx, `id = ?`, id)
		return err
	})
	return out, err
}

// RemoveSubscriber deletes a subscriber and its outbox rows.
func (s *Store) RemoveSubscriber(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM subscribers WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("remove subscriber: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// PurgeUnconfirmed deletes subscribers that last asked before cutoff and
// never confirmed, so addresses typed by someone else do not linger (a
// newer request keeps its link working).
func (s *Store) PurgeUnconfirmed(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM subscribers WHERE state = ? AND confirmed_ms IS NULL AND COALESCE(confirm_sent_ms, created_ms) < ?`,
			SubscriberPending, cutoff.UnixMilli())
		if err != nil {
			return fmt.Errorf("purge unconfirmed: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}

// SigningKey returns the named HMAC key, making and storing a random 32-byte
// one on first use.
func (s *Store) SigningKey(ctx context.Context, name string) ([]byte, error) {
	var key []byte
	err := s.tx(ctx, func(tx *sql.Tx) error {
		fresh := make([]byte, 32)
		if _, err := rand.Read(fresh); err != nil {
			return fmt.Errorf("make signing key: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (name, key, created_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			name, fresh, s.clock.Now().UnixMilli()); err != nil {
			return fmt.Errorf("store signing key: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT key FROM signing_keys WHERE name = ?`, name).Scan(&key); err != nil {
			return fmt.Errorf("read signing key: %w", err)
		}
		return nil
	})
	return key, err
}
