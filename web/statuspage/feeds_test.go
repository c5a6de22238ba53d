package statuspage

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

// atomFeed is the Atom structure (RFC 4287) the feed must parse into.
type atomFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	Lang    string   `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Author  []struct {
		Name string `xml:"name"`
	} `xml:"author"`
	Links   []atomLink `xml:"link"`
	Entries []struct {
		ID        string     `xml:"id"`
		Title     string     `xml:"title"`
		Published string     `xml:"published"`
		Updated   string     `xml:"updated"`
		Links     []atomLink `xml:"link"`
		Content   struct {
			Type string `xml:"type,attr"`
			Body string `xml:",chardata"`
		} `xml:"content"`
	} `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr"`
	Href string `xml:"href,attr"`
}

func TestAtomFeed(t *testing.T) {
	_, ts := newFixture(t)
	resp := get(t, ts.URL+"/history.atom")
	body := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/atom+xml; charset=utf-8" || resp.Header.Get("ETag") == "" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	var f atomFeed
	dec := xml.NewDecoder(strings.NewReader(string(body)))
	dec.Strict = true
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("not Atom: %v\n%s", err, body)
	}
	if f.Lang != "en-US" || f.ID != "tag:status.example.com,2005:/history" || f.Title != "Example CA Status - Incident History" {
		t.Errorf("feed head: lang %q id %q title %q", f.Lang, f.ID, f.Title)
	}
	if _, err := time.Parse(time.RFC3339, f.Updated); err != nil {
		t.Errorf("feed updated %q: %v", f.Updated, err)
	}
	if len(f.Author) != 1 || f.Author[0].Name != "Example CA" {
		t.Errorf("author %v (Atom needs one when entries have none)", f.Author)
	}
	rels := map[string]string{}
	for _, l := range f.Links {
		rels[l.Rel] = l.Href
	}
	if rels["alternate"] != "https://status.example.com" || rels["self"] != "https://status.example.com/history.atom" {
		t.Errorf("links %v", rels)
	}
	var ids []string
	seen := map[string]bool{}
	for _, e := range f.Entries {
		ids = append(ids, e.ID)
		if seen[e.ID] {
			t.Errorf("duplicate entry id %s", e.ID)
		}
		seen[e.ID] = true
		for _, ts := range []string{e.Published, e.Updated} {
			if _, err := time.Parse(time.RFC3339, ts); err != nil {
				t.Errorf("entry %s time %q: %v", e.ID, ts, err)
			}
		}
		if e.Title == "" || e.Content.Type != "html" || len(e.Links) != 1 || e.Links[0].Rel != "alternate" {
			t.Errorf("entry %s: %+v", e.ID, e)
		}
	}
	if got := strings.Join(ids, " "); got != "tag:status.example.com,2005:Incident/101 tag:status.example.com,2005:Incident/301 "+
		"tag:status.example.com,2005:Incident/300 tag:status.example.com,2005:Incident/90" {
		t.Errorf("entries %s", got)
	}
	first := f.Entries[0]
	if first.Links[0].Href != "https://status.example.com/incidents/101" {
		t.Errorf("link %s", first.Links[0].Href)
	}
	want := "<p><small>Sep 16, 11:40 UTC</small><br><strong>Identified</strong> - The issue has been identified and a fix is being implemented.</p>" +
		"<p><small>Sep 16, 11:20 UTC</small><br><strong>Update</strong> - We are continuing to investigate this issue.</p>" +
		"<p><small>Sep 16, 11:10 UTC</small><br><strong>Investigating</strong> - We are investigating delays in ACME order processing.</p>"
	if first.Content.Body != want {
		t.Errorf("content\n got %s\nwant %s", first.Content.Body, want)
	}
	if f.Entries[2].Links[0].Href != "https://status.example.com/maintenance/300" ||
		!strings.Contains(f.Entries[2].Content.Body, "<strong>In progress</strong>") {
		t.Errorf("maintenance entry %+v", f.Entries[2])
	}
}

type rssDoc struct {
	XMLName xml.Name `xml:"rss"`
	Version string   `xml:"version,attr"`
	Channel struct {
		Title       string `xml:"title"`
		Link        string `xml:"link"`
		Description string `xml:"description"`
		PubDate     string `xml:"pubDate"`
		Items       []struct {
			Title       string `xml:"title"`
			Link        string `xml:"link"`
			GUID        string `xml:"guid"`
			PubDate     string `xml:"pubDate"`
			Description string `xml:"description"`
		} `xml:"item"`
	} `xml:"channel"`
}

func TestRSSFeed(t *testing.T) {
	_, ts := newFixture(t)
	resp := get(t, ts.URL+"/history.rss")
	body := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/rss+xml; charset=utf-8" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	var r rssDoc
	dec := xml.NewDecoder(strings.NewReader(string(body)))
	dec.Strict = true
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("not RSS: %v", err)
	}
	c := r.Channel
	if r.Version != "2.0" || c.Title != "Example CA Status - Incident History" || c.Link != "https://status.example.com" || c.Description == "" {
		t.Errorf("channel %+v", c)
	}
	if len(c.Items) != 4 {
		t.Fatalf("%d items", len(c.Items))
	}
	for _, it := range c.Items {
		if it.Title == "" || it.Link == "" || it.GUID != it.Link || it.Description == "" {
			t.Errorf("item %+v", it)
		}
		if _, err := time.Parse(time.RFC1123Z, it.PubDate); err != nil {
			t.Errorf("item pubDate %q: %v", it.PubDate, err)
		}
	}
	if c.Items[3].GUID != "https://status.example.com/incidents/90" || !strings.Contains(c.Items[3].Description, "<strong>Resolved</strong> - This incident has been resolved.") {
		t.Errorf("last item %+v", c.Items[3])
	}
}
