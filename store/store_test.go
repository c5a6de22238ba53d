package store

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
)

// The store is the scheduler's sink of results and the probes' state.
var (
	_ probes.Sink  = (*Store)(nil)
	_ probes.State = (*Store)(nil)
)

func TestResultsSurviveReopen(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, err := Open(ctx, db.opts(Options{}))
		if err != nil {
			t.Fatal(err)
		}
		start := time.UnixMilli(1_700_000_000_000)
		fail := probes.Result{Probe: "ocsp", Kind: "ocsp", Component: "ocsp", Location: "tokyo-1", Start: start, Duration: 1500 * time.Millisecond,
			Checks: []probes.Check{{Name: "ocsp_next_update", Message: "nextUpdate passed 2h ago"}, {Name: "ocsp_status", OK: true}}}
		ok := fail
		ok.Start, ok.Success, ok.Checks = start.Add(time.Minute), true, nil
		for _, r := range []probes.Result{fail, ok} {
			if err := s.Record(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = Open(ctx, db.opts(Options{}))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		got, err := s.Results(ctx, "ocsp", start, start.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("got %d results, want 2", len(got))
		}
		if got[0].Success || len(got[0].Checks) != 1 || got[0].Checks[0].Name != "ocsp_next_update" || got[0].Duration != 1500*time.Millisecond {
			t.Errorf("first result = %+v, want the failure with its one failed check", got[0])
		}
		if !got[1].Success || len(got[1].Checks) != 0 {
			t.Errorf("second result = %+v, want a success without checks", got[1])
		}
	})
}

func TestStateSurvivesReopen(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s, err := Open(ctx, db.opts(Options{}))
		if err != nil {
			t.Fatal(err)
		}
		if v, err := s.GetState(ctx, "crl", "number"); err != nil || v != nil {
			t.Fatalf("GetState on empty = %q, %v; want nil, nil", v, err)
		}
		if err := s.PutState(ctx, "crl", "number", []byte("42")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s, err = Open(ctx, db.opts(Options{}))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if v, err := s.GetState(ctx, "crl", "number"); err != nil || string(v) != "42" {
			t.Fatalf("GetState after reopen = %q, %v; want 42", v, err)
		}
	})
}

// Open names what is wrong with the driver or the DSN, and an unreachable
// PostgreSQL by its host, port and database — never the DSN's password.
func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Driver: "mysql", Path: "x"}, `open store: unknown driver "mysql" (sqlite or postgres)`},
		{Options{Driver: "postgres"}, "open store: empty postgres DSN"},
		{Options{}, "open store: empty path"},
	} {
		if _, err := Open(ctx, c.opts); err == nil || err.Error() != c.want {
			t.Errorf("Open(%+v) = %v, want %q", c.opts, err, c.want)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	_, err = Open(ctx, Options{Driver: "postgres", DSN: fmt.Sprintf("postgres://probed:hunter2@127.0.0.1:%d/status?connect_timeout=5", port)})
	if err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
	if want := fmt.Sprintf("open store postgres database status on 127.0.0.1:%d: ", port); !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %v, want it to start %q", err, want)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the DSN's password: %v", err)
	}
}

// A result written twice (the same probe, location and start), in one
// batch or in two, is kept once, as its last copy says: on PostgreSQL a
// batch is one statement, which must not trip over its own repeat.
func TestResultWrittenTwiceKeepsTheLast(t *testing.T) {
	eachBackend(t, func(t *testing.T, db where) {
		ctx := context.Background()
		s := openTest(t, db, clock.NewFake(t0))
		r := probes.Result{Probe: "ocsp-good", Kind: "ocsp", Component: "ocsp", Location: "tokyo-1", Start: t0, Duration: time.Second, Success: true}
		r2 := r
		r2.Duration, r2.Success = 2*time.Second, false
		r2.Checks = []probes.Check{{Name: "ocsp_next_update", Message: "stale"}}
		other := r
		other.Start = t0.Add(time.Minute)
		if err := s.writeBatch(ctx, []probes.Result{r, other, r2}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Results(ctx, "ocsp-good", t0.Add(-time.Hour), t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Duration != 2*time.Second || got[0].Success || len(got[0].FailedChecks()) != 1 || got[1].Duration != time.Second {
			t.Fatalf("results after a repeat in one batch = %+v", got)
		}
		r.Duration = 3 * time.Second
		if err := s.writeBatch(ctx, []probes.Result{r}); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Results(ctx, "ocsp-good", t0.Add(-time.Hour), t0.Add(time.Hour))
		if len(got) != 2 || got[0].Duration != 3*time.Second || !got[0].Success {
			t.Fatalf("results after a repeat in another batch = %+v", got)
		}
	})
}
