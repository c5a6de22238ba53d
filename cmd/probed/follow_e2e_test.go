package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probed/probed/internal/pgtest"
	"github.com/probed/probed/status"
)

var pgDown = flag.Duration("pg.downtime", 30*time.Second, "how long TestPostgresStoppedAndStarted keeps PostgreSQL stopped")

// holder is one probed daemon of a test, serving on a loopback port.
type holder struct {
	d    *Daemon
	base string
	logs *bytes.Buffer
	mu   *sync.Mutex
	stop func() error
}

func (h *holder) log() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs.String()
}

// startHolder runs a daemon on the PostgreSQL database named by the
// environment variable dsnEnv, probing target every second as location,
// until the test ends (or stop).
func startHolder(t *testing.T, dsnEnv, location, target string) *holder {
	t.Helper()
	return startHolderWith(t, dsnEnv, location, target, DaemonOptions{})
}

// startHolderWith is startHolder with the daemon's options.
func startHolderWith(t *testing.T, dsnEnv, location, target string, opts DaemonOptions) *holder {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "probes.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {driver: postgres, dsn_env: %s}
location: %s
components: [{id: api, name: Certificate API}]
probes:
  - {name: a, component: api, kind: http, interval: 1s, timeout: 500ms, http: {url: %q}}
`, dsnEnv, location, target))
	h := &holder{logs: new(bytes.Buffer), mu: new(sync.Mutex)}
	logger := slog.New(slog.NewTextHandler(&lockedWriter{mu: h.mu, w: h.logs}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	d, err := NewDaemon(context.Background(), cfgPath, logger, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()
	var once sync.Once
	var serveErr error
	h.d, h.base = d, "http://"+d.publicLn.Addr().String()
	h.stop = func() error {
		once.Do(func() { cancel(); serveErr = <-served })
		return serveErr
	}
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("holder %s: serve: %v", location, err)
		}
	})
	eventually(t, "holder "+location+" ready", func() (bool, string) {
		code, body := getStatus(t, h.base+"/readyz")
		return code == http.StatusOK, fmt.Sprintf("/readyz %d %s", code, body)
	})
	return h
}

// call makes an operator API call on h with token and decodes the answer.
func (h *holder) call(t *testing.T, token, method, path, body string, out any) int {
	t.Helper()
	return operatorCall(t, h.base, token, method, path, body, out)
}

// operatorCall makes an operator API call on the server at base (its
// http:// URL) with token, decodes a 2xx answer into out and returns the
// status code.
func operatorCall(t *testing.T, base, token, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// publicIncident returns the status of the incident named title on h's
// public API (incidents.json), or "" when the page does not show it.
func (h *holder) publicIncident(t *testing.T, title string) string {
	t.Helper()
	return publicIncidentAt(t, h.base, title)
}

// publicIncidentAt is publicIncident for the holder serving at base
// (http://host:port), in process or a built binary.
func publicIncidentAt(t *testing.T, base, title string) string {
	t.Helper()
	code, body := getStatus(t, base+"/api/v2/incidents.json")
	if code != http.StatusOK {
		t.Fatalf("GET /api/v2/incidents.json = %d %s", code, body)
	}
	var v struct {
		Incidents []struct{ Name, Status string } `json:"incidents"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("incidents.json: %v", err)
	}
	for _, inc := range v.Incidents {
		if inc.Name == title {
			return inc.Status
		}
	}
	return ""
}

// okTarget is an HTTP target that always answers 200 and counts its hits.
func okTarget(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// listeningPair waits until both holders listen for changes and one of
// them leads, and returns the leader and the follower.
func listeningPair(t *testing.T, hs []*holder) (lead, follower *holder) {
	t.Helper()
	metric := func(h *holder, name string) float64 { return (&scraper{t: t, url: h.base + "/metrics"}).value(name) }
	eventually(t, "both holders listening, one leading", func() (bool, string) {
		l0, l1 := metric(hs[0], "probed_leader"), metric(hs[1], "probed_leader")
		ok := metric(hs[0], "probed_store_listening") == 1 && metric(hs[1], "probed_store_listening") == 1 && l0+l1 == 1
		if ok {
			lead, follower = hs[0], hs[1]
			if l1 == 1 {
				lead, follower = hs[1], hs[0]
			}
		}
		return ok, fmt.Sprintf("leading: %v, %v", l0, l1)
	})
	return lead, follower
}

// propagation is the aim: a change on one holder shows on every holder's
// public page within it.
const propagation = 2 * time.Second

// within measures how long cond takes to hold from start, failing the test
// once the aim has passed.
func withinAim(t *testing.T, start time.Time, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, got := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > propagation {
			t.Fatalf("%s: not within %s; last: %s", what, propagation, got)
		}
		<-tick.C
	}
}

