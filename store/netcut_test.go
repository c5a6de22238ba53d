package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/internal/pgtest"
)

// viaProxy returns a fresh database's DSN and the same database reached
// through a pgtest.Proxy that the test can cut, with connect_timeout 1 s.
func viaProxy(t *testing.T) (direct, via string, px *pgtest.Proxy) {
	t.Helper()
	direct = pg.DSN(t)
	px = pg.Proxy(t)
	via = px.DSN(t, direct)
	if !strings.Contains(via, "connect_timeout=10") {
		t.Fatalf("unexpected test DSN %q", via)
	}
	return direct, strings.Replace(via, "connect_timeout=10", "connect_timeout=1", 1), px
}

// timed runs call and says how long it took.
func timed(call func() error) (time.Duration, error) {
	start := time.Now()
	err := call()
	return time.Since(start), err
}

// The network between a holder and PostgreSQL is cut (pgtest.Proxy: nothing
// refused, nothing answered, connections left open) and brought back. During
// the cut, every kind of store call made without a deadline of its own (a
// read, an operator write, the leader lease, the change counter) returns an
// error within its bound instead of hanging, the writes ErrUnavailable;
// Record keeps queueing; the store reports unwritable and unreachable and
// the listener is down. When the path returns, with nothing restarted, the
// problems clear, the listener is back and every result recorded is written.
func TestPostgresNetworkCut(t *testing.T) {
	const bound = time.Second
	_, via, px := viaProxy(t)
	s, _, _ := testStore(t, Options{Driver: "postgres", DSN: via, statementBound: bound})
	follow(t, s, FollowOptions{Poll: 100 * time.Millisecond, Keepalive: 300 * time.Millisecond, Retry: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond})
	waitFor(t, "the store to listen", func() bool { return testutil.ToFloat64(s.m.listening) == 1 })
	ctx := context.Background()
	for i := range 10 {
		if err := s.Record(ctx, result("api", t0.Add(time.Duration(i)*time.Second), true)); err != nil {
			t.Fatal(err)
		}
	}
	mustFlush(t, s)

	px.Cut()
	for i := 10; i < 20; i++ {
		if err := s.Record(ctx, result("api", t0.Add(time.Duration(i)*time.Second), true)); err != nil {
			t.Fatalf("Record during the cut: %v; want it queued", err)
		}
	}
	// A call may meet a pooled connection (pinged within the bound, twice,
	// as database/sql retries), then a new one (connect_timeout 1 s), then
	// its statement (the bound): about 4 s at worst here, 25 s with the
	// production bounds.
	limit := 3*bound + time.Second + 2*time.Second
	calls := []struct {
		name  string
		write bool
		call  func() error
	}{
		{"read incidents", false, func() error { _, err := s.ListIncidents(ctx, IncidentFilter{}); return err }},
		{"read the change counter", false, func() error { _, err := s.ChangeVersion(ctx); return err }},
		{"read the leader lease", false, func() error { _, err := s.Leader(ctx); return err }},
		{"queue an alert for the leader", true, func() error { return s.QueueForLeader(ctx, "a", InboxAlerts, []byte(`{}`)) }},
		{"take the leader lease", false, func() error { _, err := s.Lead(ctx, "a", 10*time.Second, 0); return err }},
	}
	for _, c := range calls {
		took, err := timed(c.call)
		switch {
		case err == nil:
			t.Errorf("%s during the cut succeeded", c.name)
		case took > limit:
			t.Errorf("%s during the cut took %s, want at most %s: %v", c.name, took.Round(time.Millisecond), limit, err)
		case c.write && !errors.Is(err, ErrUnavailable):
			t.Errorf("%s during the cut: %v; want ErrUnavailable", c.name, err)
		}
		t.Logf("%s during the cut: %s: %v", c.name, took.Round(time.Millisecond), err)
	}
	waitFor(t, "the store to report the cut", func() bool {
		err := s.Healthy()
		return err != nil && strings.Contains(err.Error(), ProblemUnreachable) && strings.Contains(err.Error(), ProblemUnwritable) &&
			testutil.ToFloat64(s.m.listening) == 0
	})
	if w := testutil.ToFloat64(s.m.written); w != 10 {
		t.Errorf("%v results written with the network cut, want the 10 from before", w)
	}

	px.Restore()
	restored := time.Now()
	waitFor(t, "the store to recover by itself", func() bool {
		return s.Healthy() == nil && testutil.ToFloat64(s.m.listening) == 1
	})
	t.Logf("healthy and listening again %s after the path returned", time.Since(restored).Round(time.Millisecond))
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Results(ctx, "api", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 20 {
		t.Errorf("%d results stored after the cut, want 20", len(rs))
	}
	if d := testutil.ToFloat64(s.m.dropped); d != 0 {
		t.Errorf("%v results dropped", d)
	}
}

// The leader is cut off from PostgreSQL in the middle of a fenced
// transaction: the server keeps that transaction open (it sees a quiet
// client, not a dead one), holding the lease row the fence locked. The
// server's idle_in_transaction_session_timeout ends it, so another holder
// takes the expired lease while the cut lasts, instead of when the old
// leader's TCP connection dies on the server (hours). When the path
// returns, the old leader's held write never lands and its fenced writes
// are refused (ErrDeposed), and its renewal finds the lease gone.
func TestPostgresLeaderCutMidTransaction(t *testing.T) {
	direct, via, px := viaProxy(t)
	a, _, _ := testStore(t, Options{Driver: "postgres", DSN: via, statementBound: time.Second})
	b, _, _ := testStore(t, Options{Driver: "postgres", DSN: direct})
	ctx := context.Background()
	const ttl = 2 * time.Second
	epA, err := a.Lead(ctx, "a", ttl, 0)
	if err != nil || epA == 0 {
		t.Fatalf("A takes the lease: %d, %v", epA, err)
	}
	inside, release := make(chan struct{}), make(chan struct{})
	txErr := make(chan error, 1)
	go func() {
		txErr <- a.tx(Fenced(ctx, epA), func(tx *sql.Tx) error {
			close(inside)
			<-release
			_, err := tx.ExecContext(ctx, `INSERT INTO leader_inbox (kind, holder, body, created_ms) VALUES ('alerts', 'a', 'late', 0)`)
			return err
		})
	}()
	select {
	case <-inside:
	case <-time.After(10 * time.Second):
		t.Fatal("A's fenced transaction did not begin")
	}
	px.Cut()
	cut := time.Now()
	close(release)
	select {
	case err := <-txErr:
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("A's transaction during the cut: %v; want ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("A's transaction hangs on the cut network")
	}
	admin, err := sql.Open("pgx", direct)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	waitFor(t, "A's transaction open on the server", func() bool {
		var n int
		admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`).Scan(&n)
		return n == 1
	})

	var epB int64
	deadline := cut.Add(ttl + pgIdleInTx + 10*time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for epB == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("B did not take the lease within %s of the cut; last: %v", time.Since(cut).Round(time.Second), lastErr)
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		epB, lastErr = b.Lead(lctx, "b", time.Minute, 0) // live to the end of the test
		cancel()
		<-tick.C
	}
	took := time.Since(cut)
	t.Logf("B leads at epoch %d, %s after A was cut off mid-transaction (lease %s, idle_in_transaction_session_timeout %s)", epB, took.Round(time.Millisecond), ttl, pgIdleInTx)
	if epB != epA+1 {
		t.Errorf("B leads at epoch %d, want %d", epB, epA+1)
	}

	px.Restore()
	var late error
	waitFor(t, "A's fenced write refused once the path is back", func() bool {
		late = a.QueueForLeader(Fenced(ctx, epA), "a", InboxAlerts, []byte(`{}`))
		return late != nil && !errors.Is(late, ErrUnavailable)
	})
	if !errors.Is(late, ErrDeposed) {
		t.Errorf("A's fenced write after the cut: %v; want ErrDeposed", late)
	}
	if got, err := a.Lead(ctx, "a", ttl, epA); err != nil || got != 0 {
		t.Errorf("A renews at epoch %d after the cut: %d, %v; want 0 (B holds the lease)", epA, got, err)
	}
	if n, err := b.InboxLength(ctx); err != nil || n != 0 {
		t.Errorf("leader inbox after the cut: %d items, %v; want A's late write never landed", n, err)
	}
	if l, err := b.Leader(ctx); err != nil || l.Holder != "b" || l.Epoch != epB || !l.Live {
		t.Errorf("lease after the cut: %+v, %v; want B's at epoch %d", l, err, epB)
	}
}
