package store

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
)

// Up, crash (no clean stop), restart an hour later: the gap between the
// last heartbeat and the restart is no data — not counted as uptime, not
// as downtime.
func TestCoverageCrashGapIsNoData(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		fc := clock.NewFake(t0)
		s1, _, _ := testStore(t, db.opts(Options{Clock: fc}))
		id, err := s1.startRun(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		rec := func(s *Store, at time.Time, ok bool) {
			t.Helper()
			if err := s.Record(ctx, probes.Result{Probe: "ocsp", Kind: "ocsp", Component: "ocsp", Location: "l", Start: at, Duration: time.Second, Success: ok}); err != nil {
				t.Fatal(err)
			}
		}
		for m := range 10 {
			fc.Set(t0.Add(time.Duration(m) * time.Minute))
			rec(s1, fc.Now(), true)
			if err := s1.touchRun(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		lastSeen := fc.Now() // t0+9m
		fc.Advance(20 * time.Second)
		rec(s1, fc.Now(), true) // run after the last heartbeat, then the crash
		// The crash: the process dies without stopping its heartbeat.
		mustFlush(t, s1)
		s1.runID.Store(0)
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}

		restart := t0.Add(70 * time.Minute)
		fc.Set(restart)
		s2, _, _ := testStore(t, db.opts(Options{Clock: fc}))
		id2, err := s2.startRun(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for m := range 20 {
			fc.Set(restart.Add(time.Duration(m) * time.Minute))
			rec(s2, fc.Now(), m%2 == 0)
			if err := s2.touchRun(ctx, id2); err != nil {
				t.Fatal(err)
			}
		}
		mustFlush(t, s2)
		now := fc.Now() // restart+19m

		cov, err := s2.Coverage(ctx, t0.Add(-time.Hour), t0.Add(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []Interval{{t0, lastSeen}, {restart, now}}
		if len(cov) != 2 || !cov[0].Start.Equal(want[0].Start) || !cov[0].End.Equal(want[0].End) || !cov[1].Start.Equal(want[1].Start) || !cov[1].End.Equal(want[1].End) {
			t.Fatalf("coverage = %v, want %v", cov, want)
		}
		// The running process's interval reaches now, not its last beat.
		fc.Advance(10 * time.Second)
		cov, _ = s2.Coverage(ctx, t0, t0.Add(3*time.Hour))
		if got := cov[len(cov)-1].End; !got.Equal(fc.Now()) {
			t.Errorf("live interval ends %s, want now %s", got, fc.Now())
		}

		up, err := s2.ProbeUptime(ctx, "ocsp", t0, t0.Add(2*time.Hour), 30*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		// [t0, +30m): 11 runs, 9m of coverage; [+30m, +60m): no runs, no
		// coverage: no data, not downtime; [+60m, +90m): 20 runs, 10 ok.
		if up[0].Runs != 11 || up[0].Successes != 11 || up[0].Covered != 9*time.Minute {
			t.Errorf("before the crash: %+v", up[0])
		}
		if _, ok := up[1].Ratio(); ok || up[1].Covered != 0 {
			t.Errorf("while down: %+v, want no runs and no coverage", up[1])
		}
		if r, ok := up[2].Ratio(); !ok || r != 0.5 || up[2].Covered != 19*time.Minute+10*time.Second {
			t.Errorf("after the restart: %+v (ratio %v)", up[2], r)
		}

		// A clean stop closes the interval where it stopped.
		if err := s2.stopRun(ctx, id2); err != nil {
			t.Fatal(err)
		}
		stopped := fc.Now()
		fc.Advance(time.Hour)
		cov, _ = s2.Coverage(ctx, t0, t0.Add(5*time.Hour))
		if got := cov[len(cov)-1].End; !got.Equal(stopped) {
			t.Errorf("stopped interval ends %s, want %s", got, stopped)
		}
	})
}

// The Heartbeat loop opens an interval, beats, and closes it cleanly when
// its context ends.
func TestHeartbeatLoop(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		s, fc, _ := testStore(t, db.opts(Options{}))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Heartbeat(ctx, "", time.Millisecond) }()
		waitFor(t, "the interval to open", func() bool { return s.runID.Load() != 0 })
		fc.Advance(time.Minute)
		waitFor(t, "a beat", func() bool {
			return count(t, s, `SELECT count(*) FROM daemon_runs WHERE last_seen_ms = ?`, fc.Now().UnixMilli()) == 1
		})
		fc.Advance(time.Minute)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, `SELECT count(*) FROM daemon_runs WHERE started_ms = ? AND stopped_ms = ?`, t0.UnixMilli(), fc.Now().UnixMilli()); n != 1 {
			t.Error("the interval was not closed at the stop")
		}
		// Close stops a running heartbeat and closes its interval first.
		go func() { done <- s.Heartbeat(context.Background(), "", time.Hour) }()
		waitFor(t, "a second interval", func() bool { return s.runID.Load() != 0 })
		fc.Advance(time.Minute)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// syncBuffer is a log sink tests can read while the store writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A heartbeat that meets a locked database logs and retries; it opens its
// interval once the lock is gone, and never ends the daemon.
func TestHeartbeatRetriesUnderLock(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		var logs syncBuffer
		s, _, _ := testStore(t, db.opts(Options{BusyTimeout: 5 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
		lock := lockDB(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.Heartbeat(ctx, "", time.Millisecond) }()
		waitFor(t, "a logged failed beat", func() bool { return strings.Contains(logs.String(), "heartbeat not recorded") })
		lock.release()
		waitFor(t, "the interval to open", func() bool { return s.runID.Load() != 0 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, `SELECT count(*) FROM daemon_runs WHERE stopped_ms IS NOT NULL`); n != 1 {
			t.Errorf("%d closed intervals, want 1", n)
		}
	})
}

// Two holders on one PostgreSQL database: each start asks about its own
// holder's last run only. Holder b starting cleanly says nothing of a's
// unclean stop (a's run is the newest row), and a's restart after it
// reports its own unclean stop although b's clean run is newer.
func TestHeartbeatUncleanStopPerHolder(t *testing.T) {
	ctx := context.Background()
	dsn := pg.DSN(t)
	fc := clock.NewFake(t0)
	open := func() (*Store, *syncBuffer) {
		var logs syncBuffer
		s, _, _ := testStore(t, Options{Driver: "postgres", DSN: dsn, Clock: fc, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		return s, &logs
	}
	const warning = "did not stop cleanly"
	a, aLogs := open()
	if _, err := a.startRun(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	fc.Advance(time.Minute)
	// a dies: no clean stop.
	a.runID.Store(0)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(aLogs.String(), warning) {
		t.Fatalf("a's first start warned: %s", aLogs)
	}

	b, bLogs := open()
	hctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Heartbeat(hctx, "b", time.Hour) }()
	waitFor(t, "b's run", func() bool { return b.runID.Load() != 0 })
	fc.Advance(time.Minute)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(bLogs.String(), warning) {
		t.Errorf("b's clean start warned about a's unclean stop: %s", bLogs)
	}

	fc.Advance(time.Minute)
	a2, a2Logs := open()
	if _, err := a2.startRun(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if l := a2Logs.String(); !strings.Contains(l, warning) || !strings.Contains(l, "holder=a") || !strings.Contains(l, "last_seen="+t0.Format("2006-01-02T15:04:05")) {
		t.Errorf("a's restart after its unclean stop did not report it (with its holder and last heartbeat at %s): %s", t0, l)
	}
	// b's restart after its clean stop: nothing to report.
	b2, b2Logs := open()
	if _, err := b2.startRun(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b2Logs.String(), warning) {
		t.Errorf("b's restart after its clean stop warned: %s", b2Logs)
	}
	if n := count(t, b2, `SELECT count(*) FROM daemon_runs WHERE holder = 'a'`); n != 2 {
		t.Errorf("%d runs of holder a, want 2", n)
	}
}
