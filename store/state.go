package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// GetState returns a probe's saved value for key, or nil when there is none.
func (s *Store) GetState(ctx context.Context, probe, key string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM probe_state WHERE probe = ? AND key = ?`, probe, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get state %s/%s: %w", probe, key, err)
	}
	return v, nil
}

// PutState saves a probe's value for key.
func (s *Store) PutState(ctx context.Context, probe, key string, value []byte) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO probe_state (probe, key, value, updated_ms) VALUES (?, ?, ?, ?)
			ON CONFLICT (probe, key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms`,
			probe, key, value, s.clock.Now().UnixMilli())
		if err != nil {
			return fmt.Errorf("put state %s/%s: %w", probe, key, err)
		}
		return nil
	})
}
