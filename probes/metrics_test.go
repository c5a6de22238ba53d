package probes

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The exposition of a live registry (Go and process collectors, the
// scheduler's own metrics, every probe's last run: http over TLS, a
// failing one, a stub) passes `promtool check metrics`; every probe series
// carries probe, kind, component and location; a probe removed by Apply
// loses its series at once.
func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := newTestCA(t, "metrics root")
	root.writePEM(t, dir, "ca.pem")
	leaf, key := root.issue(t, leafOpts{cn: "metrics.test", ips: loopback})
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok": true}`) }))
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{tlsCert(key, leaf)}}
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer down.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	col := NewCollector()
	reg.MustRegister(col)
	s := NewScheduler(SchedulerOptions{Registerer: reg, Collector: col, Build: stubBuilder(map[string]stub{
		"stub": func(ctx context.Context, r *Report) {
			r.Pass("stub_ok", "fine")
			r.Warn("stub_soon", "something to look at", nil)
			r.Gauge("probe_stub_things", "Things the stub saw.", 3, Label{"colour", "blue"})
		},
	})})
	cfgYAML := fmt.Sprintf(
		"  - {name: tls, component: api, kind: http, interval: 1m, http: {url: %q, ca_file: ca.pem, json: [{path: ok, equal: 'true'}]}}\n"+
			"  - {name: down, component: web, kind: http, interval: 1m, http: {url: %q}}\n"+
			"  - {name: stub, component: web, kind: stub, interval: 1m}\n", tlsSrv.URL, down.URL)
	if err := s.Apply(rtConfig(t, dir, cfgYAML, "stub"), Env{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"tls", "down", "stub"} {
		if _, err := s.RunNow(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	text := exposition(t, reg)
	firstText := text

	fams := parseExposition(t, text)
	for name, typ := range map[string]string{
		"probe_success": "GAUGE", "probe_duration_seconds": "GAUGE", "probe_check_success": "GAUGE",
		"probe_last_run_timestamp_seconds": "GAUGE", "probe_http_duration_seconds": "GAUGE", "probe_http_status_code": "GAUGE",
		"probe_tls_cert_expiry_timestamp_seconds": "GAUGE", "probe_tls_version_info": "GAUGE",
		"probed_probe_runs_total": "COUNTER", "probed_schedule_lag_seconds": "HISTOGRAM", "probed_probe_runs_in_flight": "GAUGE",
		"probed_probe_scheduled_timestamp_seconds": "GAUGE", "go_goroutines": "GAUGE", "process_cpu_seconds_total": "COUNTER",
		"process_resident_memory_bytes": "GAUGE",
	} {
		f, ok := fams[name]
		if !ok {
			t.Errorf("exposition lacks %s", name)
			continue
		}
		if got := f.GetType().String(); got != typ {
			t.Errorf("%s is a %s, want %s", name, got, typ)
		}
	}
	want := map[string]map[string]string{ // probe → label values
		"tls":  {"kind": "http", "component": "api", "location": "test-1"},
		"down": {"kind": "http", "component": "web", "location": "test-1"},
		"stub": {"kind": "stub", "component": "web", "location": "test-1"},
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "probe_") {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			w, ok := want[labels["probe"]]
			if !ok {
				t.Errorf("%s series for unknown probe %q: %v", name, labels["probe"], labels)
				continue
			}
			for k, v := range w {
				if labels[k] != v {
					t.Errorf("%s{probe=%q} has %s=%q, want %q", name, labels["probe"], k, labels[k], v)
				}
			}
			if _, has := labels["severity"]; has {
				t.Errorf("%s has a severity label", name)
			}
		}
	}
	for _, line := range []string{
		`probe_success{component="api",kind="http",location="test-1",probe="tls"} 1`,
		`probe_success{component="web",kind="http",location="test-1",probe="down"} 0`,
		`probe_check_success{check="http_status",component="web",kind="http",location="test-1",probe="down"} 0`,
		`probe_http_status_code{component="web",kind="http",location="test-1",probe="down"} 502`,
		`probe_tls_cert_expiry_timestamp_seconds{component="api",kind="http",location="test-1",probe="tls"} ` + strconv.FormatFloat(float64(leaf.NotAfter.Unix()), 'g', -1, 64),
		`probe_success{component="web",kind="stub",location="test-1",probe="stub"} 1`,
		`probe_check_success{check="stub_soon",component="web",kind="stub",location="test-1",probe="stub"} 0`,
		`probe_stub_things{colour="blue",component="web",kind="stub",location="test-1",probe="stub"} 3`,
		`probed_probe_runs_total{result="failure"} 1`,
		`probed_probe_runs_total{result="success"} 2`,
		`probed_probe_runs_total{result="skipped"} 0`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("exposition lacks\n%s", line)
		}
	}
	for _, phase := range []string{"resolve", "connect", "tls", "processing", "transfer"} {
		if !strings.Contains(text, fmt.Sprintf(`probe_http_duration_seconds{component="api",kind="http",location="test-1",phase=%q,probe="tls"}`, phase)) {
			t.Errorf("no %s phase for probe tls", phase)
		}
	}

	// Reload without "down": its series go with it, the others stay.
	if err := s.Apply(rtConfig(t, dir, strings.Replace(cfgYAML, fmt.Sprintf("  - {name: down, component: web, kind: http, interval: 1m, http: {url: %q}}\n", down.URL), "", 1), "stub"), Env{}); err != nil {
		t.Fatal(err)
	}
	text = exposition(t, reg)
	if strings.Contains(text, `probe="down"`) {
		t.Errorf("removed probe still exported:\n%s", grepLines(text, `probe="down"`))
	}
	if !strings.Contains(text, `probe_success{component="api",kind="http",location="test-1",probe="tls"} 1`) {
		t.Error("kept probe lost its series on reload")
	}
	// Last, so that without promtool only the lint is skipped.
	promtoolCheck(t, firstText)
	promtoolCheck(t, text)
}

