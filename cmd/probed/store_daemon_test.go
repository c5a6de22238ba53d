package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/probed/probed/store"
)

// The daemon runs the store's heartbeat and housekeeping with its own
// context and the retention from storage:; at the stop the running
// interval is closed and the results are kept.
func TestDaemonRunsStoreHeartbeatAndHousekeeping(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer target.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: probed.db, retention: 36h, rollup_retention: 90d}
location: store-test
components: [{id: api, name: API}]
probes:
  - {name: a, component: api, kind: http, interval: 1s, timeout: 500ms, http: {url: %q}}
`, target.URL))
	d, err := NewDaemon(context.Background(), cfgPath, slog.New(slog.DiscardHandler), DaemonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if raw, rollup := d.store.Retention(); raw != 36*time.Hour || rollup != 90*24*time.Hour {
		t.Errorf("store retention = %s, %s; want storage.retention 36h and rollup_retention 90d", raw, rollup)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	before := time.Now()
	go func() { served <- d.Serve(ctx) }()
	m := &scraper{t: t, url: "http://" + d.publicLn.Addr().String() + "/metrics"}
	eventually(t, "a housekeeping pass and a stored run", func() (bool, string) {
		h, w := m.value("probed_store_housekeeping_runs_total", "result", "success"), m.value("probed_store_results_written_total")
		return h >= 1 && w >= 1, fmt.Sprintf("housekeeping passes %v, results written %v", h, w)
	})
	if v := m.value("probed_store_size_bytes"); v < 4096 {
		t.Errorf("probed_store_size_bytes = %v", v)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	after := time.Now()

	st, err := store.Open(context.Background(), store.Options{Path: filepath.Join(dir, "probed.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cov, err := st.Coverage(context.Background(), before.Add(-time.Minute), after.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(cov) != 1 || cov[0].Start.Before(before.Truncate(time.Millisecond)) || cov[0].End.After(after) || !cov[0].End.After(cov[0].Start) {
		t.Fatalf("coverage = %v, want one closed interval inside [%s, %s]", cov, before, after)
	}
	rs, err := st.Results(context.Background(), "a", before.Add(-time.Minute), after)
	if err != nil || len(rs) == 0 {
		t.Fatalf("results after the stop: %d, %v", len(rs), err)
	}
}
