package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func migrationFS(files map[string]string) fs.FS {
	m := fstest.MapFS{}
	for name, body := range files {
		m[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return m
}

// A broken migration stops Open with the file's name and the database's
// reason, and leaves the database as the migrations before it left it.
func TestBrokenMigrationIsLoud(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		reason := "no such table: no_such_table"
		if db.driver == "postgres" {
			reason = `relation "no_such_table" does not exist`
		}
		_, err := Open(context.Background(), db.opts(Options{migrations: migrationFS(map[string]string{
			"0001_a.sql": "CREATE TABLE a (x INTEGER);",
			"0002_b.sql": "CREATE TABLE b (x INTEGER);\nINSERT INTO no_such_table VALUES (1);",
			"0003_c.sql": "CREATE TABLE c (x INTEGER);",
		})}))
		if err == nil || !strings.Contains(err.Error(), "0002_b.sql") || !strings.Contains(err.Error(), reason) {
			t.Fatalf("Open = %v, want the broken migration and its reason", err)
		}
		tables, applied := rawSchema(t, db)
		if tables != "a" || applied != "0001_a.sql" {
			t.Errorf("after the failure: tables %q, applied %q; want a and 0001_a.sql only (0002 rolled back, 0003 not tried)", tables, applied)
		}
	})
}

// rawSchema reads, past the store, which of the tables a, b and c exist and
// which migrations are recorded, each as a comma-separated sorted list.
func rawSchema(t *testing.T, db where) (tables, applied string) {
	t.Helper()
	var conn *sql.DB
	var err error
	tablesQ := `SELECT coalesce(group_concat(name, ','), '') FROM (SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('a', 'b', 'c') ORDER BY name)`
	appliedQ := `SELECT coalesce(group_concat(name, ','), '') FROM (SELECT name FROM schema_migrations ORDER BY version)`
	if db.driver == "postgres" {
		conn, err = sql.Open("pgx", db.dsn)
		tablesQ = `SELECT coalesce(string_agg(table_name, ',' ORDER BY table_name), '') FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN ('a', 'b', 'c')`
		appliedQ = `SELECT coalesce(string_agg(name, ',' ORDER BY version), '') FROM schema_migrations`
	} else {
		conn, err = sql.Open("sqlite3", "file:"+db.path)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.QueryRow(tablesQ).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(appliedQ).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	return tables, applied
}

func TestMigrationSetErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"unnumbered", map[string]string{"results.sql": "SELECT 1;"}, "results.sql: name must start with a number and _"},
		{"shared number", map[string]string{"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"}, "0001_a.sql and 0001_b.sql share number 1"},
	}
	eachBackend(t, func(t *testing.T, db where) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := Open(context.Background(), db.fresh(t).opts(Options{migrations: migrationFS(c.files)}))
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Open = %v, want %q", err, c.want)
				}
			})
		}
	})
}

// A database migrated by a newer probed is refused, not run on blindly.
func TestMigrationFromNewerVersionRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		newer := migrationFS(map[string]string{"0001_a.sql": "CREATE TABLE a (x INTEGER);", "0002_b.sql": "CREATE TABLE b (x INTEGER);"})
		s, err := Open(context.Background(), db.opts(Options{migrations: newer}))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err = Open(context.Background(), db.opts(Options{migrations: migrationFS(map[string]string{"0001_a.sql": "CREATE TABLE a (x INTEGER);"})}))
		if err == nil || !strings.Contains(err.Error(), "0002_b.sql, unknown to this probed") {
			t.Fatalf("Open = %v, want the unknown migration named", err)
		}
	})
}

// The shipped migrations all apply, once: a second Open applies none.
func TestShippedMigrationsApplyOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		dir := "migrations/*.sql"
		if db.driver == "postgres" {
			dir = "migrations/postgres/*.sql"
		}
		names, err := fs.Glob(migrations, dir)
		if err != nil {
			t.Fatal(err)
		}
		s, _, _ := testStore(t, db.opts(Options{}))
		if n := count(t, s, `SELECT count(*) FROM schema_migrations`); n != int64(len(names)) || n < 4 {
			t.Fatalf("%d migrations applied, want all %d", n, len(names))
		}
		if len(s.applied) != len(names) {
			t.Fatalf("the first Open applied %d migrations, want %d", len(s.applied), len(names))
		}
		s.Close()
		s2, _, _ := testStore(t, db.opts(Options{}))
		if n := count(t, s2, `SELECT count(*) FROM schema_migrations`); n != int64(len(names)) {
			t.Fatalf("%d migrations recorded after reopening, want %d", n, len(names))
		}
		if len(s2.applied) != 0 {
			t.Fatalf("the second Open applied %v, want none", s2.applied)
		}
	})
}

// A path SQLite would read as a URI query stays a path.
func TestPathWithQuestionMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd?name#1%.db")
	s, _, _ := testStore(t, Options{Path: path})
	if err := s.PutState(context.Background(), "p", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if s.SizeBytes() == 0 {
		t.Fatalf("no file at %s", path)
	}
}

// PostgreSQL's migrations start at 0050, the schema SQLite has after its
// 0050; every migration after it exists for both databases, with the same
// number, so neither falls behind.
func TestMigrationsHaveBothDialects(t *testing.T) {
	numbers := func(dir string) map[string]bool {
		entries, err := fs.ReadDir(migrations, dir)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, e := range entries {
			if num, _, ok := strings.Cut(e.Name(), "_"); ok && !e.IsDir() && num > "0050" {
				out[num] = true
			}
		}
		return out
	}
	sqlite, postgres := numbers("migrations"), numbers("migrations/postgres")
	for n := range sqlite {
		if !postgres[n] {
			t.Errorf("migration %s exists for SQLite only: add migrations/postgres/%s_*.sql", n, n)
		}
	}
	for n := range postgres {
		if !sqlite[n] {
			t.Errorf("migration %s exists for PostgreSQL only: add migrations/%s_*.sql", n, n)
		}
	}
	if _, err := fs.Stat(migrations, "migrations/postgres/0050_schema.sql"); err != nil {
		t.Errorf("PostgreSQL's base schema: %v", err)
	}
	// Migrations apply by set, not in order of arrival: a number skipped and
	// landed later would run after its successors on every database that has
	// them. From 0070 on (several holders) the numbers follow one another.
	for n := range sqlite {
		v, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("migration number %q: %v", n, err)
		}
		if prev := fmt.Sprintf("%04d", v-1); v > 70 && !sqlite[prev] {
			t.Errorf("migration %s follows a gap: %s is missing (add a no-op %s_reserved.sql in both dialects)", n, prev, prev)
		}
	}
}
