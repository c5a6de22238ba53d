package store

import (
	"context"
	"testing"
	"time"
)

// TestSubscriberLanguage: the language of a request is kept, read back by
// every path that loads a subscriber (lookups and the outbox's claim), and
// a later request without one keeps it.
func TestSubscriberLanguage(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, clk := openSubTest(t, db)
		req, err := s.RequestSubscription(ctx, "hanako@example.jp", "ja", []string{"ocsp"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if req.Subscriber.Language != "ja" {
			t.Fatalf("requested in ja, kept %q", req.Subscriber.Language)
		}
		clk.Advance(2 * time.Hour)
		if req, err = s.RequestSubscription(ctx, "hanako@example.jp", "", []string{"crl"}, time.Hour); err != nil || req.Subscriber.Language != "ja" {
			t.Fatalf("a request without a language: %q, %v; want ja kept", req.Subscriber.Language, err)
		}
		ds, err := s.ClaimDeliveries(ctx, "test", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 || ds[0].Subscriber.Language != "ja" {
			t.Fatalf("claimed deliveries %+v: want the confirmation with the subscriber's language", ds)
		}
		if req, err = s.RequestSubscription(ctx, "hanako@example.jp", "en", []string{"crl"}, time.Hour); err != nil || req.Subscriber.Language != "en" {
			t.Fatalf("a request in en: %q, %v; want en", req.Subscriber.Language, err)
		}
	})
}
