package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// floodConns and floodChildren: 20,000 idle keep-alive connections, held
// by child processes (this test binary run again) so that neither the test
// process nor probed shares their descriptors.
const (
	floodConns    = 20000
	floodChildren = 4
)

// TestFloodedPublicListener: probed under a 4,096-descriptor limit, with
// 20,000 idle keep-alive connections opened to its public listener from
// 200 addresses. Without a connection budget they would take every
// descriptor and every probe would fail with "too many open files"; with
// it, every run of the probe succeeds during the flood, no run is
// probed_internal, no incident is drafted, /metrics on the operator
// listener answers throughout, a new visitor gets the page (an idle
// flooder's connection makes room), and the page serves once the flood
// is gone.
func TestFloodedPublicListener(t *testing.T) {
	if addr := os.Getenv("PROBED_TEST_FLOOD"); addr != "" {
		floodChild(t, addr)
		return
	}
	if testing.Short() {
		t.Skip("the flood takes a while; not in -short")
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer target.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`server: {listen: %s, admin_listen: %s}
storage: {path: probed.db}
incidents: {failures_to_open: 1}
components:
  - {id: web, name: Web}
probes:
  - {name: web, component: web, kind: http, interval: 1s, timeout: 900ms, http: {url: %q}}
`, freeAddr(t), freeAddr(t), target.URL)
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, cfg)
	// probed under a low descriptor limit, as a small VM or a unit file would set it.
	wrapper := filepath.Join(dir, "probed-lowfd")
	writeFile(t, wrapper, "#!/bin/sh\nulimit -n 4096 || exit 1\nexec "+buildProbed(t)+` "$@"`+"\n")
	if err := os.Chmod(wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	d := startProbed(t, wrapper, cfgPath)
	admin := regexp.MustCompile(`admin=(\S+)`).FindStringSubmatch(d.waitLog("probed started"))[1]
	m := &scraper{t: t, url: "http://" + admin + "/metrics"}
	runs := func(result string) float64 { return m.value("probed_probe_runs_total", "result", result) }
	eventually(t, "a first successful run", func() (bool, string) { return runs("success") >= 1, d.stderr() })

	// The flood.
	var children []*exec.Cmd
	var stdins []io.Closer
	t.Cleanup(func() {
		for _, in := range stdins {
			in.Close()
		}
		for _, c := range children {
			c.Process.Kill()
			c.Wait()
		}
	})
	ready := make(chan string, floodChildren)
	for i := range floodChildren {
		c := exec.Command(os.Args[0], "-test.run=^TestFloodedPublicListener$", "-test.count=1")
		c.Env = append(os.Environ(), "PROBED_TEST_FLOOD="+d.addr, "PROBED_TEST_FLOOD_CHILD="+strconv.Itoa(i))
		in, err := c.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		children, stdins = append(children, c), append(stdins, in)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "held ") {
					ready <- sc.Text()
				}
			}
		}()
	}
	before := runs("success")
	for range floodChildren {
		select {
		case line := <-ready:
			t.Log("flood child: " + line)
		case <-time.After(5 * time.Minute):
			t.Fatal("the flood children did not open their connections within 5 minutes")
		}
	}
	// During the flood: probes keep succeeding, /metrics answers (each
	// scrape is on the operator listener), a new visitor is served.
	eventually(t, "five more successful runs during the flood", func() (bool, string) {
		return runs("success") >= before+5, fmt.Sprintf("success %v (was %v)", runs("success"), before)
	})
	if code := pageStatus(t, d.addr); code != http.StatusOK {
		t.Errorf("a visitor during the flood got %d, want 200 (an idle connection should make room)", code)
	}
	for _, r := range []string{"failure", "internal"} {
		if n := runs(r); n != 0 {
			t.Errorf(`probed_probe_runs_total{result=%q} = %v during the flood, want 0`, r, n)
		}
	}
	if n := m.value("probed_incidents", "state", "draft"); n != 0 {
		t.Errorf("%v incidents drafted, want 0", n)
	}
	if n := m.value("probed_http_connections", "listener", "public"); n > 1024 {
		t.Errorf("the public listener holds %v connections, over its cap of 1024", n)
	}
	if n := m.value("probed_http_connections_evicted_total", "listener", "public"); n < floodConns/2 {
		t.Errorf("%v idle connections evicted; the flood should have made the cap evict most of them", n)
	}
	if strings.Contains(d.stderr(), "too many open files") {
		t.Errorf("probed ran out of files:\n%s", d.stderr())
	}

	// After the flood.
	for _, in := range stdins {
		in.Close()
	}
	for _, c := range children {
		c.Wait()
	}
	children = nil
	eventually(t, "the page after the flood", func() (bool, string) {
		code := pageStatus(t, d.addr)
		return code == http.StatusOK, strconv.Itoa(code)
	})
	if n := runs("failure") + runs("internal"); n != 0 {
		t.Errorf("%v failed runs in all, want 0", n)
	}
}

// pageStatus fetches the public page on a new connection.
func pageStatus(t *testing.T, addr string) int {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// floodChild opens its share of the flood from 50 loopback addresses of
// its own, sends one request on each connection and leaves it idle,
// prints "held N", and holds them until its stdin closes.
func floodChild(t *testing.T, addr string) {
	child, _ := strconv.Atoi(os.Getenv("PROBED_TEST_FLOOD_CHILD"))
	n := floodConns / floodChildren
	var conns []net.Conn
	req := []byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	answered := 0
	for i := range n {
		from := net.IPv4(127, 1, byte(child), byte(1+i%50))
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from}, Timeout: 10 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(req); err == nil {
			if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				answered++
			}
		}
		c.SetDeadline(time.Time{})
	}
	fmt.Printf("held %d connections, %d answered\n", len(conns), answered)
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}
