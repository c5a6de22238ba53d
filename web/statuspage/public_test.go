package statuspage

import (
	"context"
	"errors"
	"fmt"
	"github.com/probed/probed/words"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/status"
)

func page(t *testing.T, url string, hdr ...string) (int, string) {
	t.Helper()
	resp := get(t, url, hdr...)
	return resp.StatusCode, string(readAll(t, resp))
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

var barRE = regexp.MustCompile(`<i(?: class="(up|minor|partial|major|maint|nodata)")?(?: title="([^"]*)")?></i>`)

// rowOf cuts one leaf component's row out of a page.
func rowOf(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `<div class="crow leaf" data-component="`+id+`"`)
	if i < 0 {
		t.Fatalf("no row for %s", id)
	}
	rest := body[i:]
	for _, end := range []string{`<div class="crow`, `</section>`} {
		if j := strings.Index(rest[1:], end); j > 0 {
			rest = rest[:j+1]
		}
	}
	return rest
}

func TestIndexPage(t *testing.T) {
	_, ts := newFixture(t)
	code, body := page(t, ts.URL+"/")
	if code != 200 {
		t.Fatalf("GET /: %d", code)
	}
	mustContain(t, "/", body,
		`<html lang="en">`,
		`<div class="banner minor" id="banner">Minor Service Outage</div>`,
		`ACME order processing delayed`, `<strong>Identified</strong>`, `The issue has been identified`,
		`Posted 20 minutes ago. Sep 16, 2021 - 11:40 UTC`,
		`Timestamp service maintenance`, `Maintenance In Progress`,
		`CRL publisher upgrade`, `Scheduled Maintenance`, `Scheduled for Sep 18, 2021 - 12:00 UTC to Sep 18, 2021 - 14:00 UTC`,
		`<details class="group" open data-component="certcentral">`, // a degraded group opens by itself
		`<span class="st s-partial_outage">Partial Outage</span>`,
		`<span class="st s-under_maintenance">Under Maintenance</span>`,
		`Past Incidents`, `OCSP responder unavailable`, `No incidents reported.`,
		`href="/subscribe"`, `href="/history.atom"`, `href="/?lang=ja"`)
	for _, id := range []string{"certcentral-api", "acme", "timestamp", "ocsp", "crl"} {
		if n := len(barRE.FindAllString(rowOf(t, body, id), -1)); n != 90 {
			t.Errorf("%s has %d bars, want 90", id, n)
		}
	}
	// Days before the first data are shown as no data, not as up.
	bars := barRE.FindAllStringSubmatch(rowOf(t, body, "crl"), -1)
	if bars[0][1] != "nodata" || !strings.Contains(bars[0][2], "No data") || bars[89][1] != "" || bars[89][2] != "" {
		t.Errorf("crl first bar %q, last %q", bars[0][1:], bars[89][1:])
	}
	for _, banned := range []string{"NEVER-PUBLIC", "never public"} {
		if strings.Contains(body, banned) {
			t.Errorf("/ shows unpublished %q", banned)
		}
	}
}

