package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/probed/probed/store"
)

// TestReloadEndToEnd builds the probed binary, runs it on a temporary config
// against a loopback target, and reloads it the ways an operator would:
// SIGHUP with a valid changed file (a probe added, one changed, one left
// alone), SIGHUP and POST /-/reload with an invalid file (refused, old probes
// keep running, the error on stderr with file:line), the file fixed and
// reloaded, then SIGTERM. History in SQLite spans the reloads.
func TestReloadEndToEnd(t *testing.T) {
	bin := buildProbed(t)
	var hits sync.Map // path → *atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := hits.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		fmt.Fprintln(w, "ok")
	}))
	defer target.Close()
	hitsOf := func(path string) int64 {
		if n, ok := hits.Load(path); ok {
			return n.(*atomic.Int64).Load()
		}
		return 0
	}

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	// a stays untouched throughout; c changes its timeout; b is added.
	head := `server: {listen: "127.0.0.1:0"}
storage: {path: probed.db}
location: e2e
components:
  - {id: api, name: API}
probes:
`
	probeA := fmt.Sprintf("  - {name: a, component: api, kind: http, interval: 1s, timeout: 900ms, http: {url: %q}}\n", target.URL+"/a")
	probeC := func(timeout string) string {
		return fmt.Sprintf("  - {name: c, component: api, kind: http, interval: 1s, timeout: %s, http: {url: %q}}\n", timeout, target.URL+"/c")
	}
	probeB := fmt.Sprintf("  - {name: b, component: api, kind: http, interval: 1s, http: {url: %q}}\n", target.URL+"/b")
	initial := head + probeA + probeC("500ms")
	changed := head + probeA + probeC("800ms") + probeB
	// Line 9 is probe b's; both problems must be reported with their lines.
	invalid := head + probeA + probeC("800ms") +
		fmt.Sprintf("  - {name: b, component: api, kind: http, intervall: 2s, http: {url: %q}}\n", target.URL+"/b") +
		"  - {name: d, component: nowhere, kind: http, http: {url: \"http://127.0.0.1:1/\"}}\n"
	writeFile(t, cfgPath, initial)

	token := operatorToken(t, bin, cfgPath)
	d := startProbed(t, bin, cfgPath)
	m := &scraper{t: t, url: "http://" + d.addr + "/metrics"}

	// Start-up: both probes succeed.
	eventually(t, "probe a and c to succeed", func() (bool, string) {
		a, c := m.value("probe_success", "probe", "a"), m.value("probe_success", "probe", "c")
		return a == 1 && c == 1, fmt.Sprintf("a=%v c=%v", a, c)
	})
	if v := m.value("probed_config_last_reload_successful"); v != 1 {
		t.Fatalf("probed_config_last_reload_successful = %v at start, want 1", v)
	}
	sinceA := m.value("probed_probe_scheduled_timestamp_seconds", "probe", "a")
	sinceC := m.value("probed_probe_scheduled_timestamp_seconds", "probe", "c")
	runsBefore := m.value("probed_probe_runs_total", "result", "success")
	beforeReload := time.Now()

	// 1. SIGHUP with a valid changed file: b appears, c restarts with its
	// new timeout, a keeps its schedule.
	writeFile(t, cfgPath, changed)
	d.signal(syscall.SIGHUP)
	d.waitLog(`msg="config reloaded"`)
	eventually(t, "the added probe b to succeed", func() (bool, string) {
		b := m.value("probe_success", "probe", "b")
		return b == 1, fmt.Sprintf("b=%v", b)
	})
	if v := m.value("probed_probe_scheduled_timestamp_seconds", "probe", "a"); v != sinceA {
		t.Errorf("untouched probe a was rescheduled by the reload: scheduled at %v, before %v", v, sinceA)
	}
	if v := m.value("probed_probe_scheduled_timestamp_seconds", "probe", "c"); !(v > sinceC) {
		t.Errorf("changed probe c kept its old schedule: scheduled at %v, before %v", v, sinceC)
	}
	if v := m.value("probed_probe_runs_total", "result", "success"); !(v > runsBefore) {
		t.Errorf("probed_probe_runs_total{result=success} = %v after reload, %v before: reset or stalled", v, runsBefore)
	}
	if v := m.value("probed_config_last_reload_successful"); v != 1 {
		t.Errorf("probed_config_last_reload_successful = %v after a valid reload", v)
	}
	if !strings.Contains(d.stderr(), `added=[b] removed=[]`) {
		t.Errorf("reload log does not say what changed:\n%s", d.stderr())
	}
	sinceB := m.value("probed_probe_scheduled_timestamp_seconds", "probe", "b")
	sinceC = m.value("probed_probe_scheduled_timestamp_seconds", "probe", "c")

	// 2. SIGHUP with an invalid file: refused, gauge 0, each error logged
	// with file:line, the running probes untouched and still running.
	writeFile(t, cfgPath, invalid)
	d.signal(syscall.SIGHUP)
	wantErrs := []string{
		cfgPath + ":9: probes[2].intervall: unknown key (did you mean interval?)",
		cfgPath + `:10: probes[3].component: unknown component "nowhere"`,
	}
	for _, e := range wantErrs {
		d.waitLog(`level=ERROR msg="config error" error="` + strings.ReplaceAll(e, `"`, `\"`) + `"`)
	}
	d.waitLog(`msg="config reload refused; the previous configuration keeps running"`)
	eventually(t, "the reload gauge to drop to 0", func() (bool, string) {
		v := m.value("probed_config_last_reload_successful")
		return v == 0, fmt.Sprintf("%v", v)
	})
	stillRunning := func(when string) {
		t.Helper()
		a0, b0, c0 := hitsOf("/a"), hitsOf("/b"), hitsOf("/c")
		eventually(t, "probes a, b and c to keep running "+when, func() (bool, string) {
			a, b, c := hitsOf("/a"), hitsOf("/b"), hitsOf("/c")
			return a > a0 && b > b0 && c > c0, fmt.Sprintf("hits a %d→%d b %d→%d c %d→%d", a0, a, b0, b, c0, c)
		})
		for probe, since := range map[string]float64{"a": sinceA, "b": sinceB, "c": sinceC} {
			if v := m.value("probed_probe_scheduled_timestamp_seconds", "probe", probe); v != since {
				t.Errorf("%s: probe %s rescheduled (%v, before %v)", when, probe, v, since)
			}
		}
		if v := m.value("probe_success", "probe", "d"); v != -1 {
			t.Errorf("%s: probe d from the refused file has a series", when)
		}
	}
	stillRunning("after a refused SIGHUP")

	// Reload is an operator action: without the token it is refused.
	if code, body := postReload(t, d.addr, ""); code != http.StatusUnauthorized {
		t.Errorf("POST /-/reload without a token: %d %s, want 401", code, body)
	}

	// 3. POST /-/reload with the same invalid file: 400 with every error.
	code, body := postReload(t, d.addr, token)
	if code != http.StatusBadRequest {
		t.Errorf("POST /-/reload with an invalid file: %d %s, want 400", code, body)
	}
	for _, e := range wantErrs {
		if !strings.Contains(body, e) {
			t.Errorf("POST /-/reload body lacks %q:\n%s", e, body)
		}
	}
	if v := m.value("probed_config_last_reload_successful"); v != 0 {
		t.Errorf("probed_config_last_reload_successful = %v after a refused POST /-/reload", v)
	}
	stillRunning("after a refused POST /-/reload")

	// 4. The file fixed: POST /-/reload applies it and the gauge is back to
	// 1; as the fixed file equals the running one, nothing is rescheduled.
	writeFile(t, cfgPath, changed)
	if code, body := postReload(t, d.addr, token); code != http.StatusOK {
		t.Errorf("POST /-/reload with the fixed file: %d %s", code, body)
	}
	if v := m.value("probed_config_last_reload_successful"); v != 1 {
		t.Errorf("probed_config_last_reload_successful = %v after the fix", v)
	}
	stillRunning("after the fixed file is reloaded")
	afterReload := time.Now()

	// 5. SIGTERM: a clean exit 0 with the store flushed.
	d.signal(syscall.SIGTERM)
	if err := d.wait(); err != nil {
		t.Fatalf("probed exited with %v after SIGTERM\n%s", err, d.stderr())
	}

	// History survived the reloads: a has results from before the first
	// reload and after the last one; b only since it was added.
	st, err := store.Open(context.Background(), store.Options{Path: filepath.Join(dir, "probed.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := func(probe string, from, to time.Time) int {
		rs, err := st.Results(context.Background(), probe, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	long := beforeReload.Add(-time.Hour)
	if n := count("a", long, beforeReload); n == 0 {
		t.Errorf("probe a has no stored results from before the first reload")
	}
	if n := count("a", afterReload.Add(-2*time.Second), afterReload.Add(time.Hour)); n == 0 {
		t.Errorf("probe a has no stored results from after the last reload")
	}
	if n := count("b", long, beforeReload); n != 0 {
		t.Errorf("probe b has %d results from before it was added", n)
	}
	if n := count("b", beforeReload, afterReload.Add(time.Hour)); n == 0 {
		t.Errorf("probe b has no stored results")
	}
}

// buildProbed compiles this package into a temporary folder.
func buildProbed(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "probed")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// operatorToken makes a token for the operator routes, as an operator
// would: `probed token create` on the server's database.
func operatorToken(t *testing.T, bin, cfgPath string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "token", "create", "-config", cfgPath, "-name", "reload-e2e")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("probed token create: %v\n%s", err, stderr.String())
	}
	tok := strings.TrimSpace(stdout.String())
	if tok == "" {
		t.Fatal("probed token create printed no token")
	}
	return tok
}

func postReload(t *testing.T, addr, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/-/reload", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /-/reload: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// daemon is a probed process under test.
type daemon struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	done chan error

	mu      sync.Mutex
	log     bytes.Buffer
	changed chan struct{} // closed and replaced whenever log grows
}

var startedRE = regexp.MustCompile(`msg="probed started" listen=(\S+)`)

// startProbed runs `probed run -config cfgPath [flags]` and waits for its listener.
func startProbed(t *testing.T, bin, cfgPath string, flags ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, cmd: exec.Command(bin, append([]string{"run", "-config", cfgPath}, flags...)...), done: make(chan error, 1), changed: make(chan struct{})}
	// No PROBED_SMTP_PASSWORD or similar from the developer's shell.
	d.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			close(d.changed)
			d.changed = make(chan struct{})
			d.mu.Unlock()
		}
		d.done <- d.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill() // fails harmlessly once it has exited
		<-d.done
		if t.Failed() {
			t.Logf("probed stderr:\n%s", d.stderr())
		}
	})
	line := d.waitLine("its start", startedRE.MatchString)
	d.addr = startedRE.FindStringSubmatch(line)[1]
	return d
}

