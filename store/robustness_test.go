package store

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/config"
	"github.com/probed/probed/probes"
)

func result(probe string, at time.Time, ok bool) probes.Result {
	return probes.Result{Probe: probe, Kind: "http", Component: "api", Location: "tokyo-1", Start: at, Duration: 120 * time.Millisecond, Success: ok}
}

// While another connection holds the database locked, a probe run through
// the scheduler still succeeds (the store is its sink), Record keeps
// queueing, the writer retries; once the lock goes every result lands, once.
func TestLockedDatabaseNoFalseFailureNoLoss(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, fc, _ := testStore(t, db.opts(Options{BusyTimeout: 20 * time.Millisecond}))

		target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
		defer target.Close()
		cfg, err := config.Parse([]byte("location: tokyo-1\ncomponents: [{id: api, name: API}]\nprobes:\n  - {name: api, component: api, kind: http, interval: 30s, timeout: 5s, http: {url: '"+target.URL+"'}}\n"),
			filepath.Join(t.TempDir(), "probes.yaml"), probes.Kinds())
		if err != nil {
			t.Fatal(err)
		}
		sched := probes.NewScheduler(probes.SchedulerOptions{Clock: fc, Sink: s})
		if err := sched.Apply(cfg, probes.Env{}); err != nil {
			t.Fatal(err)
		}

		lock := lockDB(t, db)
		res, err := sched.RunNow(ctx, "api")
		if err != nil {
			t.Fatal(err)
		}
		if !res.Success {
			t.Fatalf("probe run with the store locked = %+v, want a success", res)
		}
		const n = 500
		for i := range n {
			if err := s.Record(ctx, result("api", t0.Add(time.Duration(i+1)*time.Second), i%7 != 0)); err != nil {
				t.Fatalf("Record while locked: %v", err)
			}
		}
		waitFor(t, "the writer to hit the lock", func() bool { return testutil.ToFloat64(s.m.writeErrs) >= 2 })
		// Nothing has landed yet. On SQLite the store's reads go on under
		// the lock (WAL); PostgreSQL's ACCESS EXCLUSIVE stops them, so the
		// lock's own connection looks.
		if db.driver == "postgres" {
			if got := lock.count(t, `SELECT count(*) FROM results`); got != 0 {
				t.Fatalf("%d results while locked, want 0", got)
			}
		} else if got, err := s.Results(ctx, "api", t0.Add(-time.Hour), t0.Add(time.Hour)); err != nil || len(got) != 0 {
			t.Fatalf("Results while locked = %d results, %v; want 0, nil", len(got), err)
		}
		short, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Flush(short); err == nil {
			t.Error("Flush with an ended context while locked: no error")
		}
		lock.release()
		mustFlush(t, s)
		got, err := s.Results(ctx, "api", t0.Add(-time.Hour), t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n+1 {
			t.Fatalf("%d results after the lock, want %d", len(got), n+1)
		}
		for i, r := range got[1:] {
			if !r.Start.Equal(t0.Add(time.Duration(i+1)*time.Second)) || r.Success != (i%7 != 0) {
				t.Fatalf("result %d = %+v", i, r)
			}
		}
		if d := testutil.ToFloat64(s.m.dropped); d != 0 {
			t.Errorf("%v results dropped", d)
		}
	})
}

// A housekeeping pass that meets a lock fails, is counted, and the next
// one does the work.
func TestHousekeepingAfterLock(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		s, fc, _ := testStore(t, db.opts(Options{BusyTimeout: 20 * time.Millisecond}))
		var rs []probes.Result
		for i := range 100 {
			rs = append(rs, result("api", t0.Add(time.Duration(i)*time.Minute), i%5 != 0))
			if err := s.Record(context.Background(), rs[i]); err != nil {
				t.Fatal(err)
			}
		}
		mustFlush(t, s)
		fc.Set(t0.Add(3 * time.Hour))
		lock := lockDB(t, db)
		if _, err := s.RunHousekeeping(context.Background()); err == nil {
			t.Fatal("housekeeping under a lock: no error")
		}
		if testutil.ToFloat64(s.m.hkRuns.WithLabelValues("failure")) != 1 {
			t.Error("failed pass not counted")
		}
		lock.release()
		mustHousekeep(t, s)
		compareRollups(t, "hourly rollup", readHourlyRollups(t, s), expectedRollups(rs, hourMs, func(int64) bool { return true }))
	})
}

