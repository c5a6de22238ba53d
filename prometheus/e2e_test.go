package prometheus_test

// End to end on the real engines: Debian's Prometheus and Alertmanager on
// loopback, two probed instances in different locations probing their own
// simulated CA, the shipped rules (with `for:` shortened so the test is
// bounded), and Alertmanager delivering to the instance that holds incidents.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/probed/probed/status"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/probed/probed/internal/pkisim"
	"github.com/probed/probed/internal/testtool"
	"github.com/probed/probed/store"
)

// repoRoot is where go.mod lives.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func buildProbed(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "probed")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/probed")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build probed: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs a process whose output goes to a log file; Cleanup stops it.
func start(t *testing.T, name string, bin string, args ...string) *exec.Cmd {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- %s log (last 3000 bytes) ---\n%s", name, tail(b, 3000))
		}
	})
	return cmd
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitFor polls cond until it holds or the deadline passes; what says what
// was last seen.
func waitFor(t *testing.T, timeout time.Duration, desc string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, desc, last)
		}
		time.Sleep(200 * time.Millisecond) // polling interval, not a wait for an event
	}
}

func httpGet(url string, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// promValue runs an instant query and returns the first sample's value.
func promQuery(promURL, q string) ([]map[string]any, error) {
	code, body, err := httpGet(promURL+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("query %s: HTTP %d: %s", q, code, body)
	}
	var r struct {
		Data struct {
			Result []map[string]any `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	return r.Data.Result, nil
}

// shortRules copies the shipped rules with every `for:` cut to 2s.
func shortRules(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "prometheus", "probed.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	short := regexp.MustCompile(`(?m)^(\s+for:) .*$`).ReplaceAll(b, []byte("$1 2s"))
	path := filepath.Join(dir, "probed.rules.yml")
	if err := os.WriteFile(path, short, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type instance struct {
	token    string
	location string
	port     int
	config   string
	sim      *pkisim.Sim
}

func (in instance) url() string { return fmt.Sprintf("http://127.0.0.1:%d", in.port) }

func newInstance(t *testing.T, location string, holder bool) instance {
	t.Helper()
	sim, err := pkisim.New(pkisim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", sim.Handler())
	mux.Handle(pkisim.APIPath, sim.ServicesHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	in := instance{location: location, port: freePort(t), config: filepath.Join(dir, "probes.yaml"), sim: sim}
	incidents := "incidents: {failures_to_open: 1, successes_to_close: 1}\n"
	if holder {
		incidents = holderIncidents
	}
	cfg := fmt.Sprintf(`page: {name: Example CA, url: %[1]s}
server: {listen: 127.0.0.1:%[2]d}
storage: {path: probed.db}
location: %[3]s
components:
  - id: certcentral
    name: CertCentral
    components:
      - {id: certcentral-api, name: CertCentral API}
probes:
  - name: certcentral-api
    component: certcentral-api
    kind: http
    interval: 1s
    timeout: 800ms
    http: {url: "%[4]s%[5]s", json: [{path: status, equal: ok}]}
%[6]s`, in.url(), in.port, location, srv.URL, pkisim.APIPath, incidents)
	if err := os.WriteFile(in.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return in
}

// holderIncidents configures the incident holder: its own single location
// can never reach a quorum of two, so drafts come from Alertmanager.
const holderIncidents = "incidents: {failures_to_open: 1, successes_to_close: 1, quorum: 2}\n"

func TestMultiLocationQuorum(t *testing.T) {
	promBin := testtool.Prometheus(t)
	amBin := testtool.Alertmanager(t)
	probed := buildProbed(t)

	tokyo := newInstance(t, "tokyo-1", true)
	osaka := newInstance(t, "osaka-1", false)
	tokyo.token = createToken(t, tokyo, "alertmanager")
	start(t, "probed-tokyo", probed, "run", "-config", tokyo.config)
	start(t, "probed-osaka", probed, "run", "-config", osaka.config)
	for _, in := range []instance{tokyo, osaka} {
		waitFor(t, 30*time.Second, in.location+" probe_success 1", func() (bool, string) {
			_, b, err := httpGet(in.url()+"/metrics", nil)
			if err != nil {
				return false, err.Error()
			}
			return strings.Contains(string(b), `probe_success{component="certcentral-api",kind="http",location="`+in.location+`",probe="certcentral-api"} 1`), grep(string(b), "probe_success")
		})
	}

	dir := t.TempDir()
	amPort, promPort := freePort(t), freePort(t)
	amCfg := fmt.Sprintf(`route:
  receiver: sre
  group_by: [alertname, component]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: probed-incidents
      matchers: ['probed_draft="true"']
receivers:
  - name: sre
  - name: probed-incidents
    webhook_configs:
      - url: %s/api/v1/alertmanager
        send_resolved: true
        http_config:
          authorization: {type: Bearer, credentials_file: %q}
`, tokyo.url(), filepath.Join(dir, "probed-token"))
	if err := os.WriteFile(filepath.Join(dir, "probed-token"), []byte(tokyo.token), 0o600); err != nil {
		t.Fatal(err)
	}
	amCfgPath := filepath.Join(dir, "alertmanager.yml")
	os.WriteFile(amCfgPath, []byte(amCfg), 0o644)
	start(t, "alertmanager", amBin, "--config.file="+amCfgPath, "--storage.path="+filepath.Join(dir, "am"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", amPort), "--cluster.listen-address=")
	rules := shortRules(t, dir)
	promCfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
alerting:
  alertmanagers: [{static_configs: [{targets: ["127.0.0.1:%d"]}]}]
scrape_configs:
  - job_name: probed
    honor_labels: true
    static_configs: [{targets: ["127.0.0.1:%d", "127.0.0.1:%d"]}]
`, rules, amPort, tokyo.port, osaka.port)
	promCfgPath := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(promCfgPath, []byte(promCfg), 0o644)
	start(t, "prometheus", promBin, "--config.file="+promCfgPath, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	promURL := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	amURL := fmt.Sprintf("http://127.0.0.1:%d", amPort)

	waitFor(t, 60*time.Second, "Prometheus scraping both locations", func() (bool, string) {
		r, err := promQuery(promURL, `count(probe_success == 1)`)
		if err != nil || len(r) == 0 {
			return false, fmt.Sprint(r, err)
		}
		return fmt.Sprint(r[0]["value"].([]any)[1]) == "2", fmt.Sprint(r)
	})

	// A fault in one location only: Prometheus sees one failing location
	// for well over the rule's hold time, and no quorum alert reaches
	// Alertmanager.
	tokyo.sim.Set(pkisim.APIBadBody, true)
	waitFor(t, 60*time.Second, "one failing location held for 6s", func() (bool, string) {
		r, err := promQuery(promURL, `min_over_time((count(probe_success == 0))[6s:1s]) == 1 and max_over_time((count(probe_success == 0))[6s:1s]) == 1 and count_over_time((count(probe_success == 0))[6s:1s]) >= 6`)
		return err == nil && len(r) == 1, fmt.Sprint(r, err)
	})
	if r, err := promQuery(promURL, `ALERTS{alertname="ProbeDownQuorum"}`); err != nil || len(r) != 0 {
		t.Fatalf("ProbeDownQuorum with one failing location: %v %v", r, err)
	}
	if _, b, err := httpGet(amURL+"/api/v2/alerts?filter=alertname%3D%22ProbeDownQuorum%22", nil); err != nil || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("Alertmanager holds a quorum alert with one failing location: %s %v", b, err)
	}
	assertDrafts(t, tokyo, 0)

	// The same fault in the second location: the quorum alert fires and
	// Alertmanager delivers it to the incident holder.
	osaka.sim.Set(pkisim.APIBadBody, true)
	waitFor(t, 60*time.Second, "ProbeDownQuorum firing in Alertmanager", func() (bool, string) {
		_, b, err := httpGet(amURL+"/api/v2/alerts?active=true&filter=alertname%3D%22ProbeDownQuorum%22", nil)
		return err == nil && strings.Contains(string(b), `"component":"certcentral-api"`), string(b)
	})
	waitForDrafts(t, tokyo, 1)
}

func grep(s, sub string) string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.Contains(sc.Text(), sub) {
			out = append(out, sc.Text())
		}
	}
	return strings.Join(out, "\n")
}

