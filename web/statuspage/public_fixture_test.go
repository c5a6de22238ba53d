package statuspage

import (
	"context"
	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
)

// fixtureNow is the fixed "now" of the hand-built snapshot.
var fixtureNow = time.Date(2021, 9, 16, 12, 0, 0, 0, time.UTC)

func fixtureConfig() *config.Config {
	c := config.Default()
	c.Page = config.Page{Name: "Example CA", URL: "https://status.example.com", TimeZone: "UTC", Languages: []string{"en", "ja"}}
	c.Components = []config.Component{
		{ID: "certcentral", Name: "CertCentral", Components: []config.Component{
			{ID: "certcentral-api", Name: "CertCentral API", Description: "Certificate lifecycle over REST"},
			{ID: "acme", Name: "ACME"},
		}},
		{ID: "timestamp", Name: "Code Signing Timestamp Service"},
		{ID: "ocsp", Name: "Online Certificate Status Protocol (OCSP)"},
		{ID: "crl", Name: "Certificate Revocation List (CRL)"},
	}
	return &c
}

// fixturePostmortem is the published postmortem of the fixture's resolved
// incident: paragraphs, and markup that must reach readers as text.
const fixturePostmortem = "The HSM holding the OCSP signing key rebooted <script>alert(1)</script> & took 30 minutes to return.\n\nWe added a second HSM."

