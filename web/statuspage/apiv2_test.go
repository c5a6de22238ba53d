package statuspage

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"github.com/probed/probed/status"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/public")

func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAPIv2Golden compares every endpoint with its golden file. Run with
// -update after a deliberate change and read the diff.
func TestAPIv2Golden(t *testing.T) {
	_, ts := newFixture(t)
	for _, route := range apiRoutes {
		t.Run(route.path, func(t *testing.T) {
			resp := get(t, ts.URL+route.path)
			body := readAll(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			golden := filepath.Join("testdata", "public", "api", strings.ReplaceAll(strings.TrimPrefix(route.path, "/api/v2/"), "/", "_"))
			if *update {
				var pretty bytes.Buffer
				json.Indent(&pretty, body, "", "  ")
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("golden file: %v (run go test -run TestAPIv2Golden -update)", err)
			}
			var got bytes.Buffer
			json.Indent(&got, body, "", "  ")
			if got.String() != string(want) {
				t.Errorf("%s differs from %s:\n%s", route.path, golden, got.String())
			}
		})
	}
}

// Keys each documented object must carry (reference/interfaces.md).
var (
	pageKeys      = []string{"id", "name", "url", "time_zone", "updated_at"}
	componentKeys = []string{"id", "name", "status", "created_at", "updated_at", "position", "description", "showcase",
		"start_date", "group_id", "page_id", "group", "only_show_if_degraded"}
	incidentKeys = []string{"id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact",
		"shortlink", "started_at", "page_id", "incident_updates", "components", "reminder_intervals"}
	updateKeys = []string{"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
		"affected_components", "deliver_notifications", "custom_tweet", "tweet_id"}
	maintenanceKeys = append(slices.Clone(incidentKeys), "scheduled_for", "scheduled_until")
)

func hasKeys(t *testing.T, what string, m map[string]any, keys []string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: %v", what, k, m)
		}
	}
}

func checkComponent(t *testing.T, c map[string]any) {
	t.Helper()
	hasKeys(t, "component "+c["id"].(string), c, componentKeys)
	children, has := c["components"]
	if c["group"] == true {
		if !has || len(children.([]any)) == 0 {
			t.Errorf("group %v has no components list", c["id"])
		}
	} else if has {
		t.Errorf("leaf %v has a components key", c["id"])
	}
}

