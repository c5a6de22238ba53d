package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// A prober-only instance probes and exports metrics, nothing else: every
// route of the holder (page, API v2, feeds, subscribe, console, operator
// API, Alertmanager receiver, reload) is 404 on both its listeners, no
// incident is drafted however long its probe fails, and a reload cannot
// turn it into a holder.
func TestProberRoleServesMetricsAndHealthOnly(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) }))
	defer target.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	cfg := fmt.Sprintf(`role: prober
server: {listen: "127.0.0.1:0", admin_listen: "127.0.0.1:%d"}
storage: {path: probed.db}
location: osaka-1
incidents: {failures_to_open: 2}
components: [{id: api, name: API}]
probes:
  - {name: a, component: api, kind: http, interval: 1s, timeout: 500ms, http: {url: %q}}
`, freeTCPPort(t), target.URL)
	writeFile(t, cfgPath, cfg)
	d, err := NewDaemon(context.Background(), cfgPath, slog.New(slog.DiscardHandler), DaemonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.engine != nil || d.public != nil || d.notify != nil || d.web != nil {
		t.Fatal("a prober built the incident engine, the page, mail or the console")
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	for _, base := range []string{"http://" + d.publicLn.Addr().String(), "http://" + d.adminLn.Addr().String()} {
		m := &scraper{t: t, url: base + "/metrics"}
		eventually(t, "the probe down at osaka-1", func() (bool, string) {
			v := m.value("probed_probe_down", "probe", "a", "location", "osaka-1", "component", "api", "kind", "http")
			return v == 1, fmt.Sprintf("probed_probe_down = %v", v)
		})
		if v := m.value("probed_probe_down_since_timestamp_seconds", "probe", "a"); v <= 0 {
			t.Errorf("probed_probe_down_since_timestamp_seconds = %v", v)
		}
		for _, holderOnly := range []string{"probed_component_status", "probed_incidents", "probed_component_detected_status", "probed_notifications_pending"} {
			if v := m.value(holderOnly); v != -1 {
				t.Errorf("a prober exports %s", holderOnly)
			}
		}
		for _, path := range []string{"/healthz", "/readyz"} {
			if code, _ := get(t, http.MethodGet, base+path); code != 200 {
				t.Errorf("GET %s%s = %d, want 200", base, path, code)
			}
		}
		for _, r := range []struct{ method, path string }{
			{"GET", "/"}, {"GET", "/api/v2/summary.json"}, {"GET", "/api/v2/status.json"}, {"GET", "/history"}, {"GET", "/history.atom"},
			{"GET", "/incidents/1"}, {"GET", "/uptime"}, {"GET", "/badge/api.svg"}, {"GET", "/static/app.css"},
			{"GET", "/subscribe"}, {"POST", "/subscribe"}, {"GET", "/unsubscribe"},
			{"GET", "/admin/"}, {"GET", "/admin/login"}, {"POST", "/admin/login"},
			{"GET", "/api/v1/incidents"}, {"POST", "/api/v1/alertmanager"}, {"POST", "/-/reload"}, {"GET", "/debug/pprof/"},
			{"GET", "/demo/faults"}, {"POST", "/metrics"},
		} {
			if code, body := get(t, r.method, base+r.path); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s%s = %d %q, want 404", r.method, base, r.path, code, body)
			} else if r.method == "GET" && code != http.StatusNotFound {
				t.Errorf("%s %s = %d, want 404", r.method, r.path, code)
			}
		}
	}
	if n, err := d.store.CountIncidents(ctx); err != nil || n["draft"] != 0 {
		t.Errorf("a prober's database holds drafts: %v %v", n, err)
	}
	// A reload that would make it a holder is refused; it keeps probing.
	writeFile(t, cfgPath, strings.Replace(cfg, "role: prober", "role: holder", 1))
	if err := d.Reload(ctx); err == nil || !strings.Contains(err.Error(), "role (prober → holder) changed: these take effect only on restart") {
		t.Fatalf("reload to holder: %v", err)
	}
}

// freeTCPPort is a loopback port free a moment ago.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
