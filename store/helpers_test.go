package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probed/probed/internal/clock"
)

// t0 is a round UTC midnight, so that hours and days in tests are easy to read.
var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// testStore opens a store on a fresh file with a fake clock at t0 and its
// own registry, closed at the end of the test.
func testStore(t *testing.T, opts Options) (*Store, *clock.Fake, *prometheus.Registry) {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "probed.db")
	}
	fc, ok := opts.Clock.(*clock.Fake)
	if !ok {
		fc = clock.NewFake(t0)
		opts.Clock = fc
	}
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, fc, reg
}

// waitFor waits until cond holds, failing the test after 10 s: a condition
// wait, never a fixed sleep.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func mustHousekeep(t *testing.T, s *Store) HousekeepingReport {
	t.Helper()
	rep, err := s.RunHousekeeping(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func mustFlush(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}
