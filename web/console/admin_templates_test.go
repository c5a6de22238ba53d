package console

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// consolePost posts a form with the session's client and returns the
// final status and page (redirects followed).
func consolePost(t *testing.T, h *opHarness, c *http.Client, path string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(h.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func consoleGet(t *testing.T, h *opHarness, c *http.Client, path string) (int, string) {
	t.Helper()
	resp, err := c.Get(h.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConsoleTemplates: an operator makes, edits and deletes templates in
// the console (CSRF-protected forms; bad input is shown, not stored) and
// starts an incident from one: the form is filled, edited, and created as
// a draft.
func TestConsoleTemplates(t *testing.T) {
	h := newOpHarness(t)
	c, csrf := consoleLogin(t, h, "bob")
	if code, page := consoleGet(t, h, c, "/admin/templates"); code != 200 || !strings.Contains(page, "No templates yet.") || !strings.Contains(page, `href="/admin/templates" class="on"`) {
		t.Fatalf("empty list = %d\n%s", code, page)
	}
	form := url.Values{"name": {"OCSP stale"}, "title_en": {"OCSP responses are stale"}, "title_ja": {"OCSP 応答が古くなっています"},
		"message_en": {"Some OCSP answers are older than they should be."}, "message_ja": {"一部の OCSP 応答が古くなっています。"},
		"status": {"identified"}, "impact": {""}, "component.ocsp": {"partial_outage"}, "component.crl": {""}}
	if code, _ := consolePost(t, h, c, "/admin/templates", form); code != 403 {
		t.Fatalf("create without the CSRF token = %d, want 403", code)
	}
	bad := url.Values{"csrf": {csrf}, "title_xx": {"?"}}
	for k, v := range form {
		bad[k] = v
	}
	if code, page := consolePost(t, h, c, "/admin/templates", bad); code != 400 || !strings.Contains(page, `language &#34;xx&#34;: probed has words for en, ja`) ||
		!strings.Contains(page, `value="OCSP responses are stale"`) {
		t.Fatalf("create in an unknown language = %d (want 400, the error and the form kept)\n%s", code, page)
	}
	form.Set("csrf", csrf)
	code, page := consolePost(t, h, c, "/admin/templates", form)
	if code != 200 || !strings.Contains(page, "Done: template created.") || !strings.Contains(page, `<option value="partial_outage" selected>`) {
		t.Fatalf("create = %d\n%s", code, page)
	}
	tpl, err := h.st.TemplateNamed(h.ctx, "OCSP stale")
	if err != nil || tpl.Status != status.StatusIdentified || tpl.Impact != "" || len(tpl.Components) != 1 || tpl.Title["ja"] != "OCSP 応答が古くなっています" {
		t.Fatalf("stored template %+v, %v", tpl, err)
	}
	if code, page := consolePost(t, h, c, "/admin/templates", form); code != 409 || !strings.Contains(page, "the name is taken") {
		t.Fatalf("a second template of the same name = %d\n%s", code, page)
	}

	// New incident from it: the form is filled; the operator edits the title and creates a draft.
	code, page = consoleGet(t, h, c, "/admin/incidents/new?template=1")
	for _, want := range []string{"Filled from the template OCSP stale", `value="OCSP responses are stale"`, "一部の OCSP 応答が古くなっています。",
		`<option value="identified" selected>`, `<option value="1" selected>OCSP stale</option>`, `<input type="hidden" name="template" value="1">`} {
		if !strings.Contains(page, want) {
			t.Errorf("new incident from the template lacks %q", want)
		}
	}
	if code != 200 || !strings.Contains(page, `<select name="component.ocsp" aria-label="status of ocsp"><option value="">not affected</option><option value="operational" >Operational</option><option value="degraded_performance" >Degraded Performance</option><option value="partial_outage" selected>`) {
		t.Fatalf("new incident from the template = %d: component not preselected\n%s", code, page)
	}
	if code, page := consoleGet(t, h, c, "/admin/incidents/new?template=9"); code != 404 {
		t.Fatalf("unknown template = %d\n%s", code, page)
	}
	if code, page := consolePost(t, h, c, "/admin/incidents", url.Values{"csrf": {csrf}, "template": {"1"}, "title_en": {""}, "message_en": {"x"}}); code != 400 ||
		!strings.Contains(page, "title is empty") || !strings.Contains(page, `<input type="hidden" name="template" value="1">`) {
		t.Fatalf("a refused incident from a template = %d (want 400, the form still naming its template)\n%s", code, page)
	}
	inc := url.Values{"csrf": {csrf}, "template": {"1"}, "title_en": {"OCSP responses from Tokyo are stale"}, "title_ja": {form.Get("title_ja")},
		"message_en": {form.Get("message_en")}, "status": {"identified"}, "impact": {""}, "component.ocsp": {"partial_outage"}}
	if code, page := consolePost(t, h, c, "/admin/incidents", inc); code != 200 || !strings.Contains(page, "Done: created.") {
		t.Fatalf("create incident = %d\n%s", code, page)
	}
	d, err := h.st.GetIncident(h.ctx, 1)
	if err != nil || d.State != status.StateDraft || d.Title["en"] != "OCSP responses from Tokyo are stale" || d.Status != status.StatusIdentified || d.Component("ocsp") == nil {
		t.Fatalf("incident from template %+v, %v", d, err)
	}
	if audit, _ := h.st.ListAudit(h.ctx, store.AuditFilter{IncidentID: 1}); len(audit) != 1 || audit[0].Detail != "manual; from template OCSP stale" {
		t.Fatalf("the incident's audit does not name its template: %+v", audit)
	}

	// Edit: a language the form does not show (set through the API) is kept.
	if _, err := h.eng.UpdateTemplate(h.ctx, "alice", tpl.ID, status.Template{Name: tpl.Name, Title: status.Text{"en": "OCSP responses are stale", "ja": tpl.Title["ja"]},
		Body: tpl.Body, Status: tpl.Status, Components: tpl.Components}); err != nil {
		t.Fatal(err)
	}
	form.Set("impact", "major")
	form.Set("component.crl", "degraded_performance")
	form.Set("title_ja", "")
	if code, page := consolePost(t, h, c, "/admin/templates/1/edit", form); code != 200 || !strings.Contains(page, "Done: template saved.") {
		t.Fatalf("edit = %d\n%s", code, page)
	}
	if tpl, _ = h.st.GetTemplate(h.ctx, 1); tpl.Impact != "major" || len(tpl.Components) != 2 || tpl.Title.Has("ja") {
		t.Fatalf("edited template %+v (a blank language removes it)", tpl)
	}
	if code, page := consolePost(t, h, c, "/admin/templates/1/delete", url.Values{"csrf": {csrf}}); code != 200 || !strings.Contains(page, "Done: template OCSP stale deleted.") {
		t.Fatalf("delete = %d\n%s", code, page)
	}
	if list, _ := h.st.ListTemplates(h.ctx); len(list) != 0 {
		t.Fatalf("after delete: %+v", list)
	}
}

// TestConsolePostmortem: the postmortem form shows only on resolved
// incidents; saving keeps a private draft previewed as text; publishing is
// a separate, CSRF-protected step that publishes what the preview showed.
func TestConsolePostmortem(t *testing.T) {
	h := newOpHarness(t)
	inc, err := h.eng.CreateIncident(h.ctx, "alice", status.NewIncident{Title: status.Text{"en": "CRL late"}, Body: status.Text{"en": "Looking."},
		Components: []status.ComponentImpact{{ID: "crl", Status: status.MajorOutage}}, Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	c, csrf := consoleLogin(t, h, "bob")
	path := "/admin/incidents/1"
	if _, page := consoleGet(t, h, c, path); strings.Contains(page, `id="postmortem"`) {
		t.Fatal("the postmortem form shows on an open incident")
	}
	text := url.Values{"csrf": {csrf}, "postmortem_en": {"The signer's HSM rebooted <b>twice</b>.\n\nWe added a second one."}, "postmortem_ja": {"HSM が再起動しました。"}}
	if code, page := consolePost(t, h, c, path+"/postmortem", text); code != 409 || !strings.Contains(page, "a postmortem is written once the incident is resolved") {
		t.Fatalf("postmortem of an open incident = %d\n%s", code, page)
	}
	if _, err := h.eng.Resolve(h.ctx, "alice", inc.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, page := consoleGet(t, h, c, path); !strings.Contains(page, `id="postmortem"`) || !strings.Contains(page, "No postmortem yet.") || strings.Contains(page, "/publish_postmortem") {
		t.Fatalf("resolved incident page:\n%s", page)
	}
	if code, _ := consolePost(t, h, c, path+"/postmortem", url.Values{"postmortem_en": {"x"}}); code != 403 {
		t.Fatalf("save without the CSRF token = %d", code)
	}
	code, page := consolePost(t, h, c, path+"/postmortem", text)
	if code != 200 || !strings.Contains(page, "Done: postmortem draft saved") || !strings.Contains(page, "Draft, not public.") ||
		!strings.Contains(page, "rebooted &lt;b&gt;twice&lt;/b&gt;.\n\nWe added") || !strings.Contains(page, `class="prose" lang="ja"`) || !strings.Contains(page, "Publish the postmortem") {
		t.Fatalf("save = %d\n%s", code, page)
	}
	if got, _ := h.st.GetIncident(h.ctx, 1); got.Postmortem.Published() {
		t.Fatal("saving a draft published it")
	}
	if code, _ := consolePost(t, h, c, path+"/publish_postmortem", url.Values{}); code != 403 {
		t.Fatalf("publish without the CSRF token = %d", code)
	}
	code, page = consolePost(t, h, c, path+"/publish_postmortem", url.Values{"csrf": {csrf}})
	if code != 200 || !strings.Contains(page, "Done: postmortem published") || !strings.Contains(page, "Published 2026-03-01") || strings.Contains(page, "/publish_postmortem") {
		t.Fatalf("publish = %d\n%s", code, page)
	}
	got, _ := h.st.GetIncident(h.ctx, 1)
	if !got.Postmortem.Published() || got.Postmortem.Body["ja"] != "HSM が再起動しました。" {
		t.Fatalf("published %+v", got.Postmortem)
	}
	// An edit of the English text keeps the Japanese and waits for publishing.
	if code, page := consolePost(t, h, c, path+"/postmortem", url.Values{"csrf": {csrf}, "postmortem_en": {"Revised."}}); code != 200 ||
		!strings.Contains(page, "the draft below has changes not yet published") || !strings.Contains(page, "Publish the changes") {
		t.Fatalf("edit after publishing = %d\n%s", code, page)
	}
	got, _ = h.st.GetIncident(h.ctx, 1)
	if got.Postmortem.Body["en"] == "Revised." || got.Postmortem.Draft["ja"] != "HSM が再起動しました。" {
		t.Fatalf("after editing: %+v", got.Postmortem)
	}
	// Published again with the "notify subscribers" box ticked.
	if code, page := consolePost(t, h, c, path+"/publish_postmortem", url.Values{"csrf": {csrf}, "notify": {"1"}}); code != 200 || !strings.Contains(page, "Done: postmortem published") {
		t.Fatalf("republish with notify = %d\n%s", code, page)
	}
	if got, _ = h.st.GetIncident(h.ctx, 1); got.Postmortem.Body["en"] != "Revised." || !got.Postmortem.NotifiedSubscribers {
		t.Fatalf("republished: %+v", got.Postmortem)
	}
	_, page = consoleGet(t, h, c, path)
	for _, want := range []string{"postmortem_draft", "publish_postmortem: published; published without notifying subscribers", "publish_postmortem: republished; subscribers notified"} {
		if !strings.Contains(page, want) {
			t.Errorf("the incident's audit lacks %q", want)
		}
	}
}
