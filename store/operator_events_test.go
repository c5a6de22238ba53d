package store

import (
	"context"
	"testing"
	"time"

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
