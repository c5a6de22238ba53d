package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

var pg = new(Server)

func TestMain(m *testing.M) { Main(m, pg) }

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Each test gets its own empty database: a table made in one is not in another.
func TestDatabasesAreFreshAndSeparate(t *testing.T) {
	ctx := context.Background()
	a, b := open(t, pg.DSN(t)), open(t, pg.DSN(t))
	if _, err := a.ExecContext(ctx, "CREATE TABLE x (v text); INSERT INTO x VALUES ('a')"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.QueryRowContext(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("second database has %d tables, want an empty database", n)
	}
	var v string
	if err := a.QueryRowContext(ctx, "SELECT v FROM x").Scan(&v); err != nil || v != "a" {
		t.Fatalf("first database: %q, %v", v, err)
	}
}

// A test's database is dropped when the test ends, even with a connection left open.
func TestDatabaseDroppedAtCleanup(t *testing.T) {
	ctx := context.Background()
	var name string
	skipped := true
	t.Run("user", func(t *testing.T) {
		db := open(t, pg.DSN(t))
		skipped = false
		if err := db.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	if skipped {
		t.Skip("no PostgreSQL: the subtest skipped (see its message)")
	}
	admin := open(t, pg.dsn("postgres"))
	var n int
	if err := admin.QueryRowContext(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if name == "" || n != 0 {
		t.Fatalf("database %q still exists after its test ended (%d)", name, n)
	}
}

// The server listens on loopback only, keeps its unix socket in its own
// temporary directory, and, when the tests run as root, runs as nobody.
func TestServerIsLoopbackAndUnprivileged(t *testing.T) {
	ctx := context.Background()
	db := open(t, pg.DSN(t))
	var listen, sockets string
	if err := db.QueryRowContext(ctx, "SHOW listen_addresses").Scan(&listen); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SHOW unix_socket_directories").Scan(&sockets); err != nil {
		t.Fatal(err)
	}
	if listen != "127.0.0.1" {
		t.Errorf("listen_addresses = %q, want 127.0.0.1", listen)
	}
	if sockets != pg.Dir() {
		t.Errorf("unix_socket_directories = %q, want the server's directory %q", sockets, pg.Dir())
	}
	sock := filepath.Join(pg.Dir(), fmt.Sprintf(".s.PGSQL.%d", pg.Port()))
	if _, err := os.Stat(sock); err != nil {
		t.Errorf("no unix socket in the server's directory: %v", err)
	}
	if os.Geteuid() != 0 {
		return
	}
	fi, err := os.Stat(filepath.Join(pg.Dir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
		t.Errorf("data directory belongs to root, want the unprivileged user")
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pg.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			if uid, _ := strconv.Atoi(f[1]); uid == 0 {
				t.Errorf("postgres runs as root: %s", line)
			}
			return
		}
	}
	t.Fatal("no Uid line in /proc status")
}

// CPUTime counts the server's work: a query that keeps a backend busy
// moves it on.
func TestCPUTimeCountsTheServersWork(t *testing.T) {
	db := open(t, pg.DSN(t))
	before, err := pg.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := db.QueryRow(`SELECT count(*) FROM generate_series(1, 5000000) a WHERE a % 7 = 3`).Scan(&n); err != nil || n != 714286 {
		t.Fatalf("count = %d, %v", n, err)
	}
	after, err := pg.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("CPU time %v before the query, %v after: the backend's work was not counted", before, after)
	}
}

// A server shut down refuses connections; started again, it serves the same
// data on the same port.
func TestShutdownAndStartKeepDataAndPort(t *testing.T) {
	own := new(Server)
	t.Cleanup(own.Stop)
	ctx := context.Background()
	dsn := own.DSN(t)
	db := open(t, dsn)
	if _, err := db.ExecContext(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before')"); err != nil {
		t.Fatal(err)
	}
	port := own.Port()
	own.Shutdown(t)
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("ping succeeded with the server shut down")
	}
	own.Start(t)
	if own.Port() != port {
		t.Errorf("port %d after Start, was %d", own.Port(), port)
	}
	var v string
	if err := db.QueryRowContext(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "before" {
		t.Fatalf("after Start: %q, %v; want the row written before", v, err)
	}
}

// A standby holds what the primary wrote, refuses writes until promoted,
// and takes them after.
func TestStandbyPromoted(t *testing.T) {
	ctx := context.Background()
	own := new(Server)
	t.Cleanup(own.Stop)
	dsn := own.DSN(t)
	p := open(t, dsn)
	if _, err := p.ExecContext(ctx, "CREATE TABLE x (v text); INSERT INTO x VALUES ('before')"); err != nil {
		t.Fatal(err)
	}
	sb := own.Standby(t)
	sdsn := strings.Replace(dsn, "port="+strconv.Itoa(own.Port()), "port="+strconv.Itoa(sb.Port()), 1)
	s := open(t, sdsn)
	var v string
	if err := s.QueryRowContext(ctx, "SELECT v FROM x").Scan(&v); err != nil || v != "before" {
		t.Fatalf("standby reads %q, %v; want the primary's row", v, err)
	}
	if _, err := s.ExecContext(ctx, "INSERT INTO x VALUES ('refused')"); err == nil || !strings.Contains(err.Error(), "25006") {
		t.Fatalf("write on the standby: %v, want 25006 read-only", err)
	}
	own.Shutdown(t)
	sb.Promote(t)
	if _, err := s.ExecContext(ctx, "INSERT INTO x VALUES ('after')"); err != nil {
		t.Fatalf("write on the promoted standby: %v", err)
	}
}