// Two holders on one PostgreSQL database, one leading: a fault both probe
// drafts one incident; the follower's engine view (console dashboard,
// probed_component_detected_status) shows the leader's detection within
// 2 s; approved on the follower, the incident is on the public page the
// leader serves within 2 s of the approval (LISTEN/NOTIFY invalidating its
// snapshot); resolved on the leader, it is resolved on the follower's page
// within 2 s; each holder's operator API shows the other's change at once
// (it reads the database).
func TestTwoHoldersFollowEachOther(t *testing.T) {
	target, broken := faultyTarget(t)
	t.Setenv("PROBED_TEST_FOLLOW_DSN", pg.DSN(t))
	hs := []*holder{startHolder(t, "PROBED_TEST_FOLLOW_DSN", "tokyo", target), startHolder(t, "PROBED_TEST_FOLLOW_DSN", "osaka", target)}
	metric := func(h *holder, name string, labels ...string) float64 {
		return (&scraper{t: t, url: h.base + "/metrics"}).value(name, labels...)
	}
	lead, follower := listeningPair(t, hs)
	token := holderToken(t, follower)

	broken.Store(true)
	operational := func(h *holder) float64 {
		return metric(h, "probed_component_detected_status", "component", "api", "status", "operational")
	}
	eventually(t, "the leader to detect the fault", func() (bool, string) {
		v := operational(lead)
		return v == 0, fmt.Sprintf("leader's api operational: %v", v)
	})
	detected := time.Now()
	took := withinAim(t, detected, "the leader's detection in the follower's engine view", func() (bool, string) {
		v := operational(follower)
		return v == 0, fmt.Sprintf("follower's api operational: %v", v)
	})
	t.Logf("the leader's detection in the follower's engine view after %s", took.Round(time.Millisecond))

	var drafts []status.Incident
	eventually(t, "a draft", func() (bool, string) {
		follower.call(t, token, http.MethodGet, "/api/v1/incidents?state=draft", "", &drafts)
		return len(drafts) > 0, fmt.Sprintf("%d drafts", len(drafts))
	})
	if len(drafts) != 1 {
		t.Fatalf("%d drafts for one fault, want 1", len(drafts))
	}
	inc := drafts[0]
	title := inc.Title.In("en")
	if st := lead.publicIncident(t, title); st != "" {
		t.Fatalf("the leader's page shows the draft (%s) before approval", st)
	}

	approved := time.Now()
	if code := follower.call(t, token, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/approve", inc.ID), `{}`, &inc); code != http.StatusOK {
		t.Fatalf("approve on the follower = %d", code)
	}
	took = withinAim(t, approved, "the follower's approval on the leader's public page", func() (bool, string) {
		st := lead.publicIncident(t, title)
		return st != "", "leader's page: status " + st
	})
	t.Logf("approved on the follower at %s: on the leader's public page after %s (aim %s)", approved.Format(time.StampMilli), took.Round(time.Millisecond), propagation)
	if code, body := getStatus(t, lead.base+"/"); code != http.StatusOK || !strings.Contains(body, title) {
		t.Errorf("the leader's page / = %d, without the incident's title", code)
	}
	var onLead status.Incident
	if code := lead.call(t, token, http.MethodGet, fmt.Sprintf("/api/v1/incidents/%d", inc.ID), "", &onLead); code != http.StatusOK || onLead.State != status.StatePublished {
		t.Errorf("the leader's operator API: %d %s, want published", code, onLead.State)
	}

	resolved := time.Now()
	if code := lead.call(t, token, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/resolve", inc.ID), `{"message": "Fixed."}`, nil); code != http.StatusOK {
		t.Fatalf("resolve on the leader = %d", code)
	}
	took = withinAim(t, resolved, "the leader's resolution on the follower's public page", func() (bool, string) {
		st := follower.publicIncident(t, title)
		return st == "resolved", "follower's page: status " + st
	})
	t.Logf("resolved on the leader: on the follower's public page after %s", took.Round(time.Millisecond))
	for _, h := range hs {
		if v := metric(h, "probed_store_changes_heard_total", "via", "notify"); v < 1 {
			t.Errorf("%s heard %v changes via notify, want some", h.base, v)
		}
	}
}

