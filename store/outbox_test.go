package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestFanOutReachesOnlySubscribersOfTheComponents(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, _ := openSubTest(t, db)
		ocsp, _ := s.AddSubscriber(ctx, SubscriberEmail, "ocsp@example.com", []string{"ocsp"}, "")
		crl, _ := s.AddSubscriber(ctx, SubscriberEmail, "crl@example.com", []string{"crl"}, "")
		both, _ := s.AddSubscriber(ctx, SubscriberEmail, "both@example.com", []string{"ocsp", "crl"}, "")
		hook, _ := s.AddSubscriber(ctx, SubscriberWebhook, "https://hooks.example.com/x", []string{"ocsp"}, "sekrit")
		pending, _ := s.RequestSubscription(ctx, "pending@example.com", "", []string{"ocsp"}, time.Hour)
		gone, _ := s.AddSubscriber(ctx, SubscriberEmail, "gone@example.com", []string{"ocsp"}, "")
		s.Unsubscribe(ctx, gone.ID)

		ev, err := s.AddEventForTest(ctx, Event{Kind: EventIncidentPublished, IncidentID: 7, UpdateID: 70, Components: []string{"ocsp"}})
		if err != nil {
			t.Fatal(err)
		}
		if pe, _ := s.PendingEvents(ctx, 10); len(pe) != 1 || pe[0].ID != ev {
			t.Fatalf("pending events = %+v", pe)
		}
		n, err := s.FanOut(ctx, ev, []string{"ocsp"})
		if err != nil || n != 3 {
			t.Fatalf("fan out = %d, %v; want 3 (ocsp, both, webhook)", n, err)
		}
		if pe, _ := s.PendingEvents(ctx, 10); len(pe) != 0 {
			t.Fatalf("event still pending after fan-out: %+v", pe)
		}
		if n, err := s.FanOut(ctx, ev, []string{"ocsp"}); err != nil || n != 0 {
			t.Errorf("second fan-out = %d, %v; want 0 new deliveries", n, err)
		}
		ds, err := s.ClaimDeliveries(ctx, "run-1", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, d := range ds {
			if d.Kind == DeliveryEvent {
				got = append(got, d.Subscriber.ID)
				if d.Event.ID != ev || d.Event.IncidentID != 7 || d.Event.UpdateID != 70 || !slices.Equal(d.Event.Components, []string{"ocsp"}) || d.Attempts != 1 || d.InDoubt {
					t.Errorf("claimed %+v", d)
				}
			}
		}
		slices.Sort(got)
		if want := []int64{ocsp.ID, both.ID, hook.ID}; !slices.Equal(got, want) {
			t.Errorf("claimed for subscribers %v, want %v (not crl %d, pending %d, gone %d)", got, want, crl.ID, pending.Subscriber.ID, gone.ID)
		}
	})
}

