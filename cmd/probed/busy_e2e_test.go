package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// busyClients clients, each from its own loopback address on a keep-alive
// connection, send busyRequests requests each to the public listener,
// alternating the page and the summary API: a flood bounded by count.
const (
	busyClients  = 48
	busyRequests = 1500
	busyProbes   = 8
)

// TestBusyPublicListener: the public listener flooded with real requests
// (GET / and /api/v2/summary.json, 72,000 in all from 48 concurrent
// clients) while 8 probes run against a healthy loopback target. No run is
// the target's failure, no incident is drafted (the engine's
// probed_incidents), and no run is probed_internal for any reason but
// starved, which is probed reporting its own shortage of CPU as its own
// (the rule this test exists for): a starved run is logged and counted,
// never a failure of the target.
func TestBusyPublicListener(t *testing.T) {
	if testing.Short() {
		t.Skip("the flood takes a while; not in -short")
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer target.Close()
	dir := t.TempDir()
	var probes strings.Builder
	for i := range busyProbes {
		fmt.Fprintf(&probes, "  - {name: web-%d, component: web, kind: http, interval: 2s, timeout: 1600ms, http: {url: %q}}\n", i, target.URL)
	}
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`server: {listen: %s, admin_listen: %s}
storage: {path: probed.db}
incidents: {failures_to_open: 1}
components:
  - {id: web, name: Web}
probes:
%s`, freeAddr(t), freeAddr(t), probes.String()))
	d := startProbed(t, buildProbed(t), cfgPath)
	admin := regexp.MustCompile(`admin=(\S+)`).FindStringSubmatch(d.waitLog("probed started"))[1]
	m := &scraper{t: t, url: "http://" + admin + "/metrics"}
	runs := func(result string) float64 { return m.value("probed_probe_runs_total", "result", result) }
	eventually(t, "a first run of every probe", func() (bool, string) {
		return runs("success") >= busyProbes, fmt.Sprintf("success %v", runs("success"))
	})
	before := runs("success") + runs("failure") + runs("internal")

	// The flood.
	var ok, bad atomic.Int64
	var firstErr sync.Once
	var floodErr error
	var wg sync.WaitGroup
	for c := range busyClients {
		from := &net.TCPAddr{IP: net.IPv4(127, 3, 0, byte(1+c))}
		tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: from, Timeout: 10 * time.Second}).DialContext, MaxIdleConnsPerHost: 1}
		client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.CloseIdleConnections()
			for i := range busyRequests {
				path := "/"
				if i%2 == 1 {
					path = "/api/v2/summary.json"
				}
				err := busyGet(context.Background(), client, "http://"+d.addr+path)
				if err != nil {
					bad.Add(1)
					firstErr.Do(func() { floodErr = err })
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	during := runs("success") + runs("failure") + runs("internal") - before
	t.Logf("flood: %d requests answered 200, %d not; %v probe runs during it", ok.Load(), bad.Load(), during)
	if ok.Load() != busyClients*busyRequests {
		t.Errorf("%d of %d requests answered 200 (first error: %v)", ok.Load(), busyClients*busyRequests, floodErr)
	}
	if during < busyProbes {
		t.Errorf("only %v probe runs during the flood, want at least %d (one of each probe): the flood proves nothing", during, busyProbes)
	}

	// After it: one more run of every probe, then the verdict.
	after := runs("success") + runs("failure") + runs("internal")
	eventually(t, "a run of every probe after the flood", func() (bool, string) {
		n := runs("success") + runs("failure") + runs("internal")
		return n >= after+busyProbes, fmt.Sprintf("%v runs", n)
	})
	if n := runs("failure"); n != 0 {
		t.Errorf(`probed_probe_runs_total{result="failure"} = %v, want 0: a healthy target was failed`, n)
	}
	starved := m.value("probed_probe_internal_failures_total", "reason", "starved")
	if n := runs("internal") - starved; n != 0 {
		t.Errorf("%v runs were probed_internal for a reason other than starved, want 0", n)
	}
	if starved > 0 {
		t.Logf("%v runs were probed's own failure, starved of CPU (logged at ERROR, not the target's)", starved)
	}
	if n := m.value("probed_incidents", "state", "draft"); n != 0 {
		t.Errorf("%v incidents drafted, want 0", n)
	}
}

// busyGet fetches url and reads the body; anything but 200 is an error.
func busyGet(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("%s: reading the body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// TestFrozenProbedIsStarvedNotTheTarget: probed itself is frozen (SIGSTOP,
// as a host that gives it no CPU would) for 2 s in the middle of a run with
// a 1.6 s timeout; the run's deadline passes while probed cannot run. The
// run is probed's failure, reason starved (logged at ERROR, counted), not
// the target's probe_timeout: no failed run, no draft although one failed
// run would open one, and the probe succeeds again afterwards.
func TestFrozenProbedIsStarvedNotTheTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("not in -short")
	}
	var hold atomic.Bool
	arrived := make(chan struct{}, 1)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold.CompareAndSwap(true, false) {
			arrived <- struct{}{}
			<-r.Context().Done() // answered only once probed is back, too late for the run
			return
		}
		io.WriteString(w, "ok")
	}))
	defer target.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`server: {listen: %s, admin_listen: %s}
storage: {path: probed.db}
incidents: {failures_to_open: 1}
components:
  - {id: web, name: Web}
probes:
  - {name: web, component: web, kind: http, interval: 2s, timeout: 1600ms, http: {url: %q}}
`, freeAddr(t), freeAddr(t), target.URL))
	d := startProbed(t, buildProbed(t), cfgPath)
	admin := regexp.MustCompile(`admin=(\S+)`).FindStringSubmatch(d.waitLog("probed started"))[1]
	m := &scraper{t: t, url: "http://" + admin + "/metrics"}
	runs := func(result string) float64 { return m.value("probed_probe_runs_total", "result", result) }
	eventually(t, "a first successful run", func() (bool, string) { return runs("success") >= 1, d.stderr() })

	hold.Store(true)
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("no run reached the target within 30 s")
	}
	pid := d.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the fault: how long probed gets no CPU, longer than the run's timeout
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the frozen run counted as starved", func() (bool, string) {
		n := m.value("probed_probe_internal_failures_total", "reason", "starved")
		return n == 1, fmt.Sprintf("starved %v, failure %v", n, runs("failure"))
	})
	line := d.waitLog("probe run failed because of probed itself")
	if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "reason=starved") || !strings.Contains(line, "check=probed_internal") {
		t.Errorf("log line = %q, want an ERROR with check=probed_internal reason=starved", line)
	}
	success := runs("success")
	eventually(t, "a successful run after the freeze", func() (bool, string) {
		return runs("success") > success, fmt.Sprintf("success %v", runs("success"))
	})
	if n := runs("failure"); n != 0 {
		t.Errorf(`probed_probe_runs_total{result="failure"} = %v, want 0: the target was blamed for probed's freeze`, n)
	}
	if n := m.value("probed_incidents", "state", "draft"); n != 0 {
		t.Errorf("%v incidents drafted, want 0", n)
	}
}
