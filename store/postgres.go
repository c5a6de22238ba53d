package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// The store's SQL is written once, with SQLite's ? placeholders; on
// PostgreSQL a thin database/sql connector rewrites them to $1, $2, … before
// pgx sees the statement. Everything else about the connection is pgx's.

// openPostgres opens a pool on dsn whose statements use ? placeholders,
// bounded as pgnet.go says; srv is shared by the pools of one store (nil: a
// pool of its own, with the default bounds). A statement waits at most
// lockTimeout for a lock another session holds (the server's lock_timeout,
// as SQLite's busy_timeout; 0 leaves the server's setting, or the DSN's,
// alone), then fails with 55P03, which the store reads as ErrBusy: a table
// locked by an administrator or a backup delays writes, never hangs them.
func openPostgres(dsn string, lockTimeout time.Duration, srv *pgServer) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if _, set := cfg.RuntimeParams["lock_timeout"]; !set && lockTimeout > 0 {
		cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(max(lockTimeout.Milliseconds(), 1), 10)
	}
	pgConnBounds(cfg)
	if srv == nil {
		srv = newPGServer(0)
	}
	return sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg), srv}), nil
}

// pgConnBounds sets the bounds of a new connection on cfg: the connect
// timeout, the server's idle_in_transaction_session_timeout and its TCP
// keepalives and tcp_user_timeout when the DSN sets none, and the dialer's
// TCP keepalives and TCP_USER_TIMEOUT (pgnet.go).
func pgConnBounds(cfg *pgx.ConnConfig) {
	if cfg.ConnectTimeout <= 0 {
		// A server the network lost would hold a new connection for as
		// long as TCP retries (minutes): the writer's retries, the page's
		// rebuilds and the health checks must find out sooner.
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	cfg.DialFunc = dialPostgres
	if _, set := cfg.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		cfg.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(pgIdleInTx.Milliseconds(), 10)
	}
	// The server's side of the same kernel bounds: a holder cut off while
	// its session holds something outside a transaction (the migrations'
	// advisory lock) loses it within about half a minute, not the server's
	// default two hours of keepalives. PostgreSQL 12 or later; ignored on
	// a unix socket.
	for name, v := range map[string]string{
		"tcp_keepalives_idle":     strconv.Itoa(int(pgKeepaliveIdle / time.Second)),
		"tcp_keepalives_interval": strconv.Itoa(int(pgKeepaliveEvery / time.Second)),
		"tcp_keepalives_count":    strconv.Itoa(pgKeepaliveCount),
		"tcp_user_timeout":        strconv.FormatInt(pgUserTimeout.Milliseconds(), 10),
	} {
		if _, set := cfg.RuntimeParams[name]; !set {
			cfg.RuntimeParams[name] = v
		}
	}
}

// defaultConnectTimeout bounds opening a connection when the DSN sets no
// connect_timeout.
const defaultConnectTimeout = 5 * time.Second

// postgresWhere names the database for messages: host, port and database,
// never the password or the rest of the DSN.
func postgresWhere(dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "postgres database (unreadable DSN)"
	}
	return "postgres database " + cfg.Database + " on " + cfg.Host + ":" + strconv.Itoa(int(cfg.Port))
}

type rebindConnector struct {
	driver.Connector
	srv *pgServer
}

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	gen, _ := c.srv.generation() // before: a connection made while it moves on is of the old one
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return rebindConn{conn.(*stdlib.Conn), new(atomic.Bool), c.srv, gen}, nil
}

// rebindConn is pgx's connection with ? rewritten in every statement and
// every wait bounded (pgnet.go). A connection whose server refused a write
// as read-only (25006: the server became a standby, or was made read-only,
// under it) is given up when database/sql takes it back (IsValid), so the
// next one is opened afresh and a multi-host DSN with
// target_session_attrs=read-write finds the writable server; otherwise the
// pool would keep writing to the read-only one. Every other connection of
// the store is given up too (pgServer), readers included.
type rebindConn struct {
	*stdlib.Conn
	readOnly *atomic.Bool
	srv      *pgServer
	gen      int64 // the srv generation it was opened in
}

