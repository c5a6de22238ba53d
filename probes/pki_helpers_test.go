package probes_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/pkisim"
	"github.com/probed/probed/probes"
)

// simEnv is a pkisim served on loopback with its files written for configs.
type simEnv struct {
	sim   *pkisim.Sim
	url   string
	dir   string
	clock *clock.Fake
}

func newSimEnv(t testing.TB, opts pkisim.Options) *simEnv {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	opts.Clock = clk
	sim, srv, err := pkisim.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	if err := sim.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	return &simEnv{sim: sim, url: srv.URL, dir: dir, clock: clk}
}

// buildProbe loads a one-probe config through the real loader (so the
// section's defaults and load-time parsing run) and builds its prober.
func buildProbe(t testing.TB, dir, kind, section string, env probes.Env) probes.Prober {
	t.Helper()
	cfg := loadProbe(t, dir, kind, section)
	pr, err := probes.Build(&cfg.Probes[0], env)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func loadProbe(t testing.TB, dir, kind, section string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "probes.yaml")
	doc := fmt.Sprintf("components: [{id: c, name: C}]\nprobes:\n  - name: p\n    component: c\n    kind: %s\n    interval: 1m\n    %s: %s\n", kind, kind, section)
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, probes.Kinds())
	if err != nil {
		t.Fatalf("config:\n%s\n%v", doc, err)
	}
	return cfg
}

// runProbe runs a prober once with a deadline and returns its report.
func runProbe(t testing.TB, pr probes.Prober, clk clock.Clock, timeout time.Duration) *probes.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r := probes.NewReport(clk, nil)
	pr.Probe(ctx, r)
	return r
}

// failed returns the distinct names of failed checks of one severity.
func failed(r *probes.Report, sev probes.Severity) []string {
	var out []string
	for _, c := range r.Failed() {
		if c.Severity == sev && !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	sort.Strings(out)
	return out
}

func describe(r *probes.Report) string {
	var b strings.Builder
	for _, c := range r.Checks() {
		fmt.Fprintf(&b, "  %-24s ok=%-5v %-8s %s %v\n", c.Name, c.OK, c.Severity, c.Message, c.Evidence)
	}
	return b.String()
}

// wantFailures asserts that exactly the named critical checks failed (and,
// when warn is not nil, exactly those warnings).
func wantFailures(t *testing.T, r *probes.Report, crit []string, warn []string) {
	t.Helper()
	sort.Strings(crit)
	if got := failed(r, probes.Critical); !slices.Equal(got, crit) {
		t.Fatalf("critical failures %v, want %v\n%s", got, crit, describe(r))
	}
	if warn != nil {
		sort.Strings(warn)
		if got := failed(r, probes.Warning); !slices.Equal(got, warn) {
			t.Fatalf("warnings %v, want %v\n%s", got, warn, describe(r))
		}
	}
}

func check(r *probes.Report, name string) (probes.Check, bool) {
	for _, c := range r.Checks() {
		if c.Name == name && !c.OK {
			return c, true
		}
	}
	for _, c := range r.Checks() {
		if c.Name == name {
			return c, true
		}
	}
	return probes.Check{}, false
}

func gauge(r *probes.Report, name string, labels ...probes.Label) (float64, bool) {
	for _, s := range r.Samples() {
		if s.Name == name && slices.Equal(s.Labels, labels) {
			return s.Value, true
		}
	}
	return 0, false
}

// memState is an in-memory probes.State; fail makes every call error.
type memState struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail error
}

func (m *memState) GetState(_ context.Context, probe, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	return m.m[probe+"/"+key], nil
}

func (m *memState) PutState(_ context.Context, probe, key string, v []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if m.m == nil {
		m.m = map[string][]byte{}
	}
	m.m[probe+"/"+key] = append([]byte(nil), v...)
	return nil
}

var _ probes.State = (*memState)(nil)
