package console

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"strings"
	"testing"

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