func (c rebindConn) note(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "25006" {
		c.readOnly.Store(true)
		c.srv.turnedReadOnly(c.gen)
	}
	return err
}

// rebind numbers the ? placeholders of q outside quoted strings and
// identifiers and comments: ? becomes $1, $2, ….
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(q[i+1:], c)
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+2])
			i += j + 1
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j])
			i += j - 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// postgresTransient tells a PostgreSQL failure worth retrying: the
// connection (class 08), resources (53), an operator or a failover
// ending the session (57, statement_timeout's 57014 included), a
// serialization failure or deadlock (40), a lock another session held for
// longer than lock_timeout (55P03: a locked table is a wait, as SQLite's
// busy), a server that became read-only under the connection (25006: the
// retry runs on a new connection, see rebindConn), and any error that is
// not the server's answer (the network).
func postgresTransient(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return true
	}
	if pe.Code == "25006" || pe.Code == "55P03" {
		return true
	}
	switch pe.Code[:2] {
	case "08", "53", "57", "40":
		return true
	}
	return false
}

// openPostgresStore opens the store on the PostgreSQL server at opts.DSN:
// one writer connection (the writer and every write transaction take turns
// on it, as on SQLite) and a small pool of readers.
func openPostgresStore(ctx context.Context, opts Options) (*Store, error) {
	where := postgresWhere(opts.DSN)
	srv := newPGServer(opts.statementBound)
	w, err := openPostgres(opts.DSN, opts.BusyTimeout, srv)
	if err != nil {
		return nil, fmt.Errorf("open store: postgres DSN: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", where, err)
	}
	r, err := openPostgres(opts.DSN, opts.BusyTimeout, srv)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store: postgres DSN: %w", err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	cfg, err := pgx.ParseConfig(opts.DSN)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open store: postgres DSN: %w", err)
	}
	pgConnBounds(cfg) // Follow's listening connection's
	l, err := openPostgres(opts.DSN, opts.BusyTimeout, srv)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open store: postgres DSN: %w", err)
	}
	l.SetMaxOpenConns(1)
	l.SetMaxIdleConns(1)
	sr, err := openPostgres(opts.DSN, stateLockWait, srv)
	if err != nil {
		w.Close()
		r.Close()
		l.Close()
		return nil, fmt.Errorf("open store: postgres DSN: %w", err)
	}
	sr.SetMaxOpenConns(stateReaders)
	sr.SetMaxIdleConns(stateReaders)
	return start(ctx, &Store{where: where, pg: true, pgcfg: cfg, pgsrv: srv, w: w, r: r, l: l, sr: sr}, opts)
}

// stateLockWait bounds GetState's wait for a lock on PostgreSQL, on
// connections of its own (stateReaders of them). The read runs inside a
// probe's run: a table locked against reads (ACCESS EXCLUSIVE: an ALTER
// TABLE, a VACUUM FULL) must cost the run a warning from its kind, not its
// timeout (a false failure of the target), and the run must not queue for
// a reader behind the page's and the scrapes' reads waiting on the same
// lock. SQLite's readers never wait for a lock (WAL).
const (
	stateLockWait = 100 * time.Millisecond
	stateReaders  = 2
)

// lockMigrations takes the migrations' advisory lock on the writer's
// session, waiting for as long as ctx allows: another holder may be
// applying a long migration, and lock_timeout (the busy timeout, meant for
// a table locked under a write) must not end that wait.
func (s *Store) lockMigrations(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = 0`); err != nil {
		return err
	}
	// A session lock: it outlives the transaction, until
	// pg_advisory_unlock or the end of the session.
	var got bool
	if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(?)`, migrateLock).Scan(&got); err != nil {
		return err
	}
	if !got {
		// Another holder migrates: wait, and say who after a while (a
		// holder cut off while it holds the lock keeps it until the
		// server notices, about a minute with the keepalives set here).
		waited := make(chan struct{})
		defer close(waited)
		go s.warnMigrationWait(ctx, waited)
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, migrateLock); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// migrateWarnAfter is how long a holder waits for another holder's
// migrations before it says so; it says so again every minute.
const migrateWarnAfter = 5 * time.Second

