package main

import "context"

// follow keeps what this holder serves from memory in step with the
// changes every holder commits to a shared PostgreSQL database: each one
// heard of (LISTEN/NOTIFY, or the change counter polled while the listening
// connection is down; store/changes.go) invalidates the public snapshot,
// rebuilt within a second. The console reads incidents from the database
// at every request. On SQLite it returns at once: there is one holder, and
// its engine's OnChange invalidates the snapshot in process.
func (d *Daemon) follow(ctx context.Context) error {
	return d.store.Follow(ctx, d.followOpts, d.public.Invalidate)
}
