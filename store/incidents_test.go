package store

import (
	"context"
	"errors"
	"fmt"
	"github.com/probed/probed/status"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
)

func openTest(t *testing.T, db where, c clock.Clock) *Store {
	t.Helper()
	s, err := Open(context.Background(), db.opts(Options{Clock: c}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func pendingKinds(t *testing.T, s *Store) []string {
	t.Helper()
	evs, err := s.PendingEvents(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func TestDraftApproveResolveLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		fc := clock.NewFake(t0)
		s := openTest(t, db, fc)
		if err := s.EnsureComponents(ctx, []string{"ocsp", "crl"}); err != nil {
			t.Fatal(err)
		}
		since := t0.Add(-time.Minute)
		d, err := s.CreateDraft(ctx, ActorEngine, status.NewIncident{Title: status.Text{"en": "OCSP down"}, Body: status.Text{"en": "We are investigating.", "ja": "調査中です。"}, Origin: status.OriginProbe,
			Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage, Since: &since}},
			Evidence:   []status.Evidence{{Component: "ocsp", Probe: "ocsp-good", Location: "tokyo-1", Check: "ocsp_next_update", Message: "stale", Since: since, Values: map[string]string{"next_update": "x"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if d.State != status.StateDraft || d.Impact != status.ImpactCritical || len(d.Evidence) != 1 || len(d.Updates) != 1 || d.Updates[0].Body["ja"] != "調査中です。" {
			t.Fatalf("draft = %+v", d)
		}
		if got := pendingKinds(t, s); len(got) != 0 {
			t.Fatalf("a draft queued events %v; drafts must stay private", got)
		}
		st, _ := s.ComponentStatuses(ctx)
		if st["ocsp"].Status != status.Operational {
			t.Fatalf("draft changed public status of ocsp to %s", st["ocsp"].Status)
		}
		fc.Advance(5 * time.Minute)
		p, err := s.Approve(ctx, "alice", d.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if p.State != status.StatePublished || p.PublishedAt == nil || !p.PublishedAt.Equal(fc.Now()) || p.Updates[0].Affected[0].NewStatus != status.MajorOutage {
			t.Fatalf("approved = %+v", p)
		}
		if _, err := s.Approve(ctx, "alice", d.ID, true); !errors.Is(err, ErrState) {
			t.Fatalf("second approve: %v, want ErrState", err)
		}
		st, _ = s.ComponentStatuses(ctx)
		if st["ocsp"].Status != status.MajorOutage || st["ocsp"].IncidentID != d.ID || st["crl"].Status != status.Operational {
			t.Fatalf("statuses after approve = %+v", st)
		}
		fc.Advance(10 * time.Minute)
		if _, err := s.PostUpdate(ctx, "bob", d.ID, status.NewUpdate{Status: status.StatusIdentified, Body: status.Text{"en": "Found it."}, Notify: true,
			Components: []status.ComponentImpact{{ID: "ocsp", Status: status.PartialOutage}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PostUpdate(ctx, "bob", d.ID, status.NewUpdate{Status: status.StatusUpdate, Body: status.Text{"en": "Quiet note."}}); err != nil {
			t.Fatal(err)
		}
		fc.Advance(10 * time.Minute)
		r, err := s.Resolve(ctx, "bob", d.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != status.StateResolved || r.Status != status.StatusResolved || r.ResolvedAt == nil || len(r.Updates) != 4 || r.Updates[0].Status != status.StatusResolved || r.Updates[1].Status != status.StatusIdentified {
			t.Fatalf("resolved = %+v", r)
		}
		if got := pendingKinds(t, s); len(got) != 3 || got[0] != EventIncidentPublished || got[1] != EventIncidentUpdated || got[2] != EventIncidentResolved {
			t.Fatalf("events = %v, want published, updated, resolved (the quiet update notifies nobody)", got)
		}
		log, err := s.ComponentStatusLog(ctx, "ocsp", t0.Add(-time.Hour), t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			status   string
			from, to time.Duration
		}{{status.Operational, 0, 5 * time.Minute}, {status.MajorOutage, 5 * time.Minute, 15 * time.Minute}, {status.PartialOutage, 15 * time.Minute, 25 * time.Minute}, {status.Operational, 25 * time.Minute, -1}}
		if len(log) != len(want) {
			t.Fatalf("log = %+v", log)
		}
		for i, w := range want {
			if log[i].Status != w.status || !log[i].From.Equal(t0.Add(w.from)) || (w.to < 0) != (log[i].To == nil) || (w.to >= 0 && !log[i].To.Equal(t0.Add(w.to))) {
				t.Errorf("interval %d = %+v, want %s from +%s to +%s", i, log[i], w.status, w.from, w.to)
			}
		}
		audit, err := s.ListAudit(ctx, AuditFilter{IncidentID: d.ID})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, a := range audit {
			actions = append(actions, a.Actor+":"+a.Action)
		}
		wantA := []string{"bob:resolve", "bob:post_update", "bob:post_update", "alice:approve", "probed:create_draft"}
		if len(actions) != len(wantA) {
			t.Fatalf("audit = %v, want %v", actions, wantA)
		}
		for i := range wantA {
			if actions[i] != wantA[i] {
				t.Fatalf("audit = %v, want %v", actions, wantA)
			}
		}
	})
}

// TestUpdateRaisesImpact, on both backends: an update that changes a
// published incident's component statuses raises its impact when they get
// worse (status.ImpactAfterUpdate), never lowers it (recovered and resolved
// it keeps the highest reached), and an update without components leaves
// it; an operator's impact stands until the components get worse than it.
func TestUpdateRaisesImpact(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s := openTest(t, db, clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)))
		if err := s.EnsureComponents(ctx, []string{"ocsp", "crl"}); err != nil {
			t.Fatal(err)
		}
		inc, err := s.CreateDraft(ctx, "alice", status.NewIncident{Title: status.Text{"en": "OCSP slow"}, Body: status.Text{"en": "x"},
			Components: []status.ComponentImpact{{ID: "ocsp", Status: status.DegradedPerformance}}, Publish: true})
		if err != nil {
			t.Fatal(err)
		}
		if inc.Impact != status.ImpactMinor {
			t.Fatalf("published with ocsp degraded: impact %s, want minor", inc.Impact)
		}
		update := func(id int64, comps ...status.ComponentImpact) string {
			t.Helper()
			if _, err := s.PostUpdate(ctx, "bob", id, status.NewUpdate{Body: status.Text{"en": "news"}, Components: comps}); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetIncident(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			list, err := s.ListIncidents(ctx, IncidentFilter{Kind: status.KindIncident})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range list {
				if l.ID == id && l.Impact != got.Impact {
					t.Fatalf("ListIncidents impact %s, GetIncident %s", l.Impact, got.Impact)
				}
			}
			return got.Impact
		}
		for _, step := range []struct {
			what  string
			comps []status.ComponentImpact
			want  string
		}{
			{"ocsp in major outage", []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}, status.ImpactCritical},
			{"ocsp back to partial outage", []status.ComponentImpact{{ID: "ocsp", Status: status.PartialOutage}}, status.ImpactCritical},
			{"an update without components", nil, status.ImpactCritical},
			{"ocsp operational", []status.ComponentImpact{{ID: "ocsp", Status: status.Operational}}, status.ImpactCritical},
		} {
			if got := update(inc.ID, step.comps...); got != step.want {
				t.Fatalf("after %s: impact %s, want %s", step.what, got, step.want)
			}
		}
		r, err := s.Resolve(ctx, "bob", inc.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Impact != status.ImpactCritical {
			t.Fatalf("resolved: impact %s, want critical (the highest reached)", r.Impact)
		}
		audit, err := s.ListAudit(ctx, AuditFilter{IncidentID: inc.ID})
		if err != nil {
			t.Fatal(err)
		}
		raised := false
		for _, a := range audit {
			raised = raised || a.Action == "post_update" && strings.Contains(string(a.Before), `"impact":"minor"`) && strings.Contains(string(a.After), `"impact":"critical"`)
		}
		if !raised {
			t.Errorf("no post_update in the audit log records the impact raised from minor to critical")
		}

		// The operator chose minor for a major outage.
		op, err := s.CreateDraft(ctx, "alice", status.NewIncident{Title: status.Text{"en": "CRL"}, Body: status.Text{"en": "x"}, Impact: status.ImpactMinor,
			Components: []status.ComponentImpact{{ID: "crl", Status: status.MajorOutage}}, Publish: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := update(op.ID, status.ComponentImpact{ID: "crl", Status: status.PartialOutage}); got != status.ImpactMinor {
			t.Fatalf("operator's minor, crl better: impact %s, want minor", got)
		}
		if got := update(op.ID, status.ComponentImpact{ID: "crl", Status: status.MajorOutage}); got != status.ImpactCritical {
			t.Fatalf("operator's minor, crl worse again: impact %s, want critical", got)
		}
	})
}

func TestRejectChangesNothingPublic(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		fc := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
		s := openTest(t, db, fc)
		d, err := s.CreateDraft(ctx, ActorEngine, status.NewIncident{Title: status.Text{"en": "CRL stale"}, Body: status.Text{"en": "x"}, Origin: status.OriginProbe, Components: []status.ComponentImpact{{ID: "crl", Status: status.PartialOutage}}})
		if err != nil {
			t.Fatal(err)
		}
		title := status.Text{"en": "CRL late"}
		if _, err := s.EditDraft(ctx, "carol", d.ID, status.DraftEdit{Title: title}); err != nil {
			t.Fatal(err)
		}
		r, err := s.Reject(ctx, "carol", d.ID, "probe misconfigured")
		if err != nil {
			t.Fatal(err)
		}
		if r.State != status.StateRejected || r.Reason != "probe misconfigured" || r.Title["en"] != "CRL late" || !r.Edited {
			t.Fatalf("rejected = %+v", r)
		}
		if got := pendingKinds(t, s); len(got) != 0 {
			t.Fatalf("events = %v, want none", got)
		}
		st, _ := s.ComponentStatuses(ctx)
		if len(st) != 0 {
			t.Fatalf("statuses = %+v, want none recorded", st)
		}
		if _, err := s.EditDraft(ctx, "carol", d.ID, status.DraftEdit{Title: title}); !errors.Is(err, ErrState) {
			t.Fatalf("edit after reject: %v, want ErrState", err)
		}
		if _, err := s.GetIncident(ctx, 999); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get missing: %v", err)
		}
	})
}

func TestMaintenanceAdvancesOnTime(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		fc := clock.NewFake(t0)
		s := openTest(t, db, fc)
		m, err := s.ScheduleMaintenance(ctx, "dave", status.NewMaintenance{Title: status.Text{"en": "TSA HSM swap"}, Components: []string{"timestamp"}, Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ScheduleMaintenance(ctx, "dave", status.NewMaintenance{Title: status.Text{"en": "bad"}, Components: []string{"x"}, Start: t0.Add(time.Hour), End: t0}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("end before start: %v", err)
		}
		if next, _ := s.NextMaintenanceChange(ctx, t0); !next.Equal(t0.Add(time.Hour)) {
			t.Fatalf("next change = %s", next)
		}
		if moved, _ := s.AdvanceMaintenances(ctx, fc.Now()); len(moved) != 0 {
			t.Fatalf("moved early: %v", moved)
		}
		fc.Advance(time.Hour)
		if moved, err := s.AdvanceMaintenances(ctx, fc.Now()); err != nil || len(moved) != 1 {
			t.Fatalf("start: %v %v", moved, err)
		}
		win, _ := s.MaintenanceWindows(ctx, fc.Now())
		if win["timestamp"] != m.ID || len(win) != 1 {
			t.Fatalf("windows = %v", win)
		}
		st, _ := s.ComponentStatuses(ctx)
		if st["timestamp"].Status != status.UnderMaintenance {
			t.Fatalf("status = %+v", st)
		}
		if _, err := s.VerifyMaintenance(ctx, "dave", m.ID, nil); err != nil {
			t.Fatal(err)
		}
		fc.Advance(time.Hour)
		if moved, err := s.AdvanceMaintenances(ctx, fc.Now()); err != nil || len(moved) != 1 {
			t.Fatalf("complete: %v %v", moved, err)
		}
		got, _ := s.GetIncident(ctx, m.ID)
		if got.Status != status.StatusCompleted || got.State != status.StateResolved || len(got.Updates) != 4 {
			t.Fatalf("maintenance = %+v", got)
		}
		st, _ = s.ComponentStatuses(ctx)
		if st["timestamp"].Status != status.Operational {
			t.Fatalf("status after = %+v", st)
		}
		if k := pendingKinds(t, s); len(k) != 3 || k[0] != EventMaintenanceScheduled || k[1] != EventMaintenanceStarted || k[2] != EventMaintenanceCompleted {
			t.Fatalf("events = %v", k)
		}
	})
}

func TestTokensAndSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		fc := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
		s := openTest(t, db, fc)
		sec, err := s.CreateToken(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateToken(ctx, "alice"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("duplicate name: %v", err)
		}
		if name, err := s.Authenticate(ctx, sec); err != nil || name != "alice" {
			t.Fatalf("authenticate = %q, %v", name, err)
		}
		if _, err := s.Authenticate(ctx, sec+"x"); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("bad secret: %v", err)
		}
		cookie, sess, err := s.CreateSession(ctx, "alice", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSession(ctx, cookie)
		if err != nil || got.TokenName != "alice" || got.CSRF != sess.CSRF {
			t.Fatalf("session = %+v, %v", got, err)
		}
		fc.Advance(2 * time.Hour)
		if _, err := s.GetSession(ctx, cookie); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("expired session: %v", err)
		}
	})
}

func TestAlertIdempotent(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s := openTest(t, db, clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)))
		a := Alert{Fingerprint: "abc", StartsAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), Component: "ocsp", Alertname: "OCSPDown", Status: "firing", CompStatus: status.MajorOutage}
		for i, want := range []bool{true, false} {
			if ch, err := s.RecordAlert(ctx, a); err != nil || ch != want {
				t.Fatalf("delivery %d: changed=%v err=%v, want %v", i, ch, err, want)
			}
		}
		a.Status = "resolved"
		if ch, _ := s.RecordAlert(ctx, a); !ch {
			t.Fatal("resolution not recorded")
		}
		a.Status = "firing"
		if ch, _ := s.RecordAlert(ctx, a); ch {
			t.Fatal("a late firing retry reopened a resolved alert")
		}
		if f, _ := s.FiringAlerts(ctx); len(f) != 0 {
			t.Fatalf("firing = %+v", f)
		}
	})
}

// BenchmarkListIncidents1000: the public page's rebuild reads every
// published incident whole (rerun: go test -run '^$' -bench ListIncidents ./store/).
func BenchmarkListIncidents1000(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Path: filepath.Join(b.TempDir(), "probed.db"), Clock: clock.NewFake(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range 1000 {
		if _, err := s.CreateDraft(ctx, "alice", status.NewIncident{Title: status.Text{"en": fmt.Sprint("incident ", i)}, Body: status.Text{"en": "Investigating."}, Publish: true,
			Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}, {ID: "crl", Status: status.PartialOutage}},
			Evidence:   []status.Evidence{{Component: "ocsp", Probe: "ocsp", Location: "tokyo-1", Check: "ocsp_next_update", Message: "stale", Values: map[string]string{"a": "b"}}}}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		list, err := s.ListIncidents(ctx, IncidentFilter{State: "published,resolved", Limit: 5000})
		if err != nil || len(list) != 1000 {
			b.Fatalf("%d, %v", len(list), err)
		}
	}
}
