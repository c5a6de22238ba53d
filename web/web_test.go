package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/incident"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
)

// TestListeners checks which surface answers on which listener: the
// public one serves the status page and health, never the operator
// routes; the operator one serves metrics and health without a token, and
// the API and reload only with one; a single listener serves both.
func TestListeners(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "probes.yaml")
	os.WriteFile(path, []byte("storage: {path: "+filepath.Join(dir, "probed.db")+"}\npage: {name: Example CA, url: \"https://status.example.com\"}\ncomponents:\n  - {id: ocsp, name: OCSP}\nprobes:\n  - {name: ocsp, component: ocsp, kind: http, http: {url: \"http://127.0.0.1:1/\"}}\n"), 0o600)
	cfg, err := config.Load(path, probes.Kinds())
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	st, err := store.Open(ctx, store.Options{Path: cfg.Storage.Path, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfgf := func() *config.Config { return cfg }
	eng, err := incident.New(ctx, incident.Options{Store: st, Config: cfgf, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := st.CreateToken(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	reloads := 0
	s := New(Options{Config: cfgf, Clock: clk, Incidents: eng, Store: st, Reload: func(context.Context) error { reloads++; return nil }})
	for _, tc := range []struct {
		name    string
		h       http.Handler
		method  string
		path    string
		token   string
		want    int
		reloads int
	}{
		{"public: status page", s.PublicHandler(), "GET", "/", "", 200, 0},
		{"public: health", s.PublicHandler(), "GET", "/healthz", "", 200, 0},
		{"public: no operator API", s.PublicHandler(), "GET", "/api/v1/incidents", tok, 404, 0},
		{"public: no metrics", s.PublicHandler(), "GET", "/metrics", "", 404, 0},
		{"public: no reload", s.PublicHandler(), "POST", "/-/reload", tok, 404, 0},
		{"operator: metrics stay tokenless", s.AdminHandler(), "GET", "/metrics", "", 200, 0},
		{"operator: health", s.AdminHandler(), "GET", "/readyz", "", 200, 0},
		{"operator: API needs a token", s.AdminHandler(), "GET", "/api/v1/incidents", "", 401, 0},
		{"operator: API with a token", s.AdminHandler(), "GET", "/api/v1/incidents", tok, 200, 0},
		{"operator: reload needs a token", s.AdminHandler(), "POST", "/-/reload", "", 401, 0},
		{"operator: reload with a token", s.AdminHandler(), "POST", "/-/reload", tok, 200, 1},
		{"one listener: page", s.Handler(), "GET", "/", "", 200, 1},
		{"one listener: API", s.Handler(), "GET", "/api/v1/incidents", tok, 200, 1},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		rec := httptest.NewRecorder()
		tc.h.ServeHTTP(rec, req)
		if rec.Code != tc.want || reloads != tc.reloads {
			t.Errorf("%s: %s %s = %d (reloads %d), want %d (reloads %d): %s", tc.name, tc.method, tc.path, rec.Code, reloads, tc.want, tc.reloads, rec.Body)
		}
	}
}
