package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/probes/run"
	"github.com/probed/probed/status"
)

// twoHolders opens two stores on one fresh PostgreSQL database, as two
// holders would.
func twoHolders(t *testing.T) (a, b *Store) {
	t.Helper()
	dsn := pg.DSN(t)
	a, _ = openSubTest(t, where{driver: "postgres", dsn: dsn})
	b, _ = openSubTest(t, where{driver: "postgres", dsn: dsn})
	return a, b
}

// One holder leads at a time: the lease is renewed by its holder at the
// same epoch, refused to another while it lives, and taken at the next
// epoch once given up.
func TestLeaderLeaseOneHolderAtATime(t *testing.T) {
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		s, _ := openSubTest(t, where{driver: "sqlite", path: t.TempDir() + "/probed.db"})
		if ep, err := s.Lead(ctx, "a", 10*time.Second, 0); err != nil || ep != 1 {
			t.Fatalf("Lead on SQLite = %d, %v; want 1: the one process always leads", ep, err)
		}
		if l, err := s.Leader(ctx); err != nil || !l.Live || l.Epoch != 1 {
			t.Fatalf("Leader on SQLite = %+v, %v", l, err)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		a, b := twoHolders(t)
		if l, err := a.Leader(ctx); err != nil || l.Live || l.Epoch != 0 {
			t.Fatalf("lease before anyone led = %+v, %v; want not live, epoch 0", l, err)
		}
		ea, err := a.Lead(ctx, "holder-a", 10*time.Second, 0)
		if err != nil || ea != 1 {
			t.Fatalf("a takes the free lease: epoch %d, %v; want 1", ea, err)
		}
		if eb, err := b.Lead(ctx, "holder-b", 10*time.Second, 0); err != nil || eb != 0 {
			t.Fatalf("b while a's lease lives: epoch %d, %v; want 0", eb, err)
		}
		if ea2, err := a.Lead(ctx, "holder-a", 10*time.Second, ea); err != nil || ea2 != ea {
			t.Fatalf("a renews: epoch %d, %v; want %d (a renewal keeps the epoch)", ea2, err, ea)
		}
		l, err := b.Leader(ctx)
		if err != nil || l.Holder != "holder-a" || l.Epoch != 1 || !l.Live || !l.Expires.After(l.Since) {
			t.Fatalf("b reads the lease: %+v, %v; want holder-a, epoch 1, live", l, err)
		}
		if err := a.Resign(ctx, ea); err != nil {
			t.Fatal(err)
		}
		eb, err := b.Lead(ctx, "holder-b", 10*time.Second, 0)
		if err != nil || eb != 2 {
			t.Fatalf("b after a resigned: epoch %d, %v; want 2", eb, err)
		}
		if ea3, err := a.Lead(ctx, "holder-a", 10*time.Second, ea); err != nil || ea3 != 0 {
			t.Fatalf("a renewing an epoch it lost: %d, %v; want 0", ea3, err)
		}
		if l, _ := a.Leader(ctx); l.Holder != "holder-b" || l.Epoch != 2 {
			t.Fatalf("lease = %+v, want holder-b at epoch 2", l)
		}
	})
}

// A leader whose lease expired and was taken (it was paused, or cut off
// from the database) and who writes late is refused, in the write's own
// transaction, with ErrDeposed; nothing of the write lands. The new
// leader's fenced writes and unfenced writes (an operator's, on any holder)
// go through.
func TestDeposedLeaderLateWriteIsRefused(t *testing.T) {
	ctx := context.Background()
	a, b := twoHolders(t)
	// a's lease lasts a millisecond: it is expired by the time b asks.
	ea, err := a.Lead(ctx, "holder-a", time.Millisecond, 0)
	if err != nil || ea != 1 {
		t.Fatalf("a leads: %d, %v", ea, err)
	}
	var eb int64
	waitFor(t, "b to take the expired lease", func() bool {
		eb, err = b.Lead(ctx, "holder-b", 10*time.Second, 0)
		return err == nil && eb != 0
	})
	if eb != 2 {
		t.Fatalf("b took epoch %d, want 2", eb)
	}
	draft := status.NewIncident{Title: status.Text{"en": "OCSP down"}, Body: status.Text{"en": "failing"},
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}, Origin: status.OriginProbe}
	_, err = a.CreateDraft(Fenced(ctx, ea), ActorEngine, draft)
	if !errors.Is(err, ErrDeposed) {
		t.Fatalf("deposed leader's late draft: err %v, want ErrDeposed", err)
	}
	if err := a.AckInbox(Fenced(ctx, ea), []int64{1}); !errors.Is(err, ErrDeposed) {
		t.Fatalf("deposed leader's inbox ack: err %v, want ErrDeposed", err)
	}
	if _, err := a.ClaimDeliveries(Fenced(ctx, ea), "run-a", "", 10); !errors.Is(err, ErrDeposed) {
		t.Fatalf("deposed leader's claim: err %v, want ErrDeposed", err)
	}
	if err := a.FinishOperatorDelivery(Fenced(ctx, ea), OperatorOutcome{ID: 1, Result: OperatorSent}); !errors.Is(err, ErrDeposed) {
		t.Fatalf("deposed leader's operator webhook outcome: err %v, want ErrDeposed", err)
	}
	if list, _ := b.ListIncidents(ctx, IncidentFilter{Limit: 10}); len(list) != 0 {
		t.Fatalf("the refused draft landed: %+v", list)
	}
	inc, err := b.CreateDraft(Fenced(ctx, eb), ActorEngine, draft)
	if err != nil {
		t.Fatalf("the leader's fenced draft: %v", err)
	}
	// An operator's action on the deposed holder is not a leader's duty: it lands.
	if _, err := a.Reject(ctx, "alice", inc.ID, "not an outage"); err != nil {
		t.Fatalf("operator's unfenced write on a follower: %v", err)
	}
}

