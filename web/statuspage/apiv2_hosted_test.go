package statuspage

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/probed/probed/status"
)

// TestAPIv2HostedFields checks the fields clients of hosted pages rely on
// (issue 14): custom_tweet and tweet_id on every update, reminder_intervals
// on every incident, affected_components null when nothing changed,
// page.time_zone as hosted pages write UTC, positions within the parent,
// and a scheduled maintenance's started_at never in the future.
func TestAPIv2HostedFields(t *testing.T) {
	_, ts := newFixture(t)
	var sum struct {
		Page struct {
			TimeZone string `json:"time_zone"`
		}
		Components []struct {
			ID       string
			Position int
			GroupID  *string `json:"group_id"`
		}
	}
	if err := json.Unmarshal(readAll(t, get(t, ts.URL+"/api/v2/summary.json")), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Page.TimeZone != "Etc/UTC" {
		t.Errorf("time_zone %q, want Etc/UTC", sum.Page.TimeZone)
	}
	pos := map[string]int{}
	for _, c := range sum.Components {
		pos[c.ID] = c.Position
	}
	// certcentral (group: certcentral-api, acme), timestamp, ocsp, crl.
	for id, want := range map[string]int{"certcentral": 1, "certcentral-api": 1, "acme": 2, "timestamp": 2, "ocsp": 3, "crl": 4} {
		if pos[id] != want {
			t.Errorf("%s position %d, want %d (counted within its parent)", id, pos[id], want)
		}
	}

	for _, path := range []string{"/api/v2/incidents.json", "/api/v2/scheduled-maintenances.json"} {
		var list struct {
			Incidents             []map[string]any
			ScheduledMaintenances []map[string]any `json:"scheduled_maintenances"`
		}
		if err := json.Unmarshal(readAll(t, get(t, ts.URL+path)), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Incidents)+len(list.ScheduledMaintenances) == 0 {
			t.Fatalf("%s: empty", path)
		}
		for _, incs := range [][]map[string]any{list.Incidents, list.ScheduledMaintenances} {
			for _, inc := range incs {
				if v, ok := inc["reminder_intervals"]; !ok || v != nil {
					t.Errorf("%s %v: reminder_intervals %v (present %v), want null", path, inc["id"], v, ok)
				}
				if sf, ok := inc["scheduled_for"].(string); ok && inc["status"] == status.StatusScheduled {
					start, _ := time.Parse(time.RFC3339, inc["started_at"].(string))
					if !start.Before(fixtureNow) || inc["started_at"] == sf {
						t.Errorf("%s %v: scheduled, started_at %v is not in the past (scheduled_for %s)", path, inc["id"], inc["started_at"], sf)
					}
				}
				for _, u := range inc["incident_updates"].([]any) {
					um := u.(map[string]any)
					for _, k := range []string{"custom_tweet", "tweet_id"} {
						if v, ok := um[k]; !ok || v != nil {
							t.Errorf("%s update %v: %s %v (present %v), want null", path, um["id"], k, v, ok)
						}
					}
				}
			}
		}
	}
}

// TestScheduledMaintenanceNotYetUnderMaintenance: a window that has not
// started leaves its components operational and the page green; once it
// runs they are under maintenance and the indicator is maintenance.
func TestScheduledMaintenanceNotYetUnderMaintenance(t *testing.T) {
	cfg := fixtureConfig()
	now := fixtureNow
	for _, tc := range []struct {
		status    string
		crl       string
		indicator string
	}{
		{status.StatusScheduled, status.Operational, status.ImpactNone},
		{status.StatusInProgress, status.UnderMaintenance, status.ImpactMaintenance},
		{status.StatusVerifying, status.UnderMaintenance, status.ImpactMaintenance},
		{status.StatusCompleted, status.Operational, status.ImpactNone},
	} {
		s := Build(Input{Now: now, Page: cfg.Page, Components: cfg.Components, Records: []Record{{ID: 1, Kind: status.KindMaintenance,
			State: status.StatePublished, Status: tc.status, Components: []RecordComponent{{ID: "crl", Status: status.UnderMaintenance}},
			CreatedAt: now.Add(-time.Hour), ScheduledFor: now.Add(time.Hour), ScheduledUntil: now.Add(2 * time.Hour)}}})
		if s.ByID["crl"].Status != tc.crl || s.Status.Indicator != tc.indicator {
			t.Errorf("%s window: crl %s, indicator %s; want %s, %s", tc.status, s.ByID["crl"].Status, s.Status.Indicator, tc.crl, tc.indicator)
		}
	}
	inc := &status.Incident{Kind: status.KindMaintenance, State: status.StatePublished, Status: status.StatusScheduled,
		Components: []status.ComponentImpact{{ID: "crl", Status: status.UnderMaintenance}}}
	if got := inc.StatusNow("crl"); got != "" {
		t.Errorf("scheduled window: StatusNow = %q, want none", got)
	}
	inc.Status = status.StatusInProgress
	if got := inc.StatusNow("crl"); got != status.UnderMaintenance {
		t.Errorf("running window: StatusNow = %q", got)
	}
}
