package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/status"
)

func TestTemplatesCreateEditDelete(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		fc := clock.NewFake(t0)
		s := openTest(t, db, fc)
		in := status.Template{Name: "OCSP stale", Title: status.Text{"en": "OCSP responses are stale", "ja": "OCSP 応答が古くなっています"},
			Body: status.Text{"en": "We are looking into it.", "ja": "調査中です。", "fr": "  "}, Impact: status.ImpactMajor,
			Components: []status.ComponentImpact{{ID: "ocsp", Status: status.PartialOutage}, {ID: "crl", Status: status.DegradedPerformance}}}
		tpl, err := s.CreateTemplate(ctx, "alice", in)
		if err != nil {
			t.Fatal(err)
		}
		if tpl.ID == 0 || tpl.Status != status.StatusInvestigating || tpl.Title["ja"] != in.Title["ja"] || len(tpl.Body) != 2 ||
			len(tpl.Components) != 2 || tpl.Components[0].ID != "ocsp" || tpl.Components[1].Status != status.DegradedPerformance || !tpl.CreatedAt.Equal(t0) {
			t.Fatalf("created %+v", tpl)
		}
		if _, err := s.CreateTemplate(ctx, "alice", in); !errors.Is(err, ErrState) {
			t.Fatalf("a second template with the same name: %v, want ErrState", err)
		}
		byName, err := s.TemplateNamed(ctx, " OCSP stale ")
		if err != nil || byName.ID != tpl.ID {
			t.Fatalf("by name: %+v, %v", byName, err)
		}
		fc.Advance(time.Minute)
		ed := *tpl
		ed.Name, ed.Impact, ed.Status = "OCSP stale (partial)", "", status.StatusIdentified
		ed.Title = status.Text{"en": "OCSP responses are stale"}
		ed.Components = []status.ComponentImpact{{ID: "crl", Status: status.MajorOutage}}
		got, err := s.UpdateTemplate(ctx, "bob", tpl.ID, ed)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != ed.Name || got.Impact != "" || got.Status != status.StatusIdentified || got.Title.Has("ja") || len(got.Components) != 1 ||
			got.Components[0].ID != "crl" || !got.UpdatedAt.Equal(t0.Add(time.Minute)) || !got.CreatedAt.Equal(t0) {
			t.Fatalf("updated %+v", got)
		}
		other, err := s.CreateTemplate(ctx, "alice", status.Template{Name: "CRL late", Title: status.Text{"en": "CRL late"}, Body: status.Text{"en": "Looking."}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateTemplate(ctx, "bob", other.ID, ed); !errors.Is(err, ErrState) {
			t.Fatalf("renaming onto a taken name: %v, want ErrState", err)
		}
		list, err := s.ListTemplates(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "CRL late" || list[1].Components[0].ID != "crl" || list[1].Body["ja"] != "調査中です。" {
			t.Fatalf("list %+v, %v", list, err)
		}
		if err := s.DeleteTemplate(ctx, "carol", tpl.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetTemplate(ctx, tpl.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted template read: %v", err)
		}
		if err := s.DeleteTemplate(ctx, "carol", tpl.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleting twice: %v", err)
		}
		audit, err := s.ListAudit(ctx, AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range audit {
			actions = append(actions, e.Actor+":"+e.Action+":"+e.Detail)
		}
		want := []string{"carol:template_delete:OCSP stale (partial)", "alice:template_create:CRL late", "bob:template_update:OCSP stale (partial)", "alice:template_create:OCSP stale"}
		if len(actions) != len(want) {
			t.Fatalf("audit %v, want %v", actions, want)
		}
		for i := range want {
			if actions[i] != want[i] {
				t.Fatalf("audit %v, want %v", actions, want)
			}
		}
	})
}

func TestTemplateRefusesBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		s := openTest(t, db, clock.NewFake(t0))
		ok := func() status.Template {
			return status.Template{Name: "x", Title: status.Text{"en": "T"}, Body: status.Text{"en": "B"}}
		}
		for _, tc := range []struct {
			name string
			edit func(*status.Template)
			want string
		}{
			{"no name", func(t *status.Template) { t.Name = "  " }, "template: name is empty: invalid input"},
			{"long name", func(t *status.Template) { t.Name = strings.Repeat("a", 101) }, "name longer than 100 characters"},
			{"no title", func(t *status.Template) { t.Title = status.Text{"en": " "} }, `template "x": title is empty: invalid input`},
			{"no body", func(t *status.Template) { t.Body = nil }, `template "x": message is empty: invalid input`},
			{"impact", func(t *status.Template) { t.Impact = "huge" }, `template "x": impact "huge" (want none, minor, major or critical, or empty for the component statuses'): invalid input`},
			{"status", func(t *status.Template) { t.Status = "resolved" }, `template "x": status "resolved" (want investigating, identified or monitoring): invalid input`},
			{"component status", func(t *status.Template) {
				t.Components = []status.ComponentImpact{{ID: "ocsp", Status: "down"}}
			}, `template "x": component "ocsp": status "down" (want operational, degraded_performance, partial_outage or major_outage): invalid input`},
			{"component twice", func(t *status.Template) {
				t.Components = []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}, {ID: "ocsp", Status: status.MajorOutage}}
			}, `template "x": component "ocsp" given twice: invalid input`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				in := ok()
				tc.edit(&in)
				_, err := s.CreateTemplate(context.Background(), "alice", in)
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
			})
		}
		if list, _ := s.ListTemplates(context.Background()); len(list) != 0 {
			t.Fatalf("a refused template was stored: %+v", list)
		}
	})
}