func TestClaimLeaseRetryQuarantine(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, clk := openSubTest(t, db)
		if err := s.AddSubscribersForTest(ctx, addresses("u", 3), []string{"ocsp"}); err != nil {
			t.Fatal(err)
		}
		ev, _ := s.AddEventForTest(ctx, Event{Kind: EventIncidentPublished, IncidentID: 1, UpdateID: 1, Components: []string{"ocsp"}})
		s.FanOut(ctx, ev, []string{"ocsp"})

		first, _ := s.ClaimDeliveries(ctx, "run-1", "", 2)
		if len(first) != 2 {
			t.Fatalf("claimed %d, want 2", len(first))
		}
		rest, _ := s.ClaimDeliveries(ctx, "run-1", "", 10)
		if len(rest) != 1 {
			t.Fatalf("same run claimed %d more, want only the 1 not in flight", len(rest))
		}
		// run-1 begins sending the first row, then dies; run-2 takes every row
		// over, and only the one begun is in doubt.
		if _, held, err := s.StartSend(ctx, "run-1", first[0].ID, nil, 2); err != nil || !held {
			t.Fatalf("StartSend = %v, %v", held, err)
		}
		if _, held, err := s.StartSend(ctx, "run-2", first[1].ID, nil, 2); err != nil || held {
			t.Fatalf("StartSend by a run that does not hold the row = %v, %v; want not held", held, err)
		}
		if n, _ := s.InDoubtDeliveries(ctx, "run-2"); n != 1 {
			t.Errorf("in doubt = %d, want 1 (claimed but not begun is not in doubt)", n)
		}
		taken, _ := s.ClaimDeliveries(ctx, "run-2", "", 10)
		if len(taken) != 3 || taken[0].ID != first[0].ID || !taken[0].InDoubt || taken[0].Attempts != 2 || taken[1].InDoubt || taken[2].InDoubt {
			t.Fatalf("takeover = %+v", taken)
		}
		if n, _ := s.InDoubtDeliveries(ctx, "run-3"); n != 0 {
			t.Errorf("in doubt after the takeover = %d, want 0 (run-2 has not begun any)", n)
		}
		outs := []DeliveryOutcome{
			{ID: taken[0].ID, Subscriber: taken[0].Subscriber.ID, Result: DeliverySent},
			{ID: taken[1].ID, Subscriber: taken[1].Subscriber.ID, Result: DeliveryRetry, Due: clk.Now().Add(time.Minute), Err: "451 try later"},
			{ID: taken[2].ID, Subscriber: taken[2].Subscriber.ID, Result: DeliveryFailed, Err: "550 no such user", Blame: true},
		}
		if q, err := s.FinishDeliveries(ctx, outs, 2); err != nil || len(q) != 0 {
			t.Fatalf("finish = %v, %v", q, err)
		}
		if due, _ := s.ClaimDeliveries(ctx, "run-2", "", 10); len(due) != 0 {
			t.Fatalf("retry claimed before it is due: %+v", due)
		}
		clk.Advance(time.Minute)
		again, _ := s.ClaimDeliveries(ctx, "run-2", "", 10)
		if len(again) != 1 || again[0].ID != taken[1].ID || again[0].InDoubt {
			t.Fatalf("due retry = %+v", again)
		}
		s.FinishDeliveries(ctx, []DeliveryOutcome{{ID: again[0].ID, Subscriber: again[0].Subscriber.ID, Result: DeliverySent}}, 2)

		// The failing address fails a second delivery for good: quarantined,
		// and its next pending delivery is dropped.
		bad := taken[2].Subscriber.ID
		ev2, _ := s.AddEventForTest(ctx, Event{Kind: EventIncidentUpdated, IncidentID: 1, UpdateID: 2, Components: []string{"ocsp"}})
		ev3, _ := s.AddEventForTest(ctx, Event{Kind: EventIncidentResolved, IncidentID: 1, UpdateID: 3, Components: []string{"ocsp"}})
		s.FanOut(ctx, ev2, []string{"ocsp"})
		s.FanOut(ctx, ev3, []string{"ocsp"})
		ds, _ := s.ClaimDeliveries(ctx, "run-2", "", 3)
		var failed int64
		for _, d := range ds {
			if d.Subscriber.ID == bad {
				failed = d.ID
				if d.Subscriber.Failures != 1 {
					t.Errorf("failures so far = %d, want 1", d.Subscriber.Failures)
				}
			}
		}
		q, err := s.FinishDeliveries(ctx, []DeliveryOutcome{{ID: failed, Subscriber: bad, Result: DeliveryFailed, Err: "550 no such user", Blame: true}}, 2)
		if err != nil || !slices.Equal(q, []int64{bad}) {
			t.Fatalf("quarantined = %v, %v; want [%d]", q, err, bad)
		}
		sub, _ := s.Subscriber(ctx, bad)
		if sub.State != SubscriberQuarantined || sub.LastError != "550 no such user" {
			t.Errorf("bad subscriber = %+v", sub)
		}
		if c, _ := s.DeliveryCounts(ctx, ev3); c["dropped"] != 1 {
			t.Errorf("event 3 outbox = %v, want the quarantined address's row dropped", c)
		}
		if n, _ := s.FanOut(ctx, mustEvent(t, s, ctx), []string{"ocsp"}); n != 2 {
			t.Errorf("fan-out after quarantine = %d, want 2 (the quarantined address skipped)", n)
		}
	})
}

func mustEvent(t *testing.T, s *Store, ctx context.Context) int64 {
	t.Helper()
	id, err := s.AddEventForTest(ctx, Event{Kind: EventIncidentUpdated, IncidentID: 1, UpdateID: 9, Components: []string{"ocsp"}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
