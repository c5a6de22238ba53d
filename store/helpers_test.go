package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/pgtest"
)

// pg is the package's PostgreSQL server, started by the first test that
// runs on the postgres backend.
var pg = new(pgtest.Server)

func TestMain(m *testing.M) { pgtest.Main(m, pg) }

// t0 is a round UTC midnight, so that hours and days in tests are easy to read.
var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// where is a test's database: a SQLite file or a PostgreSQL database.
type where struct{ driver, path, dsn string }

// opts returns o opening the database at w.
func (w where) opts(o Options) Options {
	o.Driver, o.Path, o.DSN = w.driver, w.path, w.dsn
	return o
}

// fresh returns a new, empty database on w's backend (for subtests).
func (w where) fresh(t *testing.T) where {
	if w.driver == "postgres" {
		return where{driver: w.driver, dsn: pg.DSN(t)}
	}
	return where{driver: w.driver, path: filepath.Join(t.TempDir(), "probed.db")}
}

// eachBackend runs f as two subtests, "sqlite" and "postgres", each with a
// fresh, empty database: the store's one test suite, run on both backends.
// A test reopens the same database by passing db.opts again.
func eachBackend(t *testing.T, f func(t *testing.T, db where)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		f(t, where{driver: "sqlite", path: filepath.Join(t.TempDir(), "probed.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, where{driver: "postgres", dsn: pg.DSN(t)})
	})
}

// testStore opens a store on a fresh file with a fake clock at t0 and its
// own registry, closed at the end of the test.
func testStore(t *testing.T, opts Options) (*Store, *clock.Fake, *prometheus.Registry) {
	t.Helper()
	if opts.Path == "" && opts.Driver != "postgres" {
		opts.Path = filepath.Join(t.TempDir(), "probed.db")
	}
	fc, ok := opts.Clock.(*clock.Fake)
	if !ok {
		fc = clock.NewFake(t0)
		opts.Clock = fc
	}
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, fc, reg
}

// waitFor waits until cond holds, failing the test after 10 s: a condition
// wait, never a fixed sleep.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func mustHousekeep(t *testing.T, s *Store) HousekeepingReport {
	t.Helper()
	rep, err := s.RunHousekeeping(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func mustFlush(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}
