package probes

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probed/probed/internal/pkisim"
	"github.com/probed/probed/internal/zoo"
)

// errorLog keeps the ERROR records a logger wrote.
type errorLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *errorLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *errorLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// One definition (help, type, label names) per metric name across kinds:
// every kind runs in one scheduler on one collector, healthy (against the
// simulated CA over http and https) and failing in every way the zoo
// offers, and no series is dropped (no "export probe metrics" error, which
// is what a second definition of a name causes) and the registry gathers
// without an error.
func TestMetricDefinitionsAgreeAcrossKinds(t *testing.T) {
	sim, acmeBase, dir, _ := newSimForTSAACME(t)
	z, err := zoo.Start(zoo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	if err := z.WriteCA(filepath.Join(dir, "zoo.pem")); err != nil {
		t.Fatal(err)
	}
	// Both roots for the https kinds: the sim's and the zoo's.
	simTLS, _ := os.ReadFile(filepath.Join(dir, "sim-tls.pem"))
	if err := os.WriteFile(filepath.Join(dir, "both.pem"), append(simTLS, z.RootPEM()...), 0o644); err != nil {
		t.Fatal(err)
	}
	sections := map[string]func(base string, secure bool) string{
		"http": func(base string, _ bool) string {
			return fmt.Sprintf("{url: %q, ca_file: both.pem, redirects: follow, json: [{path: status, equal: ok}]}", base)
		},
		"acme": func(base string, _ bool) string { return fmt.Sprintf("{directory: %q, roots: both.pem}", base) },
		"ocsp": func(base string, _ bool) string {
			return fmt.Sprintf("{url: %q, certificate: good.pem, issuer: issuer.pem, methods: [post, get]}", base)
		},
		"tsa": func(base string, _ bool) string { return fmt.Sprintf("{url: %q, roots: tsa-root.pem}", base) },
		"crl": func(base string, _ bool) string { return fmt.Sprintf("{url: %q, issuer: issuer.pem}", base) },
	}
	healthy := map[string]string{
		"http": acmeBase + pkisim.ACMEDirectoryPath, "acme": acmeBase + pkisim.ACMEDirectoryPath,
		"ocsp": sim.OCSPURL(), "tsa": sim.TSAURL(), "crl": sim.CRLURL(),
	}
	var yaml strings.Builder
	var names []string
	add := func(name, kind, section string) {
		fmt.Fprintf(&yaml, "  - {name: %s, component: api, kind: %s, interval: 1m, timeout: 2s, %s: %s}\n", name, kind, kind, section)
		names = append(names, name)
	}
	for kind, section := range sections {
		add(kind+"-healthy", kind, section(healthy[kind], true))
		for _, m := range zoo.Modes() {
			if m == zoo.StallTLS || m == zoo.Stall || m == zoo.Trickle || m == zoo.LyingLength {
				continue // they only time out: nothing to export but the run's own series
			}
			secure := kind == "acme"
			add(kind+"-"+string(m), kind, section(z.URL(m, secure)+kind, secure))
		}
	}
	logs := &errorLog{}
	reg := prometheus.NewRegistry()
	col := NewCollector()
	reg.MustRegister(col)
	s := NewScheduler(SchedulerOptions{Registerer: reg, Collector: col, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err := s.Apply(rtConfig(t, dir, yaml.String()), Env{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() {
			if _, err := s.RunNow(context.Background(), n); err != nil {
				t.Errorf("run %s: %v", n, err)
			}
		})
	}
	wg.Wait()
	if l := logs.String(); l != "" {
		t.Errorf("errors logged while exporting:\n%s", l)
	}
	if _, err := reg.Gather(); err != nil {
		t.Errorf("gather: %v", err)
	}
	// The healthy runs did export the shared names (or the test proves nothing).
	text := exposition(t, reg)
	for _, want := range []string{`probe_tls_cert_expiry_timestamp_seconds{component="api",kind="acme"`, `probe_tls_cert_expiry_timestamp_seconds{component="api",kind="http"`,
		`probe_http_status_code{component="api",kind="crl"`, `probe_http_status_code{component="api",kind="tsa"`} {
		if !strings.Contains(text, want) {
			t.Errorf("the exposition lacks %s…", want)
		}
	}
}