func (d *daemon) stderr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// waitLog waits for a line of stderr containing s and returns it.
func (d *daemon) waitLog(s string) string {
	d.t.Helper()
	return d.waitLine(s, func(l string) bool { return strings.Contains(l, s) })
}

// waitLine waits (at most 30s) for a line of stderr that match accepts.
func (d *daemon) waitLine(what string, match func(string) bool) string {
	d.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		d.mu.Lock()
		lines, changed := d.log.String(), d.changed
		d.mu.Unlock()
		for _, l := range strings.Split(lines, "\n") {
			if match(l) {
				return l
			}
		}
		select {
		case <-changed:
		case err := <-d.done:
			d.done <- err
			d.t.Fatalf("probed exited (%v) before logging %s\n%s", err, what, d.stderr())
		case <-deadline:
			d.t.Fatalf("probed did not log %s within 30s\n%s", what, d.stderr())
		}
	}
}

func (d *daemon) signal(sig os.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits (at most 30s) for the process to exit and returns its status.
func (d *daemon) wait() error {
	d.t.Helper()
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(30 * time.Second):
		d.t.Fatalf("probed did not exit within 30s\n%s", d.stderr())
		return nil
	}
}

// scraper reads /metrics.
type scraper struct {
	t   *testing.T
	url string
}

// value returns the value of the series of a family whose labels include
// the given name/value pairs, or -1 when there is none.
func (s *scraper) value(name string, labels ...string) float64 {
	s.t.Helper()
	resp, err := http.Get(s.url)
	if err != nil {
		s.t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		s.t.Fatalf("parse scrape: %v", err)
	}
	f, ok := fams[name]
	if !ok {
		return -1
	}
	for _, m := range f.GetMetric() {
		if hasLabels(m, labels) {
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Untyped != nil:
				return m.Untyped.GetValue()
			}
		}
	}
	return -1
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// eventually polls cond until it holds, failing the test after 30s with
// the last observation.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, got := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last: %s", what, got)
		}
		<-tick.C
	}
}