func checkIncident(t *testing.T, inc map[string]any, maintenance bool) {
	t.Helper()
	keys := incidentKeys
	if maintenance {
		keys = maintenanceKeys
		if inc["impact"] != "maintenance" {
			t.Errorf("maintenance %v impact %v", inc["id"], inc["impact"])
		}
	}
	hasKeys(t, "incident "+inc["id"].(string), inc, keys)
	ups := inc["incident_updates"].([]any)
	var prev time.Time
	for i, u := range ups {
		um := u.(map[string]any)
		hasKeys(t, "update", um, updateKeys)
		if um["incident_id"] != inc["id"] {
			t.Errorf("update %v incident_id %v, want %v", um["id"], um["incident_id"], inc["id"])
		}
		at, err := time.Parse(time.RFC3339, um["created_at"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && at.After(prev) {
			t.Errorf("incident %v updates not newest first", inc["id"])
		}
		prev = at
		acs, _ := um["affected_components"].([]any)
		if um["affected_components"] != nil && len(acs) == 0 {
			t.Errorf("update %v: affected_components is %v, want null when nothing changed", um["id"], um["affected_components"])
		}
		for _, ac := range acs {
			hasKeys(t, "affected component", ac.(map[string]any), []string{"code", "name", "old_status", "new_status"})
		}
	}
	for _, c := range inc["components"].([]any) {
		checkComponent(t, c.(map[string]any))
	}
}

// TestAPIv2Shapes checks every endpoint against the documented shapes and
// the fixture's facts: a group with children, an unresolved incident with
// updates, an active and an upcoming maintenance, nothing unpublished.
func TestAPIv2Shapes(t *testing.T) {
	_, ts := newFixture(t)
	decode := func(path string) map[string]any {
		body := readAll(t, get(t, ts.URL+path))
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		hasKeys(t, path+" page", m["page"].(map[string]any), pageKeys)
		for _, banned := range []string{"NEVER-PUBLIC", "never public"} {
			if bytes.Contains(body, []byte(banned)) {
				t.Errorf("%s shows an unpublished record: %s", path, banned)
			}
		}
		return m
	}
	ids := func(list any) []string {
		var out []string
		for _, x := range list.([]any) {
			out = append(out, x.(map[string]any)["id"].(string))
		}
		return out
	}

	st := decode("/api/v2/status.json")["status"].(map[string]any)
	if st["indicator"] != "minor" || st["description"] != "Minor Service Outage" {
		t.Errorf("status = %v, want minor / Minor Service Outage (one partial outage of five components)", st)
	}

	comps := decode("/api/v2/components.json")["components"].([]any)
	if got := ids(comps); !slices.Equal(got, []string{"certcentral", "certcentral-api", "acme", "timestamp", "ocsp", "crl"}) {
		t.Errorf("component order %v", got)
	}
	want := map[string]string{"certcentral": "partial_outage", "certcentral-api": "operational", "acme": "partial_outage",
		"timestamp": "under_maintenance", "ocsp": "operational", "crl": "operational"}
	for _, c := range comps {
		cm := c.(map[string]any)
		checkComponent(t, cm)
		if cm["status"] != want[cm["id"].(string)] {
			t.Errorf("%v status %v, want %v", cm["id"], cm["status"], want[cm["id"].(string)])
		}
		if cm["id"] == "certcentral" && !slices.Equal(toStrings(cm["components"]), []string{"certcentral-api", "acme"}) {
			t.Errorf("group children %v", cm["components"])
		}
		if cm["id"] == "acme" && cm["group_id"] != "certcentral" {
			t.Errorf("acme group_id %v", cm["group_id"])
		}
	}

	incs := decode("/api/v2/incidents.json")["incidents"].([]any)
	if got := ids(incs); !slices.Equal(got, []string{"101", "90"}) {
		t.Errorf("incidents.json ids %v, want [101 90]", got)
	}
	for _, inc := range incs {
		checkIncident(t, inc.(map[string]any), false)
	}
	open := decode("/api/v2/incidents/unresolved.json")["incidents"].([]any)
	if got := ids(open); !slices.Equal(got, []string{"101"}) {
		t.Fatalf("unresolved ids %v", got)
	}
	o := open[0].(map[string]any)
	if o["resolved_at"] != nil || o["status"] != "identified" || len(o["incident_updates"].([]any)) != 3 {
		t.Errorf("unresolved incident %v", o)
	}
	// The middle update did not change the status: the API keeps the status in force.
	if st := o["incident_updates"].([]any)[1].(map[string]any)["status"]; st != "investigating" {
		t.Errorf("unchanged update status %v, want investigating", st)
	}

	all := decode("/api/v2/scheduled-maintenances.json")["scheduled_maintenances"].([]any)
	if got := ids(all); !slices.Equal(got, []string{"301", "300"}) {
		t.Errorf("maintenances %v", got)
	}
	for _, m := range all {
		checkIncident(t, m.(map[string]any), true)
	}
	if got := ids(decode("/api/v2/scheduled-maintenances/upcoming.json")["scheduled_maintenances"]); !slices.Equal(got, []string{"301"}) {
		t.Errorf("upcoming %v", got)
	}
	if got := ids(decode("/api/v2/scheduled-maintenances/active.json")["scheduled_maintenances"]); !slices.Equal(got, []string{"300"}) {
		t.Errorf("active %v", got)
	}

	sum := decode("/api/v2/summary.json")
	for _, k := range []string{"page", "components", "incidents", "scheduled_maintenances", "status"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary lacks %s", k)
		}
	}
	if got := ids(sum["incidents"]); !slices.Equal(got, []string{"101"}) {
		t.Errorf("summary incidents %v", got)
	}
	if got := ids(sum["scheduled_maintenances"]); !slices.Equal(got, []string{"300", "301"}) {
		t.Errorf("summary maintenances %v, want active then upcoming by start", got)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestAPIv2HTTP covers HEAD, CORS, validators and 304s.
func TestAPIv2HTTP(t *testing.T) {
	p, ts := newFixture(t)
	req, _ := http.NewRequest(http.MethodHead, ts.URL+"/api/v2/components.json", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode/100 != 2 || len(body) != 0 {
		t.Fatalf("HEAD components.json: %d, %d body bytes", resp.StatusCode, len(body))
	}
	if resp.Header.Get("Content-Length") == "" || resp.Header.Get("ETag") == "" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("HEAD headers %v", resp.Header)
	}

	for _, route := range apiRoutes {
		resp := get(t, ts.URL+route.path)
		readAll(t, resp)
		etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if etag == "" || lm == "" {
			t.Fatalf("%s: ETag %q Last-Modified %q", route.path, etag, lm)
		}
		lmt, err := http.ParseTime(lm)
		if err != nil || !lmt.Equal(p.Snapshot().Page.UpdatedAt.Truncate(time.Second)) {
			t.Errorf("%s Last-Modified %s, want the page's updated_at %s", route.path, lm, p.Snapshot().Page.UpdatedAt)
		}
		for _, h := range [][]string{{"If-None-Match", etag}, {"If-None-Match", `"other", W/` + etag}, {"If-Modified-Since", lm}} {
			r2 := get(t, ts.URL+route.path, h...)
			if b := readAll(t, r2); r2.StatusCode != http.StatusNotModified || len(b) != 0 {
				t.Errorf("%s with %s: %d, want 304 and no body", route.path, h[0], r2.StatusCode)
			}
		}
		r3 := get(t, ts.URL+route.path, "If-None-Match", `"stale"`)
		if readAll(t, r3); r3.StatusCode != 200 {
			t.Errorf("%s with a stale ETag: %d, want 200", route.path, r3.StatusCode)
		}
		r4 := get(t, ts.URL+route.path, "If-Modified-Since", lmt.Add(-time.Second).Format(http.TimeFormat))
		if readAll(t, r4); r4.StatusCode != 200 {
			t.Errorf("%s modified since: %d, want 200", route.path, r4.StatusCode)
		}
	}

	// gzip: the same JSON, smaller, with its own tag that still validates.
	plain := readAll(t, get(t, ts.URL+"/api/v2/summary.json"))
	zr := get(t, ts.URL+"/api/v2/summary.json", "Accept-Encoding", "gzip")
	zb := readAll(t, zr)
	if zr.Header.Get("Content-Encoding") != "gzip" || len(zb) >= len(plain) {
		t.Fatalf("gzip: encoding %q, %d bytes vs %d", zr.Header.Get("Content-Encoding"), len(zb), len(plain))
	}
	gr, err := gzip.NewReader(bytes.NewReader(zb))
	if err != nil {
		t.Fatal(err)
	}
	unz, _ := io.ReadAll(gr)
	if !bytes.Equal(unz, plain) {
		t.Error("gzip body differs from the plain one")
	}
	rv := get(t, ts.URL+"/api/v2/summary.json", "Accept-Encoding", "gzip", "If-None-Match", zr.Header.Get("ETag"))
	if readAll(t, rv); rv.StatusCode != 304 {
		t.Errorf("gzip ETag revalidation: %d", rv.StatusCode)
	}
	rq := get(t, ts.URL+"/api/v2/summary.json", "Accept-Encoding", "gzip;q=0")
	if readAll(t, rq); rq.Header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 still got gzip")
	}

	// Unknown API paths answer JSON 404 with CORS; preflights are allowed.
	nf := get(t, ts.URL+"/api/v2/nope.json")
	if readAll(t, nf); nf.StatusCode != 404 || nf.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("unknown api path: %d %v", nf.StatusCode, nf.Header)
	}
	opt, _ := http.NewRequest(http.MethodOptions, ts.URL+"/api/v2/summary.json", nil)
	or, err := http.DefaultClient.Do(opt)
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, or); or.StatusCode != 204 || !strings.Contains(or.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("preflight: %d %v", or.StatusCode, or.Header)
	}
	// Nothing public changes state.
	post, err := http.Post(ts.URL+"/api/v2/summary.json", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, post); post.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST summary.json: %d, want 405", post.StatusCode)
	}
}

