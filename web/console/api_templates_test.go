package console

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/probed/probed/status"
)

// TestTemplatesOverAPI: operators keep templates through /api/v1/templates
// (bad components, languages, impacts and names are clear 4xx and store
// nothing), and an incident started from one is pre-filled, a draft the
// operator can still edit before approving it.
func TestTemplatesOverAPI(t *testing.T) {
	h := newOpHarness(t)
	if code, body := h.do("", "GET", "/api/v1/templates", nil, nil); code != 401 {
		t.Fatalf("templates without a token = %d %s", code, body)
	}
	req := TemplateRequest{Name: "OCSP stale", Title: "OCSP responses are stale", TitleJA: "OCSP 応答が古くなっています",
		Message: "Some OCSP answers are older than they should be.", Messages: status.Text{"ja": "一部の OCSP 応答が古くなっています。"},
		Impact: "major", Components: []status.ComponentImpact{{ID: "ocsp", Status: status.PartialOutage}}}
	var tpl status.Template
	if code, body := h.do("alice", "POST", "/api/v1/templates", req, &tpl); code != 201 || tpl.ID == 0 || tpl.Title["ja"] != req.TitleJA ||
		tpl.Body["ja"] == "" || tpl.Status != status.StatusInvestigating || len(tpl.Components) != 1 {
		t.Fatalf("create = %d %s", code, body)
	}
	for _, tc := range []struct {
		name string
		body any
		code int
		want string
	}{
		{"unknown component", TemplateRequest{Name: "x", Title: "T", Message: "M", Components: []status.ComponentImpact{{ID: "nope", Status: "major_outage"}}}, 400, `unknown component "nope"`},
		{"unknown language", TemplateRequest{Name: "x", Title: "T", Message: "M", Titles: status.Text{"xx": "?"}}, 400, `language "xx": probed has words for en, ja`},
		{"bad impact", TemplateRequest{Name: "x", Title: "T", Message: "M", Impact: "huge"}, 400, `impact "huge"`},
		{"bad status", TemplateRequest{Name: "x", Title: "T", Message: "M", Status: "resolved"}, 400, `status "resolved"`},
		{"bad component status", TemplateRequest{Name: "x", Title: "T", Message: "M", Components: []status.ComponentImpact{{ID: "crl", Status: "down"}}}, 400, `status "down"`},
		{"no title", TemplateRequest{Name: "x", Message: "M"}, 400, "title is empty"},
		{"no name", TemplateRequest{Title: "T", Message: "M"}, 400, "name is empty"},
		{"name taken", req, 409, `the name is taken by template 1`},
		{"unknown field", `{"name": "x", "colour": "red"}`, 400, "colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := h.do("alice", "POST", "/api/v1/templates", tc.body, nil); code != tc.code || !strings.Contains(errorOf(body), tc.want) {
				t.Fatalf("= %d %s, want %d with %q", code, body, tc.code, tc.want)
			}
		})
	}
	var list []status.Template
	if code, body := h.do("bob", "GET", "/api/v1/templates", nil, &list); code != 200 || len(list) != 1 {
		t.Fatalf("list = %d %s (refused templates must not be stored)", code, body)
	}

	// Replace it whole; unknown ids are 404.
	req.Impact, req.Components = "", []status.ComponentImpact{{ID: "ocsp", Status: status.PartialOutage}, {ID: "crl", Status: status.DegradedPerformance}}
	if code, body := h.do("bob", "PUT", "/api/v1/templates/1", req, &tpl); code != 200 || tpl.Impact != "" || len(tpl.Components) != 2 {
		t.Fatalf("update = %d %s", code, body)
	}
	if code, body := h.do("bob", "PUT", "/api/v1/templates/9", req, nil); code != 404 {
		t.Fatalf("update of no template = %d %s", code, body)
	}
	if code, body := h.do("bob", "GET", "/api/v1/templates/x", nil, nil); code != 400 || !strings.Contains(body, "not a positive number") {
		t.Fatalf("get by a bad id = %d %s", code, body)
	}

	// Start an incident from it by name: a pre-filled draft; given fields win.
	var inc status.Incident
	if code, body := h.do("alice", "POST", "/api/v1/incidents", CreateIncidentRequest{Template: "OCSP stale", Title: "OCSP answers from Tokyo are stale"}, &inc); code != 201 {
		t.Fatalf("create from template = %d %s", code, body)
	}
	if inc.State != status.StateDraft || inc.Title["en"] != "OCSP answers from Tokyo are stale" || inc.Title["ja"] != req.TitleJA ||
		inc.Updates[0].Body["en"] != req.Message || inc.Updates[0].Body["ja"] == "" || len(inc.Components) != 2 ||
		inc.Component("crl").Status != status.DegradedPerformance || inc.Impact != status.ImpactMinor || inc.Origin != status.OriginManual {
		t.Fatalf("incident from template = %+v", inc)
	}
	// The operator edits it before publishing.
	if code, body := h.do("alice", "PATCH", "/api/v1/incidents/1", map[string]any{"components": []map[string]string{{"id": "ocsp", "status": "major_outage"}}}, &inc); code != 200 || len(inc.Components) != 1 {
		t.Fatalf("edit = %d %s", code, body)
	}
	if code, body := h.do("alice", "POST", "/api/v1/incidents", CreateIncidentRequest{Template: "1", Components: []status.ComponentImpact{{ID: "crl", Status: "major_outage"}}, Publish: true}, &inc); code != 201 ||
		inc.State != status.StatePublished || len(inc.Components) != 1 || inc.Components[0].ID != "crl" {
		t.Fatalf("create from template by id, published = %d %s", code, body)
	}
	if code, body := h.do("alice", "POST", "/api/v1/incidents", CreateIncidentRequest{Template: "no such"}, nil); code != 400 || !strings.Contains(errorOf(body), `template "no such": no template has this name or id`) {
		t.Fatalf("unknown template = %d %s", code, body)
	}

	if code, body := h.do("bob", "DELETE", "/api/v1/templates/1", nil, nil); code != 204 {
		t.Fatalf("delete = %d %s", code, body)
	}
	if code, body := h.do("bob", "DELETE", "/api/v1/templates/1", nil, nil); code != 404 {
		t.Fatalf("delete twice = %d %s", code, body)
	}
	if got, _ := h.st.GetIncident(h.ctx, 1); got.Title["en"] != "OCSP answers from Tokyo are stale" {
		t.Fatalf("deleting the template changed an incident made from it: %+v", got.Title)
	}
	var audit []map[string]any
	h.do("bob", "GET", "/api/v1/audit", nil, &audit)
	seen := map[string]bool{}
	for _, e := range audit {
		seen[e["actor"].(string)+":"+e["action"].(string)] = true
	}
	named := false
	for _, e := range audit {
		if e["action"] == "create_draft" && e["incident_id"] == float64(1) {
			named = e["detail"] == "manual; from template OCSP stale"
		}
	}
	if !named {
		t.Error("the create_draft entry of the incident from a template does not name it")
	}
	for _, want := range []string{"alice:template_create", "bob:template_update", "bob:template_delete"} {
		if !seen[want] {
			t.Errorf("audit lacks %s: %v", want, seen)
		}
	}
}

