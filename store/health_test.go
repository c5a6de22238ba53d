package store

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func bufferLogger() (*slog.Logger, *syncBuffer) {
	var b syncBuffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// While another process holds the database locked, PutState returns at
// once without an error, GetState sees the new value, and the value is in
// the database once the lock goes.
func TestPutStateNeverWaitsForTheDatabase(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, _, _ := testStore(t, db.opts(Options{BusyTimeout: 20 * time.Millisecond}))
		if err := s.PutState(ctx, "crl", "state", []byte("v1")); err != nil {
			t.Fatal(err)
		}
		mustFlush(t, s)

		lock := lockDB(t, db)
		// Before this change PutState waited the busy timeout and failed.
		if err := s.PutState(ctx, "crl", "state", []byte("v2")); err != nil {
			t.Fatalf("PutState while locked: %v", err)
		}
		if v, err := s.GetState(ctx, "crl", "state"); err != nil || string(v) != "v2" {
			t.Fatalf("GetState while locked = %q, %v; want v2", v, err)
		}
		waitFor(t, "the writer to meet the lock", func() bool { return testutil.ToFloat64(s.m.writeErrs) >= 1 })
		// Read by the lock's own connection: PostgreSQL's lock stops the
		// store's readers too.
		if n := lock.count(t, `SELECT count(*) FROM probe_state WHERE probe = 'crl' AND key = 'state' AND value = ?`, []byte("v1")); n != 1 {
			t.Fatalf("stored state while locked is not v1 (it must not be written yet)")
		}
		lock.release()
		mustFlush(t, s)
		if v := storedState(t, s, "crl", "state"); v != "v2" {
			t.Fatalf("stored state after the lock = %q, want v2", v)
		}
		if s.statesWaiting() {
			t.Error("states still waiting after the flush")
		}
	})
}

func storedState(t *testing.T, s *Store, probe, key string) string {
	t.Helper()
	var v []byte
	err := s.r.QueryRow(`SELECT value FROM probe_state WHERE probe = ? AND key = ?`, probe, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

// A write that meets a lock it cannot wait out fails with ErrBusy (the
// operator API's 503), and a locked database is not a store problem. On
// PostgreSQL the wait is lock_timeout (the store's BusyTimeout), and a
// read waits no longer either.
func TestLockedWriteIsErrBusy(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, _, _ := testStore(t, db.opts(Options{BusyTimeout: 20 * time.Millisecond}))
		secret, err := s.CreateToken(ctx, "carol")
		if err != nil {
			t.Fatal(err)
		}
		cookie, _, err := s.CreateSession(ctx, "carol", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		lock := lockDB(t, db)
		_, err = s.CreateToken(ctx, "alice")
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("CreateToken while locked: %v, want ErrBusy", err)
		}
		if !strings.Contains(err.Error(), "locked") {
			t.Errorf("error %q does not say the database is locked", err)
		}
		// A deadline that passes while waiting for the writer connection is the same.
		dl, cancel := context.WithTimeout(ctx, time.Millisecond)
		defer cancel()
		<-dl.Done()
		if _, err := s.CreateToken(dl, "bob"); !errors.Is(err, ErrBusy) {
			t.Errorf("CreateToken past its deadline: %v, want ErrBusy", err)
		}
		if db.driver == "postgres" {
			// ACCESS EXCLUSIVE stops reads too: they give up as writes do,
			// and a token that could not be read is not an unknown one
			// (the operator API's 503, not 401).
			if _, err := s.Results(ctx, "api", t0, t0.Add(time.Hour)); !busy(ctx, err) {
				t.Errorf("Results under ACCESS EXCLUSIVE: %v, want a lock timeout (55P03)", err)
			}
			if _, err := s.Authenticate(ctx, secret); !errors.Is(err, ErrBusy) {
				t.Errorf("Authenticate under ACCESS EXCLUSIVE: %v, want ErrBusy", err)
			}
			if _, err := s.GetSession(ctx, cookie); !errors.Is(err, ErrBusy) {
				t.Errorf("GetSession under ACCESS EXCLUSIVE: %v, want ErrBusy (the console's 503, not a login redirect)", err)
			}
		} else {
			if name, err := s.Authenticate(ctx, secret); err != nil || name != "carol" {
				t.Errorf("Authenticate under SQLite's lock = %q, %v; want carol (reads go on)", name, err)
			}
			if sess, err := s.GetSession(ctx, cookie); err != nil || sess.TokenName != "carol" {
				t.Errorf("GetSession under SQLite's lock = %+v, %v; want carol's (reads go on)", sess, err)
			}
		}
		if err := s.Healthy(); err != nil {
			t.Errorf("Healthy while locked: %v, want nil (a lock is a wait, not a problem)", err)
		}
		lock.release()
		if _, err := s.CreateToken(ctx, "alice"); err != nil {
			t.Fatalf("CreateToken after the lock: %v", err)
		}
	})
}

