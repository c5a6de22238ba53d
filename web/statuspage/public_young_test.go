package statuspage

import (
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/status"
)

// TestYoungPageUptimeSaysSince: a page watching for a day with a 4-minute
// outage must not present its figure as one over 90 days: the scale says
// "Since <first day>" and the uptime over the watched time, in each language; the phone-width scale (30 bars)
// says the same, and a page watched longer says "90 days ago" and "30 days
// ago".
func TestYoungPageUptimeSaysSince(t *testing.T) {
	first := fixtureNow.Add(-30 * time.Hour)
	out := fixtureNow.Add(-3 * time.Hour)
	d := Data{FirstData: first, StatusLog: []StatusChange{
		{Component: "ocsp", Status: status.Operational, At: first},
		{Component: "ocsp", Status: status.MajorOutage, At: out},
		{Component: "ocsp", Status: status.Operational, At: out.Add(4 * time.Minute)},
	}}
	site, ts := newFixtureWith(t, fixtureConfig(), d)
	day := site.Snapshot().ByID["ocsp"].StartDate
	if day.IsZero() {
		t.Fatal("ocsp has no first day")
	}
	_, body := page(t, ts.URL+"/")
	row := body[strings.Index(body, `data-component="ocsp"`):]
	row = row[:strings.Index(row, `<div class="crow`)+1]
	since := "Since " + day.Format("Jan 2, 2006")
	if !strings.Contains(row, `<span class="from wide">`+since+`</span><span class="from narrow">`+since+`</span>`) {
		t.Errorf("the young ocsp row does not say %q at both widths:\n%s", since, row)
	}
	if strings.Contains(row, "90 days ago") || strings.Contains(row, "30 days ago") {
		t.Errorf("the young row claims a window it did not watch:\n%s", row)
	}
	// The figure beside it is over the watched time only: 4 minutes down in
	// 30 h = 1,800 minutes is 99.777…%, floored to 99.77% — not 99.99% (4
	// minutes in 90 days) nor 1.38% (unwatched days counted as down).
	const pct = "99.77%"
	if !strings.Contains(row, `<span class="pct wide">`+pct+` uptime</span><span class="pct narrow">`+pct+` uptime</span>`) {
		t.Errorf("the young ocsp row does not say %s uptime at both widths:\n%s", pct, row)
	}
	_, ja := page(t, ts.URL+"/?lang=ja")
	if want := day.Format("2006年1月2日") + " から"; !strings.Contains(ja, want) {
		t.Errorf("ja page lacks %q", want)
	}
	jaRow := ja[strings.Index(ja, `data-component="ocsp"`):]
	jaRow = jaRow[:strings.Index(jaRow, `<div class="crow`)+1]
	if want := `<span class="pct wide">稼働率 ` + pct + `</span><span class="pct narrow">稼働率 ` + pct + `</span>`; !strings.Contains(jaRow, want) {
		t.Errorf("the young ja row lacks %q:\n%s", want, jaRow)
	}

	// The fixture has watched 60 days: 90-day bars are partly grey, so
	// the wide scale says since; the last 30 days were all watched.
	_, ts2 := newFixture(t)
	_, body = page(t, ts2.URL+"/")
	if !strings.Contains(body, `<span class="from narrow">30 days ago</span>`) || !strings.Contains(body, `<span class="pct narrow">`) {
		t.Errorf("the phone-width scale does not say 30 days")
	}
}

// TestRefreshWhileOpenAndFavicon: while an incident is open the page
// reloads itself (a meta refresh, no script); a calm page does not; every
// page links a favicon the site serves.
func TestRefreshWhileOpenAndFavicon(t *testing.T) {
	_, ts := newFixture(t) // an unresolved incident
	_, body := page(t, ts.URL+"/")
	if !strings.Contains(body, `<meta http-equiv="refresh" content="60">`) {
		t.Error("an open incident's page does not refresh itself")
	}
	i := strings.Index(body, `<link rel="icon" type="image/svg+xml" href="`)
	if i < 0 {
		t.Fatal("no favicon link")
	}
	href := body[i+len(`<link rel="icon" type="image/svg+xml" href="`):]
	href = strings.ReplaceAll(href[:strings.Index(href, `"`)], "&amp;", "&")
	resp := get(t, ts.URL+href)
	if b := readAll(t, resp); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(string(b), "<svg") {
		t.Errorf("favicon %s: %d %s", href, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	_, calm := newFixtureWith(t, fixtureConfig(), Data{FirstData: fixtureNow.Add(-48 * time.Hour)})
	if _, body := page(t, calm.URL+"/"); strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("a calm page refreshes itself")
	}
}
