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

// TestOutboxPruned, on both backends: the housekeeping deletes the
// subscriber events older than storage.retention whose deliveries are all
// done (sent, failed, dropped, or none wanted), with those deliveries, and
// the confirmation mails done and as old. An old event with a delivery
// pending (a retry) or in doubt (a run died sending it), one not fanned out
// yet, a maintenance reminder while its window is still scheduled, a young
// event and a pending confirmation all stay, and nothing the worker counts
// or claims changes; they go at a pass after they are done. The newest
// event and the event of the newest delivery stay too, so SQLite never
// gives a new delivery an id it gave before (receivers drop duplicates by
// it). Deletions are
// counted in the report and probed_store_retention_deleted_rows_total; a
// backlog larger than one transaction's batch, in events and in the
// deliveries of one event, goes in one pass.
func TestOutboxPruned(t *testing.T) {
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
		must(s.EnsureComponents(ctx, []string{"ocsp", "crl"}))
		must(s.AddSubscribersForTest(ctx, addresses("u", 3), []string{"ocsp"}))
		for _, a := range []string{"sent@example.com", "waiting@example.com"} {
			_, err := s.RequestSubscription(ctx, a, "", []string{"ocsp"}, time.Hour)
			must(err)
		}
		event := func(kind string, incident int64, comps ...string) int64 {
			t.Helper()
			id, err := s.AddEventForTest(ctx, Event{Kind: kind, IncidentID: incident, Components: comps})
			must(err)
			return id
		}
		fanOut := func() {
			t.Helper()
			evs, err := s.PendingEvents(ctx, 100)
			must(err)
			for _, e := range evs {
				_, err := s.FanOut(ctx, e.ID, e.Components)
				must(err)
			}
		}
		// At t0: four events (the fourth on a component nobody follows), a
		// maintenance scheduled to start in three days, its reminder (a
		// minute later), all fanned out; then a fifth event, not fanned out.
		ev1, ev2, ev3 := event(EventIncidentPublished, 101, "ocsp"), event(EventIncidentUpdated, 102, "ocsp"), event(EventIncidentUpdated, 103, "ocsp")
		event(EventIncidentResolved, 104, "crl")
		m, err := s.ScheduleMaintenance(ctx, "alice", status.NewMaintenance{Title: status.Text{"en": "HSM swap"}, Components: []string{"ocsp"},
			Start: t0.Add(72 * time.Hour), End: t0.Add(74 * time.Hour)})
		must(err)
		fc.Set(t0.Add(time.Minute))
		if ids, err := s.RemindMaintenances(ctx, fc.Now(), 72*time.Hour-time.Minute); err != nil || len(ids) != 1 {
			t.Fatalf("reminded %v, %v; want the maintenance", ids, err)
		}
		fanOut()
		event(EventIncidentResolved, 105, "ocsp")

		// Every delivery is sent but three: u0's of ev2 is retried in
		// 60 hours, u0's of ev3 was begun by a run that died (in doubt), and
		// waiting@'s confirmation is retried too. u1's of ev2 failed.
		ds, err := s.ClaimDeliveries(ctx, "run-1", "", 100)
		must(err)
		if len(ds) != 17 {
			t.Fatalf("claimed %d, want 17 (5 events × 3 subscribers, 2 confirmations)", len(ds))
		}
		var outs []DeliveryOutcome
		var doubt int64
		var first int64 // u0: added first, its id is the lowest
		must(s.r.QueryRow(`SELECT min(id) FROM subscribers`).Scan(&first))
		for _, d := range ds {
			o := DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Result: DeliverySent}
			switch {
			case d.Kind == DeliveryConfirm && d.Subscriber.Address == "waiting@example.com",
				d.Event.ID == ev2 && d.Subscriber.ID == first:
				o.Result, o.Due, o.Err = DeliveryRetry, t0.Add(60*time.Hour), "451 later"
			case d.Event.ID == ev2:
				o.Result, o.Err = DeliveryFailed, "550 no"
			case d.Event.ID == ev3 && d.Subscriber.ID == first:
				doubt = d.ID
				continue
			}
			outs = append(outs, o)
		}
		if _, held, err := s.StartSend(ctx, "run-1", doubt, outs, 3); err != nil || !held {
			t.Fatalf("start send = %v, %v", held, err)
		}
		// 47 hours on, a sixth event, sent: young at the first pass.
		fc.Set(t0.Add(47 * time.Hour))
		_, err = s.FanOut(ctx, event(EventIncidentUpdated, 106, "ocsp"), []string{"ocsp"})
		must(err)
		ds, err = s.ClaimDeliveries(ctx, "run-1", "", 100)
		must(err)
		if len(ds) != 3 {
			t.Fatalf("claimed %d at 47 h, want the sixth event's 3", len(ds))
		}
		outs = outs[:0]
		for _, d := range ds {
			outs = append(outs, DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Result: DeliverySent})
		}
		_, err = s.FinishDeliveries(ctx, outs, 3)
		must(err)

		left := func() []string {
			t.Helper()
			rows, err := s.r.Query(`SELECT kind, COALESCE(incident_id, 0) FROM events ORDER BY id`)
			must(err)
			defer rows.Close()
			var out []string
			for rows.Next() {
				var kind string
				var id int64
				must(rows.Scan(&kind, &id))
				out = append(out, fmt.Sprintf("%s/%d", kind, id))
			}
			must(rows.Err())
			return out
		}
		count := func() int {
			t.Helper()
			all, err := s.Deliveries(ctx, 0, 10000)
			must(err)
			return len(all)
		}
		fc.Set(t0.Add(48 * time.Hour))
		rep := mustHousekeep(t, s)
		want := []string{"incident_updated/102", "incident_updated/103", fmt.Sprintf("maintenance_reminder/%d", m.ID), "incident_resolved/105", "incident_updated/106"}
		if got := left(); !slices.Equal(got, want) {
			t.Fatalf("events left %v, want %v (the retried, the in doubt, the reminder of a window still scheduled, the not fanned out, the young)", got, want)
		}
		if rep.Deleted["events"] != 3 || rep.Deleted["deliveries"] != 7 {
			t.Fatalf("deleted %v, want 3 events (%d, the one nobody wanted, the scheduled maintenance's) and 7 deliveries (their 6, a confirmation)", rep.Deleted, ev1)
		}
		if n := count(); n != 20-7 {
			t.Fatalf("%d deliveries left, want 13", n)
		}
		if n, err := s.PendingDeliveries(ctx); err != nil || n != 3 {
			t.Fatalf("pending deliveries %d, %v; want 3 (two retries, one in doubt)", n, err)
		}
		if n, err := s.InDoubtDeliveries(ctx, "run-2"); err != nil || n != 1 {
			t.Fatalf("in doubt %d, %v; want 1", n, err)
		}

		// At 60 hours the retries and the one in doubt are sent, the fifth
		// event is fanned out and sent, the maintenance starts: all of
		// them go at the next pass, but the fifth event (its deliveries are
		// the newest), the sixth (young) and the maintenance's start (not
		// fanned out, young).
		fc.Set(t0.Add(60 * time.Hour))
		fanOut()
		ds, err = s.ClaimDeliveries(ctx, "run-2", "", 100)
		must(err)
		if len(ds) != 6 || !slices.ContainsFunc(ds, func(d Delivery) bool { return d.ID == doubt && d.InDoubt }) {
			t.Fatalf("claimed %+v at 60 h, want 2 retries, the one in doubt, the fifth event's 3", ds)
		}
		outs = outs[:0]
		for _, d := range ds {
			outs = append(outs, DeliveryOutcome{ID: d.ID, Subscriber: d.Subscriber.ID, Result: DeliverySent})
		}
		_, err = s.FinishDeliveries(ctx, outs, 3)
		must(err)
		_, err = s.StartMaintenance(ctx, "alice", m.ID, nil)
		must(err)
		rep = mustHousekeep(t, s)
		if got, want := left(), []string{"incident_resolved/105", "incident_updated/106", fmt.Sprintf("maintenance_started/%d", m.ID)}; !slices.Equal(got, want) {
			t.Fatalf("events left %v, want %v", got, want)
		}
		if rep.Deleted["events"] != 3 || rep.Deleted["deliveries"] != 10 {
			t.Fatalf("second pass deleted %v, want 3 events and 10 deliveries (theirs and the confirmation)", rep.Deleted)
		}
		if n := count(); n != 6 {
			t.Fatalf("%d deliveries left, want the fifth and sixth events' 6", n)
		}

		// A backlog: one old event sent to 1,200 subscribers, then 1,201
		// old events of one sent delivery each, goes in one pass (in
		// transactions of at most 500 events, each stopping once it has
		// deleted 500 deliveries), with the fifth event, but the newest
		// event and its delivery.
		must(s.AddSubscribersForTest(ctx, addresses("big", 1200), []string{"crl"}))
		big, err := s.AddEventForTest(ctx, Event{Kind: EventIncidentPublished, IncidentID: 901, Components: []string{"crl"}, CreatedAt: t0})
		must(err)
		if n, err := s.FanOut(ctx, big, []string{"crl"}); err != nil || n != 1200 {
			t.Fatalf("fan out %d, %v; want 1200", n, err)
		}
		_, err = s.w.Exec(`UPDATE deliveries SET state = 'sent', done_ms = ? WHERE event = ?`, fc.Now().UnixMilli(), big)
		must(err)
		_, err = s.w.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1201)
			INSERT INTO events (kind, incident_id, components, created_ms, fanned_out_ms) SELECT 'incident_updated', 900, '["ocsp"]', ?, ? FROM n`,
			t0.UnixMilli(), t0.UnixMilli())
		must(err)
		_, err = s.w.Exec(`INSERT INTO deliveries (kind, event, subscriber, channel, state, due_ms, created_ms, done_ms)
			SELECT 'event', e.id, ?, 'email', 'sent', ?, ?, ? FROM events e WHERE e.incident_id = 900 ORDER BY e.id`, first, t0.UnixMilli(), t0.UnixMilli(), t0.UnixMilli())
		must(err)
		var newest int64
		must(s.r.QueryRow(`SELECT max(id) FROM deliveries`).Scan(&newest))
		rep = mustHousekeep(t, s)
		if got, want := left(), []string{"incident_updated/106", fmt.Sprintf("maintenance_started/%d", m.ID), "incident_updated/900"}; rep.Deleted["events"] != 1202 || rep.Deleted["deliveries"] != 2403 || !slices.Equal(got, want) || count() != 4 {
			t.Fatalf("the backlog: deleted %v, events %v and %d deliveries left; want 1202 events and 2403 deliveries deleted, %v and 4 left",
				rep.Deleted, got, count(), want)
		}
		for table, n := range map[string]float64{"events": 3 + 3 + 1202, "deliveries": 7 + 10 + 2403} {
			if got := testutil.ToFloat64(s.m.deleted.WithLabelValues(table)); got != n {
				t.Errorf("probed_store_retention_deleted_rows_total{table=%q} = %v, want %v", table, got, n)
			}
		}
		// The next deliveries get ids never given before.
		ev7 := event(EventIncidentUpdated, 107, "ocsp")
		_, err = s.FanOut(ctx, ev7, []string{"ocsp"})
		must(err)
		var lowest int64
		must(s.r.QueryRow(`SELECT min(id) FROM deliveries WHERE event = ?`, ev7).Scan(&lowest))
		if lowest <= newest {
			t.Errorf("a new delivery has id %d, not above the newest before the pass (%d): a receiver would drop it as a duplicate", lowest, newest)
		}
	})
}
