package statuspage

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/probed/probed/internal/browsertest"
	"github.com/probed/probed/internal/testtool"
	"github.com/probed/probed/status"
)

// widgetVersion is the release of Atlassian's status widget the test runs.
const widgetVersion = "1.0.5"

// installWidget installs @statuspage/status-widget with npm into a
// temporary directory (nothing is vendored) and returns its bundle. No npm,
// or an install that fails (no registry reachable), skips the test, or
// fails it under PROBED_REQUIRE_TOOLS=1.
func installWidget(t *testing.T) []byte {
	t.Helper()
	npm := testtool.Path(t, "npm", "npm")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", dir, "--no-audit", "--no-fund", "--ignore-scripts", "--no-save",
		"@statuspage/status-widget@"+widgetVersion)
	cmd.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(dir, ".npm"), "npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := fmt.Sprintf("npm install @statuspage/status-widget@%s: %v\n%s", widgetVersion, err, out)
		if os.Getenv(testtool.RequireEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipped (set " + testtool.RequireEnv + "=1 to fail instead)")
	}
	js, err := os.ReadFile(filepath.Join(dir, "node_modules", "@statuspage", "status-widget", "dist", "index.js"))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

type widgetView struct {
	Class, Text, Background string
}

// TestStatusWidget shows every top-level status in Atlassian's own status
// widget in headless Chromium: the widget reads /api/v2/summary.json and
// must paint the colour hosted pages get for that status (green none,
// yellow minor, orange major, red critical, blue maintenance).
func TestStatusWidget(t *testing.T) {
	js := installWidget(t)
	ctx := browsertest.New(t)
	cfg := fixtureConfig()
	leaves := []string{"certcentral-api", "acme", "timestamp", "ocsp", "crl"}
	at := fixtureNow.Add(-time.Hour)
	all := func(st string) []StatusChange {
		var out []StatusChange
		for _, id := range leaves {
			out = append(out, StatusChange{Component: id, Status: st, At: at})
		}
		return out
	}
	one := func(st string) []StatusChange { return []StatusChange{{Component: "ocsp", Status: st, At: at}} }
	maint := []Record{{ID: 1, Kind: status.KindMaintenance, State: status.StatePublished, Status: status.StatusInProgress,
		Title: status.Text{"en": "CRL publisher upgrade"}, Components: []RecordComponent{{ID: "crl", Status: status.UnderMaintenance}},
		CreatedAt: at, StartedAt: at, ScheduledFor: at, ScheduledUntil: fixtureNow.Add(time.Hour)}}

	for _, tc := range []struct {
		key     string
		log     []StatusChange
		records []Record
		class   string
		colour  string // the widget's colour for the hosted indicator
	}{
		{status.TopAllOperational, nil, nil, "none", "rgb(46, 204, 113)"},
		{status.TopServiceUnderMaintenance, nil, maint, "maintenance", "rgb(52, 152, 219)"},
		{status.TopPartiallyDegradedService, one(status.DegradedPerformance), nil, "minor", "rgb(241, 196, 15)"},
		{status.TopDegradedSystemService, all(status.DegradedPerformance), nil, "minor", "rgb(241, 196, 15)"},
		{status.TopMinorServiceOutage, one(status.PartialOutage), nil, "minor", "rgb(241, 196, 15)"},
		{status.TopPartialSystemOutage, one(status.MajorOutage), nil, "major", "rgb(230, 126, 34)"},
		{status.TopMajorSystemOutage, all(status.MajorOutage), nil, "critical", "rgb(231, 76, 60)"},
	} {
		site, ts := newFixtureWith(t, cfg, Data{FirstData: fixtureNow.Add(-48 * time.Hour), StatusLog: tc.log, Records: tc.records})
		if got := site.Snapshot().Status.Key; got != tc.key {
			t.Fatalf("%s: the page computes %s", tc.key, got)
		}
		host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/widget.js" {
				w.Header().Set("Content-Type", "text/javascript")
				w.Write(js)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><html><body><statuspage-widget src=%q></statuspage-widget><script src="/widget.js"></script></body></html>`, ts.URL)
		}))
		// The widget fetches the summary from another origin (CORS) and
		// renders into its shadow root; wait for the status text.
		const read = `new Promise((resolve, reject) => {
			const deadline = Date.now() + 30000;
			const poll = () => {
				const root = document.querySelector('statuspage-widget')?.shadowRoot;
				const ind = root?.querySelector('.status-indicator');
				const text = root?.querySelector('.status-text')?.textContent.trim();
				if (ind && text) {
					return resolve({class: ind.className, text: text, background: getComputedStyle(ind).backgroundColor});
				}
				if (Date.now() > deadline) return reject(new Error('the widget rendered nothing: ' + (root ? root.innerHTML : 'no shadow root')));
				setTimeout(poll, 50);
			};
			poll();
		})`
		if err := chromedp.Do(ctx, chromedp.Navigate(host.URL)); err != nil {
			t.Fatal(err)
		}
		v, err := chromedp.Run(ctx, chromedp.Evaluate[widgetView](read, chromedp.EvalAwaitPromise))
		host.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.key, err)
		}
		want := site.Snapshot().Status.Description()
		if v.Class != "status-indicator "+tc.class || v.Background != tc.colour || v.Text != want {
			t.Errorf("%s: widget shows class %q, colour %s, text %q; want status-indicator %s, %s, %q", tc.key, v.Class, v.Background, v.Text, tc.class, tc.colour, want)
		}
	}
}