// createToken makes an operator token in an instance's database before
// the daemon starts, as `probed token create` does.
func createToken(t *testing.T, in instance, name string) string {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Path: filepath.Join(filepath.Dir(in.config), "probed.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok, err := st.CreateToken(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// drafts reads the incident holder's draft incidents over its operator API.
func drafts(t *testing.T, in instance) ([]status.Incident, error) {
	code, body, err := httpGet(in.url()+"/api/v1/incidents?state=draft", map[string]string{"Authorization": "Bearer " + in.token})
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("HTTP %d: %s", code, body)
	}
	var list []status.Incident
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	return list, nil
}

func assertDrafts(t *testing.T, in instance, n int) {
	t.Helper()
	list, err := drafts(t, in)
	if err != nil || len(list) != n {
		t.Fatalf("incident holder has %d drafts (err %v), want %d: %+v", len(list), err, n, list)
	}
}

// waitForDrafts waits for exactly n drafts, each with the quorum alert as
// evidence, and checks that no more appear over a few more deliveries.
func waitForDrafts(t *testing.T, in instance, n int) {
	t.Helper()
	var list []status.Incident
	waitFor(t, 60*time.Second, fmt.Sprintf("%d draft(s) from Alertmanager", n), func() (bool, string) {
		var err error
		list, err = drafts(t, in)
		if err != nil {
			return false, err.Error()
		}
		ok := len(list) == n
		for _, inc := range list {
			ok = ok && slices.ContainsFunc(inc.Evidence, func(e status.Evidence) bool {
				return e.Source == "alertmanager" && e.Check == "ProbeDownQuorum"
			})
		}
		return ok, fmt.Sprintf("%+v", list)
	})
	if got := list[0].ComponentIDs(); !slices.Equal(got, []string{"certcentral-api"}) {
		t.Errorf("draft covers %v, want [certcentral-api]", got)
	}
}