func TestJapanese(t *testing.T) {
	_, ts := newFixture(t)
	for _, hdr := range [][]string{{"Accept-Language", "ja-JP,ja;q=0.9,en;q=0.8"}, nil} {
		url := ts.URL + "/"
		if hdr == nil {
			url += "?lang=ja"
		}
		code, body := page(t, url, hdr...)
		if code != 200 {
			t.Fatal(code)
		}
		mustContain(t, "ja /", body, `<html lang="ja">`, "軽微なサービス障害が発生しています", "ACME の注文処理の遅延",
			"<strong>原因特定</strong>", "原因を特定し、修正を適用しています。", "20分前に投稿。 2021年09月16日 11:40 UTC",
			"タイムスタンプサービスのメンテナンス", "一部障害", "メンテナンス中", "過去のインシデント", `href="/history?lang=ja"`)
	}
	// English wins by default and by preference order.
	_, body := page(t, ts.URL+"/", "Accept-Language", "fr-FR, en;q=0.5, ja;q=0.3")
	mustContain(t, "en /", body, `<html lang="en">`, "Minor Service Outage")

	code, body := page(t, ts.URL+"/incidents/101?lang=ja")
	if code != 200 {
		t.Fatal(code)
	}
	mustContain(t, "ja incident", body, "Example CA のインシデント報告", "原因特定", "更新", "調査中",
		"ACME の注文処理の遅延を調査しています。", "We are continuing to investigate this issue.", // no body_ja: English
		"影響を受けたコンポーネント: ACME")
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		query, header string
		allowed       []string
		want          string
	}{
		{"", "", []string{"en", "ja"}, "en"},
		{"", "", []string{"ja", "en"}, "ja"},
		{"lang=ja", "en", []string{"en", "ja"}, "ja"},
		{"lang=fr", "ja", []string{"en", "ja"}, "ja"},
		{"lang=ja", "", []string{"en"}, "en"},
		{"", "ja;q=0.4, en;q=0.6", []string{"en", "ja"}, "en"},
		{"", "ja-JP", []string{"en", "ja"}, "ja"},
		{"", "de, *;q=0.1", []string{"en", "ja"}, "en"},
	} {
		r, _ := http.NewRequest("GET", "/?"+tc.query, nil)
		r.Header.Set("Accept-Language", tc.header)
		if l, _ := newLanguages(words.Builtin()).negotiate(r, tc.allowed); l.Code != tc.want {
			t.Errorf("lang=%q Accept-Language %q among %v: %s, want %s", tc.query, tc.header, tc.allowed, l.Code, tc.want)
		}
	}
}

func TestIncidentPages(t *testing.T) {
	_, ts := newFixture(t)
	code, body := page(t, ts.URL+"/incidents/90")
	if code != 200 {
		t.Fatal(code)
	}
	mustContain(t, "/incidents/90", body, "OCSP responder unavailable", "Incident Report for Example CA",
		"This incident affected: Online Certificate Status Protocol (OCSP)",
		"Posted 3 days ago. Sep 13, 2021 - 10:30 UTC")
	labels := regexp.MustCompile(`<div class="label">([^<]*)</div>`).FindAllStringSubmatch(body, -1)
	if got := fmt.Sprint(labels); got != "[[<div class=\"label\">Postmortem</div> Postmortem] [<div class=\"label\">Resolved</div> Resolved] [<div class=\"label\">Monitoring</div> Monitoring] [<div class=\"label\">Investigating</div> Investigating]]" {
		t.Errorf("labels %s", got)
	}

	_, body = page(t, ts.URL+"/incidents/101")
	if got := labelList(body); got != "Identified,Update,Investigating" {
		t.Errorf("incident 101 labels %s, want newest first with the unchanged update as Update", got)
	}

	code, body = page(t, ts.URL+"/maintenance/300")
	if code != 200 {
		t.Fatal(code)
	}
	mustContain(t, "/maintenance/300", body, "Scheduled Maintenance Report for Example CA",
		"This scheduled maintenance affected: Code Signing Timestamp Service", "Posted 30 minutes ago. Sep 16, 2021 - 11:30 UTC")
	if got := labelList(body); got != "In progress,Scheduled" {
		t.Errorf("maintenance labels %s", got)
	}
	_, body = page(t, ts.URL+"/maintenance/300?lang=ja")
	if got := labelList(body); got != "実施中,予定" {
		t.Errorf("ja maintenance labels %s", got)
	}

	// Wrong kind, unknown, junk and unpublished ids are all 404.
	for _, p := range []string{"/incidents/300", "/maintenance/101", "/incidents/999", "/incidents/abc",
		"/incidents/200", "/incidents/201", "/incidents/202"} {
		code, body := page(t, ts.URL+p)
		if code != 404 || !strings.Contains(body, "Page not found") {
			t.Errorf("%s: %d, want the 404 page", p, code)
		}
	}
}

