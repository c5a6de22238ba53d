package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/probed/probed/internal/demo"
	"github.com/probed/probed/store"
)

// lockHold is how long TestLockedDatabaseEndToEnd holds the database
// locked: longer than the store's 5 s busy timeout, so every write meets
// the lock, and than the operator API's longest answer (11 s) to ask it
// during the lock; bench/storelock.sh runs the same test with 80s.
var lockHold = flag.Duration("store.lockhold", 15*time.Second, "how long TestLockedDatabaseEndToEnd holds the database locked")

// startCA runs the demo's simulated CA (all five kinds on loopback) and
// returns its probes.yaml, probing every interval.
func startCA(t *testing.T, interval time.Duration) string {
	t.Helper()
	ca, err := demo.Start(context.Background(), demo.Options{Listen: freeAddr(t), Dir: t.TempDir(), Interval: interval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ca.Close(false) })
	return ca.ConfigPath
}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// An exclusive lock held by another process (BEGIN EXCLUSIVE from a second
// connection) for -store.lockhold while probed probes all five kinds every
// two seconds: no run skipped or failed, no draft, the operator API answers 503
// with Retry-After during the lock, and every result is written once the
// lock is gone.
func TestLockedDatabaseEndToEnd(t *testing.T) {
	lockedEndToEnd(t, "", func(cfgPath string) (*sql.DB, string) {
		db, err := sql.Open("sqlite3", "file:"+filepath.Join(filepath.Dir(cfgPath), "probed.db")+"?_busy_timeout=10000")
		if err != nil {
			t.Fatal(err)
		}
		return db, "BEGIN EXCLUSIVE"
	})
}

