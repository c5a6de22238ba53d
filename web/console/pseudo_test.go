package console

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probed/probed/config"
	"github.com/probed/probed/notify"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
	"github.com/probed/probed/words"
	"github.com/probed/probed/words/wordstest"
)

var (
	pageCode = regexp.MustCompile(`(?s)<code[^>]*>.*?</code>`)
	pagePre  = regexp.MustCompile(`(?s)<pre[^>]*>.*?</pre>`)
)

// With page.languages [xx] (the pseudo-locale: every catalogue text wrapped
// in ⟦ ⟧), every console page an operator sees — login and its error, the
// dashboard with a draft, open incident and maintenance, the incident lists,
// an incident's page with its timeline, the forms, maintenance, the audit
// log, subscribers, the notices after an action — shows no word outside the
// catalogue but data: names, titles and messages the operator typed, token
// names, times, audit actions, commands in <code>.
func TestConsolePseudoLocaleNoFixedTextEscapes(t *testing.T) {
	pseudo, err := wordstest.Pseudo()
	if err != nil {
		t.Fatal(err)
	}
	h := newOpHarnessWords(t, pseudo)
	cfg := *h.cfg
	cfg.Page.Languages = []string{wordstest.Code}
	h.cfg = &cfg
	cfgf := func() *config.Config { return h.cfg }
	subs, err := notify.NewSubscriptions(h.ctx, notify.SubscriptionsOptions{Store: h.st, Config: cfgf, Clock: h.clk, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Close()
	h.srv = httptest.NewTLSServer(New(Options{Config: cfgf, Clock: h.clk, Store: h.st, Engine: h.eng, Subscriptions: subs, Words: pseudo}).Handler())
	t.Cleanup(h.srv.Close)

	data := []string{cfg.Page.Name, "alice", "bob", "alertmanager", "UTC", "en", "ja", wordstest.Code, "Mar", "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Apr"}
	for _, c := range cfg.Leaves() {
		data = append(data, c.Name, c.ID)
	}
	for _, a := range []map[string]any{{"email": "ops@example.com", "components": []string{"ocsp"}}, {"webhook_url": "https://hooks.example.com/x"}} {
		data = append(data, "ops@example.com", "https://hooks.example.com/x")
		if code, body := h.do("alice", "POST", "/api/v1/subscribers", a, nil); code != 201 {
			t.Fatalf("add subscriber = %d %s", code, body)
		}
	}
	// A draft (by the API, unpublished), an incident walked through its
	// statuses, a resolved one, and a maintenance.
	mk := func(title string, publish bool) status.Incident {
		var inc status.Incident
		data = append(data, title, "text of "+title)
		if code, body := h.do("alice", "POST", "/api/v1/incidents", map[string]any{"titles": map[string]string{wordstest.Code: title},
			"messages": map[string]string{wordstest.Code: "text of " + title}, "publish": publish,
			"components": []map[string]string{{"id": "crl", "status": "partial_outage"}}}, &inc); code != 201 {
			t.Fatalf("create = %d %s", code, body)
		}
		return inc
	}
	draft := mk("CRL late draft", false)
	open := mk("OCSP slow open", true)
	closed := mk("TSA gone closed", true)
	for _, st := range []string{status.StatusIdentified, status.StatusMonitoring} {
		data = append(data, "step "+st)
		if code, body := h.do("alice", "POST", fmt.Sprintf("/api/v1/incidents/%d/updates", open.ID), map[string]any{"status": st,
			"messages": map[string]string{wordstest.Code: "step " + st}, "components": []map[string]string{{"id": "ocsp", "status": "degraded_performance"}}}, nil); code != 201 {
			t.Fatalf("update = %d %s", code, body)
		}
	}
	if code, body := h.do("alice", "POST", fmt.Sprintf("/api/v1/incidents/%d/resolve", closed.ID), map[string]any{"messages": map[string]string{wordstest.Code: "fixed"}}, nil); code != 200 {
		t.Fatalf("resolve = %d %s", code, body)
	}
	data = append(data, "fixed", "HSM swap")
	var m status.Incident
	if code, body := h.do("alice", "POST", "/api/v1/maintenances", map[string]any{"titles": map[string]string{wordstest.Code: "HSM swap"}, "components": []string{"timestamp"},
		"scheduled_for": h.clk.Now().Add(time.Hour), "scheduled_until": h.clk.Now().Add(2 * time.Hour)}, &m); code != 201 {
		t.Fatalf("schedule = %d %s", code, body)
	}
	// A maintenance scheduled without a message states its window (the
	// engine's words, in the page's languages it has): data here.
	for _, u := range m.Updates {
		for _, v := range u.Body {
			data = append(data, v)
		}
	}
	// The default update texts are stored in every builtin language: data.
	for _, k := range []string{"default.scheduled", "default.resolved", "default.in_progress", "default.completed"} {
		for _, v := range words.Builtin().Text(k) {
			data = append(data, v)
		}
	}

	// An incident template and a postmortem draft on the resolved
	// incident (their texts are data); straight to the store, as the
	// engine speaks only the builtin catalogues.
	data = append(data, "ocsp-stale", "template title", "template text", "what happened to TSA")
	if _, err := h.st.CreateTemplate(h.ctx, "alice", status.Template{Name: "ocsp-stale", Title: status.Text{wordstest.Code: "template title"},
		Body: status.Text{wordstest.Code: "template text"}, Components: []status.ComponentImpact{{ID: "ocsp", Status: status.PartialOutage}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.SavePostmortem(h.ctx, "alice", closed.ID, status.Text{wordstest.Code: "what happened to TSA"}); err != nil {
		t.Fatal(err)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: h.srv.Client().Transport}
	check := func(name string, resp *http.Response, err error, more ...string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Commands to type and the audit log's JSON before and after are data.
		text := wordstest.PageText(string(b), pageCode, pagePre)
		if !strings.Contains(text, "⟦") {
			t.Errorf("%s (%d): no catalogue text at all:\n%s", name, resp.StatusCode, b)
		}
		if esc := wordstest.Escapes(text, append(more, data...)...); len(esc) > 0 {
			t.Errorf("%s (%d): fixed text outside the catalogue: %q", name, resp.StatusCode, esc)
		}
	}
	// The audit log's actions are its codes (create_draft, approve ...):
	// data on the audit log and an incident's audit table.
	list, err := h.st.ListAudit(h.ctx, store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range list {
		actions = append(actions, e.Action+":", e.Action, e.Detail)
	}
	get := func(path string) {
		resp, err := c.Get(h.srv.URL + path)
		if strings.HasPrefix(path, "/admin/incidents/") {
			check("GET "+path, resp, err, actions...)
			return
		}
		check("GET "+path, resp, err)
	}

	get("/admin/login")
	resp, err := c.PostForm(h.srv.URL+"/admin/login", url.Values{"token": {"pt_not-a-real-token"}})
	check("bad login", resp, err)
	resp, err = c.PostForm(h.srv.URL+"/admin/login", url.Values{"token": {h.tok["alice"]}, "next": {"/admin/"}})
	check("login", resp, err)
	for _, path := range []string{"/admin/", "/admin/incidents", "/admin/incidents?state=draft", "/admin/incidents?state=rejected",
		fmt.Sprintf("/admin/incidents/%d", draft.ID), fmt.Sprintf("/admin/incidents/%d", open.ID), fmt.Sprintf("/admin/incidents/%d", closed.ID),
		fmt.Sprintf("/admin/incidents/%d", m.ID), fmt.Sprintf("/admin/incidents/%d?done=approved", open.ID),
		"/admin/incidents/new", "/admin/maintenance", "/admin/subscribers", "/admin/subscribers?done=added&what=alice",
		"/admin/templates", "/admin/templates/1", "/admin/incidents/new?template=1", "/admin/templates?done=template_deleted&what=ocsp-stale",
		fmt.Sprintf("/admin/incidents/%d?done=postmortem_saved", closed.ID)} {
		get(path)
	}
	// A form posted without its CSRF token: the refusal, in words too.
	resp, err = c.PostForm(h.srv.URL+fmt.Sprintf("/admin/incidents/%d/reject", draft.ID), url.Values{"reason": {"x"}})
	if err == nil && resp.StatusCode != http.StatusForbidden {
		t.Errorf("a form without its CSRF token = %d, want 403", resp.StatusCode)
	}
	check("POST without CSRF", resp, err)
	resp, err = c.Get(h.srv.URL + "/admin/audit")
	check("GET /admin/audit", resp, err, append(actions, "login")...)
}
