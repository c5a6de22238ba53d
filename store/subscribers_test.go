package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
)

func openSubTest(t *testing.T, db where) (*Store, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, err := Open(context.Background(), db.opts(Options{Clock: clk}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk
}

func TestSubscriptionRequestConfirmAndOneMailPerHour(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, clk := openSubTest(t, db)
		req, err := s.RequestSubscription(ctx, "Alice@Example.com", "", []string{"ocsp", "crl", "ocsp"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !req.Queued || req.Subscriber.State != SubscriberPending || !slices.Equal(req.Subscriber.PendingComponents, []string{"crl", "ocsp"}) {
			t.Fatalf("first request = %+v", req)
		}
		// The same address in other case, ten times within the hour: recorded, no mail.
		for i := range 10 {
			clk.Advance(time.Minute)
			req, err = s.RequestSubscription(ctx, "alice@example.COM", "", []string{"ocsp"}, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if req.Queued {
				t.Fatalf("request %d within the hour queued a second confirmation", i+2)
			}
		}
		counts, _ := s.DeliveryCounts(ctx, 0)
		if counts["pending"] != 1 {
			t.Fatalf("outbox = %v, want exactly one confirmation", counts)
		}
		// After the hour the first confirmation still waits in the outbox: its
		// link confirms the latest choice, so no second row either.
		clk.Advance(time.Hour)
		if req, _ = s.RequestSubscription(ctx, "alice@example.com", "", []string{"ocsp"}, time.Hour); req.Queued {
			t.Error("a second confirmation was queued while the first is still unsent")
		}
		sub, err := s.ConfirmSubscription(ctx, req.Subscriber.ID)
		if err != nil {
			t.Fatal(err)
		}
		if sub.State != SubscriberActive || !slices.Equal(sub.Components, []string{"ocsp"}) || sub.PendingComponents != nil || sub.ConfirmedAt.IsZero() {
			t.Fatalf("confirmed = %+v", sub)
		}
		if _, err := s.ConfirmSubscription(ctx, sub.ID); !errors.Is(err, ErrNothingToConfirm) {
			t.Errorf("second confirm = %v, want ErrNothingToConfirm", err)
		}
		// An active subscriber asking again keeps its choice until it confirms.
		clk.Advance(2 * time.Hour)
		if _, err := s.RequestSubscription(ctx, "alice@example.com", "", []string{"crl"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		sub, _ = s.Subscriber(ctx, sub.ID)
		if sub.State != SubscriberActive || !slices.Equal(sub.Components, []string{"ocsp"}) || !slices.Equal(sub.PendingComponents, []string{"crl"}) {
			t.Fatalf("after a new request = %+v", sub)
		}
	})
}

func TestUnsubscribeAndOperatorAddRemove(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, _ := openSubTest(t, db)
		sub, err := s.AddSubscriber(ctx, SubscriberEmail, "bob@example.com", []string{"crl"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if sub.State != SubscriberActive || sub.Source != SourceOperator {
			t.Fatalf("added = %+v", sub)
		}
		ev, _ := s.AddEventForTest(ctx, Event{Kind: EventIncidentPublished, IncidentID: 1, UpdateID: 1, Components: []string{"crl"}})
		if n, err := s.FanOut(ctx, ev, []string{"crl"}); err != nil || n != 1 {
			t.Fatalf("fan out = %d, %v", n, err)
		}
		if sub, err = s.SetSubscriberComponents(ctx, sub.ID, nil); err != nil || sub.State != SubscriberUnsubscribed || len(sub.Components) != 0 {
			t.Fatalf("empty choice = %+v, %v; want unsubscribed", sub, err)
		}
		if counts, _ := s.DeliveryCounts(ctx, ev); counts["dropped"] != 1 || counts["pending"] != 0 {
			t.Errorf("after unsubscribe outbox = %v, want the undelivered mail dropped", counts)
		}
		if _, err := s.Unsubscribe(ctx, sub.ID); err != nil {
			t.Errorf("second unsubscribe = %v, want no error", err)
		}
		if _, err := s.AddSubscriber(ctx, SubscriberEmail, "x@example.com", nil, ""); err == nil {
			t.Error("operator add without components accepted")
		}
		if err := s.RemoveSubscriber(ctx, sub.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Subscriber(ctx, sub.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("removed subscriber still readable: %v", err)
		}
		if err := s.RemoveSubscriber(ctx, sub.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second remove = %v, want ErrNotFound", err)
		}
	})
}

func TestSigningKeyKeptAcrossRestarts(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, _ := openSubTest(t, db)
		k1, err := s.SigningKey(ctx, "links")
		if err != nil || len(k1) != 32 {
			t.Fatalf("key = %x, %v", k1, err)
		}
		other, _ := s.SigningKey(ctx, "other")
		if bytes.Equal(k1, other) {
			t.Error("two names share a key")
		}
		s.Close()
		s2, err := Open(ctx, db.opts(Options{}))
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		k2, _ := s2.SigningKey(ctx, "links")
		if !bytes.Equal(k1, k2) {
			t.Error("key changed across a restart: links in mails already sent would break")
		}
	})
}

func TestPurgeUnconfirmed(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, clk := openSubTest(t, db)
		old, _ := s.RequestSubscription(ctx, "old@example.com", "", []string{"ocsp"}, time.Hour)
		asked, _ := s.RequestSubscription(ctx, "asked-again@example.com", "", []string{"ocsp"}, time.Hour)
		clk.Advance(8 * 24 * time.Hour)
		fresh, _ := s.RequestSubscription(ctx, "new@example.com", "", []string{"ocsp"}, time.Hour)
		s.RequestSubscription(ctx, "asked-again@example.com", "", []string{"ocsp"}, time.Hour)
		n, err := s.PurgeUnconfirmed(ctx, clk.Now().Add(-7*24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("purged %d, %v; want 1", n, err)
		}
		if _, err := s.Subscriber(ctx, asked.Subscriber.ID); err != nil {
			t.Error("a request renewed yesterday was purged with its week-old first request")
		}
		if _, err := s.Subscriber(ctx, old.Subscriber.ID); !errors.Is(err, ErrNotFound) {
			t.Error("old unconfirmed request kept")
		}
		if _, err := s.Subscriber(ctx, fresh.Subscriber.ID); err != nil {
			t.Error("fresh request purged")
		}
	})
}

func addresses(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d@example.com", prefix, i)
	}
	return out
}
