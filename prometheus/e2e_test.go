package prometheus_test

// End to end on the real engines: Debian's Prometheus and Alertmanager on
// loopback, three probed instances in different locations (the holder and
// two prober-only ones) each probing its own simulated CA, the shipped rules
// and example files as they are, and Alertmanager delivering to the holder.

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
	return httpDo(http.MethodGet, url, header)
}

// httpDo sends a bodiless request with the given headers, bounded by 5s.
func httpDo(method, url string, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, nil)
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

// The deployment under test, as README "Deployment: several locations"
// gives it: probes every 10s judged with failures_to_open 2 and
// successes_to_close 2 at every location, the holder with quorum 2.
const (
	probeInterval = 10 * time.Second
	// budget is the product requirement: a total outage drafts, and a
	// recovery proposes resolution, within a minute.
	budget = 60 * time.Second
)

type instance struct {
	token    string
	location string
	port     int
	config   string
	sim      *pkisim.Sim
}

func (in instance) url() string { return fmt.Sprintf("http://127.0.0.1:%d", in.port) }

// newInstance writes the config of one location probing its own simulated
// CA (so a fault can be seen from one location only).
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
	role, quorum := "prober", ""
	if holder {
		role, quorum = "holder", ", quorum: 2"
	}
	cfg := fmt.Sprintf(`role: %[7]s
page: {name: Example CA, url: %[1]s}
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
    interval: %[8]s
    timeout: 5s
    http: {url: "%[4]s%[5]s", json: [{path: status, equal: ok}]}
incidents: {failures_to_open: 2, successes_to_close: 2%[6]s}
`, in.url(), in.port, location, srv.URL, pkisim.APIPath, quorum, role, probeInterval)
	if err := os.WriteFile(in.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return in
}

// exampleFile reads one of the shipped example files and applies the
// replacements (addresses and paths only: every timer stays as shipped).
func exampleFile(t *testing.T, name string, repl ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "prometheus", name))
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(out, repl[i]) {
			t.Fatalf("%s no longer contains %q: update the test", name, repl[i])
		}
		out = strings.ReplaceAll(out, repl[i], repl[i+1])
	}
	return out
}

// promScalar runs an instant query expected to return one sample.
func promScalar(promURL, q string) (string, error) {
	r, err := promQuery(promURL, q)
	if err != nil {
		return "", err
	}
	if len(r) != 1 {
		return "", fmt.Errorf("%s: %d samples", q, len(r))
	}
	return fmt.Sprint(r[0]["value"].([]any)[1]), nil
}

