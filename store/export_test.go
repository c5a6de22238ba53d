package store

// Helpers for this package's tests only: other packages' tests add
// subscribers and events through the store's exported methods.

import (
	"context"
	"database/sql"
	"fmt"
)

// AddEventForTest writes an event as an incident change would, for tests
// and benchmarks of the notify worker that need events without incidents.
func (s *Store) AddEventForTest(ctx context.Context, e Event) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = s.insertEvent(ctx, tx, e)
		return err
	})
	return id, err
}

// AddSubscribersForTest adds many active e-mail subscribers in one
// transaction (AddSubscriber takes one each), for tests and benchmarks.
func (s *Store) AddSubscribersForTest(ctx context.Context, addresses []string, components []string) error {
	comps := cleanComponents(components)
	now := s.clock.Now().UnixMilli()
	return s.tx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO subscribers (kind, address, address_key, state, source, salt, created_ms, updated_ms, confirmed_ms)
			VALUES ('email', ?, ?, 'active', 'operator', ?, ?, ?, ?) RETURNING id`)
		if err != nil {
			return fmt.Errorf("add subscribers: %w", err)
		}
		defer ins.Close()
		comp, err := tx.PrepareContext(ctx, `INSERT INTO subscriber_components (component, subscriber) VALUES (?, ?)`)
		if err != nil {
			return fmt.Errorf("add subscribers: %w", err)
		}
		defer comp.Close()
		for _, a := range addresses {
			salt, err := newSalt()
			if err != nil {
				return err
			}
			var id int64
			if err := ins.QueryRowContext(ctx, a, addressKey(SubscriberEmail, a), salt, now, now, now).Scan(&id); err != nil {
				return fmt.Errorf("add subscriber %s: %w", a, err)
			}
			for _, c := range comps {
				if _, err := comp.ExecContext(ctx, c, id); err != nil {
					return fmt.Errorf("add subscriber %s: %w", a, err)
				}
			}
		}
		return nil
	})
}
