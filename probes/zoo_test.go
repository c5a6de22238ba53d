package probes_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/zoo"
	"github.com/probed/probed/probes"
)

// zooEnv is a running zoo and a folder with the files the sections name.
func zooEnv(t *testing.T) (*zoo.Zoo, string) {
	t.Helper()
	z, err := zoo.Start(zoo.Options{TricklePeriod: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	dir := t.TempDir()
	if err := z.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	return z, dir
}

// TestZooEveryKindEveryMode points each kind at each hostile mode at once,
// twice over: every run ends by its deadline with a failed check of its
// own kind (no panic, no success), and afterwards the process holds no
// more open files and goroutines than before — every connection a run
// opened was closed, every dial and handshake it started has ended.
func TestZooEveryKindEveryMode(t *testing.T) {
	z, dir := zooEnv(t)
	type job struct {
		kind string
		mode zoo.Mode
		pr   probes.Prober
	}
	var jobs []job
	for _, kind := range zoo.Kinds() {
		for _, m := range zoo.Modes() {
			sub := filepath.Join(dir, kind+"-"+string(m))
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"zoo.pem", "good.pem", "issuer.pem", "tsa-root.pem"} {
				if err := os.Link(filepath.Join(dir, f), filepath.Join(sub, f)); err != nil {
					t.Fatal(err)
				}
			}
			jobs = append(jobs, job{kind, m, buildProbe(t, sub, kind, z.Section(kind, m), probes.Env{Clock: clock.Real{}})})
		}
	}
	baseFDs, baseG := openFDs(t), runtime.NumGoroutine()
	const timeout = 1500 * time.Millisecond
	for round := range 2 {
		var wg sync.WaitGroup
		reports := make([]*probes.Report, len(jobs))
		for i, j := range jobs {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				r := probes.NewReport(clock.Real{}, nil)
				done := make(chan struct{})
				go func() { defer close(done); j.pr.Probe(ctx, r) }()
				select {
				case <-done:
				case <-time.After(timeout + 5*time.Second):
					t.Errorf("round %d: %s against %s: the prober did not return within 5s after its deadline", round, j.kind, j.mode)
					return
				}
				reports[i] = r
			})
		}
		wg.Wait()
		for i, j := range jobs {
			r := reports[i]
			if r == nil {
				continue
			}
			if r.Success() {
				t.Errorf("round %d: %s against %s succeeded: %s", round, j.kind, j.mode, describe(r))
			}
			for _, c := range r.Checks() {
				if !c.OK && !strings.HasPrefix(c.Name, j.kind+"_") && !strings.HasPrefix(c.Name, "tls_") {
					t.Errorf("round %d: %s against %s failed check %s, not one of its kind: %s", round, j.kind, j.mode, c.Name, c.Message)
				}
			}
			if in := r.Internal(); in != nil {
				t.Errorf("round %d: %s against %s reported probed's own failure: %v", round, j.kind, j.mode, in.Err)
			}
		}
	}
	waitBaseline(t, baseFDs, baseG)
}

// TestZooLyingLengthAllocatesNothing: a CRL server announcing 64 MiB and
// sending none of it, with max_bytes far above that, costs the run what
// arrived (nothing), not what was announced; a gzip bomb costs the limit.
func TestZooLyingLengthAllocatesNothing(t *testing.T) {
	z, dir := zooEnv(t)
	for _, tc := range []struct {
		mode  zoo.Mode
		extra string
		most  uint64
	}{
		{zoo.LyingLength, ", max_bytes: 1073741824", 8 << 20},
		{zoo.HugeBody, ", max_bytes: 4194304", 24 << 20},
		{zoo.GzipBomb, ", max_bytes: 4194304", 24 << 20},
	} {
		section := fmt.Sprintf("{url: %q, issuer: issuer.pem%s}", z.URL(tc.mode, false)+"crl", tc.extra)
		pr := buildProbe(t, dir, "crl", section, probes.Env{Clock: clock.Real{}})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := runProbe(t, pr, clock.Real{}, time.Second)
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > tc.most {
			t.Errorf("%s: the run allocated %d MiB, want at most %d MiB", tc.mode, got>>20, tc.most>>20)
		}
		if r.Success() {
			t.Errorf("%s: the run succeeded: %s", tc.mode, describe(r))
		}
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(ents)
}

// waitBaseline waits (with a deadline, polling) until open files and
// goroutines are back to at most their baseline, and fails with the
// goroutines still running when they are not.
func waitBaseline(t *testing.T, fds, goroutines int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		nf, ng := openFDs(t), runtime.NumGoroutine()
		if nf <= fds && ng <= goroutines {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("after the runs: %d open files (baseline %d), %d goroutines (baseline %d); goroutines:\n%s", nf, fds, ng, goroutines, b.String())
		}
		<-tick.C
	}
}
