package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/probed/probed/grafana"
	"github.com/probed/probed/internal/demo"
	"github.com/probed/probed/internal/testtool"
)

// TestExpositionCoversDashboards runs the daemon on the demo's simulated CA
// (every probe kind), scrapes /metrics once every probe has run, lints the
// exposition with promtool, and checks that every metric the Grafana
// dashboards query is exported.
func TestExpositionCoversDashboards(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := freeAddr(t)
	dm, err := demo.Start(ctx, demo.Options{Listen: addr, Dir: t.TempDir(), Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close(false)
	d, err := NewDaemon(ctx, dm.ConfigPath, slog.New(slog.DiscardHandler), DaemonOptions{AdminRoutes: dm.Routes})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	var body []byte
	eventually(t, "every demo probe's result on /metrics", func() (bool, string) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(resp.Body)
		n := strings.Count(string(body), "\nprobe_success{")
		return n == len(d.Config().Probes), fmt.Sprintf("%d probe_success series", n)
	})

	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	for file, dash := range grafana.All() {
		for _, name := range grafana.MetricNames(dash) {
			if !exported(families, name) {
				t.Errorf("%s queries %s, which probed does not export", file, name)
			}
		}
	}

	for _, want := range []string{"probe_ocsp_next_update_timestamp_seconds", "probe_crl_next_update_timestamp_seconds", "probe_tsa_clock_skew_seconds", "probe_acme_directory_success", "probe_http_status_code"} {
		if !slices.Contains(keys(families), want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	// Last, so that without promtool only the lint is skipped.
	cmd := exec.Command(testtool.Promtool(t), "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// exported says whether name is a series of the exposition: a family of that
// name, or the _bucket, _sum or _count series of a histogram (_sum and
// _count of a summary), which the parser files under the family's name.
func exported(families map[string]*dto.MetricFamily, name string) bool {
	if _, ok := families[name]; ok {
		return true
	}
	for suffix, types := range map[string][]dto.MetricType{
		"_bucket": {dto.MetricType_HISTOGRAM},
		"_sum":    {dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY},
		"_count":  {dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY},
	} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := families[base]; ok && slices.Contains(types, f.GetType()) {
				return true
			}
		}
	}
	return false
}

func keys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