// TestSeveralLocationsOneTruth is issue 16's deployment on Debian's
// Prometheus and Alertmanager: the holder (tokyo-1) and two prober-only
// instances (osaka-1, fra-1), the shipped rules and example files with only
// addresses changed. One location down drafts nothing anywhere; a total
// outage drafts exactly one major_outage incident on the holder within a
// minute, dated from the first failed run; a recovery proposes resolution
// within a minute. The figures are logged (go test -v).
func TestSeveralLocationsOneTruth(t *testing.T) {
	promBin := testtool.Prometheus(t)
	amBin := testtool.Alertmanager(t)
	probed := buildProbed(t)

	tokyo := newInstance(t, "tokyo-1", true)
	osaka := newInstance(t, "osaka-1", false)
	fra := newInstance(t, "fra-1", false)
	all := []instance{tokyo, osaka, fra}
	tokyo.token = createToken(t, tokyo, "alertmanager")
	for _, in := range all {
		start(t, "probed-"+in.location, probed, "run", "-config", in.config)
	}
	for _, in := range all {
		waitFor(t, 30*time.Second, in.location+" probe_success 1", func() (bool, string) {
			_, b, err := httpGet(in.url()+"/metrics", nil)
			if err != nil {
				return false, err.Error()
			}
			return strings.Contains(string(b), `probe_success{component="certcentral-api",kind="http",location="`+in.location+`",probe="certcentral-api"} 1`), grep(string(b), "probe_success")
		})
	}
	// Prober-only instances: /metrics and health, every other route 404.
	for _, in := range []instance{osaka, fra} {
		for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
			if code, _, err := httpGet(in.url()+path, nil); err != nil || code != 200 {
				t.Fatalf("%s GET %s = %d %v, want 200", in.location, path, code, err)
			}
		}
		for _, path := range []string{"/", "/api/v2/summary.json", "/history", "/subscribe", "/admin/", "/api/v1/incidents", "/api/v1/alertmanager"} {
			if code, _, err := httpGet(in.url()+path, map[string]string{"Authorization": "Bearer " + tokyo.token}); err != nil || code != 404 {
				t.Fatalf("%s GET %s = %d %v, want 404 (a prober serves no page, console or API)", in.location, path, code, err)
			}
		}
	}

	dir := t.TempDir()
	amPort, promPort := freePort(t), freePort(t)
	tokenFile := filepath.Join(dir, "probed-token")
	if err := os.WriteFile(tokenFile, []byte(tokyo.token), 0o600); err != nil {
		t.Fatal(err)
	}
	amCfgPath := filepath.Join(dir, "alertmanager.yml")
	amCfg := exampleFile(t, "alertmanager.example.yml",
		"http://probed-tokyo.internal:9115", tokyo.url(),
		"/etc/alertmanager/probed-token", tokenFile)
	if err := os.WriteFile(amCfgPath, []byte(amCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, "alertmanager", amBin, "--config.file="+amCfgPath, "--storage.path="+filepath.Join(dir, "am"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", amPort), "--cluster.listen-address=")
	promCfgPath := filepath.Join(dir, "prometheus.yml")
	promCfg := exampleFile(t, "prometheus.example.yml",
		"- probed.rules.yml", "- "+filepath.Join(repoRoot(t), "prometheus", "probed.rules.yml"),
		"'127.0.0.1:9093'", fmt.Sprintf("'127.0.0.1:%d'", amPort),
		"probed-tokyo.internal:9115", strings.TrimPrefix(tokyo.url(), "http://"),
		"probed-osaka.internal:9115", strings.TrimPrefix(osaka.url(), "http://"),
		"probed-frankfurt.internal:9115", strings.TrimPrefix(fra.url(), "http://"))
	if err := os.WriteFile(promCfgPath, []byte(promCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, "prometheus", promBin, "--config.file="+promCfgPath, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	promURL := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	amURL := fmt.Sprintf("http://127.0.0.1:%d", amPort)

	allUp := func(what string) {
		t.Helper()
		waitFor(t, 2*budget, what, func() (bool, string) {
			v, err := promScalar(promURL, `count(probed_probe_down == 0)`)
			return err == nil && v == "3", fmt.Sprint(v, err)
		})
	}
	allUp("Prometheus scraping three locations, all up")

	// One location down: fra-1 counts the probe as down, Prometheus sees
	// it, the quorum rule evaluates it several times past Alertmanager's
	// group_wait — and nothing fires, nothing is drafted.
	fra.sim.Set(pkisim.APIError, true)
	waitFor(t, 2*budget, "fra-1 down in Prometheus for 20s", func() (bool, string) {
		v, err := promScalar(promURL, `min_over_time((count(probed_probe_down == 1) == count(probed_probe_down{location="fra-1"} == 1))[20s:5s])`)
		return err == nil && v == "1", fmt.Sprint(v, err)
	})
	if r, err := promQuery(promURL, `ALERTS{alertname="ProbeDownQuorum"}`); err != nil || len(r) != 0 {
		t.Fatalf("ProbeDownQuorum with one location down: %v %v", r, err)
	}
	if _, b, err := httpGet(amURL+"/api/v2/alerts?filter=alertname%3D%22ProbeDownQuorum%22", nil); err != nil || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("Alertmanager holds a quorum alert with one location down: %s %v", b, err)
	}
	assertDrafts(t, tokyo, 0)
	fra.sim.Set(pkisim.APIError, false)
	allUp("fra-1 back up")

	// A total outage: every location's CA fails at once.
	faultAt := time.Now()
	for _, in := range all {
		in.sim.Set(pkisim.APIError, true)
	}
	var draft status.Incident
	waitFor(t, budget, "one major_outage draft on the holder", func() (bool, string) {
		list, err := drafts(t, tokyo)
		if err != nil {
			return false, err.Error()
		}
		if len(list) == 1 && len(list[0].Components) == 1 && list[0].Components[0].Status == status.MajorOutage {
			draft = list[0]
			return true, ""
		}
		return false, fmt.Sprintf("%+v", list)
	})
	toDraft := time.Since(faultAt)
	t.Logf("total outage → major_outage draft: %s (budget %s)", toDraft.Round(100*time.Millisecond), budget)
	// The earliest first failed run among the locations, as each reports it.
	var first time.Time
	for _, in := range all {
		_, b, err := httpGet(in.url()+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`probed_probe_down_since_timestamp_seconds\{[^}]*location="` + in.location + `"[^}]*\} (\S+)`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("%s exports no down-since during the outage:\n%s", in.location, grep(string(b), "probed_probe_down"))
		}
		var v float64
		fmt.Sscan(m[1], &v)
		if at := time.UnixMilli(int64(v * 1000)); first.IsZero() || at.Before(first) {
			first = at
		}
	}
	since := *draft.Components[0].Since
	t.Logf("draft dated %s; first failed run %s (difference %s, fault switched on at %s)", since.Format(time.RFC3339Nano), first.Format(time.RFC3339Nano), since.Sub(first), faultAt.Format(time.RFC3339Nano))
	if d := since.Sub(first); d < -probeInterval || d > probeInterval {
		t.Errorf("the draft's start %s is %s from the first failure %s: more than one probe interval", since, d, first)
	}
	if since.Before(faultAt.Add(-time.Second)) {
		t.Errorf("the draft's start %s is before the fault (%s)", since, faultAt)
	}
	if draft.Title["en"] != "CertCentral API is not reachable" { // what failed (api_error: HTTP 503), see the README's draft texts
		t.Errorf("draft title %q", draft.Title)
	}
	var where []string
	for _, e := range draft.Evidence {
		where = append(where, e.Source+"@"+e.Location)
	}
	slices.Sort(where)
	if where = slices.Compact(where); !slices.Equal(where, []string{"alertmanager@fra-1", "alertmanager@osaka-1", "probe@tokyo-1"}) {
		t.Errorf("evidence from %v, want the holder's probe and the alerts of osaka-1 and fra-1", where)
	}
	// Exactly one: Alertmanager has delivered every location's alert (the
	// draft is major), and a further delivery drafts nothing more.
	assertDrafts(t, tokyo, 1)

	// The operator approves; then every location recovers.
	if code, body, err := httpDo(http.MethodPost, fmt.Sprintf("%s/api/v1/incidents/%d/approve", tokyo.url(), draft.ID), map[string]string{"Authorization": "Bearer " + tokyo.token}); err != nil || code != 200 {
		t.Fatalf("approve: %d %s %v", code, body, err)
	}
	fixedAt := time.Now()
	for _, in := range all {
		in.sim.Set(pkisim.APIError, false)
	}
	var proposal string
	waitFor(t, budget, "a resolve proposal on the holder", func() (bool, string) {
		code, body, err := httpGet(fmt.Sprintf("%s/api/v1/incidents/%d", tokyo.url(), draft.ID), map[string]string{"Authorization": "Bearer " + tokyo.token})
		if err != nil || code != 200 {
			return false, fmt.Sprint(code, err)
		}
		var inc status.Incident
		if err := json.Unmarshal(body, &inc); err != nil {
			return false, err.Error()
		}
		if inc.Proposal != nil {
			proposal = inc.Proposal.Body["en"]
		}
		return inc.Proposal != nil && inc.Proposal.Action == "resolve", string(body)
	})
	t.Logf("recovery → resolve proposal: %s (budget %s); %q", time.Since(fixedAt).Round(100*time.Millisecond), budget, proposal)
	assertDrafts(t, tokyo, 0)
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
