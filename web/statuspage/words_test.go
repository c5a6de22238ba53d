package statuspage

import (
	"encoding/json"
	"html"
	"io"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
	"github.com/probed/probed/words/wordstest"
)

// wordsFixture is the fixture with every component status in force now and
// every incident and maintenance status in some timeline.
func wordsFixture() Data {
	d := fixtureData()
	now := fixtureNow
	for i := range d.Records {
		if !d.Records[i].Postmortem.Empty() {
			// Plain data: the markup of the fixture's postmortem is
			// TestPostmortemIsText's, not a word of the page.
			d.Records[i].Postmortem = status.Text{"en": "The HSM holding the OCSP signing key rebooted."}
		}
	}
	d.StatusLog = append(d.StatusLog,
		StatusChange{Component: "certcentral-api", Status: status.DegradedPerformance, At: now.Add(-5 * time.Minute)},
		StatusChange{Component: "ocsp", Status: status.MajorOutage, At: now.Add(-5 * time.Minute)})
	day := 24 * time.Hour
	d.Records = append(d.Records, Record{ID: 302, Kind: status.KindMaintenance, State: status.StateResolved, Status: status.StatusCompleted,
		Title: status.Text{"en": "HSM firmware"}, Components: []RecordComponent{{ID: "crl", Status: status.UnderMaintenance}},
		CreatedAt: now.Add(-5 * day), PublishedAt: now.Add(-5 * day), ScheduledFor: now.Add(-4 * day), ScheduledUntil: now.Add(-4*day + time.Hour),
		ResolvedAt: now.Add(-4*day + time.Hour),
		Updates: []RecordUpdate{
			{ID: 3021, Status: status.StatusScheduled, Body: status.Text{"en": "Planned."}, CreatedAt: now.Add(-5 * day)},
			{ID: 3022, Status: status.StatusInProgress, Body: status.Text{"en": "Started."}, CreatedAt: now.Add(-4 * day)},
			{ID: 3023, Status: status.StatusVerifying, Body: status.Text{"en": "Checking."}, CreatedAt: now.Add(-4*day + 30*time.Minute)},
			{ID: 3024, Status: status.StatusCompleted, Body: status.Text{"en": "Done."}, CreatedAt: now.Add(-4*day + time.Hour)},
		}})
	return d
}

func wordsSite(t *testing.T, cat *words.Catalogue, lang string) *httptest.Server {
	t.Helper()
	cfg := fixtureConfig()
	cfg.Page.Languages = []string{lang}
	_, ts := newFixtureWith(t, cfg, wordsFixture(), cat)
	return ts
}

var (
	scripts = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>`)
	// machine is what feeds say for programs, not people: ids, links and RFC 3339 / RFC 1123 times.
	machine  = regexp.MustCompile(`(?s)<(id|updated|published|pubDate|lastBuildDate|guid|link|language|generator)\b[^>]*>.*?</(id|updated|published|pubDate|lastBuildDate|guid|link|language|generator)>`)
	attrText = regexp.MustCompile(`(?:title|aria-label|alt|placeholder)="([^"]*)"`)
	anyTag   = regexp.MustCompile(`<[^>]*>`)
)

// visible is what a reader sees of an HTML or XML page: text nodes and the
// attributes that are read out (title, aria-label, alt, placeholder).
func visible(body string) string {
	body = scripts.ReplaceAllString(body, " ")
	body = machine.ReplaceAllString(body, " ")
	var b strings.Builder
	for _, m := range attrText.FindAllStringSubmatch(body, -1) {
		b.WriteString(html.UnescapeString(m[1]) + "\n")
	}
	// Feeds carry their entries as escaped HTML: unescape once more and strip again.
	text := html.UnescapeString(anyTag.ReplaceAllString(body, " "))
	text = html.UnescapeString(anyTag.ReplaceAllString(text, " "))
	b.WriteString(text)
	return b.String()
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp := get(t, url)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	return string(b)
}

// The routes a reader sees words on.
var wordRoutes = []string{"/", "/incidents/101", "/incidents/90", "/maintenance/300", "/maintenance/302", "/history", "/uptime",
	"/history.atom", "/history.rss", "/badge/ocsp.svg", "/badge/certcentral.svg"}