// TestIndicatorRollup checks the page indicator against Statuspage's rule.
func TestIndicatorRollup(t *testing.T) {
	cfg := fixtureConfig()
	at := fixtureNow.Add(-time.Hour)
	for _, tc := range []struct {
		name        string
		statuses    map[string]string
		impacts     []string
		maintenance bool
		indicator   string
		description string
	}{
		{"all operational", nil, nil, false, "none", "All Systems Operational"},
		{"one degraded", map[string]string{"ocsp": status.DegradedPerformance}, nil, false, "minor", "Partially Degraded Service"},
		{"a partial outage among others", map[string]string{"ocsp": status.PartialOutage, "crl": status.DegradedPerformance}, nil, false, "minor", "Minor Service Outage"},
		{"all partial outage", map[string]string{"ocsp": status.PartialOutage, "crl": status.PartialOutage, "acme": status.PartialOutage,
			"certcentral-api": status.PartialOutage, "timestamp": status.PartialOutage}, nil, false, "major", "Partial System Outage"},
		{"one major outage of five", map[string]string{"acme": status.MajorOutage, "crl": status.PartialOutage}, []string{"critical"}, false, "major", "Partial System Outage"},
		{"all major outage", map[string]string{"ocsp": status.MajorOutage, "crl": status.MajorOutage, "acme": status.MajorOutage,
			"certcentral-api": status.MajorOutage, "timestamp": status.MajorOutage}, nil, false, "critical", "Major System Outage"},
		{"all degraded", map[string]string{"ocsp": status.DegradedPerformance, "crl": status.DegradedPerformance, "acme": status.DegradedPerformance,
			"certcentral-api": status.DegradedPerformance, "timestamp": status.DegradedPerformance}, nil, false, "minor", "Degraded System Service"},
		{"minor incident, components fine", nil, []string{"minor"}, false, "minor", "Minor Service Outage"},
		{"critical incident, components fine", nil, []string{"critical", "minor"}, false, "critical", "Major System Outage"},
		{"components decide over incidents", map[string]string{"ocsp": status.DegradedPerformance}, []string{"critical", "minor"}, false, "minor", "Partially Degraded Service"},
		{"incident with no impact", nil, []string{"none"}, false, "none", "All Systems Operational"},
		{"maintenance only", nil, nil, true, "maintenance", "Service Under Maintenance"},
		{"maintenance and an outage", map[string]string{"ocsp": status.MajorOutage}, nil, true, "major", "Partial System Outage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Now: fixtureNow, Page: cfg.Page, Components: cfg.Components}
			for id, st := range tc.statuses {
				in.StatusLog = append(in.StatusLog, StatusChange{Component: id, Status: st, At: at})
			}
			for i, imp := range tc.impacts {
				in.Records = append(in.Records, Record{ID: int64(i + 1), Kind: status.KindIncident, State: status.StatePublished, Status: "investigating", Impact: imp, CreatedAt: at})
			}
			// A resolved critical incident never counts.
			in.Records = append(in.Records, Record{ID: 99, Kind: status.KindIncident, State: status.StateResolved, Status: "resolved", Impact: "critical", CreatedAt: at})
			if tc.maintenance {
				in.Records = append(in.Records, Record{ID: 50, Kind: status.KindMaintenance, State: status.StatePublished, Status: "in_progress",
					Components: []RecordComponent{{ID: "crl"}}, ScheduledFor: at, ScheduledUntil: fixtureNow.Add(time.Hour), CreatedAt: at})
			}
			s := Build(in)
			if s.Status.Indicator != tc.indicator || s.Status.Description() != tc.description {
				t.Errorf("got %s / %q, want %s / %q", s.Status.Indicator, s.Status.Description(), tc.indicator, tc.description)
			}
		})
	}
}

