package demo

import (
	"context"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/probes"
)

// TestGeneratedConfigLoads checks the demo's probes.yaml passes the strict
// loader at several intervals (durations must come out Prometheus-style).
func TestGeneratedConfigLoads(t *testing.T) {
	for _, interval := range []time.Duration{time.Second, 2500 * time.Millisecond, 5 * time.Second, time.Minute} {
		d, err := Start(context.Background(), Options{Listen: "127.0.0.1:0", Dir: t.TempDir(), Interval: interval})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(d.ConfigPath, probes.Kinds())
		d.Close(false)
		if err != nil {
			t.Fatalf("interval %s: %v", interval, err)
		}
		kinds := map[string]bool{}
		for _, p := range cfg.Probes {
			kinds[p.Kind] = true
			if p.Period() != interval {
				t.Errorf("interval %s: probe %s runs every %s", interval, p.Name, p.Period())
			}
		}
		if len(kinds) != len(probes.Kinds()) {
			t.Errorf("interval %s: demo uses kinds %v, want every kind %v", interval, kinds, probes.Kinds())
		}
	}
}

// TestFaultSwitches: every fault the panel shows can be switched by name,
// an unknown one is refused.
func TestFaultSwitches(t *testing.T) {
	d, err := Start(context.Background(), Options{Listen: "127.0.0.1:0", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(false)
	for _, f := range d.Faults() {
		if err := d.SetFault(string(f), true); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !d.Sim.Faults()[f] {
			t.Errorf("%s not on after SetFault", f)
		}
		d.SetFault(string(f), false)
	}
	if err := d.SetFault("no_such_fault", true); err == nil {
		t.Error("unknown fault accepted")
	}
}