// The same on PostgreSQL: every table of the store locked IN ACCESS
// EXCLUSIVE MODE from another session's open transaction (what ALTER TABLE
// and VACUUM FULL take), which stops reads too, unlike SQLite's lock: a
// crl probe's saved state cannot be read (a warning, not a failure), the
// operator's token cannot be read (503, not 401), the page serves its last
// snapshot, and the leader, which cannot renew its lease, is deposed and
// leads again once the lock goes.
func TestLockedPostgresEndToEnd(t *testing.T) {
	dsn := pg.DSN(t)
	lockedEndToEnd(t, dsn, func(string) (*sql.DB, string) {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		var tables string
		if err := db.QueryRow(`SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		return db, "BEGIN; LOCK TABLE " + tables + " IN ACCESS EXCLUSIVE MODE"
	})
}

// lockedEndToEnd runs the demo CA's probes under probed on SQLite, or on
// the PostgreSQL database at dsn, and holds the database locked for
// -store.lockhold with lock's statement, run on a connection of lock's
// database, and rolled back at the end.
func lockedEndToEnd(t *testing.T, dsn string, lock func(cfgPath string) (*sql.DB, string)) {
	bin := buildProbed(t)
	cfgPath := startCA(t, 2*time.Second)
	if dsn != "" {
		useDSN(t, cfgPath, dsn)
	}
	token := operatorToken(t, bin, cfgPath)
	d := startProbed(t, bin, cfgPath)
	m := &scraper{t: t, url: "http://" + d.addr + "/metrics"}
	runs := func(result string) float64 { return m.value("probed_probe_runs_total", "result", result) }
	eventually(t, "every kind to have run", func() (bool, string) {
		ok := true
		for _, p := range []string{"certcentral-api", "acme-directory", "tsa", "ocsp-good", "crl"} {
			ok = ok && m.value("probe_success", "probe", p) == 1
		}
		return ok, fmt.Sprintf("%v successful runs", runs("success"))
	})

	// Counted before the lock: on PostgreSQL under ACCESS EXCLUSIVE a
	// scrape waits up to 5 s for the store's series.
	atLock := runs("success")
	db, begin := lock(cfgPath)
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), begin); err != nil {
		t.Fatal(err)
	}
	locked := time.Now()

	// The operator API: a clear 503 with Retry-After, in bounded time, all
	// through the lock (writers queue for the one connection meanwhile),
	// asked while the lock will outlast the longest answer (5 s waiting for
	// the connection, 5 s of SQLite's busy timeout).
	client := &http.Client{Timeout: time.Minute}
	var asked int
	var slowest time.Duration
	for time.Until(locked.Add(*lockHold)) > 11*time.Second {
		req, _ := http.NewRequest(http.MethodPost, "http://"+d.addr+"/api/v1/incidents",
			strings.NewReader(`{"title": "Test", "message": "During the lock.", "components": [{"id": "ocsp", "status": "major_outage"}]}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		began := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST /api/v1/incidents during the lock: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slowest = max(slowest, time.Since(began))
		asked++
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "locked") {
			t.Errorf("POST /api/v1/incidents %s into the lock = %d (Retry-After %q) %s; want 503 with Retry-After saying the database is locked",
				began.Sub(locked).Round(time.Second), resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if took := time.Since(began); took > 15*time.Second {
			t.Errorf("POST /api/v1/incidents %s into the lock answered after %s, want a bounded wait (5 s + the busy timeout)", began.Sub(locked).Round(time.Second), took)
		}
	}
	if asked == 0 {
		t.Fatalf("-store.lockhold %s leaves no time to ask the API during the lock (want more than 11s)", *lockHold)
	}
	if dsn != "" {
		// The console cannot read the operator's token under PostgreSQL's
		// lock: a 503 to retry, not a redirect to the login page.
		req, _ := http.NewRequest(http.MethodGet, "http://"+d.addr+"/admin/", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		noFollow := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		began := time.Now()
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatalf("GET /admin/ during the lock: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "locked") {
			t.Errorf("GET /admin/ %s into the lock (answered %s later) = %d (Retry-After %q, Location %q) %s; want 503 saying the database is locked, not the login page",
				began.Sub(locked).Round(time.Second), time.Since(began).Round(time.Millisecond), resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Location"), body)
		} else {
			t.Logf("GET /admin/ %s into the lock: 503 after %s", began.Sub(locked).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
		}
	}
	// A lock is a wait, not a lost database: probed stays ready.
	if code, body := getStatus(t, "http://"+d.addr+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz during the lock = %d %s, want 200", code, body)
	}
	if code, body := getStatus(t, "http://"+d.addr+"/"); code != http.StatusOK {
		t.Errorf("the public page during the lock = %d %s, want 200", code, body)
	}
	if left := *lockHold - time.Since(locked); left > 0 {
		time.Sleep(left) // the lock's duration is the scenario, not a wait for something to happen
	}
	duringLock := runs("success") - atLock
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	held := time.Since(locked)

	eventually(t, "every result to be written", func() (bool, string) {
		written := m.value("probed_store_results_written_total")
		all := runs("success") + runs("failure")
		return written == all && m.value("probed_store_queue_length") == 0,
			fmt.Sprintf("%v written of %v runs, queue %v", written, all, m.value("probed_store_queue_length"))
	})
	if dsn != "" {
		// A lock longer than the lease's ttl (10 s) deposes the leader: it
		// cannot renew the lease row. It leads again once the lock goes, and
		// its engine evaluates what the lock held back (the leader's inbox)
		// before the drafts are counted.
		eventually(t, "the holder to lead again and take the leader's inbox", func() (bool, string) {
			var inbox int
			if err := db.QueryRow(`SELECT count(*) FROM leader_inbox`).Scan(&inbox); err != nil {
				return false, err.Error()
			}
			return m.value("probed_leader") == 1 && inbox == 0, fmt.Sprintf("probed_leader %v, %d inbox items", m.value("probed_leader"), inbox)
		})
	}
	skipped, failed := runs("skipped"), runs("failure")
	drafts := m.value("probed_incidents", "state", "draft")
	t.Logf("lock held %s: %v runs succeeded during it, %v skipped, %v failed, %v drafts, %v results dropped, %v leader changes; API asked %d times, all 503, slowest answer %s",
		held.Round(time.Millisecond), duringLock, skipped, failed, drafts, m.value("probed_store_results_dropped_total"), m.value("probed_leader_changes_total"), asked, slowest.Round(time.Millisecond))
	if skipped != 0 || failed != 0 {
		t.Errorf("%v runs skipped and %v failed with the database locked, want none", skipped, failed)
	}
	// Runs went on under the lock (the demo's probes run every two seconds).
	if want := held.Seconds() / 2; duringLock < want {
		t.Errorf("%v runs succeeded during the %s lock, want at least %v", duringLock, held.Round(time.Millisecond), want)
	}
	if drafts != 0 {
		t.Errorf("%v drafts after the lock, want none", drafts)
	}
	if v := m.value("probed_store_results_dropped_total"); v != 0 {
		t.Errorf("%v results dropped", v)
	}
	if v := m.value("probed_incident_results_dropped_total"); v != 0 {
		t.Errorf("%v results the incident engine never evaluated", v)
	}
	// The same request succeeds once the lock is gone.
	req, _ := http.NewRequest(http.MethodPost, "http://"+d.addr+"/api/v1/incidents",
		strings.NewReader(`{"title": "Test", "message": "After the lock.", "components": [{"id": "ocsp", "status": "major_outage"}]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("POST /api/v1/incidents after the lock = %d, want 201", resp.StatusCode)
	}
}

// useDSN moves the demo's probes.yaml at cfgPath from its SQLite file to
// the PostgreSQL database at dsn (read from a file beside it).
func useDSN(t *testing.T, cfgPath, dsn string) {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "storage:\n  path: probed.db\n", "storage:\n  driver: postgres\n  dsn_file: pg.dsn\n", 1)
	if cfg == string(b) {
		t.Fatal("no storage section to point at PostgreSQL")
	}
	writeFile(t, filepath.Join(filepath.Dir(cfgPath), "pg.dsn"), dsn)
	writeFile(t, cfgPath, cfg)
}

// The database file deleted while probed runs: within one check (a short
// storage.check_interval here, set by a reload from an hour; 30 s by
// default) an ERROR says so,
// probed_store_healthy drops to 0, /readyz answers 503, and what the open
// database still held (the operator's token among it) is saved next to
// the path for the operator to put back.
func TestDeletedDatabaseEndToEnd(t *testing.T) {
	bin := buildProbed(t)
	cfgPath := startCA(t, time.Second)
	operatorToken(t, bin, cfgPath)
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	every := func(interval string) {
		t.Helper()
		cfg := strings.Replace(string(b), "storage:\n  path: probed.db\n", "storage:\n  path: probed.db\n  check_interval: "+interval+"\n", 1)
		if cfg == string(b) {
			t.Fatal("no storage section to add check_interval to")
		}
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	every("1h")
	d := startProbed(t, bin, cfgPath)
	every("200ms") // the hour would outlast every wait below: the reload must apply it
	d.signal(syscall.SIGHUP)
	d.waitLog(`msg="config reloaded"`)
	m := &scraper{t: t, url: "http://" + d.addr + "/metrics"}
	if code, body := getStatus(t, "http://"+d.addr+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before = %d %s", code, body)
	}
	if v := m.value("probed_store_healthy"); v != 1 {
		t.Fatalf("probed_store_healthy before = %v, want 1", v)
	}
	dbPath := filepath.Join(filepath.Dir(cfgPath), "probed.db")
	if err := os.Remove(dbPath); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	line := d.waitLog(`msg="store problem: the database file was deleted`)
	if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "problem=file_missing") {
		t.Errorf("log line %q: want an ERROR naming file_missing", line)
	}
	eventually(t, "probed_store_healthy 0 and /readyz 503", func() (bool, string) {
		healthy, missing := m.value("probed_store_healthy"), m.value("probed_store_problem", "problem", "file_missing")
		code, body := getStatus(t, "http://"+d.addr+"/readyz")
		return healthy == 0 && missing == 1 && code == http.StatusServiceUnavailable && strings.Contains(body, "deleted"),
			fmt.Sprintf("healthy %v, file_missing %v, /readyz %d %s", healthy, missing, code, body)
	})
	if took := time.Since(deleted); took > time.Minute {
		t.Errorf("noticed after %s, want within a minute", took)
	}
	saved := regexp.MustCompile(`saved=(\S+)`).FindStringSubmatch(d.waitLog("what the lost database held is saved"))
	if saved == nil {
		t.Fatal("no saved= in the log")
	}
	st, err := store.Open(context.Background(), store.Options{Path: saved[1]})
	if err != nil {
		t.Fatalf("open the saved copy: %v", err)
	}
	defer st.Close()
	if toks, err := st.ListTokens(context.Background()); err != nil || len(toks) != 1 {
		t.Errorf("tokens in the saved copy = %+v, %v; want the operator's one", toks, err)
	}
}