func labelList(body string) string {
	var out []string
	for _, m := range regexp.MustCompile(`<div class="label">([^<]*)</div>`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return strings.Join(out, ",")
}

// TestUnpublishedNeverPublic: drafts, rejected and withdrawn incidents (and a
// cancelled maintenance) appear on no public route.
func TestUnpublishedNeverPublic(t *testing.T) {
	d := fixtureData()
	d.Records = append(d.Records, Record{ID: 302, Kind: status.KindMaintenance, State: "withdrawn", Status: "scheduled",
		Title: status.Text{"en": "CANCELLED-NEVER-PUBLIC"}, Components: []RecordComponent{{ID: "ocsp"}},
		ScheduledFor: fixtureNow.Add(time.Hour), ScheduledUntil: fixtureNow.Add(2 * time.Hour), CreatedAt: fixtureNow.Add(-time.Hour)})
	p, ts := newFixtureWith(t, fixtureConfig(), d)
	paths := []string{"/", "/?lang=ja", "/history", "/history?component=crl", "/uptime", "/uptime?days=30",
		"/history.atom", "/history.rss", "/badge/crl.svg", "/badge/timestamp.svg"}
	for _, r := range apiRoutes {
		paths = append(paths, r.path)
	}
	for _, path := range paths {
		code, body := page(t, ts.URL+path)
		if code != 200 {
			t.Errorf("%s: %d", path, code)
		}
		for _, banned := range []string{"NEVER-PUBLIC", "never public", "/incidents/200", "/incidents/201", "/incidents/202", "/maintenance/302"} {
			if strings.Contains(body, banned) {
				t.Errorf("%s shows %q", path, banned)
			}
		}
	}
	if p.Snapshot().Status.Indicator == "critical" {
		t.Error("the critical draft raised the page indicator")
	}
	if p.Snapshot().ByID["crl"].Status != status.Operational {
		t.Error("the draft changed crl's status")
	}
}

func TestHistoryPage(t *testing.T) {
	d := fixtureData()
	// An incident four months back puts history on two pages.
	d.Records = append(d.Records, Record{ID: 50, Kind: status.KindIncident, State: status.StateResolved, Status: "resolved", Impact: "minor",
		Title: status.Text{"en": "CRL served stale"}, Components: []RecordComponent{{ID: "crl", Status: status.DegradedPerformance}},
		CreatedAt: time.Date(2021, 5, 20, 8, 0, 0, 0, time.UTC), ResolvedAt: time.Date(2021, 5, 20, 9, 0, 0, 0, time.UTC),
		Updates: []RecordUpdate{{ID: 501, Status: "resolved", Body: status.Text{"en": "Fresh CRLs are served again."}, CreatedAt: time.Date(2021, 5, 20, 9, 0, 0, 0, time.UTC)}}})
	_, ts := newFixtureWith(t, fixtureConfig(), d)

	code, body := page(t, ts.URL+"/history")
	if code != 200 {
		t.Fatal(code)
	}
	mustContain(t, "/history", body, "<h2>September 2021</h2>", "<h2>August 2021</h2>", "<h2>July 2021</h2>",
		"OCSP responder unavailable", "ACME order processing delayed", "Timestamp service maintenance",
		"No incidents reported this month.", `<span title="1 / 2">July 2021 – September 2021</span>`,
		`href="/history?page=2" rel="next" title="Older">May 2021 – June 2021 →</a>`)
	if strings.Contains(body, "CRL publisher upgrade") {
		t.Error("an upcoming maintenance is listed as history")
	}
	_, body = page(t, ts.URL+"/history?page=2")
	mustContain(t, "/history?page=2", body, "<h2>June 2021</h2>", "<h2>May 2021</h2>", "CRL served stale", `rel="prev" title="Newer">← July 2021 – September 2021</a>`,
		`<span title="2 / 2">May 2021 – June 2021</span>`)

	_, body = page(t, ts.URL+"/history?component=ocsp")
	mustContain(t, "filtered", body, "OCSP responder unavailable", `<option value="ocsp" selected>`)
	for _, other := range []string{"ACME order processing delayed", "Timestamp service maintenance"} {
		if strings.Contains(body, other) {
			t.Errorf("filter ocsp shows %q", other)
		}
	}
	// A group filter covers its children.
	_, body = page(t, ts.URL+"/history?component=certcentral")
	mustContain(t, "group filter", body, "ACME order processing delayed")

	_, body = page(t, ts.URL+"/history?lang=ja")
	mustContain(t, "ja history", body, "<h2>2021年9月</h2>", "インシデント履歴", `<input type="hidden" name="lang" value="ja">`)

	for _, tc := range []struct {
		path string
		code int
		msg  string
	}{
		{"/history?page=0", 400, "page must be a whole number from 1"},
		{"/history?page=x", 400, "page must be a whole number from 1"},
		{"/history?page=3", 404, "Page not found"},
		{"/history?component=nope", 400, `unknown component &#34;nope&#34;`},
	} {
		code, body := page(t, ts.URL+tc.path)
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d, want %d with %q", tc.path, code, tc.code, tc.msg)
		}
	}
}

