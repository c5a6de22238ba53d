// Package store keeps probed's history and state in SQLite: WAL, a busy
// timeout, immediate write transactions, one writer connection fed by a
// bounded queue of results written in batches, and numbered migrations that
// fail loudly. Transactions begin and end only in this package's exported
// methods.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/probed/probed/internal/clock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configures a Store. The zero value of every field but Path is safe.
type Options struct {
	Path       string
	Clock      clock.Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// QueueSize bounds the results waiting for the writer (default 10,000);
	// Record blocks when it is full rather than drop a result.
	QueueSize int
	// BatchSize is the most results written in one transaction (default 1,000).
	BatchSize int
	// BusyTimeout is how long a statement waits on a locked database (default 5s).
	BusyTimeout time.Duration
}

// Store is the SQLite database behind probed.
type Store struct {
	w      *sql.DB // the one writer connection
	r      *sql.DB // readers
	clock  clock.Clock
	logger *slog.Logger

	queue   chan queued
	done    chan struct{}
	closeMu sync.Once
	batch   int

	seriesMu sync.Mutex
	series   map[seriesKey]int64

	queueLen   prometheus.GaugeFunc
	written    prometheus.Counter
	writeErrs  prometheus.Counter
	batchSizes prometheus.Histogram
}

// Open opens (creating if needed) the database at opts.Path, applies the
// migrations and starts the writer.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, errors.New("open store: empty path")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10000
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10))
	q.Set("_txlock", "immediate")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	dsn := "file:" + opts.Path + "?" + q.Encode()
	w, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite3", dsn+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	r.SetMaxOpenConns(4)
	s := &Store{w: w, r: r, clock: opts.Clock, logger: opts.Logger, queue: make(chan queued, opts.QueueSize),
		done: make(chan struct{}), batch: opts.BatchSize, series: map[seriesKey]int64{}}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	f := promauto.With(opts.Registerer)
	s.queueLen = f.NewGaugeFunc(prometheus.GaugeOpts{Name: "probed_store_queue_length", Help: "Results waiting for the store writer."},
		func() float64 { return float64(len(s.queue)) })
	s.written = f.NewCounter(prometheus.CounterOpts{Name: "probed_store_results_written_total", Help: "Results written to the store."})
	s.writeErrs = f.NewCounter(prometheus.CounterOpts{Name: "probed_store_write_errors_total", Help: "Store write transactions that failed (their results are retried)."})
	s.batchSizes = f.NewHistogram(prometheus.HistogramOpts{Name: "probed_store_batch_size", Help: "Results per write transaction.", Buckets: prometheus.ExponentialBuckets(1, 4, 7)})
	go s.writer()
	return s, nil
}

// migrate applies the numbered migrations not applied yet, each in its own
// transaction; any failure stops start-up with the file's name.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	applied := map[int]bool{}
	rows, err := s.w.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrate: read versions: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("migrate: read versions: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	seen := map[int]string{}
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migrate: %s: name must start with a number and _", name)
		}
		if prev, dup := seen[v]; dup {
			return fmt.Errorf("migrate: %s and %s share number %d", prev, name, v)
		}
		seen[v] = name
		if applied[v] {
			continue
		}
		body, err := migrations.ReadFile("migrations/" + name)
		if err != nil {
			return fmt.Errorf("migrate: %s: %w", name, err)
		}
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate: %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate: %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)`, v, name, s.clock.Now().UnixMilli()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate: %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate: %s: %w", name, err)
		}
	}
	return nil
}

// Close stops accepting results, writes what is queued and closes the database.
func (s *Store) Close() error {
	s.closeMu.Do(func() { close(s.queue) })
	<-s.done
	return errors.Join(s.r.Close(), s.w.Close())
}

// Writer returns the single writer connection pool, for tests that need to
// hold the database locked. Production code writes through Store methods.
func (s *Store) Writer() *sql.DB { return s.w }

// tx runs fn in an immediate write transaction on the writer connection.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
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