// TestStatuspageConsumer reads the API the way public Statuspage exporters
// do (sergeyshevch/statuspage-exporter detects a page by HEAD
// components.json, then reads names and statuses; dashboards read the
// indicator, incidents' resolved_at and shortlink, maintenances' window).
func TestStatuspageConsumer(t *testing.T) {
	_, ts := newFixture(t)
	head, err := http.Head(ts.URL + "/api/v2/components.json")
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode < 200 || head.StatusCode > 299 {
		t.Fatalf("detection: HEAD components.json %d", head.StatusCode)
	}
	var exporter struct {
		Page struct {
			Name string `json:"name"`
			URL  string `json:"url"`
		} `json:"page"`
		Components []struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			Status      string `json:"status"`
		} `json:"components"`
		Status struct {
			Indicator string `json:"indicator"`
		}
	}
	if err := json.Unmarshal(readAll(t, get(t, ts.URL+"/api/v2/components.json")), &exporter); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"operational": true, "degraded_performance": true, "partial_outage": true, "major_outage": true, "under_maintenance": true}
	for _, c := range exporter.Components {
		if !known[c.Status] {
			t.Errorf("component %s status %q is not a Statuspage status", c.Name, c.Status)
		}
	}
	if exporter.Page.Name != "Example CA" || len(exporter.Components) != 6 {
		t.Errorf("exporter read %+v", exporter)
	}

	var summary struct {
		Status struct {
			Indicator   string `json:"indicator"`
			Description string `json:"description"`
		} `json:"status"`
		Components []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"components"`
		Incidents []struct {
			ID         string     `json:"id"`
			Name       string     `json:"name"`
			Status     string     `json:"status"`
			Impact     string     `json:"impact"`
			ResolvedAt *time.Time `json:"resolved_at"`
			Shortlink  string     `json:"shortlink"`
			Updates    []struct {
				Body      string    `json:"body"`
				CreatedAt time.Time `json:"created_at"`
			} `json:"incident_updates"`
		} `json:"incidents"`
		Maintenances []struct {
			ID             string    `json:"id"`
			Status         string    `json:"status"`
			ScheduledFor   time.Time `json:"scheduled_for"`
			ScheduledUntil time.Time `json:"scheduled_until"`
		} `json:"scheduled_maintenances"`
	}
	if err := json.Unmarshal(readAll(t, get(t, ts.URL+"/api/v2/summary.json")), &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Status.Indicator != "minor" {
		t.Errorf("indicator %q", summary.Status.Indicator)
	}
	if len(summary.Incidents) != 1 || summary.Incidents[0].ResolvedAt != nil ||
		summary.Incidents[0].Shortlink != "https://status.example.com/incidents/101" || len(summary.Incidents[0].Updates) != 3 {
		t.Errorf("incidents %+v", summary.Incidents)
	}
	if len(summary.Maintenances) != 2 {
		t.Fatalf("maintenances %+v", summary.Maintenances)
	}
	for _, m := range summary.Maintenances {
		if !m.ScheduledUntil.After(m.ScheduledFor) {
			t.Errorf("maintenance %s window %v..%v", m.ID, m.ScheduledFor, m.ScheduledUntil)
		}
	}
	if !summary.Maintenances[0].ScheduledFor.Equal(fixtureNow.Add(-30 * time.Minute)) {
		t.Errorf("active maintenance scheduled_for %v", summary.Maintenances[0].ScheduledFor)
	}
	// The resolved incident's resolved_at reads back as a time.
	var all struct {
		Incidents []struct {
			ID         string     `json:"id"`
			ResolvedAt *time.Time `json:"resolved_at"`
		} `json:"incidents"`
	}
	json.Unmarshal(readAll(t, get(t, ts.URL+"/api/v2/incidents.json")), &all)
	if len(all.Incidents) != 2 || all.Incidents[1].ResolvedAt == nil || !all.Incidents[1].ResolvedAt.Equal(fixtureNow.Add(-72*time.Hour-90*time.Minute)) {
		t.Errorf("resolved incident %+v", all.Incidents)
	}
}

// TestETagStableAcrossRebuilds: a rebuild that changes nothing keeps every
// API ETag, so clients polling with If-None-Match keep getting 304s; a
// change gives new ones.
func TestETagStableAcrossRebuilds(t *testing.T) {
	src := &mutableSource{d: fixtureData()}
	cfg := fixtureConfig()
	p, err := New(Options{Config: func() *config.Config { return cfg }, Source: src, Clock: clock.NewFake(fixtureNow)})
	if err != nil {
		t.Fatal(err)
	}
	tags := func() map[string]string {
		if err := p.Rebuild(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for path, e := range p.cur.Load().fixed {
			out[path] = e.etag
		}
		return out
	}
	a, b := tags(), tags()
	for path := range a {
		if a[path] != b[path] {
			t.Errorf("%s: ETag changed without a change", path)
		}
	}
	d := fixtureData()
	d.Records[0].Updates = append(d.Records[0].Updates, RecordUpdate{ID: 1004, Status: "monitoring", Body: status.Text{"en": "Monitoring."}, CreatedAt: fixtureNow.Add(-time.Minute)})
	src.set(d, nil)
	c := tags()
	if c["/api/v2/summary.json"] == a["/api/v2/summary.json"] || c["/api/v2/status.json"] == a["/api/v2/status.json"] {
		t.Error("a new update kept the old ETags")
	}
}