// errorOf is the message of an API error body.
func errorOf(body string) string {
	var e apiErrorBody
	json.Unmarshal([]byte(body), &e)
	return e.Error
}

// TestPostmortemOverAPI: a postmortem is refused on an open incident (409
// with the reason), saved as a draft on a resolved one, and published.
func TestPostmortemOverAPI(t *testing.T) {
	h := newOpHarness(t)
	var inc status.Incident
	if code, body := h.do("alice", "POST", "/api/v1/incidents", CreateIncidentRequest{Title: "CRL late", Message: "Looking.",
		Components: []status.ComponentImpact{{ID: "crl", Status: "major_outage"}}, Publish: true}, &inc); code != 201 {
		t.Fatalf("create = %d %s", code, body)
	}
	pm := PostmortemRequest{Body: "The signer's HSM rebooted.\n\nWe added a second one.", BodyJA: "HSM が再起動しました。"}
	if code, body := h.do("alice", "PUT", "/api/v1/incidents/1/postmortem", pm, nil); code != 409 || !strings.Contains(body, "a postmortem is written once the incident is resolved") {
		t.Fatalf("postmortem of an open incident = %d %s", code, body)
	}
	if code, body := h.do("alice", "POST", "/api/v1/incidents/1/resolve", nil, nil); code != 200 {
		t.Fatalf("resolve = %d %s", code, body)
	}
	if code, body := h.do("alice", "POST", "/api/v1/incidents/1/postmortem/publish", nil, nil); code != 409 || !strings.Contains(body, "there is no draft") {
		t.Fatalf("publish without a draft = %d %s", code, body)
	}
	if code, body := h.do("alice", "PUT", "/api/v1/incidents/1/postmortem", PostmortemRequest{Bodies: status.Text{"xx": "?"}}, nil); code != 400 || !strings.Contains(errorOf(body), `language "xx"`) {
		t.Fatalf("postmortem in an unknown language = %d %s", code, body)
	}
	if code, body := h.do("alice", "PUT", "/api/v1/incidents/1/postmortem", PostmortemRequest{}, nil); code != 400 || !strings.Contains(body, "the text is empty") {
		t.Fatalf("empty postmortem = %d %s", code, body)
	}
	if code, body := h.do("alice", "PUT", "/api/v1/incidents/1/postmortem", pm, &inc); code != 200 || inc.Postmortem == nil || inc.Postmortem.Draft["ja"] != pm.BodyJA || inc.Postmortem.Published() {
		t.Fatalf("save = %d %s", code, body)
	}
	var raw map[string]any
	if code, body := h.do("bob", "POST", "/api/v1/incidents/1/postmortem/publish", nil, &raw); code != 200 {
		t.Fatalf("publish = %d %s", code, body)
	}
	p := raw["postmortem"].(map[string]any)
	for _, k := range []string{"draft", "draft_updated_at", "body", "published_at", "body_last_updated_at", "notified_subscribers"} {
		if _, ok := p[k]; !ok {
			t.Errorf("postmortem JSON lacks %q: %v", k, p)
		}
	}
	if p["body"].(map[string]any)["en"] != pm.Body || p["published_at"] == nil {
		t.Fatalf("published postmortem = %v", p)
	}
	if p["notified_subscribers"] != false {
		t.Fatalf("published without notify: notified_subscribers %v", p["notified_subscribers"])
	}
	// Republished with notify: subscribers are told, and the audit says so.
	if code, body := h.do("bob", "PUT", "/api/v1/incidents/1/postmortem", PostmortemRequest{Body: "Revised."}, nil); code != 200 {
		t.Fatalf("edit = %d %s", code, body)
	}
	if code, body := h.do("bob", "POST", "/api/v1/incidents/1/postmortem/publish", PublishPostmortemRequest{Notify: true}, &inc); code != 200 ||
		!inc.Postmortem.NotifiedSubscribers || inc.Postmortem.Body["en"] != "Revised." || inc.Postmortem.Body.Has("ja") {
		t.Fatalf("republish with notify = %d %s", code, body)
	}
	var audit []map[string]any
	h.do("bob", "GET", "/api/v1/audit?incident=1", nil, &audit)
	if audit[0]["action"] != "publish_postmortem" || audit[0]["detail"] != "republished; subscribers notified" ||
		audit[2]["detail"] != "published; published without notifying subscribers" {
		t.Fatalf("audit %v %v / %v %v", audit[0]["action"], audit[0]["detail"], audit[2]["action"], audit[2]["detail"])
	}
}