// Close gives up on results a locked database will not take after
// CloseTimeout, and says so: an error and probed_store_results_dropped_total.
func TestCloseGivesUpLoudly(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		s, _, _ := testStore(t, db.opts(Options{BusyTimeout: 10 * time.Millisecond, CloseTimeout: 100 * time.Millisecond}))
		lockDB(t, db)
		for i := range 3 {
			if err := s.Record(context.Background(), result("api", t0.Add(time.Duration(i)*time.Second), true)); err != nil {
				t.Fatal(err)
			}
		}
		err := s.Close()
		if err == nil || !strings.Contains(err.Error(), "3 results could not be written") {
			t.Fatalf("Close = %v, want the 3 lost results named", err)
		}
		if d := testutil.ToFloat64(s.m.dropped); d != 3 {
			t.Errorf("probed_store_results_dropped_total = %v, want 3", d)
		}
	})
}

// A result the database refuses outright is dropped alone; the rest of its
// batch is written.
func TestRefusedResultDroppedAlone(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		s, _, _ := testStore(t, db.opts(Options{}))
		// On PostgreSQL a batch is one INSERT over arrays: the refusal
		// (P0001, not transient) must still drop that result alone.
		refuse := []string{`CREATE TRIGGER refuse BEFORE INSERT ON results WHEN NEW.duration_us = 4242 BEGIN SELECT RAISE(ABORT, 'refused for the test'); END`}
		if db.driver == "postgres" {
			refuse = []string{
				`CREATE FUNCTION refuse_4242() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN IF NEW.duration_us = 4242 THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $f$`,
				`CREATE TRIGGER refuse BEFORE INSERT ON results FOR EACH ROW EXECUTE FUNCTION refuse_4242()`}
		}
		for _, q := range refuse {
			if _, err := s.w.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		var batch []probes.Result
		for i, d := range []time.Duration{time.Second, 4242 * time.Microsecond, 2 * time.Second} {
			r := result("api", t0.Add(time.Duration(i)*time.Second), true)
			r.Duration = d
			batch = append(batch, r)
		}
		s.write(batch) // as the writer does with one batch
		got, err := s.Results(context.Background(), "api", t0, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Duration != time.Second || got[1].Duration != 2*time.Second {
			t.Fatalf("results = %+v, want the first and the third", got)
		}
		if d := testutil.ToFloat64(s.m.dropped); d != 1 {
			t.Errorf("probed_store_results_dropped_total = %v, want 1", d)
		}
	})
}

// After Close, Record and Flush fail with ErrClosed instead of panicking.
func TestRecordAfterClose(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		s, _, _ := testStore(t, db.opts(Options{}))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Record(context.Background(), result("api", t0, true)); !errors.Is(err, ErrClosed) {
			t.Errorf("Record after Close = %v, want ErrClosed", err)
		}
		if err := s.Flush(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Flush after Close = %v, want ErrClosed", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
	})
}

// A full queue pushes back on Record for RecordWait (or until its context
// ends), then the result is dropped and counted; the results already queued
// are kept.
func TestFullQueue(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		s, _, _ := testStore(t, db.opts(Options{QueueSize: 1, BatchSize: 1, BusyTimeout: 10 * time.Millisecond, RecordWait: 20 * time.Millisecond}))
		lock := lockDB(t, db)
		ctx := context.Background()
		if err := s.Record(ctx, result("api", t0, true)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the writer to hold the first result", func() bool { return testutil.ToFloat64(s.m.writeErrs) >= 1 })
		if err := s.Record(ctx, result("api", t0.Add(time.Second), true)); err != nil {
			t.Fatal(err)
		}
		if err := s.Record(ctx, result("api", t0.Add(2*time.Second), true)); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("Record on a full queue = %v, want ErrQueueFull", err)
		}
		ended, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Record(ended, result("api", t0.Add(3*time.Second), true)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Record on a full queue with an ended context = %v, want the context's error", err)
		}
		if d := testutil.ToFloat64(s.m.dropped); d != 2 {
			t.Errorf("probed_store_results_dropped_total = %v, want 2", d)
		}
		lock.release()
		mustFlush(t, s)
		if got, _ := s.Results(ctx, "api", t0, t0.Add(time.Hour)); len(got) != 2 {
			t.Fatalf("%d results, want the 2 queued", len(got))
		}
	})
}

