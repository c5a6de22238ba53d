package statuspage

import (
	"encoding/xml"
	"strings"
	"testing"
)

// TestFeedsPerLanguage: /history.atom and /history.rss answer in the
// language asked for (?lang=, else Accept-Language), parse, link pages in
// that language, and vary by it; each page links the feeds of its own
// language, and every header link and the history filter keep it.
func TestFeedsPerLanguage(t *testing.T) {
	_, ts := newFixture(t)
	for _, tc := range []struct {
		name, query string
		hdr         []string
	}{{"?lang=ja", "?lang=ja", nil}, {"Accept-Language", "", []string{"Accept-Language", "ja-JP,ja;q=0.9"}}} {
		resp := get(t, ts.URL+"/history.atom"+tc.query, tc.hdr...)
		body := readAll(t, resp)
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Vary"), "Accept-Language") {
			t.Fatalf("%s: %d, Vary %q", tc.name, resp.StatusCode, resp.Header.Get("Vary"))
		}
		var f atomFeed
		dec := xml.NewDecoder(strings.NewReader(string(body)))
		dec.Strict = true
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("%s: not Atom: %v\n%s", tc.name, err, body)
		}
		if f.Lang != "ja" || f.Title != "Example CA 稼働状況 - インシデント履歴" || f.ID != "tag:status.example.com,2005:/history?lang=ja" {
			t.Errorf("%s: feed head lang %q title %q id %q", tc.name, f.Lang, f.Title, f.ID)
		}
		links := map[string]string{}
		for _, l := range f.Links {
			links[l.Rel] = l.Href
		}
		if links["self"] != "https://status.example.com/history.atom?lang=ja" || links["alternate"] != "https://status.example.com/?lang=ja" {
			t.Errorf("%s: feed links %v", tc.name, links)
		}
		if len(f.Entries) == 0 || f.Entries[0].Title != "ACME の注文処理の遅延" || f.Entries[0].Links[0].Href != "https://status.example.com/incidents/101?lang=ja" {
			t.Fatalf("%s: first entry %+v", tc.name, f.Entries)
		}
		if c := f.Entries[0].Content.Body; !strings.Contains(c, "<strong>原因特定</strong> - 原因を特定し、修正を適用しています。") || !strings.Contains(c, "9月16日 11:40 UTC") {
			t.Errorf("%s: first entry's content is not Japanese: %s", tc.name, c)
		}
	}
	rss := readAll(t, get(t, ts.URL+"/history.rss?lang=ja"))
	var r struct {
		Channel struct {
			Title    string `xml:"title"`
			Language string `xml:"language"`
			Items    []struct {
				Title string `xml:"title"`
				Link  string `xml:"link"`
			} `xml:"item"`
		} `xml:"channel"`
	}
	if err := xml.Unmarshal(rss, &r); err != nil {
		t.Fatalf("RSS: %v", err)
	}
	if r.Channel.Language != "ja" || r.Channel.Title != "Example CA 稼働状況 - インシデント履歴" || len(r.Channel.Items) == 0 ||
		r.Channel.Items[0].Title != "ACME の注文処理の遅延" || !strings.HasSuffix(r.Channel.Items[0].Link, "?lang=ja") {
		t.Errorf("Japanese RSS channel: %+v", r.Channel)
	}
	// English stays as it was (the page's default needs no parameter).
	if en := readAll(t, get(t, ts.URL+"/history.atom")); !strings.Contains(string(en), `xml:lang="en-US"`) || strings.Contains(string(en), "lang=ja") {
		t.Errorf("English feed:\n%s", en)
	}

	// Each page links the feeds of its language; header links and the
	// history filter carry the language.
	for _, path := range []string{"/?lang=ja", "/history?lang=ja", "/uptime?lang=ja", "/incidents/101?lang=ja"} {
		_, body := page(t, ts.URL+path)
		mustContain(t, path, body, `href="/history.atom?lang=ja"`, `href="/history.rss?lang=ja"`,
			`<a class="brand" href="/?lang=ja">`, `href="/history?lang=ja"`, `href="/uptime?lang=ja"`, `href="/subscribe?lang=ja"`)
	}
	_, body := page(t, ts.URL+"/history", "Accept-Language", "ja")
	mustContain(t, "history filter", body, `<input type="hidden" name="lang" value="ja">`, `href="/history.atom?lang=ja"`)
	_, body = page(t, ts.URL+"/")
	mustContain(t, "English page", body, `href="/history.atom"`, `href="/history"`)
}
