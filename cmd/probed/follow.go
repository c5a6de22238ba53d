package main

import (
	"context"
	"time"
)

// follow keeps what this holder serves from memory in step with the
// changes every holder commits to a shared PostgreSQL database: each one
// heard of (LISTEN/NOTIFY, or the change counter polled while the listening
// connection is down; store/changes.go) invalidates the public snapshot,
// rebuilt within a second, and, on a follower, brings the incident
// engine's view (component health, alerts, locations: the console's
// dashboard and /metrics) up to date with what the leader wrote, reading
// only what changed (store.LoadEngineView). The console reads
// incidents from the database at every request. On SQLite it returns at
// once: there is one holder, and its engine's OnChange invalidates the
// snapshot in process.
func (d *Daemon) follow(ctx context.Context) error {
	if !d.lead.shared {
		return d.store.Follow(ctx, d.followOpts, d.public.Invalidate)
	}
	kick := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.refreshOnKick(ctx, kick)
	}()
	err := d.store.Follow(ctx, d.followOpts, func() {
		d.public.Invalidate()
		if d.lead.Leading() != 0 {
			// The leader acts at once on another holder's change: its
			// engine ticks (a maintenance scheduled there starts on
			// time), its mail and operator webhooks look for work (an
			// approval there is mailed now, not at their next poll).
			d.engine.Wake()
			d.notify.Wake()
			d.opHooks.Wake()
		}
		select {
		case kick <- struct{}{}:
		default: // a refresh is due already: it reads this change too
		}
	})
	<-done
	return err
}

// refreshSpacing is the least time between two refreshes of a follower's
// engine view: a burst of changes costs one refresh per period.
const refreshSpacing = 250 * time.Millisecond

// refreshEvery is the longest a follower's engine view goes without a
// refresh: the leader's writes of probe health (after nearly every result)
// notify nobody, and are read then. A refresh that finds nothing changed
// reads two rows (about a millisecond of CPU, BenchmarkFollowerRefresh).
const refreshEvery = time.Second

// refreshOnKick refreshes the engine's view at every kick and every
// refreshEvery (the leader's own view is its own: Refresh does nothing
// there) until ctx ends.
func (d *Daemon) refreshOnKick(ctx context.Context, kick <-chan struct{}) {
	tick := time.NewTicker(refreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := d.engine.Refresh(rctx); err != nil && ctx.Err() == nil {
			d.logger.Debug("follower's engine view not refreshed; the lease loop retries", "err", err)
		}
		cancel()
		t := time.NewTimer(refreshSpacing)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
