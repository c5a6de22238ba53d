package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPublicPageServed runs the daemon in-process and reads its public page
// and API: the configured tree with groups, served from the snapshot the
// daemon keeps, and rebuilt when a reload changes the page.
func TestPublicPageServed(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	cfg := func(name string) string {
		return `page: {name: "` + name + `", url: "https://status.example.com"}
server: {listen: "127.0.0.1:0"}
storage: {path: probed.db}
components:
  - id: certcentral
    name: CertCentral
    components:
      - {id: acme, name: ACME}
  - {id: ocsp, name: OCSP}
probes:
  - {name: a, component: acme, kind: http, interval: 1h, http: {url: "http://127.0.0.1:1/"}}
`
	}
	writeFile(t, cfgPath, cfg("Example CA"))
	ctx, cancel := context.WithCancel(context.Background())
	d, err := NewDaemon(ctx, cfgPath, slog.New(slog.DiscardHandler), DaemonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	base := "http://" + d.publicLn.Addr().String()
	fetch := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var comps struct {
		Page struct {
			Name string `json:"name"`
		} `json:"page"`
		Components []struct {
			ID         string   `json:"id"`
			Group      bool     `json:"group"`
			Components []string `json:"components"`
		} `json:"components"`
	}
	code, body := fetch("/api/v2/components.json")
	if code != 200 {
		t.Fatalf("components.json: %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &comps); err != nil {
		t.Fatal(err)
	}
	if len(comps.Components) != 3 || comps.Components[0].ID != "certcentral" || !comps.Components[0].Group ||
		strings.Join(comps.Components[0].Components, ",") != "acme" || comps.Components[2].ID != "ocsp" {
		t.Errorf("components %+v", comps.Components)
	}
	if code, body := fetch("/"); code != 200 || !strings.Contains(body, "All Systems Operational") || !strings.Contains(body, `data-component="acme"`) {
		t.Errorf("/: %d", code)
	}
	resp, err := http.Head(base + "/api/v2/components.json")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD components.json: %v %v", resp, err)
	}
	resp.Body.Close()

	// A reload that renames the page reaches the public page.
	writeFile(t, cfgPath, cfg("Renamed CA"))
	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the renamed page", func() (bool, string) {
		_, body := fetch("/api/v2/status.json")
		return strings.Contains(body, `"name":"Renamed CA"`), body
	})

	// An operator's approval reaches the page at once (the engine's change
	// hook, not the minute ticker); a draft made before it never does.
	if _, err := d.engine.CreateIncident(ctx, "alice", status.NewIncident{Title: status.Text{"en": "DRAFT-NEVER-PUBLIC"}, Body: status.Text{"en": "draft"},
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}}); err != nil {
		t.Fatal(err)
	}
	inc, err := d.engine.CreateIncident(ctx, "alice", status.NewIncident{Title: status.Text{"en": "ACME orders delayed"}, Body: status.Text{"en": "We are investigating."},
		Components: []status.ComponentImpact{{ID: "acme", Status: status.PartialOutage}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.engine.Approve(ctx, "alice", inc.ID, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the approved incident on the page", func() (bool, string) {
		_, body := fetch("/api/v2/incidents/unresolved.json")
		return strings.Contains(body, "ACME orders delayed"), body
	})
	for _, path := range []string{"/", "/api/v2/summary.json", "/api/v2/incidents.json", "/history", "/history.atom"} {
		if _, body := fetch(path); strings.Contains(body, "DRAFT-NEVER-PUBLIC") {
			t.Errorf("%s shows the draft", path)
		}
	}
	// One partial outage among several components: Statuspage's blend.
	if _, body := fetch("/api/v2/status.json"); !strings.Contains(body, `"indicator":"minor","description":"Minor Service Outage"`) {
		t.Errorf("status after approval: %s", body)
	}
	// The Japanese page links the Japanese feed, and that feed is Japanese.
	if _, body := fetch("/?lang=ja"); !strings.Contains(body, `href="/history.atom?lang=ja"`) || !strings.Contains(body, `href="/history?lang=ja"`) {
		t.Errorf("the Japanese page does not link its feed and history in Japanese:\n%s", body)
	}
	if code, body := fetch("/history.atom?lang=ja"); code != 200 || !strings.Contains(body, `xml:lang="ja"`) || !strings.Contains(body, "Renamed CA 稼働状況 - インシデント履歴") {
		t.Errorf("/history.atom?lang=ja: %d\n%s", code, body)
	}
}

// TestFirstRequestGetsTheRealPage: a published incident is in the store
// when the daemon starts; a visitor whose request reaches the public
// listener before the daemon serves (it waits in the listen queue) gets
// the page with that incident, and so does the API — never the page of
// the configuration alone that says all is well — and /readyz is ready.
func TestFirstRequestGetsTheRealPage(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, `page: {name: "Example CA", url: "https://status.example.com"}
server: {listen: "127.0.0.1:0"}
storage: {path: probed.db}
components: [{id: ocsp, name: OCSP}]
probes:
  - {name: a, component: ocsp, kind: http, interval: 1h, http: {url: "http://127.0.0.1:1/"}}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, store.Options{Path: filepath.Join(dir, "probed.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureComponents(ctx, []string{"ocsp"}); err != nil {
		t.Fatal(err)
	}
	const title = "OCSP responses are stale"
	if _, err := st.CreateDraft(ctx, "alice", status.NewIncident{Title: status.Text{"en": title}, Body: status.Text{"en": "Investigating."}, Origin: status.OriginManual,
		Publish: true, Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}}); err != nil {
		t.Fatal(err)
	}
	// A month of runs every minute, so that building the page takes a
	// while: a page served before it is built would show.
	now := time.Now()
	for i := range 30 * 24 * 60 {
		r := probes.Result{Probe: "a", Kind: "http", Component: "ocsp", Location: "default", Start: now.Add(-time.Duration(i) * time.Minute), Duration: time.Millisecond, Success: i%97 != 0}
		if err := st.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	d, err := NewDaemon(ctx, cfgPath, slog.New(slog.DiscardHandler), DaemonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		code int
		body string
		err  error
	}
	// ask connects and sends the request now (the kernel completes the
	// connection into the listen queue), and reads the answer once served.
	ask := func(path string) <-chan answer {
		t.Helper()
		conn, err := net.Dial("tcp", d.publicLn.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: status.example.com\r\nConnection: close\r\n\r\n", path); err != nil {
			t.Fatal(err)
		}
		ch := make(chan answer, 1)
		go func() {
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				ch <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			ch <- answer{resp.StatusCode, string(b), err}
		}()
		return ch
	}
	// Sent while the listener is bound but nothing serves it yet.
	first, api, ready := ask("/"), ask("/api/v2/incidents.json"), ask("/readyz")
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if a := <-first; a.err != nil || a.code != http.StatusOK || !strings.Contains(a.body, title) {
		t.Errorf("the first GET / = %d %v, without the published incident %q", a.code, a.err, title)
	}
	if a := <-api; a.err != nil || a.code != http.StatusOK || !strings.Contains(a.body, title) {
		t.Errorf("the first GET /api/v2/incidents.json = %d %v %s, without the published incident", a.code, a.err, a.body)
	}
	if a := <-ready; a.err != nil || a.code != http.StatusOK {
		t.Errorf("the first GET /readyz = %d %v %s", a.code, a.err, a.body)
	}
}
