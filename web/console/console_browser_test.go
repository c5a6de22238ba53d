package console

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/probed/probed/config"
	"github.com/probed/probed/incident"
	"github.com/probed/probed/internal/browsertest"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
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
	srv := httptest.NewServer(New(Options{Config: func() *config.Config { return h.cfg }, Clock: h.clk, Store: h.st, Engine: h.eng}).Handler())
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