// The database file deleted, then replaced, while the store is open: each
// check that sees it logs an ERROR once, sets the metrics and fails
// Healthy; the first copies what the open database holds next to the path.
func TestLostDatabaseFileIsLoud(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "probed.db")
	logger, logs := bufferLogger()
	s, _, reg := testStore(t, Options{Path: path, Logger: logger})
	if _, err := s.CreateToken(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	ticks := make(chan time.Time)
	wctx, stop := context.WithCancel(ctx)
	watched := make(chan error, 1)
	go func() { watched <- s.WatchFile(wctx, ticks) }()
	defer func() { stop(); <-watched }()
	tick := func() { ticks <- time.Now() }

	tick()
	if err := s.Healthy(); err != nil {
		t.Fatalf("Healthy on a fresh store: %v", err)
	}
	if got := testutil.ToFloat64(s.health.healthy); got != 1 {
		t.Fatalf("probed_store_healthy = %v, want 1", got)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	tick()
	waitFor(t, "the deletion to be noticed", func() bool { return s.Healthy() != nil })
	if err := s.Healthy(); !strings.Contains(err.Error(), ProblemFileMissing) {
		t.Errorf("Healthy = %v, want %s", err, ProblemFileMissing)
	}
	if got := testutil.ToFloat64(s.health.healthy); got != 0 {
		t.Errorf("probed_store_healthy = %v, want 0", got)
	}
	if got := testutil.ToFloat64(s.health.problem.WithLabelValues(ProblemFileMissing)); got != 1 {
		t.Errorf("probed_store_problem{problem=file_missing} = %v, want 1", got)
	}
	// Reads go on from the open file (the page and /metrics must still
	// answer, to say the database is lost), from every reader at once.
	errs := make(chan error, 2*readers)
	for range 2 * readers {
		go func() {
			_, err := s.ListTokens(ctx)
			errs <- err
		}()
	}
	for range 2 * readers {
		if err := <-errs; err != nil {
			t.Errorf("read after the deletion: %v", err)
		}
	}
	waitFor(t, "the copy of the lost database", func() bool { return s.Saved() != "" })
	tick()
	tick() // a second look logs nothing new
	if n := strings.Count(logs.String(), "level=ERROR msg=\"store problem:"); n != 1 {
		t.Errorf("%d ERROR lines for one problem, want 1:\n%s", n, logs)
	}
	// The copy is a database with what the lost one held.
	copyStore, _, _ := testStore(t, Options{Path: s.Saved()})
	if toks, err := copyStore.ListTokens(ctx); err != nil || len(toks) != 1 || toks[0].Name != "alice" {
		t.Errorf("tokens in the saved copy = %+v, %v; want alice", toks, err)
	}

	// Another file at the path (an operator's copy, a restore while running).
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tick()
	waitFor(t, "the replacement to be noticed", func() bool {
		err := s.Healthy()
		return err != nil && strings.Contains(err.Error(), ProblemFileReplaced)
	})
	if got := testutil.ToFloat64(s.health.problem.WithLabelValues(ProblemFileMissing)); got != 0 {
		t.Errorf("probed_store_problem{problem=file_missing} = %v once a file is back, want 0", got)
	}
	if !strings.Contains(logs.String(), "another file replaced the database") {
		t.Errorf("no ERROR for the replacement:\n%s", logs)
	}
	if _, err := testutil.GatherAndCount(reg, "probed_store_healthy", "probed_store_problem"); err != nil {
		t.Error(err)
	}
}

// A full disk is a problem while writes fail; results wait in the queue and
// land once there is room, and the problem clears. On SQLite the disk is
// filled with max_page_count (the same SQLITE_FULL a full file system
// gives); on PostgreSQL the results table lives on a tmpfs of its own,
// shrunk to what it holds (the server's own 53100, disk_full).
func TestFullDiskIsLoudAndLosesNothing(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		var s *Store
		fullDiskLosesNothing(t, Options{}, func(store *Store) {
			s = store
			var pages int
			if err := s.w.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
				t.Fatal(err)
			}
			if _, err := s.w.Exec(`PRAGMA max_page_count = ` + strconv.Itoa(pages)); err != nil {
				t.Fatal(err)
			}
		}, func() {
			if _, err := s.w.Exec(`PRAGMA max_page_count = 1073741823`); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("postgres", func(t *testing.T) {
		small := pg.SmallTablespace(t, 4<<20)
		fullDiskLosesNothing(t, Options{Driver: "postgres", DSN: pg.DSN(t)}, func(s *Store) {
			var indexes []string
			rows, err := s.w.Query(`SELECT indexname FROM pg_indexes WHERE tablename = 'results' AND schemaname = current_schema()`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					t.Fatal(err)
				}
				indexes = append(indexes, name)
			}
			rows.Close()
			if _, err := s.w.Exec(`ALTER TABLE results SET TABLESPACE ` + small.Name); err != nil {
				t.Fatal(err)
			}
			for _, ix := range indexes {
				if _, err := s.w.Exec(`ALTER INDEX ` + ix + ` SET TABLESPACE ` + small.Name); err != nil {
					t.Fatal(err)
				}
			}
			small.Resize(t, small.Used(t))
		}, func() { small.Resize(t, 64<<20) })
	})
}

// fullDiskLosesNothing opens a store with opts, fills its disk with fill,
// records results until the store notices, makes room with room, and checks
// that every result landed.
func fullDiskLosesNothing(t *testing.T, opts Options, fill func(*Store), room func()) {
	logger, logs := bufferLogger()
	opts.Logger = logger
	s, _, _ := testStore(t, opts)
	fill(s)
	const n = 2000
	for i := range n {
		if err := s.Record(context.Background(), result("api", t0.Add(time.Duration(i)*time.Second), true)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the full disk to be noticed", func() bool { return s.Healthy() != nil })
	if err := s.Healthy(); !strings.Contains(err.Error(), ProblemDiskFull) {
		t.Fatalf("Healthy = %v, want %s", err, ProblemDiskFull)
	}
	if got := testutil.ToFloat64(s.health.problem.WithLabelValues(ProblemDiskFull)); got != 1 {
		t.Errorf("probed_store_problem{problem=disk_full} = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "disk is full") {
		t.Errorf("no ERROR for the full disk:\n%s", logs)
	}
	room()
	mustFlush(t, s)
	if err := s.Healthy(); err != nil {
		t.Errorf("Healthy once there is room: %v", err)
	}
	if got := len(allResultsOf(t, s, "api")); got != n {
		t.Errorf("%d results after the disk had room again, want %d", got, n)
	}
}
