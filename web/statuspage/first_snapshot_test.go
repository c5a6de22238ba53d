package statuspage

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
)

// Until a snapshot holds the store's data, the page routes answer 503
// with Retry-After (never a page without the incidents under way); a
// failed first build keeps it so; the first build that works serves the
// page, and Run then does not build it again at once. Static files are
// served throughout; a site without a Source serves at once.
func TestNoPageBeforeTheFirstSnapshot(t *testing.T) {
	cfg := fixtureConfig()
	src := &mutableSource{}
	src.set(Data{}, errors.New("database unreachable"))
	p, err := New(Options{Config: func() *config.Config { return cfg }, Source: src, Clock: clock.NewFake(fixtureNow)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(p.Handler())
	defer ts.Close()
	paths := []string{"/", "/api/v2/summary.json", "/api/v2/incidents.json", "/history", "/history.atom", "/uptime", "/badge/acme.svg"}
	unavailable := func(when string) {
		t.Helper()
		for _, path := range paths {
			resp := get(t, ts.URL+path)
			body := string(readAll(t, resp))
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" || !strings.Contains(body, "first snapshot is not built yet") {
				t.Errorf("%s: GET %s = %d (Retry-After %q) %q; want 503 with Retry-After", when, path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
		}
		if code, _ := page(t, ts.URL+"/static/style.css"); code != 200 {
			t.Errorf("%s: a static file = %d, want 200", when, code)
		}
		if p.Built() {
			t.Errorf("%s: Built() = true", when)
		}
	}
	unavailable("before any build")
	if err := p.Rebuild(context.Background()); err == nil {
		t.Fatal("a rebuild from an unreachable database worked")
	}
	unavailable("after a failed build")

	src.set(fixtureData(), nil)
	if err := p.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !p.Built() {
		t.Fatal("Built() = false after a build")
	}
	reads := src.read
	code, body := page(t, ts.URL+"/")
	if code != 200 || !strings.Contains(body, fixtureData().Records[0].Title.In("en")) {
		t.Fatalf("GET / after the first build = %d, without the fixture's first incident", code)
	}
	// Run starts on the snapshot built: the first rebuild waits for an
	// invalidation.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	p.Invalidate()
	waitFor(t, func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return src.read > reads
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	if src.read != reads+1 {
		t.Errorf("Run read the store %d times for one invalidation, want 1 (no rebuild at its start)", src.read-reads)
	}
	src.mu.Unlock()

	bare, err := New(Options{Config: func() *config.Config { return cfg }, Clock: clock.NewFake(fixtureNow)})
	if err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(bare.Handler())
	defer ts2.Close()
	if code, _ := page(t, ts2.URL+"/"); code != 200 || !bare.Built() {
		t.Errorf("a site without a Source: GET / = %d, Built %v; want 200 at once", code, bare.Built())
	}
}