func TestPostmortemOnlyOnResolvedIncidents(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		fc := clock.NewFake(t0)
		s := openTest(t, db, fc)
		if err := s.EnsureComponents(ctx, []string{"ocsp"}); err != nil {
			t.Fatal(err)
		}
		inc, err := s.CreateDraft(ctx, "alice", status.NewIncident{Title: status.Text{"en": "OCSP down"}, Body: status.Text{"en": "Looking."},
			Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}})
		if err != nil {
			t.Fatal(err)
		}
		text := status.Text{"en": "What happened: <b>the HSM</b> rebooted.\n\nWhat we changed: a second HSM.", "ja": "HSM が再起動しました。"}
		if _, err := s.SavePostmortem(ctx, "alice", inc.ID, text); !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "it is draft; a postmortem is written once the incident is resolved") {
			t.Fatalf("postmortem of a draft: %v", err)
		}
		if _, err := s.Approve(ctx, "alice", inc.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SavePostmortem(ctx, "alice", inc.ID, text); !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "it is published;") {
			t.Fatalf("postmortem of an open incident: %v", err)
		}
		fc.Advance(time.Hour)
		if _, err := s.Resolve(ctx, "alice", inc.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PublishPostmortem(ctx, "alice", inc.ID, true); !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "there is no draft") {
			t.Fatalf("publishing without a draft: %v", err)
		}
		if _, err := s.SavePostmortem(ctx, "alice", inc.ID, status.Text{"en": " "}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("empty postmortem: %v", err)
		}
		fc.Advance(time.Hour)
		v0, err := s.ChangeVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.SavePostmortem(ctx, "alice", inc.ID, text)
		if err != nil {
			t.Fatal(err)
		}
		// On PostgreSQL, other holders hear of postmortem changes (0072's triggers).
		if v1, err := s.ChangeVersion(ctx); err != nil || (db.driver == "postgres" && v1 <= v0) {
			t.Fatalf("change counter %d → %d (%v): a postmortem's change is not heard by other holders", v0, v1, err)
		}
		pm := got.Postmortem
		if pm == nil || pm.Draft["en"] != text["en"] || pm.Draft["ja"] != text["ja"] || pm.Published() || !pm.Body.Empty() || !pm.DraftUpdatedAt.Equal(t0.Add(2*time.Hour)) || !pm.Unpublished() {
			t.Fatalf("after saving the draft: %+v", pm)
		}
		events := len(pendingKinds(t, s))
		fc.Advance(time.Minute)
		got, err = s.PublishPostmortem(ctx, "bob", inc.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		first := t0.Add(2*time.Hour + time.Minute)
		pm = got.Postmortem
		if !pm.Published() || pm.Body["en"] != text["en"] || !pm.PublishedAt.Equal(first) || !pm.BodyUpdatedAt.Equal(first) || pm.Unpublished() ||
			!got.UpdatedAt.Equal(first) || got.State != status.StateResolved || got.Status != status.StatusResolved || pm.NotifiedSubscribers {
			t.Fatalf("after publishing: %+v (incident %s/%s updated %v)", pm, got.State, got.Status, got.UpdatedAt)
		}
		if n := len(pendingKinds(t, s)); n != events {
			t.Fatalf("publishing a postmortem without notify queued %d events", n-events)
		}
		// An edit stays private until published again.
		fc.Advance(time.Hour)
		got, err = s.SavePostmortem(ctx, "alice", inc.ID, status.Text{"en": "Revised."})
		if err != nil {
			t.Fatal(err)
		}
		if got.Postmortem.Body["en"] != text["en"] || got.Postmortem.Draft.Has("ja") || !got.Postmortem.Unpublished() {
			t.Fatalf("after editing the published postmortem: %+v", got.Postmortem)
		}
		got, err = s.PublishPostmortem(ctx, "bob", inc.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if kinds := pendingKinds(t, s); len(kinds) != events+1 || kinds[len(kinds)-1] != EventPostmortemPublished || !got.Postmortem.NotifiedSubscribers {
			t.Fatalf("republished with notify: events %v, notified %v", kinds, got.Postmortem.NotifiedSubscribers)
		}
		if got.Postmortem.Body["en"] != "Revised." || got.Postmortem.Body.Has("ja") || !got.Postmortem.PublishedAt.Equal(first) || !got.Postmortem.BodyUpdatedAt.Equal(t0.Add(3*time.Hour+time.Minute)) {
			t.Fatalf("republished: %+v", got.Postmortem)
		}
		list, err := s.ListIncidents(ctx, IncidentFilter{})
		if err != nil || len(list) != 1 || list[0].Postmortem == nil || list[0].Postmortem.Body["en"] != "Revised." {
			t.Fatalf("list: %+v, %v", list, err)
		}
		audit, err := s.ListAudit(ctx, AuditFilter{IncidentID: inc.ID})
		if err != nil {
			t.Fatal(err)
		}
		var pms []string
		for _, e := range audit {
			if e.Action == "postmortem_draft" || e.Action == "publish_postmortem" {
				pms = append(pms, e.Actor+":"+e.Action+":"+e.Detail)
			}
		}
		want := "[bob:publish_postmortem:republished; subscribers notified alice:postmortem_draft: bob:publish_postmortem:published; published without notifying subscribers alice:postmortem_draft:]"
		if got := fmt.Sprint(pms); got != want {
			t.Fatalf("audit %s, want %s", got, want)
		}

		// A maintenance takes no postmortem.
		m, err := s.ScheduleMaintenance(ctx, "alice", status.NewMaintenance{Title: status.Text{"en": "Work"}, Components: []string{"ocsp"},
			Start: fc.Now().Add(time.Hour), End: fc.Now().Add(2 * time.Hour), Body: status.Text{"en": "Work."}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SavePostmortem(ctx, "alice", m.ID, text); !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "it is a maintenance") {
			t.Fatalf("postmortem of a maintenance: %v", err)
		}
		if _, err := s.SavePostmortem(ctx, "alice", 999, text); !errors.Is(err, ErrNotFound) {
			t.Fatalf("postmortem of no incident: %v", err)
		}
	})
}
