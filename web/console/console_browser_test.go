package console

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/probed/probed/config"
	"github.com/probed/probed/incident"
	"github.com/probed/probed/internal/browsertest"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// browserConsole is a console on plain HTTP (a page URL of http, so the
// session cookie is not Secure) for Chromium, with an operator logged in.
type browserConsole struct {
	*opHarness
	url string
	ctx context.Context
}

func newBrowserConsole(t *testing.T) *browserConsole {
	t.Helper()
	return newBrowserConsoleWith(t, nil)
}

// newBrowserConsoleWith is newBrowserConsole with the console's Leader.
func newBrowserConsoleWith(t *testing.T, leader func(context.Context) (LeaderStatus, error)) *browserConsole {
	t.Helper()
	ctx := browsertest.New(t)
	h := &opHarness{t: t, ctx: context.Background(), clk: clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)), tok: map[string]string{}}
	path := filepath.Join(t.TempDir(), "probes.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(opConfig, "https://status.example.com", "http://status.example.com", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if h.cfg, err = config.Load(path, probes.Kinds()); err != nil {
		t.Fatal(err)
	}
	if h.st, err = store.Open(h.ctx, store.Options{Path: h.cfg.Storage.Path, Clock: h.clk}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.st.Close() })
	if h.eng, err = incident.New(h.ctx, incident.Options{Store: h.st, Config: func() *config.Config { return h.cfg }, Clock: h.clk}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Config: func() *config.Config { return h.cfg }, Clock: h.clk, Store: h.st, Engine: h.eng, Leader: leader}).Handler())
	t.Cleanup(srv.Close)
	h.srv = srv
	if h.tok["bob"], err = h.st.CreateToken(h.ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	b := &browserConsole{opHarness: h, url: srv.URL, ctx: ctx}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/admin/login"),
		chromedp.SendKeys(chromedp.CSS("#token"), h.tok["bob"]),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#drafts")),
	); err != nil {
		t.Fatalf("log in: %v", err)
	}
	return b
}

// waitJS waits (30 s at most) until the expression is true in the page.
func (b *browserConsole) waitJS(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		state, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("#drafts")))
		b.t.Fatalf("%s: %v\n%s", what, err, state)
	}
}

// TestConsoleFollowsDraftsWithoutReload: a draft made while the dashboard
// is open appears in it, with the count in the menu and the tab's title,
// and goes when it is withdrawn — the page never reloads.
func TestConsoleFollowsDraftsWithoutReload(t *testing.T) {
	b := newBrowserConsole(t)
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.sameDocument = true`)); err != nil {
		t.Fatal(err)
	}
	b.failCRL(2)
	b.waitJS("the new draft listed", `!!document.querySelector('#drafts a[href="/admin/incidents/1"]') && document.getElementById('draft-count').textContent === ' (1)' && document.title.startsWith('(1) ')`)
	b.okCRL(2) // cleared before approval: withdrawn
	b.waitJS("the withdrawn draft gone", `document.querySelector('#drafts').getAttribute('data-ids') === '' && document.getElementById('draft-count').textContent === '' && !document.title.startsWith('(')`)
	if same, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.sameDocument === true`)); err != nil || !same {
		t.Fatalf("the page reloaded (%v)", err)
	}
}

// failCRLLong drafts a CRL outage whose evidence carries long unbroken
// values (a DER dump, a URL), as real evidence does.
func (b *browserConsole) failCRLLong() {
	b.t.Helper()
	long := strings.Repeat("3082a1b4c5d6e7f8", 24)
	for range 2 {
		r := probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: "default", Start: b.clk.Now(), Duration: time.Millisecond,
			Checks: []probes.Check{{Name: "crl_signature", Message: "signature does not verify with the issuer key " + long,
				Evidence: map[string]string{"signature_hex": long, "url": "http://crl.example.com/" + strings.Repeat("segment/", 30) + "ca.crl"}}}}
		if err := b.eng.Record(b.ctx, r); err != nil {
			b.t.Fatal(err)
		}
		b.clk.Advance(time.Minute)
	}
}

// overflow is how many CSS pixels the page is wider than the window (0: no
// horizontal scroll).
const overflow = `Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth`

