package main

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/config"
	"github.com/probed/probed/store"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The leadership loop on a real PostgreSQL: it takes the free lease and
// runs its duties fenced with the epoch; when another holder takes the
// lease it stops them at its next renewal, says so, and follows; it leads
// again (next epoch) once the lease is free; stopping, it ends its duties
// and gives the lease up.
func TestLeadershipFollowsTheLease(t *testing.T) {
	ctx := context.Background()
	dsn := pg.DSN(t)
	open := func() *store.Store {
		st, err := store.Open(ctx, store.Options{Driver: "postgres", DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	sa, sb := open(), open()
	started, stopped := make(chan int64, 8), make(chan int64, 8)
	duties := func(ctx context.Context) error {
		ep, _ := store.FenceOf(ctx)
		started <- ep
		<-ctx.Done()
		stopped <- ep
		return nil
	}
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	la := newLeadership(reg, sa, true, "holder-a", 3*time.Second, slog.New(slog.NewTextHandler(&logs, nil)), duties)
	rctx, cancel := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- la.run(rctx) }()
	next := func(ch chan int64, what string) int64 {
		t.Helper()
		select {
		case ep := <-ch:
			return ep
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: not within 30 s\n%s", what, logs.String())
			return 0
		}
	}
	ep := next(started, "duties started")
	if ep != 1 || la.Leading() != 1 || testutil.ToFloat64(la.leader) != 1 {
		t.Fatalf("leading at epoch %d (Leading %d, probed_leader %v), want 1", ep, la.Leading(), testutil.ToFloat64(la.leader))
	}
	// Another holder takes the lease (as if a's had expired).
	if err := sb.Resign(ctx, 1); err != nil {
		t.Fatal(err)
	}
	eb, err := sb.Lead(ctx, "holder-b", 10*time.Second, 0)
	if err != nil || eb != 2 {
		t.Fatalf("b takes the lease: %d, %v", eb, err)
	}
	if ep := next(stopped, "duties stopped after the lease was taken"); ep != 1 {
		t.Fatalf("stopped epoch %d", ep)
	}
	eventually(t, "the WARN that a no longer leads", func() (bool, string) {
		l := logs.String()
		return strings.Contains(l, `level=WARN msg="this holder no longer leads`) && strings.Contains(l, `reason="another holder took the lease"`), l
	})
	// b gives it up: a leads again, at the next epoch.
	if err := sb.Resign(ctx, eb); err != nil {
		t.Fatal(err)
	}
	if ep := next(started, "duties started again"); ep != 3 {
		t.Fatalf("leading again at epoch %d, want 3", ep)
	}
	cancel()
	if ep := next(stopped, "duties stopped at shutdown"); ep != 3 {
		t.Fatalf("stopped epoch %d", ep)
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if l, err := sb.Leader(ctx); err != nil || l.Live || l.Holder != "holder-a" {
		t.Fatalf("lease after a stopped: %+v, %v; want given up", l, err)
	}
	if n := testutil.ToFloat64(la.changes); n != 4 || testutil.ToFloat64(la.leader) != 0 {
		t.Errorf("probed_leader_changes_total %v (want 4: led, lost, led, stopped), probed_leader %v", n, testutil.ToFloat64(la.leader))
	}
}

// A leader that finds a migration it does not know (a newer holder started
// on the shared database while it runs) stops leading at its next renewal,
// not when its lease could expire, saying why, and does not lead again:
// its statements may no longer fit the schema. Its store fails /readyz.
func TestLeadershipStopsOnANewerSchema(t *testing.T) {
	ctx := context.Background()
	dsn := pg.DSN(t)
	st, err := store.Open(ctx, store.Options{Driver: "postgres", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	started, stopped := make(chan int64, 8), make(chan int64, 8)
	duties := func(ctx context.Context) error {
		ep, _ := store.FenceOf(ctx)
		started <- ep
		<-ctx.Done()
		stopped <- ep
		return nil
	}
	var logs syncBuffer
	l := newLeadership(prometheus.NewRegistry(), st, true, "holder-old", 3*time.Second, slog.New(slog.NewTextHandler(&logs, nil)), duties)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- l.run(rctx) }()
	next := func(ch chan int64, what string) int64 {
		t.Helper()
		select {
		case ep := <-ch:
			return ep
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: not within 30 s\n%s", what, logs.String())
			return 0
		}
	}
	if ep := next(started, "duties started"); ep != 1 {
		t.Fatalf("leading at epoch %d, want 1", ep)
	}
	// A newer holder's migration, as its Open records it.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_ms) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if ep := next(stopped, "duties stopped after the newer migration"); ep != 1 {
		t.Fatalf("stopped epoch %d", ep)
	}
	eventually(t, "the WARN that it no longer leads, naming the migration, and the ERROR that it must be upgraded", func() (bool, string) {
		lg := logs.String()
		return strings.Contains(lg, `level=WARN msg="this holder no longer leads`) && strings.Contains(lg, `reason="lead on`) && strings.Contains(lg, "9999_future.sql") &&
			strings.Contains(lg, `level=ERROR msg="a newer probed migrated the database`), lg
	})
	if err := st.Healthy(); err == nil || !strings.Contains(err.Error(), store.ProblemSchemaNewer) {
		t.Errorf("store health = %v, want %s (/readyz fails)", err, store.ProblemSchemaNewer)
	}
	if l.Leading() != 0 {
		t.Errorf("Leading = %d after the newer migration, want 0", l.Leading())
	}
	select {
	case ep := <-started:
		t.Errorf("led again at epoch %d on a schema it does not know", ep)
	default:
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}

// Whose runs the heartbeat rows name: nobody's on SQLite (one process);
// storage.holder with several holders; without it the host name alone,
// the same across restarts, where the lease's name carries the process id.
func TestRunHolder(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "probed"
	}
	for _, c := range []struct {
		storage config.Storage
		want    string
	}{
		{config.Storage{Driver: config.StorageSQLite, Holder: "ignored"}, ""},
		{config.Storage{Driver: config.StoragePostgres, Holder: "tokyo-2"}, "tokyo-2"},
		{config.Storage{Driver: config.StoragePostgres}, host},
	} {
		cfg := &config.Config{Storage: c.storage}
		if got := runHolder(cfg); got != c.want {
			t.Errorf("runHolder(%+v) = %q, want %q", c.storage, got, c.want)
		}
	}
	if lease := holderName(&config.Config{Storage: config.Storage{Driver: config.StoragePostgres}}); lease != host+":"+strconv.Itoa(os.Getpid()) {
		t.Errorf("holderName without storage.holder = %q, want host:pid", lease)
	}
}
