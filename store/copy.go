package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/probed/probed/internal/clock"
)

// `probed store migrate` moves a SQLite store onto PostgreSQL: Copy. The
// tables are read from the schema itself (SQLite's sqlite_master and
// foreign keys), so a table a later migration adds is copied without
// anyone remembering to list it here; only NotCopied names what is left
// out, and why. Both sides must then have exactly the same tables and
// columns, or nothing is copied.

// NotCopied lists the tables Copy leaves out, with the reason. Every other
// table of the schema is copied (TestCopyCoversEveryTable).
var NotCopied = map[string]string{
	"schema_migrations": "each database keeps its own record of the migrations applied to it; Copy compares them instead",
	"leader_lease":      "the leader lease of several holders: its one row is made by the target's own migration, and no holder leads a SQLite file",
	"leader_inbox":      "results and alerts waiting for a leader of several holders: a SQLite store never has any",
}

// PostgresOnly lists the tables (and, as table.column, the columns) only
// PostgreSQL's schema has, which a SQLite source cannot hold, with the
// reason.
var PostgresOnly = map[string]string{
	"store_changes":         "the count of changes several holders follow (migration 0071); the copy's own inserts move it on",
	"store_change_kinds":    "the count of changes per kind (migration 0077); the copy's own inserts move it on",
	"engine_probes.version": "stamps each write of a probe's health for the followers (migration 0077); the copy's inserts stamp it",
}

// CopyOptions configures Copy.
type CopyOptions struct {
	// From is the SQLite file; To the PostgreSQL connection string (a
	// secret: never printed, messages name its host, port and database).
	From, To string
	Clock    clock.Clock
	Logger   *slog.Logger
	// RunningWithin refuses a source whose last probed run has no clean
	// stop and a heartbeat this recent: a daemon still writes to it
	// (default 45 s, three of its heartbeats).
	RunningWithin time.Duration
}

// CopyReport says what Copy did.
type CopyReport struct {
	From, To string   // the source file and the target, for messages
	Migrated []string // migrations applied to the source before the copy (it was older)
	Schema   string   // the last migration, the same on both sides
	Tables   []TableRows
}

// TableRows is one table copied and its rows.
type TableRows struct {
	Table string
	Rows  int64
}

// Rows is the total of rows copied.
func (r CopyReport) Rows() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Rows
	}
	return n
}

// ErrTargetNotEmpty is wrapped by Copy's error when the target holds data.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// Copy copies the SQLite store at opts.From into the empty PostgreSQL
// database at opts.To: every table (but NotCopied), in foreign-key order,
// every row with its ids, in one transaction on the target; then the
// identity sequences continue after the highest id copied, and every
// table's row count is checked against the source's.
//
// The source is first migrated to this probed's schema, as starting probed
// on it would, so that both sides have the same tables. The source is read
// in one read transaction (a consistent snapshot) and never written
// otherwise. Copy refuses a source a daemon is still running on, a target
// with any row (the error names the table), and two schemas that differ.
func Copy(ctx context.Context, opts CopyOptions) (CopyReport, error) {
	ctx = long(ctx) // a year of history in one transaction
	rep := CopyReport{From: opts.From, To: postgresWhere(opts.To)}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RunningWithin <= 0 {
		opts.RunningWithin = 45 * time.Second
	}
	if opts.To == "" {
		return rep, errors.New("store migrate: empty target DSN")
	}
	// Open would make an empty database at a mistyped path.
	fi, err := os.Stat(opts.From)
	if err != nil {
		return rep, fmt.Errorf("store migrate: source: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return rep, fmt.Errorf("store migrate: source %s is not a file", opts.From)
	}
	src, err := Open(ctx, Options{Path: opts.From, Clock: opts.Clock, Logger: opts.Logger})
	if err != nil {
		return rep, fmt.Errorf("store migrate: source: %w", err)
	}
	defer src.Close()
	rep.Migrated = src.applied
	if err := src.notRunning(ctx, opts.RunningWithin); err != nil {
		return rep, fmt.Errorf("store migrate: source %s: %w", opts.From, err)
	}
	dst, err := Open(ctx, Options{Driver: "postgres", DSN: opts.To, Clock: opts.Clock, Logger: opts.Logger})
	if err != nil {
		return rep, fmt.Errorf("store migrate: target: %w", err)
	}
	defer dst.Close()

	if rep.Schema, err = sameSchema(ctx, src, dst); err != nil {
		return rep, fmt.Errorf("store migrate: %w", err)
	}
	plan, err := copyPlan(ctx, src, dst)
	if err != nil {
		return rep, fmt.Errorf("store migrate: %w", err)
	}
	counts, err := copyTables(ctx, src, dst, plan)
	if err != nil {
		return rep, fmt.Errorf("store migrate %s to %s: %w", rep.From, rep.To, err)
	}
	for _, t := range plan {
		rep.Tables = append(rep.Tables, TableRows{t.name, counts[t.name]})
	}
	// The counts again, by a new reader after the commit.
	for _, t := range rep.Tables {
		var n int64
		if err := dst.r.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(t.Table)).Scan(&n); err != nil {
			return rep, fmt.Errorf("store migrate: verify %s: %w", t.Table, err)
		}
		if n != t.Rows {
			return rep, fmt.Errorf("store migrate: verify: table %s has %d rows on %s, the source %d", t.Table, n, rep.To, t.Rows)
		}
	}
	return rep, nil
}

