// Package store keeps probed's history and state in SQLite (the default: WAL,
// a busy timeout, immediate write transactions) or PostgreSQL (Options.Driver
// "postgres", through pgx): one writer connection fed by a bounded queue of
// results written in batches, and numbered migrations that fail loudly
// (migrations/ for SQLite, migrations/postgres/ for PostgreSQL, which starts
// at SQLite's schema after 0050). The SQL is written once with ? placeholders
// (postgres.go numbers them for pgx) and in the subset both databases read.
// Transactions begin and end only in this package's exported methods.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mattn/go-sqlite3" // the SQLite driver
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/probed/probed/internal/clock"
)

//go:embed migrations/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Defaults of the retention options, the same as config.DefaultStorage.
const (
	DefaultRetention       = 14 * 24 * time.Hour
	DefaultRollupRetention = 400 * 24 * time.Hour
)

// ErrClosed is returned by calls on a Store that is closing or closed.
var ErrClosed = errors.New("store closed")

// ErrQueueFull is returned by Record when the writer's queue stayed full
// for Options.RecordWait; the result was dropped.
var ErrQueueFull = errors.New("store queue full for too long: result dropped")

// Options configures a Store. The zero value of every field but Path is safe.
type Options struct {
	// Driver is the database: "sqlite" (the default: the file at Path) or
	// "postgres" (the server at DSN).
	Driver     string
	Path       string
	DSN        string
	Clock      clock.Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// QueueSize bounds the results waiting for the writer (default 65,536:
	// over half an hour of 1,000 probes at 30 s while the database is
	// locked).
	QueueSize int
	// RecordWait is how long Record waits for room in a full queue before
	// it drops the result, counted and with an error (default 1s). Record
	// runs inside the probe's run: waiting longer would hold the
	// scheduler's concurrency slots and delay the incident engine.
	RecordWait time.Duration
	// BatchSize is the most results written in one transaction (default
	// 5,000). A batch touches a page per series, so bigger batches write
	// fewer pages per result when a backlog drains.
	BatchSize int
	// BusyTimeout is how long a statement waits on a locked database
	// (default 5s): SQLite's busy_timeout, PostgreSQL's lock_timeout unless
	// the DSN sets one.
	BusyTimeout time.Duration
	// CloseTimeout is how long Close keeps retrying results the database
	// refuses before it gives up on them, loudly (default 30s).
	CloseTimeout time.Duration
	// Retention is how long raw results are kept (default 14 days);
	// RollupRetention how long the hourly and daily rollups are (default 400 days).
	Retention       time.Duration
	RollupRetention time.Duration
	// InboxHolder, when not empty, names this holder: every result written
	// is also put, in the same transaction, in the leader's inbox, from
	// which the leading holder's incident engine evaluates the results of
	// every holder (several holders on PostgreSQL; leader.go).
	InboxHolder string

	// migrations replaces the embedded migrations (tests of broken ones).
	migrations fs.FS
	// statementBound replaces pgStatementBound (tests of a cut network).
	statementBound time.Duration
	// migrateWarnAfter replaces migrateWarnAfter (tests of a long wait for
	// another holder's migrations).
	migrateWarnAfter time.Duration
}

// Store is the SQLite database behind probed.
type Store struct {
	path   string          // the SQLite file; "" on PostgreSQL
	where  string          // the database for messages: the path, or the server and database (never the DSN)
	pg     bool            // the database is PostgreSQL
	pgcfg  *pgx.ConnConfig // PostgreSQL: the parsed DSN, for Follow's own connection
	pgsrv  *pgServer       // PostgreSQL: what the connections share (bounds, read-only generation; pgnet.go)
	w      *sql.DB         // the one writer connection
	r      *sql.DB         // readers
	l      *sql.DB         // the leader lease's own connection (PostgreSQL): renewals never queue behind the writer
	sr     *sql.DB         // PostgreSQL: GetState's own connections, waiting at most stateLockWait for a lock
	clock  clock.Clock
	logger *slog.Logger

	queue        chan queued
	mu           sync.RWMutex  // closed and the queue's closing, against Record and Flush
	closed       bool          // the queue is closed
	closing      chan struct{} // closed when Close starts: blocked Record calls give up
	abandon      chan struct{} // closed when CloseTimeout has passed: the writer stops retrying
	done         chan struct{} // closed when the writer has exited
	closeOnce    sync.Once
	closeErr     error
	closeTimeout time.Duration
	batch        int
	recordWait   time.Duration
	inboxHolder  string
	lost         atomic.Int64 // results dropped, reported by Close

	// PostgreSQL: how long a wait for another holder's migrations goes unlogged.
	migrateWarnAfter time.Duration
	// The highest migration this probed knows, set by migrate: a higher one
	// in schema_migrations was applied by a newer holder (Lead checks).
	lastMigration int

	// Background loops (heartbeat, housekeeping) stop at Close before the
	// database does, so their last write (a clean stop) still lands.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
	bgMu     sync.Mutex

	seriesMu sync.Mutex
	series   map[seriesKey]seriesInfo

	retention       atomic.Int64 // nanoseconds
	rollupRetention atomic.Int64
	hkMu            sync.Mutex // one housekeeping pass at a time
	runID           atomic.Int64

	states   pendingStates // probe states for the writer (PutState)
	stamping sync.Map      // token ids whose last use is being recorded

	applied []string // the migrations this Open applied (store migrate reports them)

	m      metrics
	health health
}