// A change of holder waits for the old leader's fenced transaction in
// flight, so no write at the old epoch can commit after the new epoch
// exists.
func TestTakeoverWaitsForFencedWriteInFlight(t *testing.T) {
	ctx := context.Background()
	a, b := twoHolders(t)
	ea, _ := a.Lead(ctx, "holder-a", time.Millisecond, 0)
	inside, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	releaseA := func() { releaseOnce.Do(func() { close(release) }) }
	// A test that fails early still lets a's transaction end and stops b's
	// attempts (cleanups run last registered first: release, then cancel).
	bctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	t.Cleanup(releaseA)
	done := make(chan error, 1)
	go func() {
		done <- a.tx(Fenced(ctx, ea), func(tx *sql.Tx) error {
			close(inside)
			<-release
			_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at_ms, actor, action, detail) VALUES (1, 'engine', 'late', '')`)
			return err
		})
	}()
	<-inside
	took := make(chan int64, 1)
	go func() {
		for bctx.Err() == nil {
			ep, err := b.Lead(bctx, "holder-b", 10*time.Second, 0)
			if err == nil && ep != 0 {
				took <- ep
				return
			}
			// Not yet (a's 1 ms lease not expired, or an error): try again,
			// as a follower would, without spinning.
			select {
			case <-bctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	// The takeover waits on the row a's transaction holds.
	waitFor(t, "b's takeover to wait on a's lock", func() bool {
		var n int
		b.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE leader_lease%'`).Scan(&n)
		return n > 0
	})
	select {
	case ep := <-took:
		t.Fatalf("b took epoch %d while a's fenced write was in flight", ep)
	default:
	}
	releaseA()
	if err := <-done; err != nil {
		t.Fatalf("a's fenced write, checked before the takeover: %v", err)
	}
	if ep := <-took; ep != 2 {
		t.Fatalf("b took epoch %d, want 2", ep)
	}
	if _, err := a.CreateDraft(Fenced(ctx, ea), ActorEngine, status.NewIncident{Title: status.Text{"en": "x"}, Body: status.Text{"en": "x"},
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}}); !errors.Is(err, ErrDeposed) {
		t.Fatalf("a after the takeover: %v, want ErrDeposed", err)
	}
}