// uptimeFixture: ocsp has a 30-minute major outage on Sep 10, crl a
// two-hour maintenance on Sep 11, and probed saw nothing on Sep 12.
func uptimeFixture() (*config.Config, Data) {
	cfg := fixtureConfig()
	day := func(d, h, m int) time.Time { return time.Date(2021, 9, d, h, m, 0, 0, time.UTC) }
	start := fixtureNow.AddDate(0, 0, -100)
	d := Data{
		Coverage: map[string][]Interval{},
		StatusLog: []StatusChange{
			{Component: "ocsp", Status: status.Operational, At: start},
			{Component: "ocsp", Status: status.MajorOutage, At: day(10, 14, 0)},
			{Component: "ocsp", Status: status.Operational, At: day(10, 14, 30)},
			{Component: "crl", Status: status.Operational, At: start},
			{Component: "crl", Status: status.UnderMaintenance, At: day(11, 2, 0)},
			{Component: "crl", Status: status.Operational, At: day(11, 4, 0)},
		},
		Records: []Record{
			{ID: 7, Kind: status.KindIncident, State: status.StateResolved, Status: "resolved", Impact: "critical", Title: status.Text{"en": "OCSP outage"},
				Components: []RecordComponent{{ID: "ocsp", Status: status.MajorOutage}},
				CreatedAt:  day(10, 14, 5), StartedAt: day(10, 14, 0), ResolvedAt: day(10, 14, 30),
				Updates: []RecordUpdate{{ID: 71, Status: "investigating", Body: status.Text{"en": "Down."}, CreatedAt: day(10, 14, 5)},
					{ID: 72, Status: "resolved", Body: status.Text{"en": "Up."}, CreatedAt: day(10, 14, 30)}}},
			{ID: 8, Kind: status.KindMaintenance, State: status.StateResolved, Status: "completed", Title: status.Text{"en": "CRL maintenance"},
				Components: []RecordComponent{{ID: "crl", Status: status.UnderMaintenance}},
				CreatedAt:  day(1, 0, 0), ScheduledFor: day(11, 2, 0), ScheduledUntil: day(11, 4, 0), ResolvedAt: day(11, 4, 0),
				Updates: []RecordUpdate{{ID: 81, Status: "scheduled", Body: status.Text{"en": "Planned."}, CreatedAt: day(1, 0, 0)},
					{ID: 82, Status: "in_progress", Body: status.Text{"en": "Started."}, CreatedAt: day(11, 2, 0)},
					{ID: 83, Status: "completed", Body: status.Text{"en": "Done."}, CreatedAt: day(11, 4, 0)}}},
		},
	}
	// Every leaf watched from start to now, except the whole of Sep 12.
	for _, id := range []string{"certcentral-api", "acme", "timestamp", "ocsp", "crl"} {
		d.Coverage[id] = []Interval{{start, day(12, 0, 0)}, {day(13, 0, 0), fixtureNow}}
	}
	return cfg, d
}

