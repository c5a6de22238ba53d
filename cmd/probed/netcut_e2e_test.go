package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

var cutFor = flag.Duration("pg.cut", 30*time.Second, "how long TestPostgresNetworkCutUnderTheLeader keeps the leader's network path to PostgreSQL cut")

var logTimeRE = regexp.MustCompile(`^time=(\S+) `)

// logTime is when the first line of d's log containing s was logged.
func logTime(t *testing.T, d *daemon, s string) time.Time {
	t.Helper()
	line := d.waitLog(s)
	m := logTimeRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no time in %q", line)
	}
	at, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatalf("time of %q: %v", line, err)
	}
	return at
}

// Two built holders on one PostgreSQL; the leader, a, reaches it through a
// pgtest.Proxy, b directly. The proxy cuts a's path for -pg.cut (30 s):
// packets dropped, nothing refused, a's connections left open. Then:
//   - a stays up: its probes keep running (its target is hit every second),
//     its page serves the last snapshot, its /readyz fails and
//     probed_store_healthy is 0 within seconds;
//   - a stops leading before b takes the lease (by the times they log), and
//     b leads at the next epoch while the cut lasts; b stays ready;
//   - when the path returns, a recovers by itself: ready, healthy, its
//     queue written, listening again; b still leads, a follows;
//   - every run of a's probe has its result stored (none lost, none
//     dropped), and nothing was drafted.
func TestPostgresNetworkCutUnderTheLeader(t *testing.T) {
	bin := buildProbed(t)
	dir := t.TempDir()
	dsn := pg.DSN(t)
	px := pg.Proxy(t)
	viaFile, directFile := filepath.Join(dir, "dsn-via-proxy"), filepath.Join(dir, "dsn")
	writeFile(t, viaFile, px.DSN(t, dsn)+"\n")
	writeFile(t, directFile, dsn+"\n")
	targetA, hitsA := okTarget(t)
	targetB, _ := okTarget(t)
	a := startProbed(t, bin, holderConfig(t, dir, viaFile, "a", targetA.URL, 1))
	eventually(t, "a leading", func() (bool, string) {
		l := leaders(t, a)
		return len(l) == 1, fmt.Sprintf("leading: %v", l)
	})
	b := startProbed(t, bin, holderConfig(t, dir, directFile, "b", targetB.URL, 1))
	ma, mb := &scraper{t: t, url: "http://" + a.addr + "/metrics"}, &scraper{t: t, url: "http://" + b.addr + "/metrics"}
	eventually(t, "both listening and writing, a leading", func() (bool, string) {
		la, lb := ma.value("probed_store_listening"), mb.value("probed_store_listening")
		wa, wb := ma.value("probed_store_results_written_total"), mb.value("probed_store_results_written_total")
		l := leaders(t, a, b)
		return la == 1 && lb == 1 && wa >= 2 && wb >= 2 && len(l) == 1 && l[0] == 0,
			fmt.Sprintf("listening %v/%v, written %v/%v, leading %v", la, lb, wa, wb, l)
	})
	epochA := ma.value("probed_leader_epoch")

	px.Cut()
	cut := time.Now()
	hitsAtCut := hitsA.Load()
	// a's readiness is watched on its own, every 100 ms: a's /metrics (read
	// below) takes seconds to answer during the cut.
	// Off the test's goroutine nothing may call t.Fatal: an error asking is
	// "not ready" too, and the channel is closed however the loop ends.
	notReadyC := make(chan time.Duration, 1)
	go func() {
		defer close(notReadyC)
		client := &http.Client{Timeout: 2 * time.Second}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for ; time.Since(cut) < *cutFor; <-tick.C {
			resp, err := client.Get("http://" + a.addr + "/readyz")
			if err == nil {
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				notReadyC <- time.Since(cut)
				return
			}
		}
	}()
	var bLeads, slowest time.Duration
	// The cut's length is the scenario; the holders are watched meanwhile.
	watch := time.NewTicker(500 * time.Millisecond)
	defer watch.Stop()
	for ; time.Since(cut) < *cutFor; <-watch.C {
		if code, body := getStatus(t, "http://"+a.addr+"/"); code != http.StatusOK || !strings.Contains(body, "OCSP") {
			t.Fatalf("a's page during the cut = %d, want the last snapshot", code)
		}
		if code, body := getStatus(t, "http://"+b.addr+"/readyz"); code != http.StatusOK {
			t.Fatalf("b's /readyz during a's cut = %d %s: b's path is fine", code, body)
		}
		// b first: a's gauge, read after b's said b leads, must be 0
		// (a's scrape takes seconds; the other order proves nothing).
		lb := mb.value("probed_leader")
		asked := time.Now()
		la := ma.value("probed_leader")
		slowest = max(slowest, time.Since(asked))
		if lb == 1 && la == 1 {
			t.Fatalf("both holders say they lead %s into the cut", time.Since(cut).Round(time.Millisecond))
		}
		if lb == 1 && bLeads == 0 {
			bLeads = time.Since(cut)
		}
	}
	notReady := <-notReadyC
	if notReady == 0 {
		t.Fatal("a's /readyz never failed during the cut")
	}
	if bLeads == 0 {
		t.Fatalf("b did not lead during a %s cut of the leader", *cutFor)
	}
	if v := ma.value("probed_store_healthy"); v != 0 {
		t.Errorf("a's probed_store_healthy = %v during the cut, want 0", v)
	}
	// /metrics keeps serving the probes, within Prometheus's default
	// scrape_timeout (10 s); the series read from the database are left out.
	if v := ma.value("probe_success", "probe", "ocsp-http"); v != 1 {
		t.Errorf("a's probe_success{probe=\"ocsp-http\"} = %v during the cut, want 1", v)
	}
	if slowest >= 10*time.Second {
		t.Errorf("a's /metrics took %s during the cut, past Prometheus's default scrape_timeout of 10 s", slowest.Round(time.Millisecond))
	}
	during := hitsA.Load() - hitsAtCut
	if want := int64(cutFor.Seconds()) - 2; during < want {
		t.Errorf("a ran its probe %d times during a %s cut, want at least %d: probes must keep running", during, *cutFor, want)
	}
	stopped := logTime(t, a, `msg="this holder no longer leads`)
	took := logTime(t, b, `msg="this holder leads now`)
	if !stopped.Before(took) {
		t.Errorf("a stopped leading at %s, after b took the lease at %s", stopped.Format(time.StampMilli), took.Format(time.StampMilli))
	}
	if e := mb.value("probed_leader_epoch"); e != epochA+1 {
		t.Errorf("b leads at epoch %v, want %v", e, epochA+1)
	}
	queued := ma.value("probed_store_queue_length")

	px.Restore()
	restored := time.Now()
	eventually(t, "a recovered by itself: ready, healthy, queue written, listening; b leading", func() (bool, string) {
		code, _ := getStatus(t, "http://"+a.addr+"/readyz")
		q, hl, li := ma.value("probed_store_queue_length"), ma.value("probed_store_healthy"), ma.value("probed_store_listening")
		l := leaders(t, a, b)
		return code == http.StatusOK && q == 0 && hl == 1 && li == 1 && len(l) == 1 && l[0] == 1,
			fmt.Sprintf("a: /readyz %d queue %v healthy %v listening %v; leading %v", code, q, hl, li, l)
	})
	t.Logf("a cut off for %s while leading: /readyz 503 after %s; a stopped leading %s after the cut, b led %s after it (%s later); %d runs of a's probe during the cut (%v queued at its end), its /metrics answered within %s; a ready, written and listening again %s after the path returned",
		*cutFor, notReady.Round(time.Millisecond), stopped.Sub(cut).Round(time.Millisecond), took.Sub(cut).Round(time.Millisecond),
		took.Sub(stopped).Round(time.Millisecond), during, queued, slowest.Round(time.Millisecond), time.Since(restored).Round(time.Millisecond))
	if v := ma.value("probed_store_results_dropped_total"); v != 0 {
		t.Errorf("a dropped %v results", v)
	}
	for _, d := range []*daemon{a, b} {
		d.signal(syscall.SIGTERM)
		if err := d.wait(); err != nil {
			t.Fatalf("stop: %v\n%s", err, d.stderr())
		}
	}
	if strings.Contains(a.stderr()+b.stderr(), "draft incident created") {
		t.Error("a draft was created")
	}

	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Driver: "postgres", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.Results(ctx, "ocsp-http", cut.Add(-time.Hour), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	for _, r := range rs {
		if r.Location == "loc-a" {
			stored++
		}
	}
	if stored != hitsA.Load() {
		t.Errorf("%d of a's results stored for %d runs: results lost", stored, hitsA.Load())
	}
	incs, err := st.ListIncidents(ctx, store.IncidentFilter{Kind: status.KindIncident})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 0 {
		t.Errorf("%d incidents after the cut, want none (no false draft): first %v", len(incs), incs[0].Title)
	}
}
