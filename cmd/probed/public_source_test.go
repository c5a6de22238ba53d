package main

import (
	"context"
	"database/sql"
	"github.com/probed/probed/status"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/store"
	"github.com/probed/probed/web/statuspage"
)

// TestStoreSource builds the page from a real SQLite store driven through
// the operator's actions: only what was published counts, a 30-minute
// outage shows on its day, the time probed was down is no data, and a
// maintenance window is left out of uptime.
func TestStoreSource(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2021, 8, 31, 12, 0, 0, 0, time.UTC))
	dbPath := filepath.Join(t.TempDir(), "probed.db")
	st, err := store.Open(ctx, store.Options{Path: dbPath, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := func(d, h, m int) { clk.Set(time.Date(2021, 9, d, h, m, 0, 0, time.UTC)) }

	// Run 1 of probed: Aug 31 12:00 to Sep 5 00:00.
	hbCtx, stopHB := context.WithCancel(ctx)
	hbDone := make(chan error, 1)
	go func() { hbDone <- st.Heartbeat(hbCtx, "", time.Hour) }()
	eventually(t, "the first run recorded", func() (bool, string) { n := runs(t, dbPath); return n == 1, strconv.Itoa(n) })
	if err := st.EnsureComponents(ctx, []string{"certcentral-api", "acme", "timestamp", "ocsp", "crl"}); err != nil {
		t.Fatal(err)
	}

	at(3, 10, 0)
	draft, err := st.CreateDraft(ctx, store.ActorEngine, status.NewIncident{Title: status.Text{"en": "OCSP responder down", "ja": "OCSP レスポンダーの停止"},
		Body: status.Text{"en": "OCSP requests fail.", "ja": "OCSP の要求が失敗しています。"}, Origin: status.OriginProbe,
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}})
	if err != nil {
		t.Fatal(err)
	}
	rejected, err := st.CreateDraft(ctx, store.ActorEngine, status.NewIncident{Title: status.Text{"en": "REJECTED-NEVER-PUBLIC"}, Body: status.Text{"en": "never public"}, Origin: status.OriginProbe,
		Components: []status.ComponentImpact{{ID: "crl", Status: status.MajorOutage}}})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := st.CreateDraft(ctx, store.ActorEngine, status.NewIncident{Title: status.Text{"en": "DRAFT-NEVER-PUBLIC"}, Body: status.Text{"en": "never public"}, Origin: status.OriginProbe,
		Components: []status.ComponentImpact{{ID: "acme", Status: status.PartialOutage}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Reject(ctx, "alice", rejected.ID, "false alarm"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Approve(ctx, "alice", draft.ID, true); err != nil {
		t.Fatal(err)
	}
	at(3, 10, 30)
	if _, err := st.Resolve(ctx, "alice", draft.ID, status.Text{"en": "This incident has been resolved."}); err != nil {
		t.Fatal(err)
	}

	// probed stops on Sep 5 00:00 and is back on Sep 6 00:00: Sep 5 is no data.
	at(5, 0, 0)
	stopHB()
	if err := <-hbDone; err != nil {
		t.Fatal(err)
	}
	at(6, 0, 0)
	hbCtx2, stopHB2 := context.WithCancel(ctx)
	defer stopHB2()
	go st.Heartbeat(hbCtx2, "", time.Hour)
	eventually(t, "the second run recorded", func() (bool, string) { n := runs(t, dbPath); return n == 2, strconv.Itoa(n) })

	m, err := st.ScheduleMaintenance(ctx, "alice", status.NewMaintenance{Title: status.Text{"en": "CRL publisher upgrade"}, Components: []string{"crl"},
		Start: time.Date(2021, 9, 7, 2, 0, 0, 0, time.UTC), End: time.Date(2021, 9, 7, 4, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	at(7, 2, 0)
	if _, err := st.AdvanceMaintenances(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	at(7, 4, 0)
	if _, err := st.AdvanceMaintenances(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	at(8, 12, 0)

	cfg := config.Default()
	cfg.Page = config.Page{Name: "Example CA", URL: "https://status.example.com", TimeZone: "UTC", Languages: []string{"en", "ja"}}
	cfg.Components = []config.Component{
		{ID: "certcentral", Name: "CertCentral", Components: []config.Component{{ID: "certcentral-api", Name: "CertCentral API"}, {ID: "acme", Name: "ACME"}}},
		{ID: "timestamp", Name: "Code Signing Timestamp Service"}, {ID: "ocsp", Name: "OCSP"}, {ID: "crl", Name: "CRL"},
	}
	p, err := statuspage.New(statuspage.Options{Config: func() *config.Config { return &cfg }, Source: storeSource{Store: st}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	s := p.Snapshot()
	if len(s.Incidents) != 1 || s.Incidents[0].ID != draft.ID || !s.Incidents[0].Resolved() {
		t.Fatalf("public incidents %+v, want only the approved one, resolved", s.Incidents)
	}
	if len(s.Maintenances) != 1 || s.Maintenances[0].ID != m.ID || s.Maintenances[0].Status != "completed" {
		t.Fatalf("maintenances %+v", s.Maintenances)
	}
	if got := s.Incidents[0].Updates; len(got) != 2 || got[0].Label() != "resolved" || got[1].Label() != "investigating" {
		t.Errorf("timeline %+v", got)
	}
	if s.Status.Indicator != "none" || s.ByID["acme"].Status != status.Operational {
		t.Errorf("the pending draft shows: indicator %s, acme %s", s.Status.Indicator, s.ByID["acme"].Status)
	}
	day := func(id string, d int) statuspage.Day {
		for _, u := range s.ByID[id].Uptime {
			if u.Start.Equal(time.Date(2021, 9, d, 0, 0, 0, 0, time.UTC)) {
				return u
			}
		}
		t.Fatalf("no day %d", d)
		return statuspage.Day{}
	}
	if d := day("ocsp", 3); d.Major != 30*time.Minute || d.Covered != 24*time.Hour || len(d.Incidents) != 1 {
		t.Errorf("ocsp Sep 3: major %v covered %v incidents %d", d.Major, d.Covered, len(d.Incidents))
	}
	if d := day("ocsp", 5); !d.NoData() {
		t.Errorf("ocsp Sep 5 (probed down): %+v", d)
	}
	if d := day("crl", 7); d.Maintenance != 2*time.Hour || d.Covered != 22*time.Hour || d.Uptime() != 1 {
		t.Errorf("crl Sep 7: maintenance %v covered %v uptime %v", d.Maintenance, d.Covered, d.Uptime())
	}
	if d := day("crl", 2); d.Covered != 24*time.Hour || d.Uptime() != 1 {
		t.Errorf("crl Sep 2: %+v", d)
	}
	if first := s.ByID["ocsp"].Uptime[0]; !first.NoData() {
		t.Errorf("before probed first ran: %+v", first)
	}

	h := p.Handler()
	for path, want := range map[string]int{
		"/incidents/" + strconv.FormatInt(draft.ID, 10):    200,
		"/maintenance/" + strconv.FormatInt(m.ID, 10):      200,
		"/incidents/" + strconv.FormatInt(rejected.ID, 10): 404,
		"/incidents/" + strconv.FormatInt(pending.ID, 10):  404,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if got := rec.Code; got != want {
			t.Errorf("%s: %d, want %d", path, got, want)
		}
	}
}

// runs counts probed's recorded runs (the heartbeat's intervals), read on a
// connection of its own as another process would.
func runs(t *testing.T, dbPath string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM daemon_runs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
