package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/pgtest"
	"github.com/probed/probed/store"
)

// pg is this package's PostgreSQL server, started by the first test that
// asks for a database.
var pg = new(pgtest.Server)

func TestMain(m *testing.M) { pgtest.Main(m, pg) }

// storage.driver: postgres with the DSN from the environment: the daemon
// keeps its history on the server (results written, /readyz ready, its run
// closed at the stop) and never logs the DSN's password.
func TestDaemonOnPostgres(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer target.Close()
	// The test server trusts every local user, so the password is checked
	// by nobody: it is here to be looked for in the log.
	dsn := pg.DSN(t) + " password=never-logged-7f3a"
	t.Setenv("PROBED_TEST_STORE_DSN", dsn)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {driver: postgres, dsn_env: PROBED_TEST_STORE_DSN}
location: pg-test
components: [{id: api, name: API}]
probes:
  - {name: a, component: api, kind: http, interval: 1s, timeout: 500ms, http: {url: %q}}
`, target.URL))
	var logs bytes.Buffer
	d, err := NewDaemon(context.Background(), cfgPath, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), DaemonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	start := time.Now()
	go func() { served <- d.Serve(ctx) }()
	base := "http://" + d.publicLn.Addr().String()
	m := &scraper{t: t, url: base + "/metrics"}
	eventually(t, "a stored run and a ready daemon", func() (bool, string) {
		w := m.value("probed_store_results_written_total")
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return w >= 1 && resp.StatusCode == http.StatusOK, fmt.Sprintf("results written %v, /readyz %d", w, resp.StatusCode)
	})
	if v := m.value("probed_store_healthy"); v != 1 {
		t.Errorf("probed_store_healthy = %v, want 1", v)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(context.Background(), store.Options{Driver: "postgres", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.Results(context.Background(), "a", start.Add(-time.Minute), time.Now().Add(time.Minute))
	if err != nil || len(rs) == 0 {
		t.Fatalf("results on the server: %d, %v; want the daemon's runs", len(rs), err)
	}
	cov, err := st.Coverage(context.Background(), start.Add(-time.Minute), time.Now().Add(time.Minute))
	if err != nil || len(cov) != 1 {
		t.Fatalf("coverage = %v, %v; want the daemon's one closed run", cov, err)
	}
	if strings.Contains(logs.String(), "never-logged-7f3a") {
		t.Error("the log shows the DSN's password")
	}
}