// TestConsoleFitsAPhone: at 390 px the dashboard's draft, the draft's page
// with its edit form and evidence, the incident list, and an open published
// incident's page (update form, component selectors, timeline, the engine's
// resolve proposal) scroll only vertically; at 1280 px opening every
// evidence value does not widen the page.
func TestConsoleFitsAPhone(t *testing.T) {
	b := newBrowserConsole(t)
	b.failCRLLong()
	fits := func(path, sel string, width int64) {
		t.Helper()
		if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(width, 844), chromedp.Navigate(b.url+path), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		over, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`document.querySelectorAll('details').forEach(d => d.open = true), `+overflow))
		if err != nil {
			t.Fatal(err)
		}
		if path == "/admin/incidents/1" {
			png, _ := chromedp.Run(b.ctx, chromedp.FullScreenshot(70))
			browsertest.SaveShot(t, t.TempDir(), fmt.Sprintf("console-incident-%d.png", width), png)
		}
		if over > 0 {
			wide, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))`))
			png, _ := chromedp.Run(b.ctx, chromedp.FullScreenshot(80))
			browsertest.SaveShot(t, t.TempDir(), "console-overflow.png", png)
			t.Errorf("%s at %d px with every value open: %v px wider than the window; widest: %v", path, width, over, wide)
		}
	}
	for _, width := range []int64{390, 1280} {
		fits("/admin/", "#drafts .card", width)
		fits("/admin/incidents/1", "#edit", width)
		fits("/admin/incidents", "table", width)
	}

	// Published: the operator posts an update from the phone, with a long
	// unbroken URL in it and a component's status changed, then the
	// service recovers and the engine proposes to resolve.
	if _, err := b.eng.Approve(b.ctx, "bob", 1, false); err != nil {
		t.Fatal(err)
	}
	longURL := "http://crl.example.com/" + strings.Repeat("segment/", 30) + "ca.crl"
	if err := chromedp.Do(b.ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(b.url+"/admin/incidents/1"),
		chromedp.WaitVisible(chromedp.CSS("#ustatus")),
		chromedp.SetValue(chromedp.CSS("#ustatus"), "identified"),
		chromedp.SendKeys(chromedp.CSS("#umessage_en"), "The CRL at "+longURL+" was signed with a retired key; a new CRL is being issued."),
		chromedp.SendKeys(chromedp.CSS("#umessage_ja"), "CRL（"+longURL+"）が旧鍵で署名されていました。新しいCRLを発行しています。"),
		chromedp.SetValue(chromedp.CSS(`select[name="component.crl"]`), "partial_outage"),
		chromedp.Submit(chromedp.CSS("#umessage_en")),
		chromedp.WaitVisible(chromedp.CSS("#ustatus")),
	); err != nil {
		t.Fatalf("post an update from the phone: %v", err)
	}
	// The page after the post has #ustatus too, as the one before it: wait
	// for the update itself (the form's POST may still be on its way).
	inc, err := b.st.GetIncident(b.ctx, 1)
	for tick, deadline := time.NewTicker(20*time.Millisecond), time.Now().Add(10*time.Second); err == nil && len(inc.Updates) < 2 && time.Now().Before(deadline); {
		<-tick.C
		inc, err = b.st.GetIncident(b.ctx, 1)
	}
	if err != nil || inc.State != status.StatePublished || inc.Status != status.StatusIdentified || len(inc.Updates) < 2 || inc.Component("crl") == nil || inc.Component("crl").Status != status.PartialOutage {
		t.Fatalf("after the update from the phone: %+v, %v", inc, err)
	}
	b.okCRL(2)
	if inc, err = b.st.GetIncident(b.ctx, 1); err != nil || inc.Proposal == nil {
		t.Fatalf("no resolve proposal after recovery: %+v, %v", inc, err)
	}
	for _, width := range []int64{390, 1280} {
		fits("/admin/incidents/1", "#rmessage_en", width)
	}
}

// TestConsoleWarnsNoLeaderOnAPhone: with several holders and the lease
// expired, the dashboard's warning is shown in red at the top, above the
// drafts, and a long holder name does not widen a 390 px page; once a
// holder leads, the dashboard names it and this holder's role instead.
func TestConsoleWarnsNoLeaderOnAPhone(t *testing.T) {
	const name = "tokyo-2.holders.status.example-ca.internal:4711"
	var cur atomic.Pointer[LeaderStatus]
	since := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	cur.Store(&LeaderStatus{Holder: "osaka-2", Lease: store.Leadership{Holder: name, Epoch: 12, Since: since, Expires: since.Add(10 * time.Second)}})
	b := newBrowserConsoleWith(t, func(context.Context) (LeaderStatus, error) { return *cur.Load(), nil })
	b.failCRLLong()
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(b.url+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#no-leader"))); err != nil {
		t.Fatal(err)
	}
	type look struct {
		Text        string  `json:"text"`
		Background  string  `json:"background"`
		AboveDrafts bool    `json:"above"`
		Over        float64 `json:"over"`
	}
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[look](`(() => { const w = document.getElementById('no-leader');
		return {text: w.innerText, background: getComputedStyle(w).backgroundColor,
			above: w.getBoundingClientRect().bottom <= document.querySelector('#drafts .card').getBoundingClientRect().top, over: `+overflow+`}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Text, "No holder leads") || !strings.Contains(got.Text, name) || got.Background != "rgb(253, 232, 232)" || !got.AboveDrafts || got.Over > 0 {
		png, _ := chromedp.Run(b.ctx, chromedp.FullScreenshot(70))
		browsertest.SaveShot(t, t.TempDir(), "console-no-leader.png", png)
		t.Fatalf("the no-leader warning at 390 px: %+v; want its words naming %s, red, above the drafts, no horizontal scroll", got, name)
	}
	cur.Store(&LeaderStatus{Holder: "osaka-2", Lease: store.Leadership{Holder: name, Epoch: 13, Since: since, Expires: since.Add(time.Hour), Live: true}})
	if err := chromedp.Do(b.ctx, chromedp.Navigate(b.url+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#lead-holder"))); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('leader').innerText + (document.getElementById('no-leader') ? ' WARNING' : '')`))
	if err != nil || !strings.Contains(text, name) || !strings.Contains(text, "13") || !strings.Contains(text, "This holder: osaka-2 — follows") || strings.Contains(text, "WARNING") {
		t.Fatalf("the leader section once a holder leads: %q, %v", text, err)
	}
}
