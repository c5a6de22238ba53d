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
	p := startStandbyPair(t, "PROBED_TEST_FAILOVER_DSN")
	primary, standby, hits, hs, ms, leaders := p.primary, p.standby, p.hits, p.hs, p.ms, p.leaders
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
	p.waitRecovered(t)
	t.Logf("failover: both /readyz failed %s after the stop; standby promoted %s after the stop (%v results queued); both ready again %s after the promotion",
		notReady.Round(time.Millisecond), down.Round(time.Millisecond), queued, time.Since(promoted).Round(time.Millisecond))
	p.stop(t)
	checkNothingLost(t, p.multi, stopped, hits.Load(), "after the failover")
}

// The primary turns read-only under two holders while its connections stay
// open (default_transaction_read_only set and reloaded, as a server demoted
// in place would answer), and its standby is promoted. The holders' writes
// fail with 25006 (unwritable, /readyz 503); the connection that got it is
// given up, so the next one, on the multi-host read-write DSN, finds the new
// primary: ready again, every result stored there, no incident.
func TestPostgresPrimaryTurnsReadOnly(t *testing.T) {
	p := startStandbyPair(t, "PROBED_TEST_READONLY_DSN")
	primary, standby, dsn, hits, hs, ms, leaders := p.primary, p.standby, p.dsn, p.hits, p.hs, p.ms, p.leaders
	p1, p2 := strconv.Itoa(primary.Port()), strconv.Itoa(standby.Port())
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
	p.waitRecovered(t)
	t.Logf("read-only primary: both /readyz failed %s after the switch; promoted %s after it; both ready again %s after the promotion",
		notReady.Round(time.Millisecond), promoted.Sub(turned).Round(time.Millisecond), time.Since(promoted).Round(time.Millisecond))
	// The readers and the change listener left the old primary with the
	// writer: a change made on one holder reaches the other's page within
	// 2 s, as before the failover (on the old primary, which hears of no
	// change any more, it would never have).
	eventually(t, "both holders listening on the new primary", func() (bool, string) {
		l := ms[0].value("probed_store_listening") + ms[1].value("probed_store_listening")
		return l == 2, fmt.Sprintf("%v listening", l)
	})
	listening := time.Since(promoted)
	tok := holderToken(t, hs[0])
	const title = "Published on tokyo after the failover"
	made := time.Now()
	if code := hs[0].call(t, tok, http.MethodPost, "/api/v1/incidents",
		`{"title": "`+title+`", "message": "x", "components": [{"id": "api", "status": "degraded_performance"}], "publish": true}`, nil); code != http.StatusCreated {
		t.Fatalf("publish an incident on tokyo after the failover: %d", code)
	}
	took := withinAim(t, made, "tokyo's incident on osaka's page after the failover", func() (bool, string) {
		st := hs[1].publicIncident(t, title)
		return st != "", "osaka's page: status " + st
	})
	t.Logf("read-only primary: both listening again %s after the promotion; an incident published on tokyo was on osaka's page %s later",
		listening.Round(time.Millisecond), took.Round(time.Millisecond))
	p.stop(t)
	pdb.Close()
	primary.Shutdown(t) // read-only: its test database goes with its directory
	checkNothingLost(t, p.multi, turned, hits.Load(), "after the primary turned read-only")
}
