package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/pgtest"
	"github.com/probed/probed/store"
)

// PostgreSQL fails over under two holders: a primary and its streaming
// standby (pg_basebackup -R), the holders on a DSN naming both and asking
// for the writable one (target_session_attrs=read-write). The primary is
// stopped (fast shutdown); once both holders' /readyz fail and runs have
// queued, the standby is promoted. Then readiness recovers on the new
// primary, one holder leads again, every run's result is stored (results
// == target hits, nothing dropped), the page served throughout and no
// incident was drafted.
func TestPostgresFailsOverToStandby(t *testing.T) {
	primary := new(pgtest.Server) // not the package's: this test stops it
	t.Cleanup(primary.Stop)
	target, hits := okTarget(t)
	dsn := primary.DSN(t)
	standby := primary.Standby(t)
	p1, p2 := strconv.Itoa(primary.Port()), strconv.Itoa(standby.Port())
	multi := strings.Replace(dsn, "host=127.0.0.1 port="+p1, "host=127.0.0.1,127.0.0.1 port="+p1+","+p2, 1)
	if multi == dsn {
		t.Fatalf("cannot make a multi-host DSN of %q", dsn)
	}
	multi += " target_session_attrs=read-write"
	t.Setenv("PROBED_TEST_FAILOVER_DSN", multi)
	hs := []*holder{
		startHolder(t, "PROBED_TEST_FAILOVER_DSN", "tokyo", target.URL),
		startHolder(t, "PROBED_TEST_FAILOVER_DSN", "osaka", target.URL),
	}
	ms := []*scraper{{t: t, url: hs[0].base + "/metrics"}, {t: t, url: hs[1].base + "/metrics"}}
	leaders := func() float64 { return ms[0].value("probed_leader") + ms[1].value("probed_leader") }
	eventually(t, "results written, both holders listening, one leading", func() (bool, string) {
		w := ms[0].value("probed_store_results_written_total") + ms[1].value("probed_store_results_written_total")
		l := ms[0].value("probed_store_listening") + ms[1].value("probed_store_listening")
		return w >= 4 && l == 2 && leaders() == 1, fmt.Sprintf("%v written, %v listening, %v leading", w, l, leaders())
	})

	primary.Shutdown(t)
	stopped := time.Now()
	hitsAtStop := hits.Load()
	var notReady time.Duration
	eventually(t, "both holders not ready and runs queued", func() (bool, string) {
		ready := 0
		for _, h := range hs {
			if code, _ := getStatus(t, h.base+"/readyz"); code == http.StatusOK {
				ready++
			}
			if code, body := getStatus(t, h.base+"/"); code != http.StatusOK || !strings.Contains(body, "Certificate API") {
				t.Fatalf("the page during the failover = %d, want the last snapshot", code)
			}
		}
		if ready == 0 && notReady == 0 {
			notReady = time.Since(stopped)
		}
		return ready == 0 && hits.Load()-hitsAtStop >= 4, fmt.Sprintf("%d ready, %d runs since the stop", ready, hits.Load()-hitsAtStop)
	})
	queued := ms[0].value("probed_store_queue_length") + ms[1].value("probed_store_queue_length")
	standby.Promote(t)
	promoted := time.Now()
	down := promoted.Sub(stopped)
	eventually(t, "both ready on the new primary, queues written, one holder leading", func() (bool, string) {
		var got []string
		ok := true
		for i, h := range hs {
			code, _ := getStatus(t, h.base+"/readyz")
			q, hl := ms[i].value("probed_store_queue_length"), ms[i].value("probed_store_healthy")
			ok = ok && code == http.StatusOK && q == 0 && hl == 1
			got = append(got, fmt.Sprintf("/readyz %d queue %v healthy %v", code, q, hl))
		}
		return ok && leaders() == 1, fmt.Sprintf("%s; %v leading", strings.Join(got, ", "), leaders())
	})
	t.Logf("failover: both /readyz failed %s after the stop; standby promoted %s after the stop (%v results queued); both ready again %s after the promotion",
		notReady.Round(time.Millisecond), down.Round(time.Millisecond), queued, time.Since(promoted).Round(time.Millisecond))
	for i := range hs {
		if v := ms[i].value("probed_store_results_dropped_total"); v != 0 {
			t.Errorf("holder %d: %v results dropped", i, v)
		}
	}
	for _, h := range hs {
		if err := h.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
	}

	st, err := store.Open(context.Background(), store.Options{Driver: "postgres", DSN: multi})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.Results(context.Background(), "a", stopped.Add(-time.Hour), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(rs)) != hits.Load() {
		t.Errorf("%d results stored for %d runs: results lost", len(rs), hits.Load())
	}
	incs, err := st.ListIncidents(context.Background(), store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 0 {
		t.Errorf("%d incidents after the failover, want none (no false draft): first %v", len(incs), incs[0].Title)
	}
}

// The primary turns read-only under two holders while its connections stay
// open (default_transaction_read_only set and reloaded, as a server demoted
// in place would answer), and its standby is promoted. The holders' writes
// fail with 25006 (unwritable, /readyz 503); the connection that got it is
// given up, so the next one, on the multi-host read-write DSN, finds the new
// primary: ready again, every result stored there, no incident.
func TestPostgresPrimaryTurnsReadOnly(t *testing.T) {
	primary := new(pgtest.Server) // not the package's: this test changes it
	t.Cleanup(primary.Stop)
	target, hits := okTarget(t)
	dsn := primary.DSN(t)
	standby := primary.Standby(t)
	p1, p2 := strconv.Itoa(primary.Port()), strconv.Itoa(standby.Port())
	multi := strings.Replace(dsn, "host=127.0.0.1 port="+p1, "host=127.0.0.1,127.0.0.1 port="+p1+","+p2, 1)
	if multi == dsn {
		t.Fatalf("cannot make a multi-host DSN of %q", dsn)
	}
	multi += " target_session_attrs=read-write"
	t.Setenv("PROBED_TEST_READONLY_DSN", multi)
	hs := []*holder{
		startHolder(t, "PROBED_TEST_READONLY_DSN", "tokyo", target.URL),
		startHolder(t, "PROBED_TEST_READONLY_DSN", "osaka", target.URL),
	}
	ms := []*scraper{{t: t, url: hs[0].base + "/metrics"}, {t: t, url: hs[1].base + "/metrics"}}
	leaders := func() float64 { return ms[0].value("probed_leader") + ms[1].value("probed_leader") }
	eventually(t, "results written, one holder leading", func() (bool, string) {
		w := ms[0].value("probed_store_results_written_total") + ms[1].value("probed_store_results_written_total")
		return w >= 4 && leaders() == 1, fmt.Sprintf("%v written, %v leading", w, leaders())
	})

	ctx := context.Background()
	pdb, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	if _, err := pdb.ExecContext(ctx, "ALTER SYSTEM SET default_transaction_read_only = on"); err != nil {
		t.Fatal(err)
	}
	if _, err := pdb.ExecContext(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	turned := time.Now()
	hitsAtTurn := hits.Load()
	var notReady time.Duration
	eventually(t, "both holders not ready and runs queued", func() (bool, string) {
		ready := 0
		for _, h := range hs {
			if code, _ := getStatus(t, h.base+"/readyz"); code == http.StatusOK {
				ready++
			}
		}
		if ready == 0 && notReady == 0 {
			notReady = time.Since(turned)
		}
		return ready == 0 && hits.Load()-hitsAtTurn >= 4, fmt.Sprintf("%d ready, %d runs since", ready, hits.Load()-hitsAtTurn)
	})
	for i, h := range hs {
		if !strings.Contains(h.log(), "25006") {
			t.Errorf("holder %d logged no 25006 (read-only) store problem:\n%s", i, h.log())
		}
	}
	// Promote only once the standby has everything the primary committed.
	var lsn string
	if err := pdb.QueryRowContext(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	sdb, err := sql.Open("pgx", strings.Replace(dsn, "port="+p1, "port="+p2, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	eventually(t, "the standby replayed the primary's WAL", func() (bool, string) {
		var caught bool
		err := sdb.QueryRowContext(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&caught)
		return err == nil && caught, fmt.Sprintf("%v %v", caught, err)
	})
	standby.Promote(t)
	promoted := time.Now()
	eventually(t, "both ready on the new primary, queues written, one holder leading", func() (bool, string) {
		var got []string
		ok := true
		for i, h := range hs {
			code, _ := getStatus(t, h.base+"/readyz")
			q, hl := ms[i].value("probed_store_queue_length"), ms[i].value("probed_store_healthy")
			ok = ok && code == http.StatusOK && q == 0 && hl == 1
			got = append(got, fmt.Sprintf("/readyz %d queue %v healthy %v", code, q, hl))
		}
		return ok && leaders() == 1, fmt.Sprintf("%s; %v leading", strings.Join(got, ", "), leaders())
	})
	t.Logf("read-only primary: both /readyz failed %s after the switch; promoted %s after it; both ready again %s after the promotion",
		notReady.Round(time.Millisecond), promoted.Sub(turned).Round(time.Millisecond), time.Since(promoted).Round(time.Millisecond))
	for i := range hs {
		if v := ms[i].value("probed_store_results_dropped_total"); v != 0 {
			t.Errorf("holder %d: %v results dropped", i, v)
		}
	}
	for _, h := range hs {
		if err := h.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
	}
	pdb.Close()
	primary.Shutdown(t) // read-only: its test database goes with its directory

	st, err := store.Open(ctx, store.Options{Driver: "postgres", DSN: multi})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.Results(ctx, "a", turned.Add(-time.Hour), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(rs)) != hits.Load() {
		t.Errorf("%d results stored for %d runs: results lost", len(rs), hits.Load())
	}
	incs, err := st.ListIncidents(ctx, store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 0 {
		t.Errorf("%d incidents, want none (no false draft): first %v", len(incs), incs[0].Title)
	}
}