// Every component status and every incident and maintenance status shows
// on the page, the feeds and the badges in the catalogue's word, in every
// language; the API v2 texts are the catalogue's English.
func TestPageWordsComeFromTheCatalogue(t *testing.T) {
	cat := words.Builtin()
	for _, lang := range cat.Codes() {
		ts := wordsSite(t, cat, lang)
		w := cat.Lang(lang)
		q := "?lang=" + lang
		index := visible(fetch(t, ts.URL+"/"+q))
		for _, s := range status.ComponentStatuses() {
			if !strings.Contains(index, w.Status(s)) {
				t.Errorf("%s /: no %q (%s)", lang, w.Status(s), s)
			}
		}
		timelines := visible(fetch(t, ts.URL+"/incidents/101"+q) + fetch(t, ts.URL+"/incidents/90"+q) +
			fetch(t, ts.URL+"/maintenance/300"+q) + fetch(t, ts.URL+"/maintenance/302"+q))
		feed := visible(fetch(t, ts.URL+"/history.atom"+q) + fetch(t, ts.URL+"/history.rss"+q))
		for _, s := range append(append(status.IncidentStatuses(), status.MaintenanceStatuses()...), status.StatusUpdate, status.StatusPostmortem) {
			if !strings.Contains(timelines, w.Label(s)) {
				t.Errorf("%s timelines: no %q (%s)", lang, w.Label(s), s)
			}
			if !strings.Contains(feed, w.Label(s)) {
				t.Errorf("%s feeds: no %q (%s)", lang, w.Label(s), s)
			}
		}
		badge := visible(fetch(t, ts.URL+"/badge/ocsp.svg"+q))
		if !strings.Contains(badge, w.Status(status.MajorOutage)) {
			t.Errorf("%s badge: no %q in %s", lang, w.Status(status.MajorOutage), badge)
		}
	}
	ts := wordsSite(t, cat, "en")
	var st struct {
		Status     struct{ Indicator, Description string }
		Components []struct{ ID, Status string }
	}
	if err := json.Unmarshal([]byte(fetch(t, ts.URL+"/api/v2/summary.json")), &st); err != nil {
		t.Fatal(err)
	}
	// ocsp in a major outage among several components: Partial System Outage.
	if want := cat.Lang("en").T("banner." + status.TopPartialSystemOutage); st.Status.Description != want || st.Status.Indicator != status.ImpactMajor {
		t.Errorf("API description %q, want the catalogue's %q", st.Status.Description, want)
	}
	var seen []string
	for _, c := range st.Components {
		if !status.ValidComponentStatus(c.Status) {
			t.Errorf("API component %s: status %q is not in the vocabulary", c.ID, c.Status)
		}
		seen = append(seen, c.Status)
	}
	for _, s := range status.ComponentStatuses() {
		if !slices.Contains(seen, s) {
			t.Errorf("API components: no component %s", s)
		}
	}
}

// In a pseudo-locale whose every text is wrapped in ⟦ ⟧, nothing a reader
// sees on any route is fixed text outside the catalogue: only data
// (component names and descriptions, incident titles and texts, the page's
// name) is left unwrapped.
func TestPseudoLocaleNoFixedTextEscapes(t *testing.T) {
	cat, err := wordstest.Pseudo()
	if err != nil {
		t.Fatal(err)
	}
	ts := wordsSite(t, cat, wordstest.Code)
	cfg, d := fixtureConfig(), wordsFixture()
	data := []string{cfg.Page.Name, "probed"}
	var walk func([]config.Component)
	walk = func(cs []config.Component) {
		for _, c := range cs {
			data = append(data, c.Name, c.Description)
			walk(c.Components)
		}
	}
	walk(cfg.Components)
	for _, r := range d.Records {
		data = append(data, r.Title["en"], r.Postmortem["en"])
		for _, u := range r.Updates {
			data = append(data, u.Body["en"])
		}
	}
	for _, route := range wordRoutes {
		body := fetch(t, ts.URL+route)
		if esc := wordstest.Escapes(visible(body), data...); len(esc) > 0 {
			t.Errorf("%s: fixed text outside the catalogue: %q", route, esc)
		}
	}
}

// A group's status is its worst child's by the one ranking (status.Rank):
// under maintenance outranks degraded performance, an outage outranks both.
func TestGroupStatusUsesTheOneRanking(t *testing.T) {
	for _, tc := range []struct{ api, acme, want string }{
		{status.DegradedPerformance, status.UnderMaintenance, status.UnderMaintenance},
		{status.UnderMaintenance, status.DegradedPerformance, status.UnderMaintenance},
		{status.UnderMaintenance, status.PartialOutage, status.PartialOutage},
		{status.MajorOutage, status.UnderMaintenance, status.MajorOutage},
		{status.Operational, status.DegradedPerformance, status.DegradedPerformance},
	} {
		at := fixtureNow.Add(-time.Hour)
		s := Build(Input{Now: fixtureNow, Page: fixtureConfig().Page, Components: fixtureConfig().Components, FirstData: at.Add(-time.Hour),
			StatusLog: []StatusChange{{Component: "certcentral-api", Status: tc.api, At: at}, {Component: "acme", Status: tc.acme, At: at}}})
		if got := s.ByID["certcentral"].Status; got != tc.want || got != status.Worst(tc.api, tc.acme) {
			t.Errorf("children %s and %s: group %s, want %s", tc.api, tc.acme, got, tc.want)
		}
	}
}
