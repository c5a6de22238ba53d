package subscription

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/probed/probed/internal/browsertest"
	"github.com/probed/probed/store"
)

// TestSubscribeInBrowser fills the subscription form in real Chromium: the
// page's script toggles Select none / Select all and the group boxes, then
// solves the proof of work and submits.
func TestSubscribeInBrowser(t *testing.T) {
	e := newSubEnv(t)
	ctx := browsertest.New(t)
	shots := t.TempDir()
	type state struct {
		Ticked []string `json:"ticked"`
		Groups []bool   `json:"groups"`
		Link   string   `json:"link"`
		URL    string   `json:"url"`
	}
	const read = `(() => ({
		ticked: [...document.querySelectorAll('input[name=c]:checked')].map(b => b.value),
		groups: [...document.querySelectorAll('input.group')].map(g => g.checked && !g.closest('label').hidden),
		link: document.querySelector('#select-toggle').textContent,
		url: location.pathname + location.search,
	}))()`
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	readState := func() state {
		t.Helper()
		st, err := chromedp.Run(ctx, chromedp.Evaluate[state](read))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	do(chromedp.Navigate(e.base+"/subscribe"), chromedp.WaitVisible(css("#subscribe")))
	s0 := readState()
	do(chromedp.Click(css("#select-toggle")))
	s1 := readState()
	do(chromedp.Click(css(`input.group[data-group="certcentral"]`)))
	s2 := readState()
	do(chromedp.Click(css(`input[name=c][value="acme"]`)), chromedp.Click(css(`input[name=c][value="ocsp"]`)))
	s3 := readState()
	do(chromedp.SendKeys(css("#email"), "browser@example.com"))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	browsertest.SaveShot(t, shots, "subscribe.png", png)
	if len(s0.Ticked) != 5 || s0.Link != "Select none" || len(s0.Groups) != 1 || !s0.Groups[0] {
		t.Errorf("loaded: %+v; want all 5 ticked, the group box shown and ticked, a Select none link", s0)
	}
	if len(s1.Ticked) != 0 || s1.Link != "Select all" || s1.URL != "/subscribe" {
		t.Errorf("after Select none: %+v; want nothing ticked, Select all offered, no navigation", s1)
	}
	if !slices.Equal(s2.Ticked, []string{"certcentral-api", "acme"}) || !s2.Groups[0] {
		t.Errorf("after ticking the CertCentral group: %+v", s2)
	}
	if !slices.Equal(s3.Ticked, []string{"certcentral-api", "ocsp"}) || s3.Groups[0] {
		t.Errorf("after unticking ACME and ticking OCSP: %+v; the group box must untick", s3)
	}
	do(chromedp.Click(css(`#subscribe button[type=submit]`)), chromedp.WaitVisible(css("#sent")))
	sent, err := chromedp.Run(ctx, chromedp.Text(css("#sent")))
	if err != nil {
		t.Fatal(err)
	}
	if png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Fatal(err)
	}
	browsertest.SaveShot(t, shots, "subscribe-sent.png", png)
	if !strings.Contains(sent, "confirmation link") {
		t.Errorf("after submitting: %q", sent)
	}
	sub := e.subscriber("browser@example.com")
	if sub.State != store.SubscriberPending || !slices.Equal(sub.PendingComponents, []string{"certcentral-api", "ocsp"}) {
		t.Errorf("the browser's request = %+v", sub)
	}
	e.drain()
	if e.smtp.Received()["browser@example.com"] != 1 {
		t.Error("no confirmation mail")
	}
}
