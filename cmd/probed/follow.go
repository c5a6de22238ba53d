package main

import "context"

// follow keeps what this holder serves from memory in step with the
// changes every holder commits to a shared PostgreSQL database: each one
// heard of (LISTEN/NOTIFY, or the change counter polled while the listening
// connection is down; store/changes.go) invalidates the public snapshot,
// rebuilt within a second. The console reads incidents from the database
// at every request. On SQLite it returns at once: there is one holder, and
// its engine's OnChange invalidates the snapshot in process.
//
// A change also wakes this holder's leader duties (when it leads): the
// engine ticks (a maintenance scheduled on another holder starts on time)
// and the mail and operator webhooks look for work (an approval on another
// holder is mailed at once, not at their next poll).
func (d *Daemon) follow(ctx context.Context) error {
	return d.store.Follow(ctx, d.followOpts, func() {
		d.public.Invalidate()
		if d.lead.Leading() != 0 {
			d.engine.Wake()
			d.notify.Wake()
			d.opHooks.Wake()
		}
	})
}
