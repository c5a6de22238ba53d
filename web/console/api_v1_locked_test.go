package console

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
)

// While another process holds the database locked (BEGIN EXCLUSIVE), an
// operator write answers 503 with Retry-After after a bounded wait, saying
// why, instead of hanging; reads go on (WAL); once the lock is gone the
// same request succeeds.
func TestLockedDatabaseAnswers503(t *testing.T) {
	h := newOpHarness(t)
	db, err := sql.Open("sqlite3", "file:"+h.cfg.Storage.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(h.ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	body := `{"title": "OCSP slow", "message": "Looking.", "components": [{"id": "ocsp", "status": "degraded_performance"}]}`
	post := func() *http.Response {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, h.srv.URL+"/api/v1/incidents", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.tok["alice"])
		req.Header.Set("Content-Type", "application/json")
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post()
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" || !strings.Contains(string(raw), "locked") {
		t.Fatalf("POST while locked = %d, Retry-After %q, %s; want 503, 5, a message saying the database is locked",
			resp.StatusCode, resp.Header.Get("Retry-After"), raw)
	}
	if code, raw := h.do("bob", http.MethodGet, "/api/v1/incidents", nil, nil); code != http.StatusOK {
		t.Errorf("GET while locked = %d %s, want 200 (reads go on)", code, raw)
	}
	if _, err := conn.ExecContext(h.ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	resp = post()
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST after the lock = %d, want 201", resp.StatusCode)
	}
	list, err := h.st.ListIncidents(h.ctx, store.IncidentFilter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("incidents after the lock = %d, %v; want exactly the one created after it", len(list), err)
	}
}

// The dashboard shows the engine's own view (component health, silent
// locations), which waits for the engine's lock. While the engine holds it
// waiting on a locked database (here: a result whose state it must save,
// with a busy timeout longer than any request's wait), the dashboard
// answers 503 with Retry-After within the request's deadline, naming the
// engine, rather than hanging; once the lock is gone the engine saves the
// result and the dashboard shows again.
func TestDashboardWhileEngineWaitsOnLockedDatabase(t *testing.T) {
	h := newOpHarnessWith(t, nil, time.Minute)
	c, _ := consoleLogin(t, h, "alice")
	db, err := sql.Open("sqlite3", "file:"+h.cfg.Storage.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(h.ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	defer func() {
		if locked {
			conn.ExecContext(h.ctx, "ROLLBACK")
		}
	}()
	recorded := make(chan error, 1)
	go func() {
		recorded <- h.eng.Record(h.ctx, probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: "default", Start: h.clk.Now(),
			Checks: []probes.Check{{Name: "http_status", Severity: probes.Critical, Message: "status 503, want 200"}}})
	}()
	// The engine holds its lock once a short wait for it gives up busy.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(h.ctx, 10*time.Millisecond)
		_, err := h.eng.ComponentHealth(ctx)
		cancel()
		if errors.Is(err, store.ErrBusy) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine never held its lock on the locked database (last: %v)", err)
		}
	}
	resp, err := c.Get(h.srv.URL + "/admin/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" || !strings.Contains(string(page), "incident engine") {
		t.Fatalf("dashboard while the engine waits = %d, Retry-After %q; want 503, 5, naming the incident engine\n%s",
			resp.StatusCode, resp.Header.Get("Retry-After"), page)
	}
	if _, err := conn.ExecContext(h.ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	locked = false
	if err := <-recorded; err != nil {
		t.Fatalf("the result once the lock was gone: %v", err)
	}
	resp, err = c.Get(h.srv.URL + "/admin/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dashboard after the lock = %d, want 200", resp.StatusCode)
	}
}
