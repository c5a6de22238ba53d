package console

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/probed/probed/internal/browsertest"
	"github.com/probed/probed/status"
)

// TestConsoleTemplatesAndPostmortemOnAPhone drives Chromium at 390 px as an
// operator on a phone: make a template in the console form, start an
// incident from it (the form arrives filled), create it; write a
// postmortem on a resolved incident, see its preview, publish it. No page
// on the way scrolls sideways, long names and texts included.
func TestConsoleTemplatesAndPostmortemOnAPhone(t *testing.T) {
	b := newBrowserConsole(t)
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	fits := func(what string) {
		t.Helper()
		over, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](overflow))
		if err != nil {
			t.Fatal(err)
		}
		if over > 0 {
			png, _ := chromedp.Run(b.ctx, chromedp.FullScreenshot(80))
			browsertest.SaveShot(t, t.TempDir(), "templates-overflow.png", png)
			t.Errorf("%s at 390 px: %v px wider than the window", what, over)
		}
	}
	long := "OCSP-responder-" + strings.Repeat("tokyo-osaka-", 8) + "stale"
	if err := chromedp.Do(b.ctx,
		chromedp.Navigate(b.url+"/admin/templates"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), long),
		chromedp.SendKeys(chromedp.CSS("#title_en"), "OCSP responses are stale"),
		chromedp.SendKeys(chromedp.CSS("#message_en"), "Some OCSP answers are older than they should be: "+strings.Repeat("x", 200)),
		chromedp.SetValue(chromedp.CSS(`select[name="component.ocsp"]`), "partial_outage"),
		chromedp.Submit(chromedp.CSS("#name")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	); err != nil {
		t.Fatalf("create the template: %v", err)
	}
	fits("the template's page")
	if err := chromedp.Do(b.ctx, chromedp.Navigate(b.url+"/admin/templates"), chromedp.WaitVisible(chromedp.CSS("#templates"))); err != nil {
		t.Fatal(err)
	}
	fits("the template list")
	if err := chromedp.Do(b.ctx,
		chromedp.Click(chromedp.CSS(`#templates a[href="/admin/incidents/new?template=1"]`)),
		chromedp.WaitVisible(chromedp.CSS("#title_en"))); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#title_en")))
	if err != nil || title != "OCSP responses are stale" {
		t.Fatalf("new incident from the template: title %q, %v", title, err)
	}
	fits("the new-incident form filled from a template")
	if err := chromedp.Do(b.ctx,
		chromedp.SetValue(chromedp.CSS("#title_en"), "OCSP responses from Tokyo are stale"),
		chromedp.Submit(chromedp.CSS("#title_en")),
		chromedp.WaitVisible(chromedp.CSS("#edit")),
	); err != nil {
		t.Fatalf("create the incident: %v", err)
	}
	inc, err := b.st.GetIncident(b.ctx, 1)
	if err != nil || inc.State != status.StateDraft || inc.Title["en"] != "OCSP responses from Tokyo are stale" || inc.Component("ocsp") == nil || inc.Component("ocsp").Status != status.PartialOutage {
		t.Fatalf("incident from the template: %+v, %v", inc, err)
	}

	// A resolved incident's postmortem: write, preview, publish.
	if _, err := b.eng.Approve(b.ctx, "bob", 1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.eng.Resolve(b.ctx, "bob", 1, nil); err != nil {
		t.Fatal(err)
	}
	text := "What happened: the HSM rebooted.\n\nWhat we changed: " + strings.Repeat("a-second-HSM-in-another-rack-", 10)
	if err := chromedp.Do(b.ctx,
		chromedp.Navigate(b.url+"/admin/incidents/1"),
		chromedp.WaitVisible(chromedp.CSS("#postmortem_en")),
		chromedp.SendKeys(chromedp.CSS("#postmortem_en"), text),
		chromedp.Submit(chromedp.CSS("#postmortem_en")),
		chromedp.WaitVisible(chromedp.CSS(".prose")),
	); err != nil {
		t.Fatalf("save the postmortem: %v", err)
	}
	fits("the incident page with the postmortem's preview")
	preview, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(`.prose[lang="en"]`)))
	if err != nil || !strings.Contains(preview, "the HSM rebooted.\n\nWhat we changed") {
		t.Fatalf("preview %q (paragraphs kept), %v", preview, err)
	}
	// The saved notice goes first, so the one waited for is the next page's.
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.querySelector('.notice').remove(), true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b.ctx,
		chromedp.Click(chromedp.CSS(`form[action="/admin/incidents/1/publish_postmortem"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	); err != nil {
		t.Fatalf("publish: %v", err)
	}
	notice, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(".notice")))
	got, _ := b.st.GetIncident(b.ctx, 1)
	if !strings.Contains(notice, "postmortem published") || !got.Postmortem.Published() || got.Postmortem.Body["en"] != text {
		t.Fatalf("after publishing: notice %q, postmortem %+v", notice, got.Postmortem)
	}
	fits(fmt.Sprintf("the incident page with the published postmortem (%d chars)", len(text)))
}
