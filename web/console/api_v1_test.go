package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/probed/probed/status"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/incident"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
	"github.com/probed/probed/words"
)

const opConfig = `
page: {name: Example CA, url: https://status.example.com, time_zone: UTC}
components:
  - {id: ocsp, name: OCSP}
  - {id: crl, name: CRL}
  - {id: timestamp, name: Timestamp}
probes:
  - {name: crl, component: crl, kind: http, http: {url: "http://127.0.0.1:1/crl"}}
incidents: {failures_to_open: 2, successes_to_close: 2}
`

type opHarness struct {
	t   testing.TB
	ctx context.Context
	clk *clock.Fake
	cfg *config.Config
	st  *store.Store
	eng *incident.Engine
	srv *httptest.Server
	tok map[string]string
}

func newOpHarness(t testing.TB) *opHarness {
	t.Helper()
	return newOpHarnessWords(t, nil)
}

// newOpHarnessWords is newOpHarness with the console speaking cat (nil:
// the builtin catalogue).
func newOpHarnessWords(t testing.TB, cat *words.Catalogue) *opHarness {
	t.Helper()
	return newOpHarnessWith(t, cat, 0)
}

// newOpHarnessWith is newOpHarnessWords with the store's busy timeout (0:
// the store's default).
func newOpHarnessWith(t testing.TB, cat *words.Catalogue, busy time.Duration) *opHarness {
	t.Helper()
	h := &opHarness{t: t, ctx: context.Background(), clk: clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)), tok: map[string]string{}}
	dir := t.TempDir()
	path := filepath.Join(dir, "probes.yaml")
	if err := os.WriteFile(path, []byte(opConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if h.cfg, err = config.Load(path, probes.Kinds()); err != nil {
		t.Fatal(err)
	}
	if h.st, err = store.Open(h.ctx, store.Options{Path: h.cfg.Storage.Path, Clock: h.clk, BusyTimeout: busy}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.st.Close() })
	if h.eng, err = incident.New(h.ctx, incident.Options{Store: h.st, Config: func() *config.Config { return h.cfg }, Clock: h.clk}); err != nil {
		t.Fatal(err)
	}
	s := New(Options{Config: func() *config.Config { return h.cfg }, Clock: h.clk, Store: h.st, Engine: h.eng, Words: cat})
	h.srv = httptest.NewTLSServer(s.Handler())
	t.Cleanup(h.srv.Close)
	for _, name := range []string{"alice", "bob", "alertmanager"} {
		if h.tok[name], err = h.st.CreateToken(h.ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// do sends a request as a token's owner ("" = no token) and decodes JSON
// into out when given; it returns the status and raw body.
func (h *opHarness) do(who, method, path string, body any, out any) (int, string) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	if who != "" {
		tok := h.tok[who]
		if tok == "" {
			tok = who // a literal (bad) token
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

func (h *opHarness) failCRL(n int) {
	for range n {
		r := probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: "default", Start: h.clk.Now(), Duration: time.Millisecond,
			Checks: []probes.Check{{Name: "crl_next_update", Message: "nextUpdate passed 1h ago", Evidence: map[string]string{"next_update": "2026-03-01T08:00:00Z"}}}}
		if err := h.eng.Record(h.ctx, r); err != nil {
			h.t.Fatal(err)
		}
		h.clk.Advance(time.Minute)
	}
}

func TestOperatorAPIAuth(t *testing.T) {
	h := newOpHarness(t)
	for _, tc := range []struct {
		name, who, method, path string
		want                    int
	}{
		{"no token", "", "GET", "/api/v1/incidents", 401},
		{"bad token", "probed_notarealtoken", "GET", "/api/v1/incidents", 401},
		{"not a probed token", "hunter2", "POST", "/api/v1/incidents/1/approve", 401},
		{"no token on alertmanager", "", "POST", "/api/v1/alertmanager", 401},
		{"no token on audit", "", "GET", "/api/v1/audit", 401},
		{"good token", "alice", "GET", "/api/v1/incidents", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := h.do(tc.who, tc.method, tc.path, nil, nil)
			if code != tc.want {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, code, body, tc.want)
			}
			if code == 401 && !strings.Contains(body, `"error"`) {
				t.Errorf("401 body %q has no error message", body)
			}
		})
	}
	req, _ := http.NewRequest("GET", h.srv.URL+"/api/v1/incidents", nil)
	req.Header.Set("Authorization", "Basic YWxpY2U6eA==")
	resp, _ := h.srv.Client().Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("basic auth = %d %q, want 401 with WWW-Authenticate", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestApproveRejectAndAuditOverAPI(t *testing.T) {
	h := newOpHarness(t)
	h.failCRL(2)
	var drafts []status.Incident
	if code, body := h.do("alice", "GET", "/api/v1/incidents?state=draft", nil, &drafts); code != 200 || len(drafts) != 1 {
		t.Fatalf("drafts = %d %s", code, body)
	}
	d := drafts[0]
	var raw map[string]any
	if code, body := h.do("alice", "GET", "/api/v1/incidents/1", nil, &raw); code != 200 {
		t.Fatalf("get = %d %s", code, body)
	}
	for _, k := range []string{"id", "state", "status", "impact", "title", "components", "updates", "evidence", "created_at", "published_at", "resolved_at"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("incident JSON lacks %q (SPEC §4): %v", k, raw)
		}
	}
	if ev := raw["evidence"].([]any); len(ev) != 1 || ev[0].(map[string]any)["check"] != "crl_next_update" {
		t.Errorf("evidence = %v", raw["evidence"])
	}
	// Edit, then approve: the public status changes.
	var edited status.Incident
	if code, body := h.do("bob", "PATCH", "/api/v1/incidents/1", map[string]any{"title": "CRL not refreshed", "message": "The CRL is stale; we are on it.",
		"components": []map[string]string{{"id": "crl", "status": "partial_outage"}}}, &edited); code != 200 || edited.Title["en"] != "CRL not refreshed" {
		t.Fatalf("edit = %d %s", code, body)
	}
	if code, body := h.do("bob", "PATCH", "/api/v1/incidents/1", `{"title": "x", "colour": "red"}`, nil); code != 400 || !strings.Contains(body, "colour") {
		t.Fatalf("unknown field = %d %s", code, body)
	}
	if code, body := h.do("bob", "PATCH", "/api/v1/incidents/1", map[string]any{"components": []map[string]string{{"id": "nope", "status": "major_outage"}}}, nil); code != 400 || !strings.Contains(body, "unknown component") {
		t.Fatalf("unknown component = %d %s", code, body)
	}
	if st, _ := h.st.ComponentStatuses(h.ctx); st["crl"].Status != status.Operational {
		t.Fatalf("draft public status = %s", st["crl"].Status)
	}
	var pub status.Incident
	if code, body := h.do("alice", "POST", "/api/v1/incidents/1/approve", nil, &pub); code != 200 || pub.State != "published" || pub.PublishedAt == nil {
		t.Fatalf("approve = %d %s", code, body)
	}
	if st, _ := h.st.ComponentStatuses(h.ctx); st["crl"].Status != status.PartialOutage {
		t.Fatalf("after approve crl = %s", st["crl"].Status)
	}
	if code, _ := h.do("alice", "POST", "/api/v1/incidents/1/approve", nil, nil); code != 409 {
		t.Fatalf("second approve = %d, want 409", code)
	}
	if code, _ := h.do("alice", "GET", "/api/v1/incidents/999", nil, nil); code != 404 {
		t.Fatalf("missing = %d", code)
	}
	var upd status.Incident
	if code, body := h.do("bob", "POST", "/api/v1/incidents/1/updates", map[string]any{"status": "identified", "message": "A signer job stalled.", "message_ja": "署名ジョブが停止していました。", "notify": true}, &upd); code != 201 || upd.Status != "identified" || upd.Updates[0].Body["ja"] == "" {
		t.Fatalf("update = %d %s", code, body)
	}
	if code, body := h.do("bob", "POST", "/api/v1/incidents/1/updates", map[string]any{"status": "fixed", "message": "x"}, nil); code != 400 || !strings.Contains(body, "status") {
		t.Fatalf("bad status = %d %s", code, body)
	}
	var res status.Incident
	if code, body := h.do("alice", "POST", "/api/v1/incidents/1/resolve", map[string]any{"message": "Fixed."}, &res); code != 200 || res.State != "resolved" || res.ResolvedAt == nil {
		t.Fatalf("resolve = %d %s", code, body)
	}
	// A second outage, rejected: nothing public changes.
	h.clk.Advance(time.Hour)
	for range 2 {
		if err := h.eng.Record(h.ctx, probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: "default", Start: h.clk.Now(), Success: true}); err != nil {
			t.Fatal(err)
		}
	}
	h.failCRL(2)
	h.do("alice", "GET", "/api/v1/incidents?state=draft", nil, &drafts)
	if len(drafts) != 1 || drafts[0].ID == d.ID {
		t.Fatalf("second draft = %+v", drafts)
	}
	events, _ := h.st.PendingEvents(h.ctx, 100)
	var rej status.Incident
	if code, body := h.do("bob", "POST", "/api/v1/incidents/2/reject", map[string]string{"reason": "test CA"}, &rej); code != 200 || rej.State != "rejected" || rej.Reason != "test CA" {
		t.Fatalf("reject = %d %s", code, body)
	}
	if st, _ := h.st.ComponentStatuses(h.ctx); st["crl"].Status != status.Operational {
		t.Fatalf("after reject crl = %s", st["crl"].Status)
	}
	if after, _ := h.st.PendingEvents(h.ctx, 100); len(after) != len(events) {
		t.Fatalf("reject queued %d events", len(after)-len(events))
	}
	// Create by hand and publish at once.
	var manual status.Incident
	if code, body := h.do("alice", "POST", "/api/v1/incidents", map[string]any{"title": "Portal slow", "message": "Investigating.", "publish": true,
		"components": []map[string]string{{"id": "ocsp", "status": "degraded_performance"}}}, &manual); code != 201 || manual.State != "published" || manual.Origin != "manual" {
		t.Fatalf("create = %d %s", code, body)
	}
	if code, body := h.do("alice", "POST", "/api/v1/incidents", `{"title": ""}`, nil); code != 400 || !strings.Contains(body, "title") {
		t.Fatalf("empty title = %d %s", code, body)
	}
	var audit []store.AuditEntry
	if code, body := h.do("alice", "GET", "/api/v1/audit?limit=100", nil, &audit); code != 200 {
		t.Fatalf("audit = %d %s", code, body)
	}
	var got []string
	for i := len(audit) - 1; i >= 0; i-- {
		a := audit[i]
		if a.Actor == "probed" || a.Action == "create_token" {
			continue
		}
		got = append(got, a.Actor+":"+a.Action)
		if a.IncidentID != 0 && (a.After == nil) {
			t.Errorf("audit %s has no after-state", a.Action)
		}
	}
	want := "bob:edit_draft alice:approve bob:post_update alice:resolve bob:reject alice:create_draft alice:approve"
	if strings.Join(got, " ") != want {
		t.Fatalf("audit = %v\nwant   %s", got, want)
	}
}

func TestMaintenanceOverAPI(t *testing.T) {
	h := newOpHarness(t)
	start := h.clk.Now().Add(time.Hour)
	var m status.Incident
	body := map[string]any{"title": "HSM swap", "components": []string{"timestamp"}, "scheduled_for": start, "scheduled_until": start.Add(time.Hour)}
	if code, raw := h.do("alice", "POST", "/api/v1/maintenances", body, &m); code != 201 || m.Status != "scheduled" || m.Kind != "maintenance" {
		t.Fatalf("schedule = %d %s", code, raw)
	}
	if code, raw := h.do("alice", "POST", "/api/v1/maintenances", map[string]any{"title": "x", "components": []string{"timestamp"}, "scheduled_for": start, "scheduled_until": start.Add(-time.Hour)}, nil); code != 400 || !strings.Contains(raw, "not after start") {
		t.Fatalf("backwards window = %d %s", code, raw)
	}
	var list []status.Incident
	h.do("alice", "GET", "/api/v1/maintenances?state=published", nil, &list)
	if len(list) != 1 {
		t.Fatalf("list = %+v", list)
	}
	if code, _ := h.do("alice", "GET", "/api/v1/incidents/1", nil, nil); code != 404 {
		t.Fatalf("a maintenance under /incidents = %d, want 404", code)
	}
	h.clk.Set(start)
	if err := h.eng.Tick(h.ctx); err != nil {
		t.Fatal(err)
	}
	if code, raw := h.do("alice", "POST", "/api/v1/maintenances/1/verifying", nil, &m); code != 200 || m.Status != "verifying" {
		t.Fatalf("verifying = %d %s", code, raw)
	}
	if code, raw := h.do("alice", "POST", "/api/v1/maintenances/1/cancel", map[string]string{"reason": "done early"}, &m); code != 200 || m.Status != "completed" {
		t.Fatalf("cancel running = %d %s", code, raw)
	}
	if code, _ := h.do("alice", "POST", "/api/v1/maintenances/1/explode", nil, nil); code != 404 {
		t.Fatalf("unknown action = %d", code)
	}
}

// consoleLogin logs in through the form and returns a client holding the
// session cookie and the page's CSRF token.
func consoleLogin(t *testing.T, h *opHarness, who string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: h.srv.Client().Transport}
	resp, err := c.PostForm(h.srv.URL+"/admin/login", url.Values{"token": {h.tok[who]}, "next": {"/admin/"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "signed in as <strong>"+who) {
		t.Fatalf("login = %d\n%s", resp.StatusCode, page)
	}
	u, _ := url.Parse(h.srv.URL)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == SessionCookie && ck.Value == "" {
			t.Fatal("empty session cookie")
		}
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(page))
	if m == nil {
		t.Fatal("no CSRF token on the console page")
	}
	return c, m[1]
}

func TestConsoleLoginCookieAndCSRF(t *testing.T) {
	h := newOpHarness(t)
	h.failCRL(2)
	// The cookie's attributes.
	resp, err := (&http.Client{Transport: h.srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).PostForm(h.srv.URL+"/admin/login", url.Values{"token": {h.tok["alice"]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Secure", "Path=/"} {
		if !strings.Contains(sc, attr) {
			t.Errorf("Set-Cookie %q lacks %s (page URL is https)", sc, attr)
		}
	}
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login status = %d, want 303", resp.StatusCode)
	}
	// A wrong token is refused with a message.
	resp, _ = h.srv.Client().PostForm(h.srv.URL+"/admin/login", url.Values{"token": {"probed_wrong"}})
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(page), "not valid") {
		t.Fatalf("bad login = %d", resp.StatusCode)
	}
	// Without a session the console redirects to the login page.
	resp, _ = (&http.Client{Transport: h.srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(h.srv.URL + "/admin/incidents/1")
	resp.Body.Close()
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login?next=") {
		t.Fatalf("anonymous console = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	c, csrf := consoleLogin(t, h, "bob")
	// The dashboard shows the draft with its evidence.
	resp, _ = c.Get(h.srv.URL + "/admin/")
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"crl_next_update", "nextUpdate passed 1h ago", "Approve and publish", "/admin/subscribers"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	post := func(c *http.Client, path string, form url.Values, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	// A form post without the CSRF token, and a cross-origin one with it, are refused.
	if code, _ := post(c, "/admin/incidents/1/approve", url.Values{}, nil); code != 403 {
		t.Fatalf("approve without CSRF token = %d, want 403", code)
	}
	if code, _ := post(c, "/admin/incidents/1/approve", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}); code != 403 {
		t.Fatalf("cross-site approve = %d, want 403", code)
	}
	if code, _ := post(c, "/admin/incidents/1/approve", url.Values{"csrf": {csrf}}, map[string]string{"Origin": "https://evil.example"}); code != 403 {
		t.Fatalf("cross-origin approve = %d, want 403", code)
	}
	if inc, _ := h.st.GetIncident(h.ctx, 1); inc.State != status.StateDraft {
		t.Fatalf("a refused post changed the draft: %s", inc.State)
	}
	// The API with the cookie needs the token too.
	req, _ := http.NewRequest("POST", h.srv.URL+"/api/v1/incidents/1/approve", nil)
	resp, _ = c.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("API approve with cookie but no X-CSRF-Token = %d", resp.StatusCode)
	}
	// Edit then approve through the console forms.
	form := url.Values{"csrf": {csrf}, "title": {"CRL stale"}, "title_ja": {"CRLの更新遅延"}, "impact": {"major"}, "status": {"identified"},
		"message": {"The CRL was not refreshed."}, "message_ja": {"CRLが更新されていません。"}, "component.crl": {"partial_outage"}}
	if code, body := post(c, "/admin/incidents/1/edit", form, nil); code != 200 || !strings.Contains(body, "draft saved") {
		t.Fatalf("edit = %d %s", code, body)
	}
	if code, body := post(c, "/admin/incidents/1/approve", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "same-origin"}); code != 200 || !strings.Contains(body, "approved and published") {
		t.Fatalf("approve = %d %s", code, body)
	}
	inc, _ := h.st.GetIncident(h.ctx, 1)
	if inc.State != status.StatePublished || inc.Status != "identified" || inc.Title["ja"] != "CRLの更新遅延" || inc.Components[0].Status != "partial_outage" {
		t.Fatalf("published = %+v", inc)
	}
	if code, body := post(c, "/admin/incidents/1/approve", url.Values{"csrf": {csrf}}, nil); code != 409 || !strings.Contains(body, "not a draft") {
		t.Fatalf("approve twice = %d", code)
	}
	// Maintenance through the console, in the page's time zone.
	mform := url.Values{"csrf": {csrf}, "title": {"TSA maintenance"}, "start": {"2026-03-02T01:00"}, "end": {"2026-03-02T03:00"}, "components": {"timestamp"}}
	if code, body := post(c, "/admin/maintenance", mform, nil); code != 200 || !strings.Contains(body, "maintenance scheduled") {
		t.Fatalf("schedule = %d %s", code, body)
	}
	mform.Set("end", "yesterday")
	if code, body := post(c, "/admin/maintenance", mform, nil); code != 400 || !strings.Contains(body, "want a date and time") {
		t.Fatalf("bad end = %d", code)
	}
	if m, err := h.st.GetIncident(h.ctx, 2); err != nil || m.Status != status.StatusScheduled {
		t.Fatalf("maintenance 2: %v %+v", err, m)
	}
	for _, p := range []string{"/admin/", "/admin/maintenance", "/admin/audit", "/admin/incidents", "/admin/incidents/new", "/admin/incidents/2"} {
		resp, _ := c.Get(h.srv.URL + p)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d\n%s", p, resp.StatusCode, b)
		}
		// The window is only scheduled: no component reads under maintenance.
		if strings.Contains(string(b), `class="s-under_maintenance"`) {
			t.Errorf("GET %s shows a component under maintenance before the window starts", p)
		}
	}
	audit, _ := h.st.ListAudit(h.ctx, store.AuditFilter{Actor: "bob"})
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action)
	}
	if strings.Join(actions, ",") != "schedule_maintenance,approve,edit_draft,login,create_token" {
		t.Fatalf("bob's audit = %v", actions)
	}
	// Logging out ends the session.
	if code, _ := post(c, "/admin/logout", url.Values{"csrf": {csrf}}, nil); code != 200 {
		t.Fatalf("logout = %d", code)
	}
	resp, _ = c.Get(h.srv.URL + "/api/v1/incidents")
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("after logout = %d", resp.StatusCode)
	}
}

// BenchmarkAPIListDrafts: an authenticated GET /api/v1/incidents?state=draft
// over loopback TLS with 20 drafts, each with evidence (rerun with
// go test -run '^$' -bench API -benchmem ./web/).
func BenchmarkAPIListDrafts(b *testing.B) {
	h := newOpHarness(b)
	for i := range 20 {
		if _, err := h.eng.CreateIncident(h.ctx, "alice", status.NewIncident{Title: status.Text{"en": fmt.Sprintf("draft %d", i)}, Body: status.Text{"en": "Investigating."},
			Components: []status.ComponentImpact{{ID: "crl", Status: status.MajorOutage}}}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		var list []status.Incident
		if code, body := h.do("alice", "GET", "/api/v1/incidents?state=draft", nil, &list); code != 200 || len(list) != 20 {
			b.Fatalf("= %d %s", code, body)
		}
	}
}
