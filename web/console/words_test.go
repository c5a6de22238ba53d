package console

import (
	"fmt"
	"html"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
)

// The console names every component status and every incident and
// maintenance status with the catalogue's (English) words, and offers a
// text field per language of page.languages.
func TestConsoleWordsComeFromTheCatalogue(t *testing.T) {
	h := newOpHarness(t)
	c, _ := consoleLogin(t, h, "alice")
	en := words.Builtin().Lang("en")
	get := func(path string) string {
		t.Helper()
		resp, err := c.Get(h.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d\n%s", path, resp.StatusCode, b)
		}
		return html.UnescapeString(string(b))
	}
	// An incident walked through every status, its components through every status an incident gives.
	var inc status.Incident
	if code, body := h.do("alice", "POST", "/api/v1/incidents", map[string]any{"titles": map[string]string{"en": "CRL late", "ja": "CRL の遅延"},
		"message": "Investigating.", "publish": true, "components": []map[string]string{{"id": "crl", "status": "degraded_performance"}}}, &inc); code != 201 {
		t.Fatalf("create = %d %s", code, body)
	}
	comps := []string{"ocsp", "crl", "timestamp"}
	for i, st := range []string{status.StatusIdentified, status.StatusUpdate, status.StatusMonitoring, status.StatusInvestigating} {
		var cs []map[string]string
		for j, cid := range comps {
			cs = append(cs, map[string]string{"id": cid, "status": status.IncidentComponentStatuses()[(i+j)%4]})
		}
		if code, body := h.do("alice", "POST", fmt.Sprintf("/api/v1/incidents/%d/updates", inc.ID), map[string]any{"status": st, "message": "step " + st, "components": cs}, nil); code != 201 {
			t.Fatalf("update %s = %d %s", st, code, body)
		}
	}
	if code, body := h.do("alice", "POST", fmt.Sprintf("/api/v1/incidents/%d/resolve", inc.ID), map[string]any{}, nil); code != 200 {
		t.Fatalf("resolve = %d %s", code, body)
	}
	page := get(fmt.Sprintf("/admin/incidents/%d", inc.ID))
	for _, st := range status.IncidentStatuses() {
		if !strings.Contains(page, "<strong>"+en.Label(st)+"</strong>") {
			t.Errorf("the timeline lacks the label %q", en.Label(st))
		}
	}
	for _, cs := range status.IncidentComponentStatuses() {
		if !strings.Contains(page, en.Status(cs)) {
			t.Errorf("the incident page lacks the status word %q", en.Status(cs))
		}
	}
	if !strings.Contains(page, "CRL の遅延") {
		t.Error("the Japanese title is not shown")
	}
	// A maintenance through its statuses.
	var m status.Incident
	if code, body := h.do("alice", "POST", "/api/v1/maintenances", map[string]any{"title": "HSM", "components": []string{"timestamp"},
		"scheduled_for": h.clk.Now().Add(time.Hour), "scheduled_until": h.clk.Now().Add(2 * time.Hour)}, &m); code != 201 {
		t.Fatalf("schedule = %d %s", code, body)
	}
	for _, action := range []string{"start", "verifying", "complete"} {
		if code, body := h.do("alice", "POST", fmt.Sprintf("/api/v1/maintenances/%d/%s", m.ID, action), map[string]any{}, nil); code != 200 {
			t.Fatalf("%s = %d %s", action, code, body)
		}
	}
	page = get(fmt.Sprintf("/admin/incidents/%d", m.ID))
	for _, st := range status.MaintenanceStatuses() {
		if !strings.Contains(page, "<strong>"+en.Label(st)+"</strong>") {
			t.Errorf("the maintenance timeline lacks the label %q", en.Label(st))
		}
	}
	if !strings.Contains(page, en.Status(status.UnderMaintenance)) {
		t.Errorf("the maintenance page lacks %q", en.Status(status.UnderMaintenance))
	}
	// One field per page language on the forms.
	for _, path := range []string{"/admin/incidents/new", "/admin/maintenance"} {
		form := get(path)
		for _, l := range h.cfg.Page.Languages {
			if !strings.Contains(form, `name="title_`+l+`"`) || !strings.Contains(form, `name="message_`+l+`"`) {
				t.Errorf("%s: no title/message field for %s", path, l)
			}
		}
	}
}
