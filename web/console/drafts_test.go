package console

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/probes"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// okCRL feeds n passing runs of the crl probe.
func (h *opHarness) okCRL(n int) {
	h.t.Helper()
	for range n {
		if err := h.eng.Record(h.ctx, probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: "default", Start: h.clk.Now(), Success: true,
			Checks: []probes.Check{{Name: "crl_next_update", OK: true}}}); err != nil {
			h.t.Fatal(err)
		}
		h.clk.Advance(time.Minute)
	}
}

// approveAudit is the detail of incident id's approve entry.
func (h *opHarness) approveAudit(id int64) string {
	h.t.Helper()
	list, err := h.st.ListAudit(h.ctx, store.AuditFilter{IncidentID: id, Limit: 100})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, a := range list {
		if a.Action == "approve" {
			return a.Detail
		}
	}
	return "(no approve entry)"
}

func (h *opHarness) publishedEvents(id int64) int {
	h.t.Helper()
	ev, err := h.st.PendingEvents(h.ctx, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, e := range ev {
		if e.IncidentID == id && e.Kind == store.EventIncidentPublished {
			n++
		}
	}
	return n
}

// TestApproveWithOrWithoutNotifying: the API, and the console's switch,
// publish a draft with or without telling subscribers; the audit log
// records the choice; an approve without the switch notifies.
func TestApproveWithOrWithoutNotifying(t *testing.T) {
	h := newOpHarness(t)
	outage := func() int64 {
		t.Helper()
		h.okCRL(2)
		h.clk.Advance(time.Hour)
		h.failCRL(2)
		var drafts []status.Incident
		if code, body := h.do("alice", "GET", "/api/v1/incidents?state=draft", nil, &drafts); code != 200 || len(drafts) != 1 {
			t.Fatalf("drafts = %d %s", code, body)
		}
		return drafts[0].ID
	}
	id := outage()
	if code, body := h.do("alice", "POST", "/api/v1/incidents/1/approve", `{"notify": "no"}`, nil); code != 400 {
		t.Fatalf("approve with notify a string = %d %s, want 400", code, body)
	}
	if code, body := h.do("alice", "POST", "/api/v1/incidents/1/approve", `{"notify": false, "quiet": true}`, nil); code != 400 || !strings.Contains(body, "quiet") {
		t.Fatalf("approve with an unknown field = %d %s, want 400 naming it", code, body)
	}
	var inc status.Incident
	if code, body := h.do("alice", "POST", "/api/v1/incidents/1/approve", `{"notify": false}`, &inc); code != 200 || inc.State != status.StatePublished {
		t.Fatalf("quiet approve = %d %s", code, body)
	}
	if n := h.publishedEvents(id); n != 0 || inc.Updates[len(inc.Updates)-1].Notify {
		t.Errorf("quiet approve queued %d events, first update notify=%v", n, inc.Updates[0].Notify)
	}
	if d := h.approveAudit(id); d != store.ApproveQuiet {
		t.Errorf("audit detail = %q, want %q", d, store.ApproveQuiet)
	}
	if _, err := h.eng.Resolve(h.ctx, "alice", id, status.Text{"en": "Fixed."}); err != nil {
		t.Fatal(err)
	}

	id = outage()
	if code, body := h.do("alice", "POST", "/api/v1/incidents/"+itoa(id)+"/approve", nil, &inc); code != 200 {
		t.Fatalf("approve = %d %s", code, body)
	}
	if n := h.publishedEvents(id); n != 1 {
		t.Errorf("approve without a body queued %d events, want 1", n)
	}
	if d := h.approveAudit(id); d != store.ApproveNotified {
		t.Errorf("audit detail = %q, want %q", d, store.ApproveNotified)
	}
	if _, err := h.eng.Resolve(h.ctx, "alice", id, status.Text{"en": "Fixed."}); err != nil {
		t.Fatal(err)
	}

	// The console: the switch is on the draft, checked; unchecked, the
	// form sends notify_shown alone.
	c, csrf := consoleLogin(t, h, "bob")
	id = outage()
	page := getPage(t, c, h.srv.URL+"/admin/incidents/"+itoa(id))
	if !strings.Contains(page, `name="notify" value="1" checked`) || !strings.Contains(page, `name="notify_shown"`) {
		t.Fatalf("the draft page has no checked notify switch:\n%s", page)
	}
	resp, err := c.PostForm(h.srv.URL+"/admin/incidents/"+itoa(id)+"/approve", url.Values{"csrf": {csrf}, "notify_shown": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "approved and published without notifying subscribers") {
		t.Fatalf("console quiet approve = %d\n%s", resp.StatusCode, b)
	}
	if n := h.publishedEvents(id); n != 0 {
		t.Errorf("console quiet approve queued %d events", n)
	}
	if d := h.approveAudit(id); d != store.ApproveQuiet {
		t.Errorf("audit detail = %q, want %q", d, store.ApproveQuiet)
	}
}

func getPage(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d\n%s", u, resp.StatusCode, b)
	}
	return string(b)
}

// TestConsoleWordsOfClosedIncidents: a withdrawn draft reads "withdrawn"
// alone (no "Investigating"), a resolved incident lists its components
// without the status they had, and an update that changed no status lists
// no "x → x".
func TestConsoleWordsOfClosedIncidents(t *testing.T) {
	h := newOpHarness(t)
	h.failCRL(2)
	h.okCRL(2) // cleared before approval: withdrawn
	list, err := h.st.ListIncidents(h.ctx, store.IncidentFilter{})
	if err != nil || len(list) != 1 || list[0].State != status.StateWithdrawn {
		t.Fatalf("incidents = %+v %v, want one withdrawn", list, err)
	}
	c, _ := consoleLogin(t, h, "bob")
	rows := getPage(t, c, h.srv.URL+"/admin/incidents")
	if strings.Contains(rows, "withdrawn</span> Investigating") || !strings.Contains(rows, `<span class="tag withdrawn">withdrawn</span></td>`) {
		t.Errorf("incidents list:\n%s", rows)
	}
	one := getPage(t, c, h.srv.URL+"/admin/incidents/1")
	if strings.Contains(one, "Investigating") || !strings.Contains(one, "never published") {
		t.Errorf("the withdrawn incident's page names a status:\n%s", one)
	}

	h.clk.Advance(time.Hour)
	h.failCRL(2)
	var drafts []status.Incident
	h.do("alice", "GET", "/api/v1/incidents?state=draft", nil, &drafts)
	if len(drafts) != 1 {
		t.Fatalf("drafts = %+v", drafts)
	}
	id := drafts[0].ID
	if code, body := h.do("alice", "POST", "/api/v1/incidents/"+itoa(id)+"/approve", nil, nil); code != 200 {
		t.Fatalf("approve = %d %s", code, body)
	}
	if code, body := h.do("alice", "POST", "/api/v1/incidents/"+itoa(id)+"/updates", map[string]any{"status": "identified", "message": "Found it."}, nil); code != 201 {
		t.Fatalf("update = %d %s", code, body)
	}
	page := getPage(t, c, h.srv.URL+"/admin/incidents/"+itoa(id))
	word := map[string]string{status.PartialOutage: "Partial Outage", status.MajorOutage: "Major Outage", status.DegradedPerformance: "Degraded Performance"}
	inc, _ := h.st.GetIncident(h.ctx, id)
	w := word[inc.Components[0].Status]
	if strings.Contains(page, w+" → "+w) {
		t.Errorf("an update that changed nothing reads %q:\n%s", w+" → "+w, page)
	}
	if !strings.Contains(page, "crl: Operational → "+w) {
		t.Errorf("the approval's change is missing (%q):\n%s", "crl: Operational → "+w, page)
	}
	if _, err := h.eng.Resolve(h.ctx, "alice", id, status.Text{"en": "Fixed."}); err != nil {
		t.Fatal(err)
	}
	rows = getPage(t, c, h.srv.URL+"/admin/incidents?state=resolved")
	if strings.Contains(rows, w) || !strings.Contains(rows, "<td>crl</td>") {
		t.Errorf("a resolved incident still lists %q:\n%s", w, rows)
	}
}
