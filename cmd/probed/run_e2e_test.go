package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/probed/probed/internal/testtool"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
)

// TestRunEndToEnd runs the built binary as an operator would: `probed run`
// on a temporary config with loopback targets. The probe is up on
// /metrics; its target stops and it goes down with the failing check
// named; the scrape passes `promtool check metrics`; SIGTERM while a run is
// in flight lets that run finish, flushes the store and exits 0, and the
// history is there when the database is opened again.
func TestRunEndToEnd(t *testing.T) {
	bin := buildProbed(t)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "status: ok\n")
	}))
	defer target.Close()

	// The slow target holds its answer until the test lets go, so a run
	// is in flight when SIGTERM arrives.
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	defer letGo()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
			io.WriteString(w, "late but fine\n")
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: history.db}
location: e2e-1
components:
  - {id: api, name: API}
  - {id: batch, name: Batch}
probes:
  - {name: api, component: api, kind: http, interval: 1s, timeout: 800ms, http: {url: %q, body_matches: ["status: ok"]}}
  - {name: slow, component: batch, kind: http, interval: 10s, timeout: 9s, http: {url: %q}}
`, target.URL+"/health", slow.URL+"/report"))

	d := startProbed(t, bin, cfgPath)
	m := &scraper{t: t, url: "http://" + d.addr + "/metrics"}
	eventually(t, "probe api to be up", func() (bool, string) {
		v := m.value("probe_success", "probe", "api", "kind", "http", "component", "api", "location", "e2e-1")
		return v == 1, fmt.Sprint("probe_success ", v)
	})
	if v := m.value("probe_check_success", "probe", "api", "check", "http_body_matches"); v != 1 {
		t.Errorf("probe_check_success{check=http_body_matches} = %v, want 1", v)
	}
	up := scrapeText(t, m.url)
	for _, name := range []string{"probed_build_info", "probed_probe_runs_total", "probed_schedule_lag_seconds_bucket",
		"probe_duration_seconds", "probe_http_duration_seconds", "probe_http_status_code", "process_cpu_seconds_total", "go_goroutines"} {
		if !strings.Contains(up, "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	target.Close()
	eventually(t, "probe api to be down with http_connect failing", func() (bool, string) {
		s := m.value("probe_success", "probe", "api")
		c := m.value("probe_check_success", "probe", "api", "check", "http_connect")
		return s == 0 && c == 0, fmt.Sprintf("probe_success %v, http_connect %v", s, c)
	})
	// The checks that need a response are not reported for a run without one.
	if v := m.value("probe_check_success", "probe", "api", "check", "http_status"); v != -1 {
		t.Errorf("http_status exported (%v) for a run that got no response", v)
	}

	downText := scrapeText(t, m.url)

	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow probe did not run within 30s")
	}
	sigterm := time.Now()
	d.signal(syscall.SIGTERM)
	if line := d.waitLog(`msg="shutting down: scheduling stopped, waiting for runs in flight"`); !strings.Contains(line, "runs=") || strings.Contains(line, "runs=0") {
		t.Errorf("shutdown saw no run in flight: %s", line)
	}
	// The slow run cannot end before letGo: probed must still be waiting.
	select {
	case err := <-d.done:
		d.done <- err
		t.Fatalf("probed exited (%v) before its run in flight finished", err)
	default:
	}
	if strings.Contains(d.stderr(), "runs in flight finished") {
		t.Fatal("probed reported its runs finished while the slow one was held")
	}
	letGo()
	if err := d.wait(); err != nil {
		t.Fatalf("probed exit after SIGTERM: %v\n%s", err, d.stderr())
	}
	for _, line := range []string{`msg="runs in flight finished"`, `msg="store flushed and closed"`, `msg=stopped`} {
		if !strings.Contains(d.stderr(), line) {
			t.Errorf("stderr lacks %s", line)
		}
	}

	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Path: filepath.Join(dir, "history.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	from, to := sigterm.Add(-time.Hour), time.Now().Add(time.Hour)
	slowRuns, err := st.Results(ctx, "slow", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(slowRuns) != 1 || !slowRuns[0].Success {
		t.Fatalf("slow probe's stored runs = %+v, want the one that was in flight at SIGTERM, successful", slowRuns)
	}
	// The store keeps start times to the millisecond, so allow that much.
	if !slowRuns[0].Start.Add(slowRuns[0].Duration).Add(time.Millisecond).After(sigterm) {
		t.Errorf("the slow run ended at %s, before SIGTERM at %s", slowRuns[0].Start.Add(slowRuns[0].Duration), sigterm)
	}
	apiRuns, err := st.Results(ctx, "api", from, to)
	if err != nil {
		t.Fatal(err)
	}
	var ups, downs int
	for _, r := range apiRuns {
		if r.Success {
			ups++
			continue
		}
		downs++
		if !slices.ContainsFunc(r.Checks, func(c probes.Check) bool {
			return c.Name == "http_connect" && strings.Contains(c.Message, "connection refused")
		}) {
			t.Errorf("stored failure lacks http_connect's reason: %+v", r.Checks)
		}
	}
	if ups == 0 || downs == 0 {
		t.Errorf("stored api runs: %d up, %d down; want both", ups, downs)
	}
	// Last, so that without promtool only the lint is skipped.
	promtoolLint(t, up)
	promtoolLint(t, downText)
}

func scrapeText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s %v", resp.Status, err)
	}
	return string(b)
}

// promtoolLint fails the test on anything `promtool check metrics` says.
func promtoolLint(t *testing.T, text string) {
	t.Helper()
	cmd := exec.Command(testtool.Promtool(t), "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
