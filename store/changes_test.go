package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// follow runs a.Follow until the test ends and returns a channel that gets
// a value at every change it hears of.
func follow(t *testing.T, a *Store, opts FollowOptions) <-chan struct{} {
	t.Helper()
	heard := make(chan struct{}, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- a.Follow(ctx, opts, func() {
			select {
			case heard <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("follow: %v", err)
		}
	})
	return heard
}

// drain empties heard.
func drain(heard <-chan struct{}) {
	for {
		select {
		case <-heard:
		default:
			return
		}
	}
}

// within waits for a change on heard and says how long it took since
// start, failing the test after limit.
func within(t *testing.T, heard <-chan struct{}, start time.Time, limit time.Duration, what string) time.Duration {
	t.Helper()
	select {
	case <-heard:
		return time.Since(start)
	case <-time.After(limit - time.Since(start)):
		t.Fatalf("%s: no change heard within %s", what, limit)
		return 0
	}
}

// Two holders on one PostgreSQL database: a change committed by B reaches
// A's Follow within 2 s, through LISTEN/NOTIFY; with A's listening
// connection killed, through the change counter A polls, logged once; once
// A listens again (logged), through NOTIFY again. On SQLite, Follow has
// nothing to do and returns at once.
func TestFollowHearsOtherHolders(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s, _, _ := testStore(t, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Follow(ctx, FollowOptions{}, func() { t.Error("a change heard on SQLite") }); err != nil || ctx.Err() != nil {
			t.Fatalf("Follow on SQLite = %v after %v; want nil at once", err, ctx.Err())
		}
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pg.DSN(t)
		var logs syncBuffer
		a, _, _ := testStore(t, Options{Driver: "postgres", DSN: dsn, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		b, _, _ := testStore(t, Options{Driver: "postgres", DSN: dsn})
		ctx := context.Background()
		// Retry: a minute, so that while the listening connection is down
		// every change must come through the poll.
		heard := follow(t, a, FollowOptions{Poll: 50 * time.Millisecond, Retry: time.Minute})
		waitFor(t, "A to listen", func() bool { return testutil.ToFloat64(a.m.listening) == 1 })
		within(t, heard, time.Now(), 2*time.Second, "the call on listening") // for what was missed before
		drain(heard)

		n := 0
		change := func() {
			n++
			if err := b.EnsureComponents(ctx, []string{fmt.Sprintf("c%d", n)}); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			start := time.Now()
			change()
			took := within(t, heard, start, 2*time.Second, "a change on B, A listening")
			t.Logf("B's change heard by A (notify) after %s", took)
		}
		if got := testutil.ToFloat64(a.m.changes.WithLabelValues("notify")); got < 3 {
			t.Errorf("changes heard via notify = %v, want ≥ 3", got)
		}
		// Nothing changed, nothing heard: a write to a table no page is
		// built from notifies nobody.
		if _, err := b.CreateToken(ctx, "quiet"); err != nil {
			t.Fatal(err)
		}
		change()
		within(t, heard, time.Now(), 2*time.Second, "the change after the token")
		select {
		case <-heard:
			t.Error("two changes heard for one (the token's insert was announced)")
		case <-time.After(200 * time.Millisecond): // a bounded look for an extra call: none must come
		}

		// The listening connection killed (as a failover or a network cut
		// would): A polls, and still hears B within 2 s.
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		kill := func() {
			var killed int
			err := admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`, listenerName).Scan(&killed)
			if err != nil || killed != 1 {
				t.Fatalf("terminate the listening connection: %d killed, %v", killed, err)
			}
		}
		kill()
		// The gauge drops before the dead connection is closed, the
		// failure is counted after: wait for both.
		waitFor(t, "A to stop listening and count the failure", func() bool {
			return testutil.ToFloat64(a.m.listening) == 0 && testutil.ToFloat64(a.m.listenErrs) >= 1
		})
		if got := testutil.ToFloat64(a.m.listenErrs); got != 1 {
			t.Errorf("probed_store_listen_failures_total = %v, want 1", got)
		}
		drain(heard)
		for range 2 {
			start := time.Now()
			change()
			took := within(t, heard, start, 2*time.Second, "a change on B, A polling")
			t.Logf("B's change heard by A (poll) after %s", took)
		}
		if got := testutil.ToFloat64(a.m.changes.WithLabelValues("poll")); got < 2 {
			t.Errorf("changes heard via poll = %v, want ≥ 2", got)
		}
		if got := strings.Count(logs.String(), "not listening for other holders' changes"); got != 1 {
			t.Errorf("the loss logged %d times, want once:\n%s", got, logs.String())
		}
		if err := a.Healthy(); err != nil {
			t.Errorf("A unhealthy while its readers reach the server: %v", err)
		}
	})
}

// A holder that loses its listening connection listens again after Retry,
// says so once, and hears by NOTIFY again.
func TestFollowListensAgain(t *testing.T) {
	dsn := pg.DSN(t)
	var logs syncBuffer
	a, _, _ := testStore(t, Options{Driver: "postgres", DSN: dsn, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	b, _, _ := testStore(t, Options{Driver: "postgres", DSN: dsn})
	ctx := context.Background()
	heard := follow(t, a, FollowOptions{Poll: time.Minute, Retry: 20 * time.Millisecond})
	waitFor(t, "A to listen", func() bool { return testutil.ToFloat64(a.m.listening) == 1 })
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for i := range 2 {
		if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`, listenerName); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "A to listen again", func() bool {
			return testutil.ToFloat64(a.m.listenErrs) == float64(i+1) && testutil.ToFloat64(a.m.listening) == 1
		})
	}
	drain(heard)
	if err := b.EnsureComponents(ctx, []string{"api"}); err != nil {
		t.Fatal(err)
	}
	// Poll is a minute: only NOTIFY can bring it this soon.
	within(t, heard, time.Now(), 2*time.Second, "a change on B after A listens again")
	if got, want := strings.Count(logs.String(), "listening for other holders' changes again"), 2; got != want {
		t.Errorf("the return logged %d times, want %d:\n%s", got, want, logs.String())
	}
}