func TestUptime(t *testing.T) {
	cfg, d := uptimeFixture()
	p, ts := newFixtureWith(t, cfg, d)
	s := p.Snapshot()
	dayIdx := func(dd int) int {
		for i, ds := range s.Days {
			if ds.Day() == dd && ds.Month() == time.September {
				return i
			}
		}
		t.Fatalf("no day %d", dd)
		return 0
	}
	ocsp, crl := s.ByID["ocsp"].Uptime, s.ByID["crl"].Uptime
	out := ocsp[dayIdx(10)]
	if out.Major != 30*time.Minute || out.Level() != "partial" || newLanguages(words.Builtin())["en"].Percent(out.Uptime()) != "97.91%" || len(out.Incidents) != 1 {
		t.Errorf("outage day: major %v level %s uptime %s incidents %d", out.Major, out.Level(), newLanguages(words.Builtin())["en"].Percent(out.Uptime()), len(out.Incidents))
	}
	mt := crl[dayIdx(11)]
	if mt.Maintenance != 2*time.Hour || mt.Covered != 22*time.Hour || mt.Level() != "up" || mt.Uptime() != 1 {
		t.Errorf("maintenance day: maint %v covered %v level %s uptime %v", mt.Maintenance, mt.Covered, mt.Level(), mt.Uptime())
	}
	nd := ocsp[dayIdx(12)]
	if !nd.NoData() || nd.Level() != "nodata" {
		t.Errorf("no-data day: %+v", nd)
	}
	// No data does not count as up: ocsp's 90-day total excludes Sep 12.
	if tot := s.ByID["ocsp"].Total; tot.Covered != 89*24*time.Hour-12*time.Hour || tot.Major != 30*time.Minute {
		t.Errorf("ocsp totals: covered %v major %v", tot.Covered, tot.Major)
	}
	// The group adds up its children's time.
	if g := s.ByID["certcentral"].Uptime[dayIdx(12)]; !g.NoData() {
		t.Error("group has data on a day none of its children has")
	}

	_, body := page(t, ts.URL+"/")
	bars := barRE.FindAllStringSubmatch(rowOf(t, body, "ocsp"), -1)
	b10, b12 := bars[dayIdx(10)], bars[dayIdx(12)]
	if b10[1] != "partial" || !strings.Contains(b10[2], "Sep 10, 2021") || !strings.Contains(b10[2], "97.91% uptime") ||
		!strings.Contains(b10[2], "Major outage 30 min") || !strings.Contains(b10[2], "OCSP outage") {
		t.Errorf("outage bar %q %q", b10[1], html.UnescapeString(b10[2]))
	}
	if b12[1] != "nodata" || !strings.Contains(b12[2], "No data") {
		t.Errorf("no-data bar %q %q", b12[1], b12[2])
	}
	crlBars := barRE.FindAllStringSubmatch(rowOf(t, body, "crl"), -1)
	if b := crlBars[dayIdx(11)]; b[1] != "up" || !strings.Contains(b[2], "100.00% uptime") || !strings.Contains(b[2], "Maintenance 2 h") ||
		!strings.Contains(b[2], "CRL maintenance") {
		t.Errorf("maintenance bar %q %q", b[1], html.UnescapeString(b[2]))
	}

	// /uptime lists the dip with the incident behind it; 30 days too.
	code, body := page(t, ts.URL+"/uptime")
	if code != 200 {
		t.Fatal(code)
	}
	mustContain(t, "/uptime", body, `<span class="dday">Sep 10, 2021</span> <span class="dpct">97.91%</span>`,
		`Major outage 30 min`, `href="/incidents/7">OCSP outage</a>`, "Last 90 days")
	if strings.Count(body, `class="dday"`) != 1 {
		t.Errorf("want exactly one dip (the maintenance and the no-data day are not dips), got %d", strings.Count(body, `class="dday"`))
	}
	code, body = page(t, ts.URL+"/uptime?days=30&lang=ja")
	if code != 200 || len(barRE.FindAllString(rowOf(t, body, "ocsp"), -1)) != 30 {
		t.Errorf("/uptime?days=30: %d", code)
	}
	mustContain(t, "ja uptime", body, "過去30日間", "重大な障害 30分")
	if code, body := page(t, ts.URL+"/uptime?days=7"); code != 400 || !strings.Contains(body, "days must be 30 or 90") {
		t.Errorf("/uptime?days=7: %d", code)
	}
}