// Two holders claiming one outbox at once never take the same delivery:
// each claim locks the rows it reads and skips the rows the other is
// claiming (FOR UPDATE SKIP LOCKED).
func TestConcurrentClaimsNeverTakeADeliveryTwice(t *testing.T) {
	ctx := context.Background()
	a, b := twoHolders(t)
	const n = 600
	if err := a.AddSubscribersForTest(ctx, addresses("u", n), []string{"ocsp"}); err != nil {
		t.Fatal(err)
	}
	ev, _ := a.AddEventForTest(ctx, Event{Kind: EventIncidentPublished, IncidentID: 1, UpdateID: 1, Components: []string{"ocsp"}})
	if got, err := a.FanOut(ctx, ev, []string{"ocsp"}); err != nil || got != n {
		t.Fatalf("fan out = %d, %v", got, err)
	}
	var mu sync.Mutex
	claimed := map[int64]int{}
	var wg sync.WaitGroup
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				// One run's lease, as the leader's senders share it: rows it
				// holds are not taken again, so only the lock keeps two
				// claims at once apart.
				ds, err := s.ClaimDeliveries(ctx, "run-1", "", 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					claimed[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimed) != n {
		t.Errorf("%d deliveries claimed, want all %d", len(claimed), n)
	}
	for id, k := range claimed {
		if k != 1 {
			t.Errorf("delivery %d claimed %d times", id, k)
		}
	}
}

// Every holder's results reach the leader's inbox, written with the
// results themselves; the leader reads them oldest first, and they stay
// until acknowledged (a leader that dies before it acknowledges leaves
// them to the next).
func TestResultsReachTheLeaderInbox(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, err := Open(ctx, db.opts(Options{InboxHolder: "holder-a"}))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		start := t0
		for i := range 3 {
			r := run.Result{Probe: "ocsp-root", Kind: "ocsp", Component: "ocsp", Location: "tokyo", Start: start.Add(time.Duration(i) * time.Minute),
				Duration: time.Second, Success: i != 1, Checks: []run.Check{{Name: "signature", OK: i != 1, Message: "bad"}, {Name: "fresh", OK: true}}}
			if err := s.Record(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		mustFlush(t, s)
		if err := s.QueueForLeader(ctx, "holder-b", InboxAlerts, []byte(`{"alerts":[]}`)); err != nil {
			t.Fatal(err)
		}
		items, err := s.TakeInbox(ctx, 10)
		if err != nil || len(items) != 4 {
			t.Fatalf("inbox = %d items, %v; want 4", len(items), err)
		}
		for i, it := range items[:3] {
			var r run.Result
			if err := json.Unmarshal(it.Body, &r); err != nil || it.Kind != InboxResult || it.Holder != "holder-a" {
				t.Fatalf("item %d = %+v (%v)", i, it, err)
			}
			if !r.Start.Equal(start.Add(time.Duration(i)*time.Minute)) || r.Success != (i != 1) || r.Location != "tokyo" {
				t.Errorf("item %d result = %+v", i, r)
			}
			if i == 1 && (len(r.Checks) != 1 || r.Checks[0].Name != "signature" || r.Checks[0].Message != "bad") {
				t.Errorf("failed result's checks = %+v, want the failed one only", r.Checks)
			}
		}
		if items[3].Kind != InboxAlerts || items[3].Holder != "holder-b" || string(items[3].Body) != `{"alerts":[]}` {
			t.Errorf("alerts item = %+v", items[3])
		}
		if again, _ := s.TakeInbox(ctx, 10); len(again) != 4 {
			t.Fatalf("unacknowledged items left %d, want 4", len(again))
		}
		var ids []int64
		for _, it := range items[:2] {
			ids = append(ids, it.ID)
		}
		if err := s.AckInbox(ctx, ids); err != nil {
			t.Fatal(err)
		}
		left, _ := s.TakeInbox(ctx, 10)
		var leftIDs []int64
		for _, it := range left {
			leftIDs = append(leftIDs, it.ID)
		}
		if want := []int64{items[2].ID, items[3].ID}; !slices.Equal(leftIDs, want) {
			t.Errorf("after ack: %v, want %v", leftIDs, want)
		}
		if n, err := s.InboxLength(ctx); err != nil || n != 2 {
			t.Errorf("InboxLength = %d, %v", n, err)
		}
	})
}

// A holder running while a newer holder migrates the shared database (an
// upgrade done out of order) finds the migration it does not know at its
// next lease round: it neither renews nor takes the lease (ErrSchemaNewer,
// naming the migration), and the store has ProblemSchemaNewer (/readyz
// fails, ERROR). The newer holder leads.
func TestHolderStopsLeadingOnANewerSchema(t *testing.T) {
	ctx := context.Background()
	dsn := pg.DSN(t)
	logger, logs := bufferLogger()
	old, _, _ := testStore(t, Options{Driver: "postgres", DSN: dsn, Logger: logger})
	ep, err := old.Lead(ctx, "holder-old", time.Millisecond, 0)
	if err != nil || ep != 1 {
		t.Fatalf("the older holder takes the lease: %d, %v", ep, err)
	}
	newer := fstest.MapFS{"0999_future.sql": {Data: []byte(`CREATE TABLE future (x INTEGER);`)}}
	for _, name := range shippedPostgresMigrations(t) {
		body, err := fs.ReadFile(migrations, "migrations/postgres/"+name)
		if err != nil {
			t.Fatal(err)
		}
		newer[name] = &fstest.MapFile{Data: body}
	}
	nw, _, _ := testStore(t, Options{Driver: "postgres", DSN: dsn, migrations: newer})
	if !slices.Equal(nw.applied, []string{"0999_future.sql"}) {
		t.Fatalf("the newer holder applied %v, want its one new migration", nw.applied)
	}

	for _, epoch := range []int64{ep, 0} { // a renewal, then a take
		got, err := old.Lead(ctx, "holder-old", 10*time.Second, epoch)
		if !errors.Is(err, ErrSchemaNewer) || got != 0 || !strings.Contains(err.Error(), "0999_future.sql") {
			t.Fatalf("the older holder's Lead(epoch %d) = %d, %v; want 0, ErrSchemaNewer naming 0999_future.sql", epoch, got, err)
		}
	}
	if err := old.Healthy(); err == nil || !strings.Contains(err.Error(), ProblemSchemaNewer) || !strings.Contains(err.Error(), "0999_future.sql") {
		t.Fatalf("the older holder's health = %v, want %s naming the migration", err, ProblemSchemaNewer)
	}
	if got := testutil.ToFloat64(old.health.problem.WithLabelValues(ProblemSchemaNewer)); got != 1 {
		t.Errorf("probed_store_problem{problem=schema_newer} = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "problem=schema_newer") {
		t.Errorf("log = %s, want an ERROR naming schema_newer", logs.String())
	}
	got, err := nw.Lead(ctx, "holder-new", 10*time.Second, 0)
	if err != nil || got != 2 {
		t.Fatalf("the newer holder takes the expired lease: %d, %v; want epoch 2", got, err)
	}
	if err := nw.Healthy(); err != nil {
		t.Errorf("the newer holder's health = %v, want nil", err)
	}
}