// Everything survives a restart: packed hours, results with failed
// checks, unpacked recent results, rollups, and the running intervals.
func TestHistorySurvivesRestart(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, fc, _ := testStore(t, db.opts(Options{}))
		id, err := s.startRun(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var rs []probes.Result
		for i := range 300 {
			r := result("ocsp", t0.Add(time.Duration(i)*30*time.Second), i%9 != 0)
			if !r.Success {
				r.Checks = []probes.Check{{Name: "ocsp_next_update", Message: "nextUpdate passed"}}
			}
			rs = append(rs, r)
			if err := s.Record(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		fc.Set(t0.Add(150 * time.Minute)) // two hours closed, the third not
		mustFlush(t, s)
		mustHousekeep(t, s)
		if err := s.stopRun(ctx, id); err != nil {
			t.Fatal(err)
		}
		before := dump(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s2, _, _ := testStore(t, db.opts(Options{Clock: fc}))
		if after := dump(t, s2); after != before {
			t.Error("tables differ after the restart")
		}
		compareResults(t, allResultsOf(t, s2, "ocsp"), expectResults(rs, func(probes.Result) bool { return true }))
		up, err := s2.ProbeUptime(ctx, "ocsp", t0, t0.Add(3*time.Hour), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range up {
			if w := bruteUptime(rs, "ocsp", u.From, u.To); u.Runs != w.Runs || u.Successes != w.Successes {
				t.Errorf("uptime %s after restart = %d/%d, want %d/%d", u.From, u.Successes, u.Runs, w.Successes, w.Runs)
			}
		}
		if cov, err := s2.Coverage(ctx, t0, t0.Add(time.Hour*3)); err != nil || len(cov) != 1 || !cov[0].End.Equal(t0.Add(150*time.Minute)) {
			t.Errorf("coverage after restart = %v, %v", cov, err)
		}
	})
}

func allResultsOf(t *testing.T, s *Store, probe string) []probes.Result {
	t.Helper()
	rs, err := s.Results(context.Background(), probe, time.Unix(0, 0), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// The store's metrics follow the Prometheus naming conventions.
func TestMetricsLint(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		s, _, reg := testStore(t, db.opts(Options{}))
		if err := s.Record(context.Background(), result("api", t0, true)); err != nil {
			t.Fatal(err)
		}
		mustFlush(t, s)
		mustHousekeep(t, s)
		problems, err := testutil.GatherAndLint(reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, mf := range mfs {
			have[mf.GetName()] = true
		}
		for _, name := range []string{"probed_store_queue_length", "probed_store_size_bytes", "probed_store_results_written_total",
			"probed_store_results_dropped_total", "probed_store_write_errors_total", "probed_store_batch_size",
			"probed_store_housekeeping_runs_total", "probed_store_housekeeping_duration_seconds",
			"probed_store_housekeeping_last_success_timestamp_seconds", "probed_store_rollups_total", "probed_store_retention_deleted_rows_total"} {
			if !have[name] {
				t.Errorf("metric %s missing", name)
			}
		}
		if v := testutil.ToFloat64(s.m.written); v != 1 {
			t.Errorf("probed_store_results_written_total = %v, want 1", v)
		}
		if size := s.SizeBytes(); size < 4096 {
			t.Errorf("probed_store_size_bytes = %d, want the file's size", size)
		}
	})
}