// mutableSource lets a test change what the store holds.
type mutableSource struct {
	mu   sync.Mutex
	d    Data
	err  error
	read int
}

func (m *mutableSource) PublicData(ctx context.Context, from, to time.Time) (Data, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.read++
	return m.d, m.err
}

func (m *mutableSource) set(d Data, err error) {
	m.mu.Lock()
	m.d, m.err = d, err
	m.mu.Unlock()
}

func TestSnapshotRebuild(t *testing.T) {
	src := &mutableSource{}
	cfg := fixtureConfig()
	obs := &buildLog{}
	p, err := New(Options{Config: func() *config.Config { return cfg }, Source: src, Clock: clock.NewFake(fixtureNow), Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	// Before any data: the configured tree, all operational, no history.
	if s := p.Snapshot(); s.Status.Indicator != "none" || len(s.Incidents) != 0 || len(s.Flat) != 6 || src.read != 0 {
		t.Fatalf("initial snapshot %+v (reads %d)", s.Status, src.read)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, func() bool { return p.Snapshot().Version >= 2 })

	v := p.Snapshot().Version
	src.set(fixtureData(), nil)
	p.Invalidate()
	waitFor(t, func() bool { return p.Snapshot().Version > v && len(p.Snapshot().Incidents) == 2 })
	if p.Snapshot().Status.Indicator != "minor" {
		t.Errorf("after invalidate: %s", p.Snapshot().Status.Indicator)
	}
	// A failed read keeps the snapshot in service.
	src.set(Data{}, errors.New("database is locked"))
	before := p.Snapshot()
	if err := p.Rebuild(context.Background()); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Errorf("Rebuild error %v", err)
	}
	if p.Snapshot() != before {
		t.Error("a failed rebuild replaced the snapshot")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The observer (the daemon's metrics) heard of each build and its outcome.
	ok, failed, at := obs.counts()
	if ok < 2 || failed != 1 || !at.Equal(fixtureNow) {
		t.Errorf("observer: %d ok, %d failed, last at %v; want at least 2 ok, 1 failed, at %v", ok, failed, at, fixtureNow)
	}
}

// buildLog records what a BuildObserver hears.
type buildLog struct {
	mu         sync.Mutex
	ok, failed int
	at         time.Time
}

func (b *buildLog) Built(ok bool, took time.Duration, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.ok++
		b.at = at
	} else {
		b.failed++
	}
}

func (b *buildLog) counts() (ok, failed int, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ok, b.failed, b.at
}

func TestLazyCacheBounded(t *testing.T) {
	cfg := fixtureConfig()
	p, err := New(Options{Config: func() *config.Config { return cfg }, Source: staticSource{fixtureData()},
		Clock: clock.NewFake(fixtureNow), MaxCached: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/incidents/101", "/incidents/90", "/history", "/uptime", "/maintenance/300", "/history?component=ocsp"} {
		rec := httptestRecorder(p.Handler(), path)
		if rec != 200 {
			t.Errorf("%s: %d", path, rec)
		}
	}
	if n := p.cur.Load().lazyN.Load(); n != 3 {
		t.Errorf("cached %d responses, want the bound 3", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond) // polling a condition, not waiting for time to pass
	}
}

// TestTimeZone: dates and day boundaries follow page.time_zone.
func TestTimeZone(t *testing.T) {
	cfg := fixtureConfig()
	cfg.Page.TimeZone = "Asia/Tokyo"
	p, ts := newFixtureWith(t, cfg, fixtureData())
	s := p.Snapshot()
	if first := s.Days[len(s.Days)-1]; first.Format(time.RFC3339) != "2021-09-16T00:00:00+09:00" {
		t.Errorf("today starts %s, want JST midnight", first.Format(time.RFC3339))
	}
	_, body := page(t, ts.URL+"/incidents/101")
	mustContain(t, "JST incident", body, "Posted 20 minutes ago. Sep 16, 2021 - 20:40 JST")
	_, body = page(t, ts.URL+"/api/v2/incidents/unresolved.json")
	mustContain(t, "JST api", body, `"created_at":"2021-09-16T20:10:00.000+09:00"`, `"time_zone":"Asia/Tokyo"`)
	_, body = page(t, ts.URL+"/history.atom")
	mustContain(t, "JST feed", body, "Sep 16, 20:40 JST")
}

// TestOnlyShowIfDegraded hides an operational component and shows it once
// it is not.
func TestOnlyShowIfDegraded(t *testing.T) {
	cfg := fixtureConfig()
	cfg.Components[3].OnlyShowIfDegraded = true // crl
	cfg.Components[2].OnlyShowIfDegraded = true // ocsp
	d := fixtureData()
	d.StatusLog = append(d.StatusLog, StatusChange{Component: "ocsp", Status: status.DegradedPerformance, At: fixtureNow.Add(-time.Minute)})
	_, ts := newFixtureWith(t, cfg, d)
	_, body := page(t, ts.URL+"/")
	if strings.Contains(body, `data-component="crl"`) {
		t.Error("operational only_show_if_degraded component shown")
	}
	mustContain(t, "/", body, `data-component="ocsp"`, "Degraded Performance")
	_, body = page(t, ts.URL+"/api/v2/components.json")
	mustContain(t, "components.json", body, `"id":"crl"`, `"showcase":false`)
}

// TestServeDuringRebuilds: requests racing snapshot swaps always get one
// whole snapshot's answer (run with -race to check the sharing).
func TestServeDuringRebuilds(t *testing.T) {
	src := &mutableSource{d: fixtureData()}
	cfg := fixtureConfig()
	p, err := New(Options{Config: func() *config.Config { return cfg }, Source: src, Clock: clock.NewFake(fixtureNow)})
	if err != nil {
		t.Fatal(err)
	}
	h := p.Handler()
	ctx := context.Background()
	if err := p.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				path := []string{"/api/v2/incidents/unresolved.json", "/", "/incidents/101", "/history.atom"}[(g+i)%4]
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				body := rec.Body.String()
				switch {
				case path == "/incidents/101" && rec.Code != 200 && rec.Code != 404:
					errs <- fmt.Sprintf("%s: %d", path, rec.Code)
				case path != "/incidents/101" && rec.Code != 200:
					errs <- fmt.Sprintf("%s: %d", path, rec.Code)
				case path == "/api/v2/incidents/unresolved.json" && !strings.HasSuffix(body, "}\n"):
					errs <- "truncated JSON"
				}
			}
		}()
	}
	for i := range 30 {
		if i%2 == 0 {
			src.set(Data{}, nil)
		} else {
			src.set(fixtureData(), nil)
		}
		if err := p.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
