package store

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
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

// A broken migration stops Open with the file's name and SQLite's reason,
// and leaves the database as the migrations before it left it.
func TestBrokenMigrationIsLoud(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "probed.db")
	_, err := Open(ctx, Options{Path: path, migrations: migrationFS(map[string]string{
		"0001_a.sql": "CREATE TABLE a (x INTEGER);",
		"0002_b.sql": "CREATE TABLE b (x INTEGER);\nINSERT INTO no_such_table VALUES (1);",
		"0003_c.sql": "CREATE TABLE c (x INTEGER);",
	})})
	if err == nil || !strings.Contains(err.Error(), "0002_b.sql") || !strings.Contains(err.Error(), "no such table: no_such_table") {
		t.Fatalf("Open = %v, want the broken migration and its reason", err)
	}
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables, applied string
	db.QueryRow(`SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('a', 'b', 'c') ORDER BY name)`).Scan(&tables)
	db.QueryRow(`SELECT group_concat(name, ',') FROM schema_migrations`).Scan(&applied)
	if tables != "a" || applied != "0001_a.sql" {
		t.Errorf("after the failure: tables %q, applied %q; want a and 0001_a.sql only (0002 rolled back, 0003 not tried)", tables, applied)
	}
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
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "probed.db"), migrations: migrationFS(c.files)})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open = %v, want %q", err, c.want)
			}
		})
	}
}

// A database migrated by a newer probed is refused, not run on blindly.
func TestMigrationFromNewerVersionRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "probed.db")
	newer := migrationFS(map[string]string{"0001_a.sql": "CREATE TABLE a (x);", "0002_b.sql": "CREATE TABLE b (x);"})
	s, err := Open(context.Background(), Options{Path: path, migrations: newer})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(context.Background(), Options{Path: path, migrations: migrationFS(map[string]string{"0001_a.sql": "CREATE TABLE a (x);"})})
	if err == nil || !strings.Contains(err.Error(), "0002_b.sql, unknown to this probed") {
		t.Fatalf("Open = %v, want the unknown migration named", err)
	}
}

// The shipped migrations all apply, once: a second Open applies none.
func TestShippedMigrationsApplyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "probed.db")
	s, _, _ := testStore(t, Options{Path: path})
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM schema_migrations`); n != int64(len(names)) || n < 4 {
		t.Fatalf("%d migrations applied, want all %d", n, len(names))
	}
	s.Close()
	s2, _, _ := testStore(t, Options{Path: path})
	if n := count(t, s2, `SELECT count(*) FROM schema_migrations`); n != int64(len(names)) {
		t.Fatalf("%d migrations recorded after reopening, want %d", n, len(names))
	}
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
}
