package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrBusy is wrapped by a write that waited its bound for a database
// another process (or probed's own writer) holds locked. Nothing was
// written; trying again later may succeed. The operator API answers it with
// 503 and Retry-After.
var ErrBusy = errors.New("the database is locked: try again shortly")

// ErrUnavailable is wrapped by a write that failed because the PostgreSQL
// server cannot be reached (down, shutting down, failing over, the network
// cut). A write whose connection was lost while it committed may have been
// made; one refused before it began was not. The operator API answers it
// with 503 and Retry-After.
var ErrUnavailable = errors.New("the database cannot be reached")

// RetryAfter is what callers tell a client to wait after ErrBusy: about one
// busy timeout.
const RetryAfter = 5 * time.Second

// busy reports whether err is a wait on a locked database that ran out: SQLite
// said busy or locked, or the caller's deadline passed (while waiting for
// the one writer connection, or interrupting a statement).
func busy(ctx context.Context, err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return true
		case sqlite3.ErrInterrupt:
			return ctx.Err() != nil
		}
	}
	// A connection that could not be made in time is the network's, not a lock.
	return postgresBusy(err) || errors.Is(err, context.DeadlineExceeded) && !postgresUnreachable(err)
}

// Problems a store can have that an operator must act on. Each is a value
// of the problem label of probed_store_problem.
const (
	ProblemFileMissing  = "file_missing"  // the database file was deleted: writes go to an unlinked file
	ProblemFileReplaced = "file_replaced" // another file sits at the path: writes go to the old one
	ProblemDiskFull     = "disk_full"     // SQLITE_FULL: the disk (or max_page_count) is full
	ProblemUnwritable   = "unwritable"    // read-only, I/O error, cannot open: writes fail
	ProblemUnreachable  = "unreachable"   // PostgreSQL: neither a new connection nor the readers reach the server (Follow)
	ProblemSchemaNewer  = "schema_newer"  // PostgreSQL: another holder applied a migration this probed does not know (Lead)
)

var problems = []string{ProblemFileMissing, ProblemFileReplaced, ProblemDiskFull, ProblemUnwritable, ProblemUnreachable, ProblemSchemaNewer}

// health tracks what is wrong with the database file. File problems are
// found by CheckFile (Watch calls it periodically); write problems by every
// write transaction, and cleared by the next one that commits.
type health struct {
	mu       sync.Mutex
	ident    fileIdent // the file opened, as the path named it at Open
	problems map[string]string
	saved    string // where the still-open database was copied after it was lost

	healthy prometheus.Gauge
	problem *prometheus.GaugeVec
}

// fileIdent is a file's device and inode: a file deleted and created again,
// or moved over, has another.
type fileIdent struct{ dev, ino uint64 }