// warnMigrationWait logs a warning naming the session that holds the
// migrations' lock once the wait has lasted s.migrateWarnAfter, and again
// every minute, until waited is closed or ctx ends. It reads on the
// readers' pool: the writer's one connection is the one waiting.
func (s *Store) warnMigrationWait(ctx context.Context, waited <-chan struct{}) {
	start := time.Now()
	t := time.NewTimer(s.migrateWarnAfter)
	defer t.Stop()
	for {
		select {
		case <-waited:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		holder, err := s.migrationLockHolder(qctx)
		cancel()
		if err != nil {
			holder = "unknown (" + err.Error() + ")"
		}
		s.logger.Warn("waiting for another holder's migrations: it holds their lock on "+s.where,
			"waited", time.Since(start).Round(time.Second), "holder", holder)
		t.Reset(time.Minute)
	}
}

// migrationLockHolder names the session holding the migrations' advisory
// lock (a bigint key shows in pg_locks as classid, its high half, and
// objid, its low): its pid, application_name, client address and state;
// "none" when nobody holds it any more.
func (s *Store) migrationLockHolder(ctx context.Context) (string, error) {
	var pid int64
	var app, addr, state string
	err := s.r.QueryRowContext(ctx, `SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'), coalesce(a.state, '')
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid::bigint = ? AND l.objid::bigint = ?`, migrateLock>>32, migrateLock&0xffffffff).Scan(&pid, &app, &addr, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return "none (released)", nil
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("pid %d, application_name %q, client %s, state %s", pid, app, addr, state), nil
}

func isPostgresUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// postgresBusy tells a statement that gave up waiting for a lock
// (lock_not_available, or lock_timeout / statement_timeout cancelling it).
func postgresBusy(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "55P03" || pe.Code == "57014")
}

// postgresUnreachable tells a failure to reach the server from its answer:
// no connection (the network, a refused connect, a connect that timed out),
// a statement the server never answered (noAnswerError), a connection lost
// (the network's errors, class 08), or a server shutting down or not yet up
// (57P01-57P03). Anything else — the server's other answers, the caller's
// own deadline, the store's own errors (ErrDeposed, a row not found) — is
// not: it must not read as "the database cannot be reached".
func postgresUnreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code[:2] == "08" || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var na noAnswerError
	if errors.As(err, &ce) || errors.As(err, &na) {
		return true // whatever it waited on, the server never answered
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false // the caller's deadline: a lock as likely as the network
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone)
}

// unavailable wraps err with ErrUnavailable when it is a failure to reach
// the PostgreSQL server (a read that cannot tell a token or session
// unknown from a server down must not answer "unauthorized").
func (s *Store) unavailable(err error) error {
	if err != nil && s.pg && postgresUnreachable(err) {
		return fmt.Errorf("%w (%w)", ErrUnavailable, err)
	}
	return err
}

// readFailed wraps a read's failure where the caller must tell it from
// "not found" or "refused": ErrBusy when it waited its bound for a lock
// (PostgreSQL's ACCESS EXCLUSIVE stops reads too) or its deadline passed,
// ErrUnavailable when the server could not be reached.
func (s *Store) readFailed(ctx context.Context, err error) error {
	if err != nil && busy(ctx, err) {
		return fmt.Errorf("%w (%w)", ErrBusy, err)
	}
	return s.unavailable(err)
}

// notePostgresWrite is noteWrite on PostgreSQL: a full disk (53100) or a
// server that cannot take writes (unreachable, shutting down, a read-only
// standby) is a problem until a write commits again.
func (s *Store) notePostgresWrite(err error) {
	var pe *pgconn.PgError
	switch {
	case !errors.As(err, &pe):
		if postgresUnreachable(err) {
			s.setProblem(ProblemUnwritable, "writes fail: the PostgreSQL server is unreachable: "+err.Error())
		}
	case pe.Code == "53100":
		s.setProblem(ProblemDiskFull, "the PostgreSQL server's disk is full: writes fail and results wait in memory")
	case pe.Code == "25006", pe.Code[:2] == "08", pe.Code[:3] == "57P":
		s.setProblem(ProblemUnwritable, "writes fail: "+pe.Error())
	}
}
