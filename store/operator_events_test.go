package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/status"
)

// TestOperatorQueue, on both backends: the draft changes queue operator
// events (never subscriber events), fan-out writes one delivery per
// webhook that wants the kind, once; due deliveries count their attempts;
// a retry waits for its due time; outcomes are final.
func TestOperatorQueue(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		fc := clock.NewFake(t0)
		s := openTest(t, db, fc)
		if err := s.EnsureComponents(ctx, []string{"ocsp"}); err != nil {
			t.Fatal(err)
		}
		d, err := s.CreateDraft(ctx, ActorEngine, status.NewIncident{Title: status.Text{"en": "OCSP down"}, Body: status.Text{"en": "Investigating."}, Origin: status.OriginProbe,
			Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := pendingKinds(t, s); len(got) != 0 {
			t.Fatalf("a draft queued subscriber events %v", got)
		}
		if _, err := s.Withdraw(ctx, ActorEngine, d.ID, "cleared"); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PendingOperatorDeliveries(ctx); err != nil || n != 2 {
			t.Fatalf("pending before fan-out %d, %v; want the 2 events", n, err)
		}
		wants := map[string][]string{OperatorDraftCreated: {"chat", "pager"}, OperatorDraftWithdrawn: {"pager"}}
		if n, err := s.FanOutOperator(ctx, wants); err != nil || n != 3 {
			t.Fatalf("fan-out wrote %d, %v; want 3", n, err)
		}
		if n, err := s.FanOutOperator(ctx, wants); err != nil || n != 0 {
			t.Fatalf("second fan-out wrote %d, %v", n, err)
		}
		ds, err := s.DueOperatorDeliveries(ctx, 10, 40*time.Second)
		if err != nil || len(ds) != 3 {
			t.Fatalf("due %d, %v", len(ds), err)
		}
		// Claimed rows are held: a second dispatcher gets none of them.
		if again, err := s.DueOperatorDeliveries(ctx, 10, 40*time.Second); err != nil || len(again) != 0 {
			t.Fatalf("a second claim got %d, %v", len(again), err)
		}
		if ds[0].Webhook != "chat" || ds[0].Event.Kind != OperatorDraftCreated || ds[0].Attempts != 1 || ds[0].Event.Incident.State != status.StateDraft ||
			ds[2].Event.Kind != OperatorDraftWithdrawn || ds[2].Event.Detail != "cleared" || ds[2].Event.Incident.State != status.StateWithdrawn || ds[2].Event.Actor != ActorEngine {
			t.Fatalf("due = %+v", ds)
		}
		if err := s.FinishOperatorDelivery(ctx, OperatorOutcome{ID: ds[0].ID, Result: OperatorSent}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishOperatorDelivery(ctx, OperatorOutcome{ID: ds[1].ID, Result: OperatorRetry, Due: t0.Add(time.Minute), Err: "503"}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishOperatorDelivery(ctx, OperatorOutcome{ID: ds[2].ID, Result: OperatorFailed, Err: "400"}); err != nil {
			t.Fatal(err)
		}
		if ds, err := s.DueOperatorDeliveries(ctx, 10, 40*time.Second); err != nil || len(ds) != 0 {
			t.Fatalf("due before the retry time: %d, %v", len(ds), err)
		}
		if next, err := s.NextOperatorDue(ctx); err != nil || !next.Equal(t0.Add(time.Minute)) {
			t.Fatalf("next due %v, %v", next, err)
		}
		fc.Advance(time.Minute)
		ds, err = s.DueOperatorDeliveries(ctx, 10, 40*time.Second)
		if err != nil || len(ds) != 1 || ds[0].Attempts != 2 || ds[0].Webhook != "pager" {
			t.Fatalf("due after the retry time: %+v, %v", ds, err)
		}
		// Its dispatcher dies holding it: another takes it once the hold has passed.
		fc.Advance(39 * time.Second)
		if again, _ := s.DueOperatorDeliveries(ctx, 10, 40*time.Second); len(again) != 0 {
			t.Fatalf("taken %d while held", len(again))
		}
		fc.Advance(time.Second)
		if again, _ := s.DueOperatorDeliveries(ctx, 10, 40*time.Second); len(again) != 1 || again[0].ID != ds[0].ID || again[0].Attempts != 3 {
			t.Fatalf("after the hold: %+v", again)
		}
		logs, err := s.OperatorDeliveries(ctx)
		if err != nil || len(logs) != 3 || logs[0].State != OperatorSent || logs[1].State != "pending" || logs[1].LastError != "503" || logs[2].State != OperatorFailed {
			t.Fatalf("log = %+v, %v", logs, err)
		}
	})
}

// TestOperatorClaimsDoNotOverlap, on both backends: dispatchers claiming
// at once (two holders of one database) never get the same delivery.
func TestOperatorClaimsDoNotOverlap(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		fc := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
		s := openTest(t, db, fc)
		if err := s.EnsureComponents(ctx, []string{"ocsp"}); err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if _, err := s.CreateDraft(ctx, ActorEngine, status.NewIncident{Title: status.Text{"en": "x"}, Body: status.Text{"en": "y"},
				Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.FanOutOperator(ctx, map[string][]string{OperatorDraftCreated: {"a", "b"}}); err != nil || n != 40 {
			t.Fatalf("fan-out %d, %v", n, err)
		}
		got := make(chan []OperatorDelivery, 4)
		for range 4 {
			go func() {
				var mine []OperatorDelivery
				for {
					ds, err := s.DueOperatorDeliveries(ctx, 3, time.Minute)
					if err != nil {
						t.Error(err)
					}
					if len(ds) == 0 {
						break
					}
					mine = append(mine, ds...)
				}
				got <- mine
			}()
		}
		seen := map[int64]bool{}
		for range 4 {
			for _, d := range <-got {
				if seen[d.ID] {
					t.Errorf("delivery %d claimed twice", d.ID)
				}
				seen[d.ID] = true
			}
		}
		if len(seen) != 40 {
			t.Errorf("claimed %d of 40", len(seen))
		}
	})
}

// TestOperatorEventsPruned, on both backends: the housekeeping deletes
// the operator events older than storage.retention whose deliveries are
// all done (sent, failed, or none wanted), with those deliveries; an old
// event with a delivery still pending, or not fanned out yet, and a young
// one stay until they are done and old; the newest event stays, so SQLite
// never hands its id out again. The deletions are counted in the
// report and probed_store_retention_deleted_rows_total, and a backlog
// larger than one transaction's batch goes in one pass.
func TestOperatorEventsPruned(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		s, fc, _ := testStore(t, db.opts(Options{Clock: clock.NewFake(t0), Retention: 24 * time.Hour}))
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(s.EnsureComponents(ctx, []string{"ocsp"}))
		draft := func(title string) int64 {
			t.Helper()
			d, err := s.CreateDraft(ctx, ActorEngine, status.NewIncident{Title: status.Text{"en": title}, Body: status.Text{"en": "x"}, Origin: status.OriginProbe,
				Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}})
			must(err)
			return d.ID
		}
		wants := map[string][]string{OperatorDraftCreated: {"chat"}, OperatorDraftApproved: {"pager"}}
		// At t0: inc1 drafted (chat: sent) and approved (pager: retried
		// for days); inc2 drafted (chat: failed) and rejected (no webhook
		// wants it).
		inc1, inc2 := draft("one"), draft("two")
		_, err := s.Approve(ctx, "alice", inc1, true)
		must(err)
		_, err = s.Reject(ctx, "alice", inc2, "noise")
		must(err)
		_, err = s.FanOutOperator(ctx, wants)
		must(err)
		ds, err := s.DueOperatorDeliveries(ctx, 10, time.Minute)
		must(err)
		if len(ds) != 3 {
			t.Fatalf("%d due, want 3", len(ds))
		}
		for _, d := range ds {
			switch {
			case d.Event.Incident.ID == inc1 && d.Webhook == "chat":
				must(s.FinishOperatorDelivery(ctx, OperatorOutcome{ID: d.ID, Result: OperatorSent}))
			case d.Event.Incident.ID == inc2:
				must(s.FinishOperatorDelivery(ctx, OperatorOutcome{ID: d.ID, Result: OperatorFailed, Err: "400"}))
			default:
				must(s.FinishOperatorDelivery(ctx, OperatorOutcome{ID: d.ID, Result: OperatorRetry, Due: t0.Add(60 * time.Hour), Err: "503"}))
			}
		}
		// Two days on: inc3 drafted and its chat delivery sent (young);
		// then, written with an old clock, a resolve proposal for inc1
		// not fanned out yet.
		fc.Set(t0.Add(47 * time.Hour))
		inc3 := draft("three")
		_, err = s.FanOutOperator(ctx, wants)
		must(err)
		ds, err = s.DueOperatorDeliveries(ctx, 10, time.Minute)
		must(err)
		if len(ds) != 1 || ds[0].Event.Incident.ID != inc3 {
			t.Fatalf("due %+v, want inc3's chat delivery", ds)
		}
		must(s.FinishOperatorDelivery(ctx, OperatorOutcome{ID: ds[0].ID, Result: OperatorSent}))
		fc.Set(t0.Add(time.Minute))
		must(s.ProposeResolve(ctx, inc1, status.Text{"en": "passing"}))
		fc.Set(t0.Add(48 * time.Hour))

		left := func() []string {
			t.Helper()
			rows, err := s.r.Query(`SELECT kind, incident_id FROM operator_events ORDER BY id`)
			must(err)
			defer rows.Close()
			var out []string
			for rows.Next() {
				var kind string
				var id int64
				must(rows.Scan(&kind, &id))
				out = append(out, fmt.Sprintf("%s/%d", kind, id))
			}
			return out
		}
		rep := mustHousekeep(t, s)
		want := []string{fmt.Sprintf("draft_approved/%d", inc1), fmt.Sprintf("draft_created/%d", inc3), fmt.Sprintf("resolve_proposed/%d", inc1)}
		if got := left(); !slices.Equal(got, want) {
			t.Fatalf("operator events left %v, want %v (the pending, the young and the not fanned out)", got, want)
		}
		if rep.Deleted["operator_events"] != 3 || rep.Deleted["operator_deliveries"] != 2 {
			t.Fatalf("deleted %v, want 3 operator_events and 2 operator_deliveries", rep.Deleted)
		}
		if logs, err := s.OperatorDeliveries(ctx); err != nil || len(logs) != 2 || logs[0].State != "pending" || logs[1].IncidentID != inc3 {
			t.Fatalf("operator deliveries left %+v, %v; want the pending one and inc3's", logs, err)
		}

		// The retried delivery is sent at last, the proposal fanned out
		// (no webhook wants it): the approval goes at the next pass, the
		// proposal, the newest event, stays.
		fc.Set(t0.Add(60 * time.Hour))
		ds, err = s.DueOperatorDeliveries(ctx, 10, time.Minute)
		must(err)
		if len(ds) != 1 || ds[0].Webhook != "pager" {
			t.Fatalf("due %+v, want the pager retry", ds)
		}
		must(s.FinishOperatorDelivery(ctx, OperatorOutcome{ID: ds[0].ID, Result: OperatorSent}))
		_, err = s.FanOutOperator(ctx, wants)
		must(err)
		rep = mustHousekeep(t, s)
		if got, want := left(), []string{fmt.Sprintf("draft_created/%d", inc3), fmt.Sprintf("resolve_proposed/%d", inc1)}; !slices.Equal(got, want) {
			t.Fatalf("operator events left %v, want %v (young, newest)", got, want)
		}
		if rep.Deleted["operator_events"] != 1 || rep.Deleted["operator_deliveries"] != 1 {
			t.Fatalf("second pass deleted %v, want 1 operator_events and 1 operator_deliveries", rep.Deleted)
		}

		// A backlog of 1,201 old events, done, goes in one pass (three
		// transactions of at most 500) with the proposal, but the newest;
		// the next event's id is above every id given before.
		_, err = s.w.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1201)
			INSERT INTO operator_events (kind, incident_id, actor, detail, incident, created_ms, fanned_out_ms)
			SELECT 'draft_rejected', ?, 'alice', '', '{}', ?, ? FROM n`, inc2, t0.UnixMilli(), t0.UnixMilli())
		must(err)
		var newest int64
		must(s.r.QueryRow(`SELECT max(id) FROM operator_events`).Scan(&newest))
		rep = mustHousekeep(t, s)
		if got, want := left(), []string{fmt.Sprintf("draft_created/%d", inc3), fmt.Sprintf("draft_rejected/%d", inc2)}; rep.Deleted["operator_events"] != 1201 || !slices.Equal(got, want) {
			t.Fatalf("the backlog: deleted %v, events %v left; want 1201 deleted and %v left", rep.Deleted, got, want)
		}
		if got := testutil.ToFloat64(s.m.deleted.WithLabelValues("operator_events")); got != 3+1+1201 {
			t.Errorf("probed_store_retention_deleted_rows_total{table=\"operator_events\"} = %v, want %d", got, 3+1+1201)
		}
		draft("four")
		var next int64
		must(s.r.QueryRow(`SELECT max(id) FROM operator_events`).Scan(&next))
		if next <= newest {
			t.Errorf("a new operator event has id %d, not above the newest before the pass (%d)", next, newest)
		}
	})
}
