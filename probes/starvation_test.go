package probes

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeStarvation is a StarvationMeter a test moves by hand.
type fakeStarvation struct{ ns atomic.Int64 }

func (f *fakeStarvation) Stalled() time.Duration { return time.Duration(f.ns.Load()) }
func (f *fakeStarvation) stall(d time.Duration)  { f.ns.Add(int64(d)) }

// A run cut by its timeout while probed itself was kept from running for at
// least a quarter of that timeout is probed's failure (probed_internal,
// reason starved): not given to the sink (so neither stored nor seen by the
// incident engine, which cannot draft from it), counted by reason. Less
// starvation, and the timeout is the target's as before. A run that failed
// for another reason than its deadline stays the target's failure however
// starved probed was.
func TestStarvedRunIsProbedsFailure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stalled time.Duration // during the run; the timeout is 1s
		early   bool          // the stub fails at once (bad signature) instead of waiting out its deadline
		want    []string      // failed checks the sink gets, sorted; nil: the run is probed's
	}{
		{name: "starved", stalled: 250 * time.Millisecond},
		{name: "starved for the whole run", stalled: 5 * time.Second},
		{name: "not starved", stalled: 249 * time.Millisecond, want: []string{"probe_timeout", "stub_connect"}},
		{name: "not at all", want: []string{"probe_timeout", "stub_connect"}},
		{name: "starved, bad signature", stalled: 900 * time.Millisecond, early: true, want: []string{"stub_signature"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				meter := &fakeStarvation{}
				meter.stall(time.Hour) // before the run: does not count
				stubs := map[string]stub{"ca": func(ctx context.Context, r *Report) {
					meter.stall(tc.stalled)
					if tc.early {
						r.Fail("stub_signature", "the response is not signed by the CA's key", nil)
						return
					}
					<-ctx.Done()
					r.Fail("stub_connect", "connect: "+ctx.Err().Error(), nil)
				}}
				s, log, _ := startScheduler(t, SchedulerOptions{Starvation: meter}, stubs,
					"  - {name: ca, component: api, kind: stub, interval: 1h, timeout: 1s}\n")
				res, err := s.RunNow(context.Background(), "ca")
				if err != nil {
					t.Fatal(err)
				}
				if tc.want == nil {
					if !res.Internal || res.Success || len(res.Checks) != 1 || res.Checks[0].Name != "probed_internal" ||
						res.Checks[0].Evidence["reason"] != InternalStarved ||
						!strings.Contains(res.Checks[0].Message, "cut by its 1s timeout while probed itself was kept from running for") ||
						!strings.Contains(res.Checks[0].Message, "the target was not judged") {
						t.Fatalf("starved run = %+v", res)
					}
					if n := len(log.of("ca")); n != 0 {
						t.Errorf("the sink got %d results, want none", n)
					}
					if got := testutil.ToFloat64(s.internal.WithLabelValues(InternalStarved)); got != 1 {
						t.Errorf(`probed_probe_internal_failures_total{reason="starved"} = %v, want 1`, got)
					}
					if got := runsOf(s, "internal"); got != 1 {
						t.Errorf(`probed_probe_runs_total{result="internal"} = %v, want 1`, got)
					}
					if got := runsOf(s, "failure"); got != 0 {
						t.Errorf(`probed_probe_runs_total{result="failure"} = %v, want 0`, got)
					}
					return
				}
				if res.Internal || res.Success || !slices.Equal(slices.Sorted(slices.Values(failedNames(res))), tc.want) {
					t.Fatalf("run = internal %v, failed %v; want the target's failure %v", res.Internal, failedNames(res), tc.want)
				}
				if got := log.of("ca"); len(got) != 1 || !slices.Equal(slices.Sorted(slices.Values(failedNames(got[0]))), tc.want) {
					t.Errorf("the sink got %+v, want the one failed run", got)
				}
				if got := testutil.ToFloat64(s.internal.WithLabelValues(InternalStarved)); got != 0 {
					t.Errorf(`probed_probe_internal_failures_total{reason="starved"} = %v, want 0`, got)
				}
				if got := runsOf(s, "failure"); got != 1 {
					t.Errorf(`probed_probe_runs_total{result="failure"} = %v, want 1`, got)
				}
			})
		})
	}
}

// The heartbeat adds up how late each beat woke, and a beat overdue now
// counts at once, so a heartbeat that cannot run at all still shows it.
func TestHeartbeatSumsLateness(t *testing.T) {
	h := NewHeartbeat(50 * time.Millisecond)
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	if got := h.stalledAt(t0.Add(time.Hour)); got != 0 {
		t.Fatalf("before the first beat: %s, want 0", got)
	}
	h.beat(t0)
	for _, step := range []struct {
		at   time.Duration // since t0
		beat bool
		want time.Duration
	}{
		{at: 40 * time.Millisecond, want: 0},
		{at: 50 * time.Millisecond, beat: true, want: 0},                       // on time; next due at 100ms
		{at: 130 * time.Millisecond, want: 30 * time.Millisecond},              // overdue now
		{at: 400 * time.Millisecond, want: 300 * time.Millisecond},             // still overdue
		{at: 400 * time.Millisecond, beat: true, want: 300 * time.Millisecond}, // woke 300ms late; next at 450ms
		{at: 440 * time.Millisecond, want: 300 * time.Millisecond},             // not yet due
		{at: 460 * time.Millisecond, beat: true, want: 310 * time.Millisecond}, // 10ms late
		{at: 2460 * time.Millisecond, want: 310*time.Millisecond + 1950*time.Millisecond},
	} {
		if step.beat {
			h.beat(t0.Add(step.at))
		}
		if got := h.stalledAt(t0.Add(step.at)); got != step.want {
			t.Fatalf("at %s (beat %v): stalled %s, want %s", step.at, step.beat, got, step.want)
		}
	}
}

// The scheduler runs its own heartbeat between Start and Stop; on a clock
// that only moves when every goroutine waits (a synctest bubble) it is
// never late, so nothing counts as starvation.
func TestSchedulerRunsItsHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(SchedulerOptions{})
		s.Start()
		time.Sleep(10 * time.Second) // bubble time: the heartbeat beats 200 times
		if got := s.opts.Starvation.Stalled(); got != 0 {
			t.Errorf("stalled %s on a clock with no starvation, want 0", got)
		}
		s.heartbeat.mu.Lock()
		next := s.heartbeat.next
		s.heartbeat.mu.Unlock()
		if next.IsZero() {
			t.Error("the heartbeat never beat")
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the heartbeat's goroutine has ended, or the bubble would not end
	})
}

// A stopped heartbeat keeps what it counted and counts no more.
func TestStoppedHeartbeatStopsCounting(t *testing.T) {
	h := NewHeartbeat(50 * time.Millisecond)
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	h.beat(t0)
	h.stop(t0.Add(150 * time.Millisecond)) // 100ms late
	for _, at := range []time.Duration{150 * time.Millisecond, time.Hour} {
		if got := h.stalledAt(t0.Add(at)); got != 100*time.Millisecond {
			t.Errorf("stopped, at %s: stalled %s, want 100ms", at, got)
		}
	}
}