// PostgreSQL stopped for -pg.downtime (30 s) under a running holder, then
// started again: probes keep running (their results wait in the queue),
// /readyz fails and probed_store_healthy is 0 with an ERROR in the log
// within seconds, the public page keeps serving its last snapshot; when
// the server is back, readiness recovers, the holder leads again, every
// result of every run is written (none lost) and no incident was drafted.
func TestPostgresStoppedAndStarted(t *testing.T) {
	own := new(pgtest.Server) // not the package's: this test stops it
	t.Cleanup(own.Stop)
	target, hits := okTarget(t)
	dsn := own.DSN(t)
	t.Setenv("PROBED_TEST_DOWN_DSN", dsn)
	h := startHolder(t, "PROBED_TEST_DOWN_DSN", "tokyo", target.URL)
	m := &scraper{t: t, url: h.base + "/metrics"}
	eventually(t, "results written and the holder listening", func() (bool, string) {
		w, l := m.value("probed_store_results_written_total"), m.value("probed_store_listening")
		return w >= 2 && l == 1, fmt.Sprintf("%v written, listening %v", w, l)
	})
	_, page := getStatus(t, h.base+"/")
	if !strings.Contains(page, "Certificate API") {
		t.Fatalf("the page before the stop lacks the component")
	}
	token := holderToken(t, h)

	own.Shutdown(t)
	stopped := time.Now()
	hitsAtStop := hits.Load()
	var notReady time.Duration
	// The outage's length is the scenario; it is watched twice a second.
	watch := time.NewTicker(500 * time.Millisecond)
	defer watch.Stop()
	for ; time.Since(stopped) < *pgDown; <-watch.C {
		code, body := getStatus(t, h.base+"/readyz")
		if code == http.StatusOK && notReady == 0 && time.Since(stopped) > 5*time.Second {
			t.Fatalf("/readyz still 200 %s after PostgreSQL stopped", time.Since(stopped).Round(time.Second))
		}
		if code != http.StatusOK && notReady == 0 {
			notReady = time.Since(stopped)
			t.Logf("/readyz %d after %s: %s", code, notReady.Round(time.Millisecond), strings.TrimSpace(body))
		}
		if code, body := getStatus(t, h.base+"/"); code != http.StatusOK || !strings.Contains(body, "Certificate API") {
			t.Fatalf("the page during the outage = %d, want the last snapshot", code)
		}
	}
	if notReady == 0 {
		t.Fatal("/readyz never failed while PostgreSQL was stopped")
	}
	// An operator's write meets the outage: a clear 503 to retry, at once.
	asked := time.Now()
	req, _ := http.NewRequest(http.MethodPost, h.base+"/api/v1/incidents",
		strings.NewReader(`{"title": "During the outage", "message": "x", "components": [{"id": "api", "status": "major_outage"}]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "cannot be reached") {
		t.Errorf("POST /api/v1/incidents during the outage = %d (Retry-After %q) %s; want 503 saying the database cannot be reached", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if took := time.Since(asked); took > 10*time.Second {
		t.Errorf("the operator API answered after %s during the outage, want a bounded wait", took)
	}
	// The console, asked with a valid token, cannot check it: a 503 to
	// retry, not a redirect to the login page (the operator is not logged out).
	req, _ = http.NewRequest(http.MethodGet, h.base+"/admin/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err = noFollow.Do(req); err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "cannot be reached") {
		t.Errorf("GET /admin/ during the outage = %d (Retry-After %q, Location %q) %s; want 503 saying the database cannot be reached, not the login page",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Location"), body)
	}
	if v := m.value("probed_store_healthy"); v != 0 {
		t.Errorf("probed_store_healthy = %v with PostgreSQL stopped, want 0", v)
	}
	during := hits.Load() - hitsAtStop
	if want := int64(pgDown.Seconds()) - 2; during < want {
		t.Errorf("%d runs while PostgreSQL was stopped for %s, want at least %d: probes must keep running", during, *pgDown, want)
	}
	queued := m.value("probed_store_queue_length")
	if !strings.Contains(h.log(), "level=ERROR msg=\"store problem") {
		t.Errorf("no ERROR in the log about the store:\n%s", h.log())
	}

	own.Start(t)
	started := time.Now()
	eventually(t, "readiness back, the queue written, the holder leading again", func() (bool, string) {
		code, _ := getStatus(t, h.base+"/readyz")
		q, hl, l := m.value("probed_store_queue_length"), m.value("probed_store_healthy"), m.value("probed_leader")
		return code == http.StatusOK && q == 0 && hl == 1 && l == 1, fmt.Sprintf("/readyz %d, queue %v, healthy %v, leading %v", code, q, hl, l)
	})
	t.Logf("PostgreSQL stopped %s: %d runs meanwhile (%v results queued at the end), /readyz failed after %s, ready again %s after the start",
		pgDown, during, queued, notReady.Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
	if v := m.value("probed_store_results_dropped_total"); v != 0 {
		t.Errorf("%v results dropped", v)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	checkNothingLost(t, dsn, stopped, hits.Load(), "after the outage")
}
