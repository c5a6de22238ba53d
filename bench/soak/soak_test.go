package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The soak's loop, short: the built binary, every kind against every zoo
// mode for a few hundred runs after a warm-up, then the zoo probes removed
// by a reload: probed's open files and goroutines come back to their
// start (within 10%, waited for with a deadline), no run is probed's own
// failure, the fetches of / and /metrics never fail, and probed exits 0.
// Memory and latency are figures for the benchmark (go run ./bench/soak),
// not assertions: they depend on the machine.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs probed for a minute; not in -short")
	}
	bin := filepath.Join(t.TempDir(), "probed")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/probed")
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log strings.Builder
	res, err := soak(ctx, options{runs: 300, warmup: 150, copies: 1, binary: bin, settle: time.Minute, out: &log})
	res.print(&log)
	t.Log("\n" + log.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.runs < 300 {
		t.Errorf("%.0f runs, want at least 300", res.runs)
	}
	if !within10(float64(res.end.fds), float64(res.start.fds)) {
		t.Errorf("open files %d after the soak, %d at its start", res.end.fds, res.start.fds)
	}
	if !within10(res.end.goroutines, res.start.goroutines) {
		t.Errorf("goroutines %.0f after the soak, %.0f at its start", res.end.goroutines, res.start.goroutines)
	}
	if res.internal != 0 {
		t.Errorf("%.0f runs were probed_internal (other than starved)", res.internal)
	}
	if res.starved != 0 {
		// probed reporting a loaded host as its own trouble is right,
		// not a leak: said, not failed.
		t.Logf("%.0f runs were probed_internal, starved: the host was short of CPU", res.starved)
	}
	for _, l := range []latencies{res.page, res.metrics} {
		if l.errors != 0 || len(l.d) == 0 {
			t.Errorf("%s: %d answered, %d errors", l.name, len(l.d), l.errors)
		}
	}
}
