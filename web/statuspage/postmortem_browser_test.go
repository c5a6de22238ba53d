package statuspage

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/probed/probed/internal/browsertest"
)

// TestPostmortemFitsAPhone: a postmortem with what postmortems hold — a
// long link to a ticket, a long log line — reads at 390 px without the
// incident page or the history scrolling sideways, its paragraphs kept.
func TestPostmortemFitsAPhone(t *testing.T) {
	d := fixtureData()
	long := "See https://tickets.example.com/browse/OPS-12345/" + strings.Repeat("attachment-", 12) + "hsm.log and\n\n" +
		"ERROR:hsm_session_open:" + strings.Repeat("0xdeadbeef", 12)
	for i := range d.Records {
		if d.Records[i].ID == 90 {
			d.Records[i].Postmortem["en"] = long
		}
	}
	_, ts := newFixtureWith(t, fixtureConfig(), d)
	ctx := browsertest.New(t)
	for _, path := range []string{"/incidents/90", "/history"} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(ts.URL+path), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatal(err)
		}
		wider, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - window.innerWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if wider > 0 {
			t.Errorf("%s at 390 px: %v px wider than the window", path, wider)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/incidents/90"), chromedp.WaitVisible(chromedp.CSS(".timeline"))); err != nil {
		t.Fatal(err)
	}
	first, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".timeline .update .body")))
	if err != nil || !strings.Contains(first, "hsm.log and\n\nERROR") {
		t.Errorf("the postmortem's paragraphs: %q, %v", first, err)
	}
}
