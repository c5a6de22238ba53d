package incident

import (
	"context"
	"errors"
	"fmt"

	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
)

// engineLock is the engine's mutex, which an operator request can wait for
// with a deadline: while the engine waits on a locked database, the
// request gives up with store.ErrBusy (503) instead of hanging.
type engineLock chan struct{}

func newEngineLock() engineLock { return make(engineLock, 1) }

// Lock waits for the lock without a bound (the engine's own goroutine).
func (l engineLock) Lock() { l <- struct{}{} }

// Unlock releases the lock.
func (l engineLock) Unlock() { <-l }

// LockWait bounds how long an operator action waits for the engine's lock
// (held while the engine writes to a locked database) before it gives up
// with store.ErrBusy.
const LockWait = store.RetryAfter

// LockContext waits for the lock until ctx ends or LockWait has passed; it
// then returns an error wrapping store.ErrBusy.
func (l engineLock) LockContext(ctx context.Context) error {
	select {
	case l <- struct{}{}:
		return nil
	default:
	}
	ctx, cancel := context.WithTimeout(ctx, LockWait)
	defer cancel()
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the incident engine, busy with the database: %w", errors.Join(store.ErrBusy, ctx.Err()))
	}
}

// DefaultInbox is how many results the engine queues (Inbox) before it
// drops them: over a minute of 1,000 probes every second.
const DefaultInbox = 65536

// Inbox is the probes.Sink the scheduler hands results to: Record queues
// the result for the engine's own goroutine (Run) and returns at once, so
// a run never waits for the engine's lock, which the engine holds while it
// writes to the database (a locked database delays evaluation, never a
// run). A full inbox drops the result, counted in
// probed_incident_results_dropped_total.
func (e *Engine) Inbox() probes.Sink { return inbox{e} }

type inbox struct{ e *Engine }

// Record queues r for evaluation.
func (in inbox) Record(ctx context.Context, r probes.Result) error {
	select {
	case in.e.inbox <- r:
		return nil
	default:
		in.e.dropped.Inc()
		return fmt.Errorf("incident engine: inbox full (%d results waiting): result of %s not evaluated", cap(in.e.inbox), r.Probe)
	}
}

// evaluateQueued evaluates r and whatever else is queued (up to a batch),
// under one hold of the lock.
func (e *Engine) evaluateQueued(ctx context.Context, r probes.Result) {
	cfg := e.opts.Config()
	changed := false
	e.mu.Lock()
	for n := 0; ; n++ {
		c, err := e.record(ctx, cfg, r)
		changed = changed || c
		if err != nil && ctx.Err() == nil {
			e.logger.Error("incident engine: result not fully evaluated; the next tick reconciles", "probe", r.Probe, "location", r.Location, "err", err)
		}
		if n == 255 {
			break
		}
		var ok bool
		select {
		case r, ok = <-e.inbox:
		default:
		}
		if !ok {
			break
		}
	}
	e.mu.Unlock()
	if changed {
		e.changed()
	}
	if err := e.saveHealth(ctx); err != nil && ctx.Err() == nil {
		e.logger.Error("incident engine: probe health not saved; retried with the next results", "err", err)
	}
}