// fixtureData is a store's worth of history: an unresolved incident with
// updates, a resolved one with a 30-minute major outage, an active and an
// upcoming maintenance, and records that must never be shown (a draft, a
// rejected and a withdrawn incident).
func fixtureData() Data {
	now := fixtureNow
	m := func(d time.Duration) time.Time { return now.Add(d) }
	day := 24 * time.Hour
	return Data{
		FirstData: now.Add(-60 * day),
		Records: []Record{
			{ID: 101, Kind: status.KindIncident, State: status.StatePublished, Status: "identified", Impact: "major",
				Title:      status.Text{"en": "ACME order processing delayed", "ja": "ACME の注文処理の遅延"},
				Components: []RecordComponent{{ID: "acme", Status: status.PartialOutage}},
				CreatedAt:  m(-55 * time.Minute), PublishedAt: m(-50 * time.Minute), StartedAt: m(-52 * time.Minute),
				Updates: []RecordUpdate{
					{ID: 1001, Status: "investigating", Body: status.Text{"en": "We are investigating delays in ACME order processing.", "ja": "ACME の注文処理の遅延を調査しています。"},
						CreatedAt: m(-50 * time.Minute), Notify: true,
						Affected: []AffectedComponent{{ID: "acme", OldStatus: status.Operational, NewStatus: status.PartialOutage}}},
					{ID: 1002, Status: "update", Body: status.Text{"en": "We are continuing to investigate this issue."}, CreatedAt: m(-40 * time.Minute)},
					{ID: 1003, Status: "identified", Body: status.Text{"en": "The issue has been identified and a fix is being implemented.", "ja": "原因を特定し、修正を適用しています。"},
						CreatedAt: m(-20 * time.Minute), Notify: true},
				}},
			{ID: 90, Kind: status.KindIncident, State: status.StateResolved, Status: "resolved", Impact: "critical",
				Title:      status.Text{"en": "OCSP responder unavailable"},
				Components: []RecordComponent{{ID: "ocsp", Status: status.MajorOutage}},
				CreatedAt:  m(-3*day - 2*time.Hour), PublishedAt: m(-3*day - 2*time.Hour), StartedAt: m(-3*day - 2*time.Hour),
				ResolvedAt:   m(-3*day - 90*time.Minute),
				Postmortem:   status.Text{"en": fixturePostmortem, "ja": "OCSP レスポンダの署名鍵の HSM が再起動しました。"},
				PostmortemAt: m(-2 * day), PostmortemUpdatedAt: m(-2*day + time.Hour), PostmortemNotified: true,
				Updates: []RecordUpdate{
					{ID: 901, Status: "investigating", Body: status.Text{"en": "OCSP requests are failing."}, CreatedAt: m(-3*day - 2*time.Hour), Notify: true,
						Affected: []AffectedComponent{{ID: "ocsp", OldStatus: status.Operational, NewStatus: status.MajorOutage}}},
					{ID: 902, Status: "monitoring", Body: status.Text{"en": "A fix has been implemented and we are monitoring the results."}, CreatedAt: m(-3*day - 100*time.Minute)},
					{ID: 903, Status: "resolved", Body: status.Text{"en": "This incident has been resolved."}, CreatedAt: m(-3*day - 90*time.Minute), Notify: true,
						Affected: []AffectedComponent{{ID: "ocsp", OldStatus: status.MajorOutage, NewStatus: status.Operational}}},
				}},
			{ID: 200, Kind: status.KindIncident, State: "draft", Status: "investigating", Impact: "critical", Title: status.Text{"en": "DRAFT-NEVER-PUBLIC"},
				Components: []RecordComponent{{ID: "crl", Status: status.MajorOutage}}, CreatedAt: m(-10 * time.Minute),
				Updates: []RecordUpdate{{ID: 2001, Status: "investigating", Body: status.Text{"en": "draft body never public"}, CreatedAt: m(-10 * time.Minute)}}},
			{ID: 201, Kind: status.KindIncident, State: "rejected", Status: "investigating", Impact: "major", Title: status.Text{"en": "REJECTED-NEVER-PUBLIC"},
				Components: []RecordComponent{{ID: "crl", Status: status.MajorOutage}}, CreatedAt: m(-2 * day)},
			{ID: 202, Kind: status.KindIncident, State: "withdrawn", Status: "investigating", Impact: "major", Title: status.Text{"en": "WITHDRAWN-NEVER-PUBLIC"},
				Components: []RecordComponent{{ID: "timestamp", Status: status.MajorOutage}}, CreatedAt: m(-5 * day)},
			{ID: 300, Kind: status.KindMaintenance, State: status.StatePublished, Status: "in_progress",
				Title:      status.Text{"en": "Timestamp service maintenance", "ja": "タイムスタンプサービスのメンテナンス"},
				Components: []RecordComponent{{ID: "timestamp", Status: status.UnderMaintenance}},
				CreatedAt:  m(-2 * day), PublishedAt: m(-2 * day), StartedAt: m(-30 * time.Minute),
				ScheduledFor: m(-30 * time.Minute), ScheduledUntil: m(90 * time.Minute),
				Updates: []RecordUpdate{
					{ID: 3001, Status: "scheduled", Body: status.Text{"en": "We will be undergoing scheduled maintenance during this time."}, CreatedAt: m(-2 * day), Notify: true},
					{ID: 3002, Status: "in_progress", Body: status.Text{"en": "Scheduled maintenance is currently in progress. We will provide updates as necessary.", "ja": "メンテナンスを実施中です。"},
						CreatedAt: m(-30 * time.Minute), Notify: true,
						Affected: []AffectedComponent{{ID: "timestamp", OldStatus: status.Operational, NewStatus: status.UnderMaintenance}}},
				}},
			{ID: 301, Kind: status.KindMaintenance, State: status.StatePublished, Status: "scheduled", Title: status.Text{"en": "CRL publisher upgrade"},
				Components: []RecordComponent{{ID: "crl", Status: status.UnderMaintenance}},
				CreatedAt:  m(-1 * day), PublishedAt: m(-1 * day),
				ScheduledFor: m(2 * day), ScheduledUntil: m(2*day + 2*time.Hour),
				Updates: []RecordUpdate{
					{ID: 3011, Status: "scheduled", Body: status.Text{"en": "On 2021-09-18 from 12:00 to 14:00 UTC we will upgrade the CRL publisher."}, CreatedAt: m(-1 * day), Notify: true},
				}},
		},
		StatusLog: []StatusChange{
			{Component: "ocsp", Status: status.MajorOutage, At: m(-3*day - 2*time.Hour)},
			{Component: "ocsp", Status: status.Operational, At: m(-3*day - 90*time.Minute)},
			{Component: "acme", Status: status.PartialOutage, At: m(-50 * time.Minute)},
		},
	}
}

// staticSource hands a fixed Data to the site.
type staticSource struct{ d Data }

func (s staticSource) PublicData(ctx context.Context, from, to time.Time) (Data, error) {
	return s.d, nil
}

// newFixture returns the site built on the fixture and a test server for it.
func newFixture(t testing.TB) (*Site, *httptest.Server) {
	t.Helper()
	return newFixtureWith(t, fixtureConfig(), fixtureData())
}

func newFixtureWith(t testing.TB, cfg *config.Config, d Data, cat ...*words.Catalogue) (*Site, *httptest.Server) {
	t.Helper()
	opts := Options{Config: func() *config.Config { return cfg }, Source: staticSource{d}, Clock: clock.NewFake(fixtureNow)}
	if len(cat) > 0 {
		opts.Words = cat[0]
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(p.Handler())
	t.Cleanup(ts.Close)
	return p, ts
}

func get(t testing.TB, url string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// httptestRecorder serves one GET in-process and returns the status.
func httptestRecorder(h http.Handler, path string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code
}