// A prober's sample the exposition cannot carry is dropped with an error;
// the run's other series stay and the scrape keeps working.
func TestCollectorDropsBadSamples(t *testing.T) {
	t.Parallel()
	col := NewCollector()
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	res := Result{Probe: "p", Kind: "stub", Component: "api", Location: "l", Start: time.Unix(1700000000, 0), Duration: time.Second, Success: true,
		Checks: []Check{{Name: "stub_ok", OK: true}}}
	err := col.Set(res, []Sample{
		{Name: "probe_stub_good", Help: "Good.", Value: 1},
		{Name: "probe stub bad", Help: "Bad name.", Value: 1},
		{Name: "probe_stub_label", Help: "Reserved label.", Value: 1, Labels: []Label{{"probe", "x"}}},
		{Name: "probe_success", Help: "Clash.", Value: 1},
		{Name: "probe_stub_good2", Help: "Bad value.", Value: 1, Labels: []Label{{"v", "\xff"}}},
	})
	if err == nil {
		t.Fatal("no error for bad samples")
	}
	for _, frag := range []string{`"probe stub bad" is not a valid metric name`, `probe_stub_label: label "probe" is set by probed`, "probe_success: a name probed sets itself", "not valid UTF-8"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error lacks %q:\n%v", frag, err)
		}
	}
	// A second run naming an existing metric with other labels is refused too.
	if err := col.Set(res, []Sample{{Name: "probe_stub_good", Help: "Good.", Value: 2, Labels: []Label{{"extra", "x"}}}}); err == nil {
		t.Error("no error for changed label names")
	}
	if err := col.Set(res, []Sample{{Name: "probe_stub_good", Help: "Good.", Value: 3}}); err != nil {
		t.Fatal(err)
	}
	text := exposition(t, reg)
	for _, want := range []string{
		`probe_stub_good{component="api",kind="stub",location="l",probe="p"} 3`,
		`probe_success{component="api",kind="stub",location="l",probe="p"} 1`,
		`probe_last_run_timestamp_seconds{component="api",kind="stub",location="l",probe="p"} 1.7e+09`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %s:\n%s", want, text)
		}
	}
	promtoolCheck(t, text)
}

func parseExposition(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