type metrics struct {
	written     prometheus.Counter
	dropped     prometheus.Counter
	writeErrs   prometheus.Counter
	batchSizes  prometheus.Histogram
	hkRuns      *prometheus.CounterVec
	hkDuration  prometheus.Histogram
	hkLast      prometheus.Gauge
	hoursRolled prometheus.Counter
	daysRolled  prometheus.Counter
	deleted     *prometheus.CounterVec
	// Follow's, on PostgreSQL (changes.go).
	listening  prometheus.Gauge
	listenErrs prometheus.Counter
	changes    *prometheus.CounterVec
}

// Open opens (creating if needed) the database at opts.Path, applies the
// migrations and starts the writer.
func Open(ctx context.Context, opts Options) (*Store, error) {
	switch opts.Driver {
	case "", "sqlite":
		if opts.Path == "" {
			return nil, errors.New("open store: empty path")
		}
	case "postgres":
		if opts.DSN == "" {
			return nil, errors.New("open store: empty postgres DSN")
		}
	default:
		return nil, fmt.Errorf("open store: unknown driver %q (sqlite or postgres)", opts.Driver)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 65536
	}
	if opts.RecordWait <= 0 {
		opts.RecordWait = time.Second
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = 30 * time.Second
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.RollupRetention <= 0 {
		opts.RollupRetention = DefaultRollupRetention
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.migrations == nil {
		dir := "migrations"
		if opts.Driver == "postgres" {
			dir = "migrations/postgres"
		}
		sub, err := fs.Sub(migrations, dir)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		opts.migrations = sub
	}
	if opts.Driver == "postgres" {
		return openPostgresStore(ctx, opts)
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10))
	q.Set("_txlock", "immediate")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	dsn := "file:" + escapePath(opts.Path) + "?" + q.Encode()
	// The writer's page cache holds the recent, unpacked results of every
	// series, which each batch and each hourly rollup touch (32 MiB).
	w, err := sql.Open("sqlite3", dsn+"&_cache_size=-32768")
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	// Fail here, with the path, rather than at the first write.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	// The file as opened, to notice it deleted or replaced (CheckFile).
	ident, err := identOf(opts.Path)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	r, err := sql.Open("sqlite3", dsn+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	// The readers are opened now and kept for good: a reader opened after
	// the file was deleted would fail, and the page and /metrics (which
	// must say the database is lost) would fail with it.
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := warm(ctx, r, readers); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	return start(ctx, &Store{path: opts.Path, where: opts.Path, w: w, r: r, health: health{ident: ident}}, opts)
}

// start finishes opening s on its connections: migrations, metrics, the writer.
func start(ctx context.Context, s *Store, opts Options) (*Store, error) {
	w, r, l, sr, ident := s.w, s.r, s.l, s.sr, s.health.ident
	*s = Store{path: s.path, where: s.where, pg: s.pg, pgcfg: s.pgcfg, pgsrv: s.pgsrv, w: w, r: r, l: l, sr: sr, inboxHolder: opts.InboxHolder, clock: opts.Clock, logger: opts.Logger,
		queue: make(chan queued, opts.QueueSize), closing: make(chan struct{}), abandon: make(chan struct{}),
		done: make(chan struct{}), closeTimeout: opts.CloseTimeout, batch: opts.BatchSize, recordWait: opts.RecordWait, series: map[seriesKey]seriesInfo{}}
	s.health.ident = ident
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	s.SetRetention(opts.Retention, opts.RollupRetention)
	s.migrateWarnAfter = cmp.Or(opts.migrateWarnAfter, migrateWarnAfter)
	if err := s.migrate(ctx, opts.migrations); err != nil {
		w.Close()
		r.Close()
		if l != nil {
			l.Close()
			sr.Close()
		}
		return nil, err
	}
	s.register(opts.Registerer)
	go s.writer()
	return s, nil
}

// migrateLock is the PostgreSQL advisory lock migrations run under.
const migrateLock int64 = 0x70726f626564 // "probed"

// readers is the size of the reader pool.
const readers = 4

// warm opens n connections of db at once and returns them to its pool.
func warm(ctx context.Context, db *sql.DB, n int) error {
	conns := make([]*sql.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		if err := c.PingContext(ctx); err != nil {
			c.Close()
			return err
		}
		conns = append(conns, c)
	}
	return nil
}

// escapePath keeps the characters that end a path in a URI inside it.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

func (s *Store) register(reg prometheus.Registerer) {
	f := promauto.With(reg)
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "probed_store_queue_length", Help: "Results waiting for the store writer."},
		func() float64 { return float64(len(s.queue)) })
	registerSQLiteMemory(f)
	reg.MustRegister(sizeCollector{s: s, desc: prometheus.NewDesc("probed_store_size_bytes",
		"Size of the database: the SQLite file and its write-ahead log, or on PostgreSQL pg_database_size.", nil, nil)})
	s.m.written = f.NewCounter(prometheus.CounterOpts{Name: "probed_store_results_written_total", Help: "Results written to the store."})
	s.m.dropped = f.NewCounter(prometheus.CounterOpts{Name: "probed_store_results_dropped_total",
		Help: "Results never written: refused by the database, or still failing when the store closed."})
	s.m.writeErrs = f.NewCounter(prometheus.CounterOpts{Name: "probed_store_write_errors_total", Help: "Store write transactions that failed (their results are retried)."})
	s.m.batchSizes = f.NewHistogram(prometheus.HistogramOpts{Name: "probed_store_batch_size", Help: "Results per write transaction.", Buckets: prometheus.ExponentialBuckets(1, 4, 7)})
	s.m.hkRuns = f.NewCounterVec(prometheus.CounterOpts{Name: "probed_store_housekeeping_runs_total",
		Help: "Store housekeeping passes (rollup and retention) by result: success or failure."}, []string{"result"})
	for _, r := range []string{"success", "failure"} {
		s.m.hkRuns.WithLabelValues(r)
	}
	s.m.hkDuration = f.NewHistogram(prometheus.HistogramOpts{Name: "probed_store_housekeeping_duration_seconds",
		Help: "Time one store housekeeping pass took.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)})
	s.m.hkLast = f.NewGauge(prometheus.GaugeOpts{Name: "probed_store_housekeeping_last_success_timestamp_seconds",
		Help: "When a store housekeeping pass last succeeded."})
	rollups := f.NewCounterVec(prometheus.CounterOpts{Name: "probed_store_rollups_total",
		Help: "Periods rolled up (hour: packed and summarised; day: summed from its hours), recomputations included."}, []string{"period"})
	s.m.hoursRolled, s.m.daysRolled = rollups.WithLabelValues("hour"), rollups.WithLabelValues("day")
	s.m.deleted = f.NewCounterVec(prometheus.CounterOpts{Name: "probed_store_retention_deleted_rows_total",
		Help: "Rows deleted by retention, by table."}, []string{"table"})
	for _, t := range []string{"results", "results_packed", "rollup_hour_packed", "rollup_day", "operator_events", "operator_deliveries", "events", "deliveries"} {
		s.m.deleted.WithLabelValues(t)
	}
	s.registerHealth(f)
	if s.pg {
		s.registerFollow(reg)
	}
}

// sizeCollector reports SizeBytes. A collector, not a GaugeFunc: the
// registry asks every GaugeFunc in turn in one goroutine, and collectors
// each in their own, so a query the network holds for its 5 s does not add
// to the others' waits in a scrape.
type sizeCollector struct {
	s    *Store
	desc *prometheus.Desc
}

func (c sizeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c sizeCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(c.s.SizeBytes()))
}

// SizeBytes is the size of the database file and its write-ahead log; on
// PostgreSQL, the database's (pg_database_size).
func (s *Store) SizeBytes() int64 {
	if s.pg {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var n int64
		if err := s.r.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
			return 0
		}
		return n
	}
	var n int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// SetRetention changes how long raw results and rollups are kept (a config
// reload); the next housekeeping pass applies it. Zero keeps the default.
func (s *Store) SetRetention(raw, rollup time.Duration) {
	if raw <= 0 {
		raw = DefaultRetention
	}
	if rollup <= 0 {
		rollup = DefaultRollupRetention
	}
	s.retention.Store(int64(raw))
	s.rollupRetention.Store(int64(max(rollup, raw)))
}

// Retention returns how long raw results and rollups are kept.
func (s *Store) Retention() (raw, rollup time.Duration) {
	return time.Duration(s.retention.Load()), time.Duration(s.rollupRetention.Load())
}

// migrate applies the numbered migrations of fsys not applied yet, each in
// its own transaction; any failure stops start-up with the file's name.
func (s *Store) migrate(ctx context.Context, fsys fs.FS) error {
	ctx = long(ctx) // a migration may rewrite a year of history
	if s.pg {
		// Holders started together take turns: the first applies the
		// migrations, the others find them applied. The writer is one
		// connection, so the session's lock is this one's. Taken before
		// schema_migrations is created: two sessions creating it at once
		// can collide even with IF NOT EXISTS.
		if err := s.lockMigrations(ctx); err != nil {
			return fmt.Errorf("migrate %s: wait for other holders' migrations: %w", s.where, err)
		}
		defer s.w.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?)`, migrateLock)
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate %s: create schema_migrations: %w", s.where, err)
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.where, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	applied := map[int]string{}
	rows, err := s.w.QueryContext(ctx, `SELECT version, name FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrate %s: read versions: %w", s.where, err)
	}
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			rows.Close()
			return fmt.Errorf("migrate %s: read versions: %w", s.path, err)
		}
		applied[v] = name
	}
	rows.Close()
	seen := map[int]string{}
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migrate %s: %s: name must start with a number and _", s.where, name)
		}
		if prev, dup := seen[v]; dup {
			return fmt.Errorf("migrate %s: %s and %s share number %d", s.where, prev, name, v)
		}
		seen[v] = name
	}
	for v := range seen {
		s.lastMigration = max(s.lastMigration, v)
	}
	// A database written by a newer probed has migrations this one does not
	// know; running on it could corrupt what they changed.
	for v, name := range applied {
		if _, ok := seen[v]; !ok {
			return fmt.Errorf("migrate %s: the database has migration %s, unknown to this probed (written by a newer version?)", s.where, name)
		}
	}
	for _, name := range names {
		v, _ := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if _, ok := applied[v]; ok {
			continue
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("migrate %s: %s: %w", s.where, name, err)
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)`, v, name, s.clock.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %s: %w", s.where, name, err)
		}
		s.logger.Info("store migration applied", "migration", name)
		s.applied = append(s.applied, name)
	}
	return nil
}

// Close stops the background loops, stops accepting results, writes what is
// queued (retrying for up to CloseTimeout) and closes the database. Results
// it had to give up on are counted and make Close return an error.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.bgMu.Lock()
		s.bgCancel()
		s.bgMu.Unlock()
		s.bg.Wait()
		close(s.closing)
		s.mu.Lock()
		s.closed = true
		close(s.queue)
		s.mu.Unlock()
		t := time.AfterFunc(s.closeTimeout, func() { close(s.abandon) })
		<-s.done
		t.Stop()
		var errs []error
		if n := s.lost.Load(); n > 0 {
			errs = append(errs, fmt.Errorf("close store %s: %d results could not be written", s.where, n))
		}
		errs = append(errs, s.r.Close(), s.w.Close())
		if s.l != nil {
			errs = append(errs, s.l.Close(), s.sr.Close())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// loop registers a background loop; it ends when ctx does or at Close.
func (s *Store) loop(ctx context.Context) (context.Context, func(), error) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgCtx.Err() != nil {
		return nil, nil, ErrClosed
	}
	s.bg.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.bgCtx, cancel)
	return ctx, func() { stop(); cancel(); s.bg.Done() }, nil
}

// tx runs fn in an immediate write transaction on the writer connection.
// A wait on a locked database that ran out (busy_timeout, lock_timeout or
// statement_timeout, or ctx's deadline) wraps ErrBusy; a full disk or a
// refused write is noted as a problem (Healthy) until a write commits again.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	err := s.txOnce(ctx, fn)
	s.noteWrite(err)
	switch {
	case err == nil:
	case busy(ctx, err):
		return fmt.Errorf("%w (%w)", ErrBusy, err)
	}
	return s.unavailable(err)
}

func (s *Store) txOnce(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := s.checkFence(ctx, tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// transient tells a failure worth retrying (the database is locked, full,
// or its disk failed) from one the database will refuse again.
func (s *Store) transient(err error) bool {
	if s.pg {
		return postgresTransient(err)
	}
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return true
	}
	switch se.Code {
	case sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrFull, sqlite3.ErrIoErr, sqlite3.ErrCantOpen,
		sqlite3.ErrNomem, sqlite3.ErrProtocol, sqlite3.ErrReadonly, sqlite3.ErrInterrupt:
		return true
	}
	return false
}

// isUniqueViolation tells that an insert broke a UNIQUE constraint, on
// either database.
func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
	}
	return isPostgresUniqueViolation(err)
}
