package statuspage

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
)

// TestPostmortemIsText: a resolved incident's published postmortem shows
// on its page (in the reader's language), in both feeds and in API v2 as
// hosted pages put it — incident status "postmortem" and a newest
// "postmortem" update — and its text is text everywhere: markup in it is
// escaped, never interpreted, and its paragraphs are kept.
func TestPostmortemIsText(t *testing.T) {
	_, ts := newFixture(t)
	code, body := page(t, ts.URL+"/incidents/90")
	if code != 200 {
		t.Fatal(code)
	}
	mustContain(t, "/incidents/90", body, `<div class="label">Postmortem</div>`,
		"rebooted &lt;script&gt;alert(1)&lt;/script&gt; &amp; took 30 minutes to return.\n\nWe added a second HSM.")
	if strings.Contains(body, "<script>alert") {
		t.Fatal("/incidents/90: the postmortem's markup reached the page as markup")
	}
	if got := labelList(body); got != "Postmortem,Resolved,Monitoring,Investigating" {
		t.Errorf("labels %s: the postmortem is the newest entry", got)
	}
	_, ja := page(t, ts.URL+"/incidents/90?lang=ja")
	mustContain(t, "/incidents/90?lang=ja", ja, "事後報告", "OCSP レスポンダの署名鍵の HSM が再起動しました。")

	var f atomFeed
	if err := xml.Unmarshal(readAll(t, get(t, ts.URL+"/history.atom")), &f); err != nil {
		t.Fatal(err)
	}
	var entry string
	for _, e := range f.Entries {
		if strings.HasSuffix(e.ID, "Incident/90") {
			entry = e.Content.Body
			if e.Updated != "2021-09-14T13:00:00Z" {
				t.Errorf("atom entry updated %s, want the postmortem's publication", e.Updated)
			}
		}
	}
	// The entry's HTML names the postmortem first and carries its text escaped.
	if !strings.HasPrefix(entry, "<p><small>Sep 14, 13:00 UTC</small><br><strong>Postmortem</strong> - The HSM holding") ||
		!strings.Contains(entry, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; took") || strings.Contains(entry, "<script>") ||
		!strings.Contains(entry, "return.<br><br>We added") {
		t.Errorf("atom entry of incident 90:\n%s", entry)
	}
	var rss struct {
		Items []struct {
			Link        string `xml:"link"`
			Description string `xml:"description"`
		} `xml:"channel>item"`
	}
	if err := xml.Unmarshal(readAll(t, get(t, ts.URL+"/history.rss")), &rss); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range rss.Items {
		if strings.HasSuffix(it.Link, "/incidents/90") {
			found = strings.Contains(it.Description, "<strong>Postmortem</strong> - The HSM") && strings.Contains(it.Description, "&lt;script&gt;") && !strings.Contains(it.Description, "<script>")
		}
	}
	if !found {
		t.Errorf("rss item of incident 90 lacks the escaped postmortem: %+v", rss.Items)
	}

	var list struct {
		Incidents []struct {
			ID, Status      string
			UpdatedAt       string `json:"updated_at"`
			ResolvedAt      string `json:"resolved_at"`
			IncidentUpdates []struct {
				ID, Status, Body string
			} `json:"incident_updates"`
		}
	}
	if err := json.Unmarshal(readAll(t, get(t, ts.URL+"/api/v2/incidents.json")), &list); err != nil {
		t.Fatal(err)
	}
	for _, inc := range list.Incidents {
		if inc.ID != "90" {
			continue
		}
		if inc.Status != "postmortem" || inc.ResolvedAt != "2021-09-13T10:30:00.000Z" || len(inc.IncidentUpdates) != 4 ||
			inc.IncidentUpdates[0].Status != "postmortem" || !strings.Contains(inc.IncidentUpdates[0].Body, "<script>alert(1)</script>") {
			t.Errorf("API v2 incident 90: %+v (JSON carries the text as it is; escaping is its reader's)", inc)
		}
		return
	}
	t.Error("API v2: no incident 90")
}
