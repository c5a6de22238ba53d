package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
)

type stateKey struct{ probe, key string }

// stateValue is a value PutState was given and the writer has not written
// yet; gen tells a value written from one put again since.
type stateValue struct {
	value []byte
	gen   uint64
}

// pendingStates holds the probe states waiting for the writer. There is one
// entry per probe and key, so it never holds more than the probes' states.
type pendingStates struct {
	mu  sync.Mutex
	m   map[stateKey]stateValue
	gen uint64
}

// GetState returns a probe's saved value for key, or nil when there is none.
// A value PutState was given and not yet written is returned as saved.
func (s *Store) GetState(ctx context.Context, probe, key string) ([]byte, error) {
	s.states.mu.Lock()
	v, ok := s.states.m[stateKey{probe, key}]
	s.states.mu.Unlock()
	if ok {
		return slices.Clone(v.value), nil
	}
	var b []byte
	db := s.r
	if s.sr != nil {
		db = s.sr // PostgreSQL: a lock stops reads too; see stateLockWait
	}
	err := db.QueryRowContext(ctx, `SELECT value FROM probe_state WHERE probe = ? AND key = ?`, probe, key).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get state %s/%s: %w", probe, key, s.readFailed(ctx, err))
	}
	return b, nil
}

// PutState saves a probe's value for key, in the background: it returns at
// once, without touching the database, so a locked or slow database never
// delays or fails the run that calls it. The writer saves the value with
// the next batch of results, retrying like them while the database is
// locked; GetState sees the value meanwhile, and Flush and Close wait for it.
func (s *Store) PutState(ctx context.Context, probe, key string, value []byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("put state %s/%s: %w", probe, key, ErrClosed)
	}
	s.states.mu.Lock()
	if s.states.m == nil {
		s.states.m = map[stateKey]stateValue{}
	}
	s.states.gen++
	s.states.m[stateKey{probe, key}] = stateValue{value: slices.Clone(value), gen: s.states.gen}
	s.states.mu.Unlock()
	// Wake the writer; when the queue is full it is busy and sees the
	// state with its next batch anyway.
	select {
	case s.queue <- queued{}:
	default:
	}
	return nil
}

type stateWrite struct {
	k stateKey
	v stateValue
}

// takeStates returns the states waiting to be written.
func (s *Store) takeStates() []stateWrite {
	s.states.mu.Lock()
	defer s.states.mu.Unlock()
	out := make([]stateWrite, 0, len(s.states.m))
	for k, v := range s.states.m {
		out = append(out, stateWrite{k, v})
	}
	return out
}

// statesWritten forgets the states written, unless put again meanwhile.
func (s *Store) statesWritten(ws []stateWrite) {
	s.states.mu.Lock()
	defer s.states.mu.Unlock()
	for _, w := range ws {
		if cur, ok := s.states.m[w.k]; ok && cur.gen == w.v.gen {
			delete(s.states.m, w.k)
		}
	}
}

func (s *Store) statesWaiting() bool {
	s.states.mu.Lock()
	defer s.states.mu.Unlock()
	return len(s.states.m) > 0
}

// writeStates writes states in tx (the writer's batch transaction).
func (s *Store) writeStates(ctx context.Context, tx *sql.Tx, ws []stateWrite) error {
	if len(ws) == 0 {
		return nil
	}
	now := s.clock.Now().UnixMilli()
	for _, w := range ws {
		_, err := tx.ExecContext(ctx, `INSERT INTO probe_state (probe, key, value, updated_ms) VALUES (?, ?, ?, ?)
			ON CONFLICT (probe, key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms`,
			w.k.probe, w.k.key, w.v.value, now)
		if err != nil {
			return fmt.Errorf("put state %s/%s: %w", w.k.probe, w.k.key, err)
		}
	}
	return nil
}