func identOf(path string) (fileIdent, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileIdent{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileIdent{}, fmt.Errorf("stat %s: no device and inode on this system", path)
	}
	return fileIdent{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

func (s *Store) registerHealth(f interface {
	NewGauge(prometheus.GaugeOpts) prometheus.Gauge
	NewGaugeVec(prometheus.GaugeOpts, []string) *prometheus.GaugeVec
}) {
	h := &s.health
	h.healthy = f.NewGauge(prometheus.GaugeOpts{Name: "probed_store_healthy",
		Help: "1 while the database file is the one probed opened and writes succeed; 0 when it was deleted or replaced, the disk is full, or writes fail (see probed_store_problem and the log)."})
	h.problem = f.NewGaugeVec(prometheus.GaugeOpts{Name: "probed_store_problem",
		Help: "1 for each problem the store has now: file_missing, file_replaced, disk_full, unwritable, unreachable, schema_newer."}, []string{"problem"})
	for _, p := range problems {
		h.problem.WithLabelValues(p)
	}
	h.healthy.Set(1)
}

// Healthy returns nil, or an error naming everything wrong with the
// database now (for /readyz).
func (s *Store) Healthy() error {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, p := range problems {
		if why, ok := h.problems[p]; ok {
			errs = append(errs, fmt.Errorf("store %s: %s", p, why))
		}
	}
	return errors.Join(errs...)
}

// setProblem records (why != "") or clears (why == "") a problem, logging
// the change: at ERROR when it appears, at INFO when it goes.
func (s *Store) setProblem(p, why string) {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	_, had := h.problems[p]
	switch {
	case why != "" && !had:
		if h.problems == nil {
			h.problems = map[string]string{}
		}
		h.problems[p] = why
		s.logger.Error("store problem: "+why, "problem", p, "path", s.where)
	case why == "" && had:
		delete(h.problems, p)
		s.logger.Info("store problem cleared", "problem", p, "path", s.where)
	default:
		return
	}
	if h.problem != nil {
		v := 0.0
		if why != "" {
			v = 1
		}
		h.problem.WithLabelValues(p).Set(v)
		if len(h.problems) == 0 {
			h.healthy.Set(1)
		} else {
			h.healthy.Set(0)
		}
	}
}

// noteWrite classifies the outcome of a write transaction: a full disk or
// a database that refuses writes is a problem until a write commits again.
func (s *Store) noteWrite(err error) {
	if err == nil {
		s.setProblem(ProblemDiskFull, "")
		s.setProblem(ProblemUnwritable, "")
		return
	}
	if s.pg {
		s.notePostgresWrite(err)
		return
	}
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return
	}
	switch se.Code {
	case sqlite3.ErrFull:
		s.setProblem(ProblemDiskFull, "the disk is full: writes fail and results wait in memory; free space on the database's file system")
	case sqlite3.ErrReadonly, sqlite3.ErrIoErr, sqlite3.ErrCantOpen, sqlite3.ErrCorrupt, sqlite3.ErrNotADB:
		s.setProblem(ProblemUnwritable, "writes fail: "+se.Error())
	}
}

// CheckFile compares the file at the store's path with the one opened:
// deleted or replaced, every write since went (and goes) to a file nobody
// will open again, so it is a problem, logged at ERROR and shown in
// probed_store_healthy until probed is restarted on a good file. The first
// time it finds the file lost, it copies what the open database still holds
// next to the path (<path>.saved-<time>) for the operator to put back.
func (s *Store) CheckFile(ctx context.Context) error {
	if s.pg {
		return nil // no file: the server keeps the database
	}
	cur, err := identOf(s.path)
	h := &s.health
	h.mu.Lock()
	opened := h.ident
	h.mu.Unlock()
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.setProblem(ProblemFileMissing, "the database file was deleted while probed runs: what it writes now is lost at the next restart")
		s.setProblem(ProblemFileReplaced, "")
	case err != nil:
		return fmt.Errorf("check store file: %w", err)
	case cur != opened:
		s.setProblem(ProblemFileReplaced, "another file replaced the database while probed runs: probed still writes to the one it opened, lost at the next restart")
		s.setProblem(ProblemFileMissing, "")
	default:
		s.setProblem(ProblemFileMissing, "")
		s.setProblem(ProblemFileReplaced, "")
		return nil
	}
	return s.saveLost(ctx)
}

// saveLost copies the open database (VACUUM INTO, on the writer connection,
// which still holds the unlinked file and sees its log) to
// <path>.saved-<time>, once.
func (s *Store) saveLost(ctx context.Context) error {
	h := &s.health
	h.mu.Lock()
	done := h.saved != ""
	h.mu.Unlock()
	if done {
		return nil
	}
	dst := fmt.Sprintf("%s.saved-%s", s.path, s.clock.Now().UTC().Format("20060102T150405Z"))
	if _, err := s.w.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("save the lost database to %s: %w", dst, err)
	}
	abs, _ := filepath.Abs(dst)
	h.mu.Lock()
	h.saved = abs
	h.mu.Unlock()
	s.logger.Error("store: what the lost database held is saved: stop probed, move the copy to the configured path (or restore your backup), start probed", "saved", abs, "path", s.path)
	return nil
}

// Saved is where CheckFile copied a lost database, or "".
func (s *Store) Saved() string {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	return s.health.saved
}

// WatchFile runs CheckFile at every tick of ticks (the daemon: a ticker of
// storage's check interval; tests: a channel they send on) until ctx ends or
// the store closes.
func (s *Store) WatchFile(ctx context.Context, ticks <-chan time.Time) error {
	ctx, done, err := s.loop(ctx)
	if err != nil {
		return fmt.Errorf("watch store file: %w", err)
	}
	defer done()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
			if err := s.CheckFile(ctx); err != nil && ctx.Err() == nil {
				s.logger.Error("store file check failed", "err", err)
			}
		}
	}
}
