package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"
)

// Holders started together on one fresh PostgreSQL database take turns on
// the migrations' advisory lock: both opens succeed, every migration is
// applied once (by one of them), and the schema is the one a lone holder
// makes. The test holds the lock until both are waiting on it, so they
// really meet; then they race for it.
func TestHoldersTakeTurnsMigrating(t *testing.T) {
	dsn := pg.DSN(t)
	other := holdMigrationLock(t, dsn)
	const holders = 2
	type opened struct {
		s   *Store
		err error
	}
	out := make(chan opened, holders)
	for range holders {
		go func() {
			// A busy timeout far shorter than the migrations: the turn is
			// not cut by lock_timeout.
			s, err := Open(context.Background(), Options{Driver: "postgres", DSN: dsn, BusyTimeout: time.Millisecond})
			out <- opened{s, err}
		}()
	}
	waitFor(t, "both holders to wait for the migrations' lock", func() bool { return migrationWaiters(t, other) == holders })
	other.release()

	applied := map[string]int{}
	for range holders {
		o := <-out
		if o.err != nil {
			t.Fatalf("Open of a holder started with another: %v", o.err)
		}
		t.Cleanup(func() { o.s.Close() })
		for _, name := range o.s.applied {
			applied[name]++
		}
	}
	want := shippedPostgresMigrations(t)
	for _, name := range want {
		if applied[name] != 1 {
			t.Errorf("migration %s applied %d times, want once", name, applied[name])
		}
	}
	if len(applied) != len(want) {
		t.Errorf("applied %d distinct migrations, want %d", len(applied), len(want))
	}
	raced, lone := postgresSchema(t, dsn), postgresSchema(t, migratedAlone(t))
	if raced != lone {
		t.Errorf("schema after two holders migrated together differs from a lone holder's:\n%s", lineDiff(raced, lone))
	}
}

// A holder that finds another holding the migrations' lock waits for it
// for as long as its context allows, past its busy timeout, then fails
// with an error that says what it was waiting for; it has created nothing.
// Once the lock goes, the next holder migrates.
func TestMigrationWaitEndsWithItsContext(t *testing.T) {
	dsn := pg.DSN(t)
	other := holdMigrationLock(t, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		s, err := Open(ctx, Options{Driver: "postgres", DSN: dsn, BusyTimeout: time.Millisecond})
		if err == nil {
			s.Close()
		}
		done <- err
	}()
	waitFor(t, "the holder to wait for the migrations' lock", func() bool { return migrationWaiters(t, other) == 1 })
	select {
	case err := <-done:
		t.Fatalf("Open returned while another held the migrations' lock: %v", err)
	default:
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "wait for other holders' migrations") {
		t.Fatalf("Open whose context ended while waiting = %v, want context.Canceled and what it waited for", err)
	}
	if n := other.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`); n != 0 {
		t.Errorf("%d tables created by a holder that never had its turn, want 0", n)
	}
	other.release()
	s, _, _ := testStore(t, Options{Driver: "postgres", DSN: dsn})
	if got, want := len(s.applied), len(shippedPostgresMigrations(t)); got != want {
		t.Errorf("the next holder applied %d migrations, want %d", got, want)
	}
}

// holdMigrationLock takes the migrations' advisory lock from a connection
// of its own, as another holder migrating would, until release (or the
// end of the test). Its connection reads what the store cannot while it waits.
func holdMigrationLock(t *testing.T, dsn string) *dbLock {
	t.Helper()
	db, err := openPostgres(dsn, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_lock(?)`, migrateLock); err != nil {
		t.Fatal(err)
	}
	return held(t, db, conn, `SELECT pg_advisory_unlock(?)`, migrateLock)
}

// migrationWaiters counts the sessions waiting for the migrations' advisory
// lock (a bigint key shows as classid, its high half, and objid, its low).
func migrationWaiters(t *testing.T, l *dbLock) int64 {
	t.Helper()
	return l.count(t, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid::bigint = ? AND objid::bigint = ? AND objsubid = 1`, migrateLock>>32, migrateLock&0xffffffff)
}

// shippedPostgresMigrations names the embedded PostgreSQL migrations.
func shippedPostgresMigrations(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(migrations, "migrations/postgres/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		names[i] = strings.TrimPrefix(n, "migrations/postgres/")
	}
	return names
}

// migratedAlone returns a fresh database migrated by one holder alone.
func migratedAlone(t *testing.T) string {
	t.Helper()
	dsn := pg.DSN(t)
	s, _, _ := testStore(t, Options{Driver: "postgres", DSN: dsn})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dsn
}

// postgresSchema describes the current schema of the database at dsn, one
// sorted line per column, index, constraint, trigger and function, and the
// migrations recorded, so two databases' can be compared.
func postgresSchema(t *testing.T, dsn string) string {
	t.Helper()
	db, err := openPostgres(dsn, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var lines []string
	for _, q := range []string{
		`SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
			FROM information_schema.columns WHERE table_schema = current_schema()`,
		`SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()`,
		`SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
			FROM pg_constraint WHERE connamespace = current_schema()::regnamespace`,
		`SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal`,
		`SELECT 'function ' || p.proname || ' ' || md5(p.prosrc) FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace`,
		`SELECT 'migration ' || version || ' ' || name FROM schema_migrations`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var l sql.NullString
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l.String)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(lines) < 50 {
		t.Fatalf("schema of %d lines, want the whole store's:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// lineDiff lists the lines only a has (-) and only b has (+).
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range ma {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// A holder that waits for another holder's migrations says so once the wait
// has lasted migrateWarnAfter (injected short here), naming the session
// holding the lock: its pid and application_name. It says so once a minute
// at most, and migrates once the lock goes.
func TestMigrationWaitIsLogged(t *testing.T) {
	dsn := pg.DSN(t)
	other := holdMigrationLock(t, dsn)
	ctx := context.Background()
	if _, err := other.conn.ExecContext(ctx, `SET application_name = 'holder-x migrating'`); err != nil {
		t.Fatal(err)
	}
	var pid int64
	if err := other.conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	logger, logs := bufferLogger()
	type opened struct {
		s   *Store
		err error
	}
	out := make(chan opened, 1)
	go func() {
		s, err := Open(ctx, Options{Driver: "postgres", DSN: dsn, Logger: logger, migrateWarnAfter: 10 * time.Millisecond})
		out <- opened{s, err}
	}()
	want := fmt.Sprintf(`holder="pid %d, application_name \"holder-x migrating\", client 127.0.0.1`, pid)
	waitFor(t, "a warning naming the holder of the migrations' lock", func() bool { return strings.Contains(logs.String(), want) })
	if got := logs.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "waiting for another holder's migrations") {
		t.Fatalf("log = %s, want a WARN saying what it waits for", got)
	}
	other.release()
	o := <-out
	if o.err != nil {
		t.Fatalf("Open after the lock went: %v", o.err)
	}
	t.Cleanup(func() { o.s.Close() })
	if got, want := len(o.s.applied), len(shippedPostgresMigrations(t)); got != want {
		t.Errorf("applied %d migrations after the wait, want %d", got, want)
	}
	if n := strings.Count(logs.String(), "waiting for another holder's migrations"); n != 1 {
		t.Errorf("%d warnings in a wait shorter than a minute, want 1:\n%s", n, logs.String())
	}
}
