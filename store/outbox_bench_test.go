package store

import (
	"context"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
)

// BenchmarkOutboxPrune measures a housekeeping pass deleting 1,000 old
// subscriber events, each with one sent delivery, beside 200 young events
// whose 200,000 deliveries (1,000 subscribers) are all pending: the
// pending check and the foreign key of each deleted event read deliveries
// by event (migration 0078). cpu-ms/op counts this process and, on
// PostgreSQL, the server. Run with
//
//	go test ./store/ -run '^$' -bench OutboxPrune -benchtime 5x
func BenchmarkOutboxPrune(b *testing.B) {
	eachBenchBackend(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		fc := clock.NewFake(t0)
		s, err := Open(ctx, be.opts(b, Options{Clock: fc, Retention: 24 * time.Hour}, ""))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		if err := s.AddSubscribersForTest(ctx, addresses("u", 1000), []string{"ocsp"}); err != nil {
			b.Fatal(err)
		}
		for range 200 {
			ev, err := s.AddEventForTest(ctx, Event{Kind: EventIncidentUpdated, IncidentID: 1, Components: []string{"ocsp"}, CreatedAt: t0.Add(40 * time.Hour)})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.FanOut(ctx, ev, []string{"ocsp"}); err != nil {
				b.Fatal(err)
			}
		}
		fc.Set(t0.Add(48 * time.Hour))
		var cpu time.Duration
		for i := range b.N {
			b.StopTimer()
			if _, err := s.w.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
				INSERT INTO events (kind, incident_id, components, created_ms, fanned_out_ms) SELECT 'incident_updated', 900, '["ocsp"]', ?, ? FROM n`,
				t0.UnixMilli(), t0.UnixMilli()); err != nil {
				b.Fatal(err)
			}
			if _, err := s.w.Exec(`INSERT INTO deliveries (kind, event, subscriber, channel, state, due_ms, created_ms, done_ms)
				SELECT 'event', e.id, (SELECT min(id) FROM subscribers), 'email', 'sent', ?, ?, ? FROM events e
				WHERE e.incident_id = 900 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event = e.id)`,
				t0.UnixMilli(), t0.UnixMilli(), t0.UnixMilli()); err != nil {
				b.Fatal(err)
			}
			self, server := be.cpu(b)
			b.StartTimer()
			rep, err := s.RunHousekeeping(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			self1, server1 := be.cpu(b)
			cpu += self1 - self + server1 - server
			// The newest event is kept (see pruneOutbox) until the next
			// iteration's are newer.
			if want := int64(min(i, 1)) + 999; rep.Deleted["events"] != want || rep.Deleted["deliveries"] != want {
				b.Fatalf("deleted %v, want %d events and %d deliveries", rep.Deleted, want, want)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	})
}