// notRunning refuses a database a daemon is still writing to: its last run
// did not stop and its heartbeat is recent.
func (s *Store) notRunning(ctx context.Context, within time.Duration) error {
	var last int64
	var stopped sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT last_seen_ms, stopped_ms FROM daemon_runs ORDER BY id DESC LIMIT 1`).Scan(&last, &stopped)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("read the last run: %w", err)
	}
	ago := s.clock.Now().Sub(time.UnixMilli(last))
	if !stopped.Valid && ago < within {
		return fmt.Errorf("a probed is still running on it (last heartbeat %s ago, no clean stop): stop it first, or wait %s if it crashed",
			ago.Round(time.Second), (within - ago).Round(time.Second))
	}
	return nil
}

// sameSchema compares the migrations of both databases: PostgreSQL's
// start at 0050 (SQLite's schema then), and every later one must be the
// same on both sides.
func sameSchema(ctx context.Context, src, dst *Store) (string, error) {
	versions := func(db *sql.DB) (map[int]string, int, error) {
		rows, err := db.QueryContext(ctx, `SELECT version, name FROM schema_migrations`)
		if err != nil {
			return nil, 0, err
		}
		defer rows.Close()
		m, top := map[int]string{}, 0
		for rows.Next() {
			var v int
			var name string
			if err := rows.Scan(&v, &name); err != nil {
				return nil, 0, err
			}
			if v >= postgresBase {
				m[v] = name
			}
			top = max(top, v)
		}
		return m, top, rows.Err()
	}
	a, atop, err := versions(src.r)
	if err != nil {
		return "", fmt.Errorf("source %s: read migrations: %w", src.where, err)
	}
	b, btop, err := versions(dst.r)
	if err != nil {
		return "", fmt.Errorf("target %s: read migrations: %w", dst.where, err)
	}
	for v, name := range a {
		if _, ok := b[v]; !ok && v > postgresBase {
			return "", fmt.Errorf("schemas differ: the source has migration %s, the target does not (source at %d, target at %d)", name, atop, btop)
		}
	}
	for v, name := range b {
		if _, ok := a[v]; !ok && v > postgresBase {
			return "", fmt.Errorf("schemas differ: the target has migration %s, the source does not (source at %d, target at %d)", name, atop, btop)
		}
	}
	if atop != btop {
		return "", fmt.Errorf("schemas differ: the source is at migration %d, the target at %d", atop, btop)
	}
	return a[atop], nil
}

// postgresBase is the SQLite migration PostgreSQL's schema starts from.
const postgresBase = 50

// copyTable is a table to copy: its columns, with the target's types.
type copyTable struct {
	name     string
	cols     []string
	types    []string // PostgreSQL's data_type of each column
	identity string   // the identity column, if any
}

// copyPlan lists the tables to copy, parents before children: the
// source's tables and foreign keys, checked against the target's tables
// and columns.
func copyPlan(ctx context.Context, src, dst *Store) ([]copyTable, error) {
	srcTables, err := sqliteTables(ctx, src.r)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.where, err)
	}
	dstCols, err := postgresColumns(ctx, dst.r)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", dst.where, err)
	}
	for t := range dstCols {
		if _, ok := srcTables[t]; !ok && NotCopied[t] == "" && PostgresOnly[t] == "" {
			return nil, fmt.Errorf("schemas differ: table %s is in the target, not in the source", t)
		}
	}
	var plan []copyTable
	for _, name := range sortedKeys(srcTables) {
		if NotCopied[name] != "" {
			continue
		}
		cols, ok := dstCols[name]
		if !ok {
			return nil, fmt.Errorf("schemas differ: table %s is in the source, not in the target", name)
		}
		t := copyTable{name: name}
		for _, c := range srcTables[name].cols {
			pc, ok := cols[c]
			if !ok {
				return nil, fmt.Errorf("schemas differ: column %s.%s is in the source, not in the target", name, c)
			}
			t.cols = append(t.cols, c)
			t.types = append(t.types, pc.typ)
			if pc.identity {
				t.identity = c
			}
		}
		for c := range cols {
			if !slices.Contains(t.cols, c) && PostgresOnly[name+"."+c] == "" {
				return nil, fmt.Errorf("schemas differ: column %s.%s is in the target, not in the source", name, c)
			}
		}
		plan = append(plan, t)
	}
	// Parents first: a stable topological order of the foreign keys.
	var ordered []copyTable
	placed := map[string]bool{}
	for len(ordered) < len(plan) {
		progress := false
		for _, t := range plan {
			if placed[t.name] {
				continue
			}
			ready := true
			for _, p := range srcTables[t.name].parents {
				if p != t.name && !placed[p] && srcTables[p] != nil && NotCopied[p] == "" {
					ready = false
				}
			}
			if ready {
				ordered = append(ordered, t)
				placed[t.name] = true
				progress = true
			}
		}
		if !progress {
			return nil, errors.New("the source's foreign keys form a cycle")
		}
	}
	return ordered, nil
}

type sqliteTable struct {
	cols    []string
	parents []string // tables its foreign keys reference
}

// sqliteTables reads the tables of a SQLite database, their columns and
// the tables their foreign keys reference.
func sqliteTables(ctx context.Context, db *sql.DB) (map[string]*sqliteTable, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	out := map[string]*sqliteTable{}
	for _, n := range names {
		t := &sqliteTable{}
		rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, n)
		if err != nil {
			return nil, fmt.Errorf("columns of %s: %w", n, err)
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return nil, err
			}
			t.cols = append(t.cols, c)
		}
		rows.Close()
		rows, err = db.QueryContext(ctx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, n)
		if err != nil {
			return nil, fmt.Errorf("foreign keys of %s: %w", n, err)
		}
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return nil, err
			}
			t.parents = append(t.parents, p)
		}
		rows.Close()
		out[n] = t
	}
	return out, nil
}

type postgresColumn struct {
	typ      string
	identity bool
}

// postgresColumns reads the tables of the current schema and their columns.
func postgresColumns(ctx context.Context, db *sql.DB) (map[string]map[string]postgresColumn, error) {
	rows, err := db.QueryContext(ctx, `SELECT c.table_name, c.column_name, c.data_type, c.is_identity
		FROM information_schema.columns c JOIN information_schema.tables t
		  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'`)
	if err != nil {
		return nil, fmt.Errorf("list columns: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]postgresColumn{}
	for rows.Next() {
		var t, c, typ, ident string
		if err := rows.Scan(&t, &c, &typ, &ident); err != nil {
			return nil, err
		}
		if out[t] == nil {
			out[t] = map[string]postgresColumn{}
		}
		out[t][c] = postgresColumn{typ: typ, identity: ident == "YES"}
	}
	return out, rows.Err()
}

// copyTables copies plan from src to dst: one read transaction on the
// source, one write transaction on the target, which is locked, checked
// empty, filled with COPY, and whose identity sequences are moved past the
// ids copied. It returns the rows of each table.
func copyTables(ctx context.Context, src, dst *Store, plan []copyTable) (map[string]int64, error) {
	rc, err := src.r.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer rc.Close()
	// A deferred transaction: every read below sees the same snapshot.
	if _, err := rc.ExecContext(ctx, `BEGIN DEFERRED`); err != nil {
		return nil, fmt.Errorf("source: begin: %w", err)
	}
	defer rc.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
	counts := map[string]int64{}
	for _, t := range plan {
		var n int64
		if err := rc.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(t.name)).Scan(&n); err != nil {
			return nil, fmt.Errorf("source: count %s: %w", t.name, err)
		}
		counts[t.name] = n
	}

	wc, err := dst.w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	defer wc.Close()
	err = wc.Raw(func(dc any) error {
		rb, ok := dc.(rebindConn)
		if !ok {
			return fmt.Errorf("target: unexpected connection %T", dc)
		}
		return copyInto(ctx, rb.Conn, rc, plan, counts)
	})
	return counts, err
}

func copyInto(ctx context.Context, sc *stdlib.Conn, rc *sql.Conn, plan []copyTable, counts map[string]int64) error {
	conn := sc.Conn()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("target: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	names := make([]string, len(plan))
	for i, t := range plan {
		names[i] = quoteIdent(t.name)
	}
	// No holder may write while the copy runs, nor between the check
	// that the target is empty and the copy.
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '10s'`); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(names, ", ")+` IN EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("target: lock the tables (is a probed running on it?): %w", err)
	}
	for _, t := range plan {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+quoteIdent(t.name)).Scan(&n); err != nil {
			return fmt.Errorf("target: count %s: %w", t.name, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: table %s has %d %s; migrate copies into an empty database only", ErrTargetNotEmpty, t.name, n, pluralRows(n))
		}
	}
	for _, t := range plan {
		if counts[t.name] == 0 {
			continue
		}
		cols := make([]string, len(t.cols))
		for i, c := range t.cols {
			cols[i] = quoteIdent(c)
		}
		rows, err := rc.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+quoteIdent(t.name))
		if err != nil {
			return fmt.Errorf("source: read %s: %w", t.name, err)
		}
		in := &copyRows{t: t, rows: rows, vals: make([]any, len(t.cols))}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, in)
		rows.Close()
		if in.err != nil {
			return in.err
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", t.name, err)
		}
		if n != counts[t.name] {
			return fmt.Errorf("copy %s: %d rows copied, the source has %d", t.name, n, counts[t.name])
		}
		if t.identity != "" {
			if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), (SELECT max(`+quoteIdent(t.identity)+`) FROM `+quoteIdent(t.name)+`))`,
				quoteIdent(t.name), t.identity); err != nil {
				return fmt.Errorf("copy %s: move its id sequence on: %w", t.name, err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("target: commit: %w", err)
	}
	return nil
}

func pluralRows(n int64) string {
	if n == 1 {
		return "row"
	}
	return "rows"
}

// copyRows feeds one table's source rows to COPY, each value in the type
// of the target's column.
type copyRows struct {
	t    copyTable
	rows *sql.Rows
	vals []any
	row  int64
	err  error
}

func (c *copyRows) Next() bool {
	if c.err != nil || !c.rows.Next() {
		if c.err == nil {
			if err := c.rows.Err(); err != nil {
				c.err = fmt.Errorf("source: read %s: %w", c.t.name, err)
			}
		}
		return false
	}
	c.row++
	ptrs := make([]any, len(c.vals))
	for i := range c.vals {
		ptrs[i] = &c.vals[i]
	}
	if err := c.rows.Scan(ptrs...); err != nil {
		c.err = fmt.Errorf("source: read %s: %w", c.t.name, err)
		return false
	}
	for i, v := range c.vals {
		cv, err := convertValue(v, c.t.types[i])
		if err != nil {
			c.err = fmt.Errorf("table %s, row %d, column %s: %w", c.t.name, c.row, c.t.cols[i], err)
			return false
		}
		c.vals[i] = cv
	}
	return true
}

func (c *copyRows) Values() ([]any, error) { return c.vals, nil }

func (c *copyRows) Err() error { return c.err }

// convertValue turns a value SQLite returned into one the PostgreSQL
// column's type takes, refusing what PostgreSQL cannot hold as it is.
func convertValue(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "bigint", "integer", "smallint":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == float64(int64(x)) {
				return int64(x), nil
			}
		case string:
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n, nil
			}
		case []byte:
			if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				return n, nil
			}
		}
		return nil, fmt.Errorf("%T %v is not an integer", v, v)
	case "text":
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		case int64:
			s = strconv.FormatInt(x, 10)
		case float64:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		default:
			return nil, fmt.Errorf("%T is not text", v)
		}
		if !utf8.ValidString(s) {
			return nil, errors.New("text that is not UTF-8, which PostgreSQL cannot store")
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, errors.New("text with a NUL byte, which PostgreSQL cannot store")
		}
		return s, nil
	case "bytea":
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
		return nil, fmt.Errorf("%T is not bytes", v)
	}
	return v, nil
}

// quoteIdent quotes a table or column name for SQL.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	return keys
}
