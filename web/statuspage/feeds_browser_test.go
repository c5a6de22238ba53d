package statuspage

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/probed/probed/internal/browsertest"
)

// TestJapaneseFeedInBrowser: in Chromium, the Japanese page's Atom link
// is the Japanese feed, and the browser's own XML parser reads it as
// Atom in Japanese.
func TestJapaneseFeedInBrowser(t *testing.T) {
	_, ts := newFixture(t)
	ctx := browsertest.New(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/?lang=ja"), chromedp.WaitVisible(chromedp.CSS("#components"))); err != nil {
		t.Fatal(err)
	}
	type feed struct {
		Href    string   `json:"href"`
		Error   string   `json:"error"`
		Root    string   `json:"root"`
		Lang    string   `json:"lang"`
		Title   string   `json:"title"`
		Entries []string `json:"entries"`
		Content string   `json:"content"`
	}
	f, err := chromedp.Run(ctx, chromedp.Evaluate[feed](`(async () => {
		const href = document.querySelector('link[rel=alternate][type="application/atom+xml"]').getAttribute('href');
		const text = await (await fetch(href)).text();
		const doc = new DOMParser().parseFromString(text, 'application/xml');
		const err = doc.querySelector('parsererror');
		const root = doc.documentElement;
		const ns = 'http://www.w3.org/2005/Atom';
		const kids = (el, name) => [...el.getElementsByTagNameNS(ns, name)];
		return {href, error: err ? err.textContent : '', root: root.namespaceURI + ' ' + root.localName,
			lang: root.getAttribute('xml:lang'), title: kids(root, 'title')[0].textContent,
			entries: kids(root, 'entry').map(e => kids(e, 'title')[0].textContent),
			content: kids(root, 'content')[0].textContent};
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if f.Href != "/history.atom?lang=ja" || f.Error != "" || f.Root != "http://www.w3.org/2005/Atom feed" {
		t.Fatalf("the Japanese page's feed %q: root %q, parse error %q", f.Href, f.Root, f.Error)
	}
	if f.Lang != "ja" || f.Title != "Example CA 稼働状況 - インシデント履歴" || len(f.Entries) == 0 || f.Entries[0] != "ACME の注文処理の遅延" ||
		!strings.Contains(f.Content, "原因特定") {
		t.Errorf("the feed is not Japanese: %+v", f)
	}
}
