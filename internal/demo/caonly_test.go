package demo

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/probes"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCAOnlyFragmentProbesIt: the simulated CA alone listens on the
// addresses it is given, and the fragment it prints, pasted under a
// location's own keys, loads strictly and every probe of it passes against
// the CA; a fault switched at /faults fails the probe it concerns.
func TestCAOnlyFragmentProbesIt(t *testing.T) {
	httpAddr, acmeAddr := freeAddr(t), freeAddr(t)
	ca, err := StartCA(CAOptions{Listen: httpAddr, ACMEListen: acmeAddr, Dir: filepath.Join(t.TempDir(), "ca"), Interval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(true)
	if ca.BaseURL() != "http://"+httpAddr || ca.ACMEURL() != "https://"+acmeAddr {
		t.Fatalf("CA at %s and %s, want the addresses given (%s, %s)", ca.BaseURL(), ca.ACMEURL(), httpAddr, acmeAddr)
	}
	var frag bytes.Buffer
	if err := ca.Fragment(&frag); err != nil {
		t.Fatal(err)
	}
	// Elsewhere: the fragment names its certificates by absolute path.
	path := filepath.Join(t.TempDir(), "probes.yaml")
	if err := os.WriteFile(path, []byte("role: prober\nlocation: osaka-1\n"+frag.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, probes.Kinds())
	if err != nil {
		t.Fatalf("the fragment does not load:\n%s\n%v", frag.String(), err)
	}
	run := func(p *config.Probe) *probes.Report {
		t.Helper()
		pr, err := probes.Build(p, probes.Env{})
		if err != nil {
			t.Fatal(err)
		}
		r := probes.NewReport(nil, nil)
		ctx, cancel := context.WithTimeout(context.Background(), p.Timeout.D())
		defer cancel()
		pr.Probe(ctx, r)
		return r
	}
	for i := range cfg.Probes {
		p := &cfg.Probes[i]
		if p.Period() != 10*time.Second {
			t.Errorf("%s runs every %s, want the -interval given", p.Name, p.Period())
		}
		if r := run(p); !r.Success() {
			t.Errorf("probe %s fails against the CA it was printed for: %+v", p.Name, r.Checks())
		}
	}
	resp, err := http.Post(ca.BaseURL()+"/faults", "application/json", strings.NewReader(`{"fault": "api_bad_body", "on": true}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("switch a fault: %v %v", resp, err)
	}
	resp.Body.Close()
	if r := run(cfg.Probe("certcentral-api")); r.Success() {
		t.Fatal("the API probe passes with api_bad_body on")
	}
	resp, err = http.Post(ca.BaseURL()+"/faults", "application/json", strings.NewReader(`{"fault": "no_such_fault", "on": true}`))
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("an unknown fault: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestCAOnlyRefusesNonLoopback(t *testing.T) {
	for _, tc := range []struct{ listen, acme, want string }{
		{"0.0.0.0:9400", "127.0.0.1:0", `start CA: -ca.listen "0.0.0.0:9400": want a loopback address and port such as 127.0.0.1:9400 (the simulated CA's fault switches take no token)`},
		{"127.0.0.1:0", "ca.example:9443", `start CA: -ca.acme-listen "ca.example:9443": want a loopback address and port such as 127.0.0.1:9400 (the simulated CA's fault switches take no token)`},
	} {
		_, err := StartCA(CAOptions{Listen: tc.listen, ACMEListen: tc.acme, Dir: t.TempDir()})
		if err == nil || err.Error() != tc.want {
			t.Errorf("StartCA(%s, %s) = %v, want %s", tc.listen, tc.acme, err, tc.want)
		}
	}
	// A port in use is a clear error, not a silent move.
	busy := freeAddr(t)
	ln, err := net.Listen("tcp", busy)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := StartCA(CAOptions{Listen: busy, ACMEListen: "127.0.0.1:0", Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("listen tcp %s: bind: address already in use", busy)) {
		t.Errorf("a busy port: %v", err)
	}
}
