package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// dbLock is a database held locked from a second connection, as another
// process would hold it (a backup, an administrator's ALTER TABLE), until
// release. Its connection reads under the lock what the store could not.
type dbLock struct {
	conn    *sql.Conn
	release func()
}

// lockDB locks the database at w from its own connection:
//   - SQLite: the file, BEGIN EXCLUSIVE. Writes wait (busy_timeout) and
//     fail; reads go on (WAL).
//   - PostgreSQL: every table of the store, LOCK TABLE … IN ACCESS EXCLUSIVE
//     MODE in an open transaction, the strongest lock there is (what ALTER
//     TABLE and VACUUM FULL take). Writes and reads wait (lock_timeout, the
//     store's BusyTimeout) and fail.
//
// The lock goes at release, or when the test ends.
func lockDB(t *testing.T, w where) *dbLock {
	t.Helper()
	ctx := context.Background()
	var db *sql.DB
	var err error
	if w.driver == "postgres" {
		// Another process: the store's idle-in-transaction bound would
		// end the lock.
		db, err = openPostgres(w.dsn+" idle_in_transaction_session_timeout=0", 0, nil)
	} else {
		db, err = sql.Open("sqlite3", "file:"+escapePath(w.path)+"?_busy_timeout=5000")
	}
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if w.driver == "postgres" {
		var tables string
		if err := conn.QueryRowContext(ctx, `SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "LOCK TABLE "+tables+" IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
	} else if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	return held(t, db, conn, "ROLLBACK")
}

// held is the lock conn (of db) holds, which undo (and its args) ends:
// at release, or when the test ends.
func held(t *testing.T, db *sql.DB, conn *sql.Conn, undo string, args ...any) *dbLock {
	l := &dbLock{conn: conn}
	done := false
	l.release = func() {
		if done {
			return
		}
		done = true
		if _, err := conn.ExecContext(context.Background(), undo, args...); err != nil {
			t.Error(err)
		}
		conn.Close()
		db.Close()
	}
	t.Cleanup(l.release)
	return l
}

// count counts under the lock: q's one integer, read by the lock's own
// connection.
func (l *dbLock) count(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := l.conn.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// On PostgreSQL a statement_timeout (57014) that ends a wait on a lock is
// read as lock_timeout's end is: ErrBusy for a write asked for, a retry for
// the writer's results, nothing lost.
func TestStatementTimeoutUnderLockIsErrBusy(t *testing.T) {
	ctx := context.Background()
	db := where{driver: "postgres", dsn: pg.DSN(t)}
	migrated, _, _ := testStore(t, db.opts(Options{}))
	if err := migrated.Close(); err != nil {
		t.Fatal(err)
	}
	// The DSN's settings win over the busy timeout: no lock_timeout, and
	// every statement ended after 500 ms (of wall time: on a loaded
	// machine a shorter bound could end Open's own statements).
	s, _, _ := testStore(t, Options{Driver: "postgres", DSN: db.dsn + " lock_timeout=0 statement_timeout=500"})
	lock := lockDB(t, db)
	_, err := s.CreateToken(ctx, "alice")
	var pe *pgconn.PgError
	if !errors.Is(err, ErrBusy) || !errors.As(err, &pe) || pe.Code != "57014" {
		t.Fatalf("CreateToken while locked, statement_timeout 500 ms: %v, want ErrBusy from 57014", err)
	}
	const n = 10
	for i := range n {
		if err := s.Record(ctx, result("api", t0.Add(time.Duration(i)*time.Second), true)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the writer to meet the lock twice", func() bool { return testutil.ToFloat64(s.m.writeErrs) >= 2 })
	if got := lock.count(t, `SELECT count(*) FROM results`); got != 0 {
		t.Fatalf("%d results while locked, want 0", got)
	}
	if err := s.Healthy(); err != nil {
		t.Errorf("Healthy while locked: %v, want nil", err)
	}
	lock.release()
	mustFlush(t, s)
	if got := allResultsOf(t, s, "api"); len(got) != n {
		t.Errorf("%d results after the lock, want %d", len(got), n)
	}
	if d := testutil.ToFloat64(s.m.dropped); d != 0 {
		t.Errorf("%v results dropped", d)
	}
}

// GetState runs inside a probe's run: under a lock that stops reads
// (PostgreSQL's ACCESS EXCLUSIVE) it gives up after stateLockWait with
// ErrBusy, which the kind reports as a warning, however long the store's
// busy timeout (an hour here: a wait that long would hang the test), and
// even while every reader is taken by a read waiting on the same lock. On
// SQLite reads go on under the lock.
func TestGetStateUnderLockGivesUpQuickly(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, _, _ := testStore(t, db.opts(Options{BusyTimeout: time.Hour}))
		if err := s.PutState(ctx, "crl", "state", []byte("v1")); err != nil {
			t.Fatal(err)
		}
		mustFlush(t, s)
		lock := lockDB(t, db)
		if db.driver == "postgres" {
			waiting, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			for range readers {
				wg.Add(1)
				go func() { defer wg.Done(); s.Results(waiting, "api", t0, t0.Add(time.Hour)) }()
			}
			defer func() { stop(); wg.Wait() }()
			waitFor(t, "every reader to wait on the lock", func() bool {
				return lock.count(t, `SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND locktype = 'relation'`) >= readers
			})
		}
		v, err := s.GetState(ctx, "crl", "state")
		if db.driver == "sqlite" {
			if err != nil || string(v) != "v1" {
				t.Fatalf("GetState under SQLite's lock = %q, %v; want v1", v, err)
			}
			return
		}
		var pe *pgconn.PgError
		if !errors.Is(err, ErrBusy) || !errors.As(err, &pe) || pe.Code != "55P03" {
			t.Fatalf("GetState under ACCESS EXCLUSIVE = %q, %v; want ErrBusy from a lock timeout (55P03)", v, err)
		}
	})
}
