package probes

// Helpers shared by the scheduler, http kind and metrics tests.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/testtool"
)

// waitFor polls cond until it holds, failing the test after deadline. It
// waits on a ticker, never a fixed sleep: the test goes on as soon as the
// condition is true.
func waitFor(t testing.TB, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", deadline, what)
		}
		<-tick.C
	}
}

// rtConfig parses a probes.yaml body (components api and web are given)
// the way the daemon does; extraKinds are accepted besides the registry's.
func rtConfig(t testing.TB, dir, probesYAML string, extraKinds ...string) *config.Config {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	body := "location: test-1\ncomponents:\n  - {id: api, name: API}\n  - {id: web, name: Web}\nprobes:\n" + probesYAML
	cfg, err := config.Parse([]byte(body), filepath.Join(dir, "probes.yaml"), append(Kinds(), extraKinds...))
	if err != nil {
		t.Fatalf("parse config: %v\n%s", err, body)
	}
	return cfg
}

// stub is a prober whose behaviour a test sets.
type stub func(ctx context.Context, r *Report)

func (s stub) Probe(ctx context.Context, r *Report) { s(ctx, r) }

// stubBuilder builds probes of kind stub from the map (by probe name) and
// every other kind from the registry; a name missing from the map fails to
// build, as a broken configuration would.
func stubBuilder(m map[string]stub) Builder {
	return func(p *config.Probe, env Env) (Prober, error) {
		if p.Kind != "stub" {
			return Build(p, env)
		}
		s, ok := m[p.Name]
		if !ok {
			return nil, &stubError{p.Name}
		}
		return s, nil
	}
}

type stubError struct{ name string }

func (e *stubError) Error() string { return "no stub for " + e.name }

// resultLog is a Sink that keeps every result.
type resultLog struct {
	mu   sync.Mutex
	list []Result
}

func (l *resultLog) Record(_ context.Context, r Result) error {
	l.mu.Lock()
	l.list = append(l.list, r)
	l.mu.Unlock()
	return nil
}

// of returns the results of one probe so far.
func (l *resultLog) of(probe string) []Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Result
	for _, r := range l.list {
		if r.Probe == probe {
			out = append(out, r)
		}
	}
	return out
}

// failedNames lists a result's failed checks' names, sorted.
func failedNames(r Result) []string {
	var out []string
	for _, c := range r.FailedChecks() {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// exposition renders a registry as the text /metrics serves.
func exposition(t testing.TB, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatalf("encode %s: %v", mf.GetName(), err)
		}
	}
	return b.String()
}

// promtoolCheck runs `promtool check metrics` on an exposition and fails the
// test on any problem it reports.
func promtoolCheck(t testing.TB, text string) {
	t.Helper()
	cmd := exec.Command(testtool.Promtool(t), "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// seriesLines returns the exposition's sample lines of one metric name.
func seriesLines(text, name string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			out = append(out, l)
		}
	}
	return out
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-5 * 365 * 24 * time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// writePEM writes the CA certificate to dir/name and returns the path.
func (ca *testCA) writePEM(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// leafOpts shapes a certificate issued by a testCA.
type leafOpts struct {
	cn        string
	dns       []string
	ips       []net.IP
	notBefore time.Time
	notAfter  time.Time
	isCA      bool
	serial    int64
}

// issue makes a certificate signed by ca.
func (ca *testCA) issue(t testing.TB, o leafOpts) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(90 * 24 * time.Hour)
	}
	if o.serial == 0 {
		o.serial = time.Now().UnixNano()
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(o.serial),
		Subject:      pkix.Name{CommonName: o.cn},
		DNSNames:     o.dns,
		IPAddresses:  o.ips,
		NotBefore:    o.notBefore,
		NotAfter:     o.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if o.isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// tlsCert assembles a server certificate with its chain (leaf first).
func tlsCert(key *ecdsa.PrivateKey, chain ...*x509.Certificate) tls.Certificate {
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// loopback is the certificate's address for httptest servers.
var loopback = []net.IP{net.ParseIP("127.0.0.1")}
