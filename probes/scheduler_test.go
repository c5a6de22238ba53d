package probes

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/probed/probed/internal/clock"
)

// startScheduler applies cfgYAML with the given stubs and starts it; the
// scheduler is stopped when the test ends.
func startScheduler(t *testing.T, opts SchedulerOptions, stubs map[string]stub, cfgYAML string) (*Scheduler, *resultLog, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	log := &resultLog{}
	opts.Registerer = reg
	opts.Sink = log
	if opts.Collector == nil {
		opts.Collector = NewCollector()
	}
	reg.MustRegister(opts.Collector)
	opts.Build = stubBuilder(stubs)
	s := NewScheduler(opts)
	if err := s.Apply(rtConfig(t, "", cfgYAML, "stub"), Env{}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return s, log, reg
}

func runsOf(s *Scheduler, result string) float64 {
	return testutil.ToFloat64(s.runs.WithLabelValues(result))
}

// An interval probe fires at its spread offset every interval; @every and
// a cron spec with seconds fire as written. Each firing runs the probe
// once, at or after the instant it was due and in a period of its own, and
// each run is counted and observed as schedule lag.
func TestSchedulerRunsOnSchedule(t *testing.T) {
	cases := []struct {
		name, timing string
		// due returns the firing a run that started at t belongs to.
		due func(t time.Time) time.Time
	}{
		{"interval-spread", "interval: 1s", func(t time.Time) time.Time {
			sp := Spread("interval-spread", time.Second).(spread)
			return sp.Next(t.Add(-time.Second))
		}},
		{"every", `schedule: "@every 1s"`, nil},
		{"cron-seconds", `schedule: "* * * * * *"`, func(t time.Time) time.Time { return t.Truncate(time.Second) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var starts []time.Time
				stubs := map[string]stub{tc.name: func(ctx context.Context, r *Report) {
					mu.Lock()
					starts = append(starts, time.Now())
					mu.Unlock()
					r.Pass("stub_ok", "fine")
				}}
				s, log, _ := startScheduler(t, SchedulerOptions{}, stubs,
					fmt.Sprintf("  - {name: %s, component: api, kind: stub, %s, timeout: 500ms}\n", tc.name, tc.timing))
				waitFor(t, 20*time.Second, "three runs", func() bool { return len(log.of(tc.name)) >= 3 })
				s.Stop(context.Background())

				mu.Lock()
				defer mu.Unlock()
				n := len(log.of(tc.name))
				if n != len(starts) {
					t.Errorf("%d results for %d runs", n, len(starts))
				}
				if got := runsOf(s, "success"); got != float64(n) {
					t.Errorf("probed_probe_runs_total{result=success} = %v, want %d", got, n)
				}
				if got := testutil.CollectAndCount(s.lag); got != 1 {
					t.Errorf("lag histogram has %d series", got)
				}
				if c := histogramCount(t, s.lag); c != uint64(n) {
					t.Errorf("schedule lag observed %d times for %d scheduled runs", c, n)
				}
				if tc.due == nil {
					return
				}
				var dues []time.Time
				for _, st := range starts {
					dues = append(dues, tc.due(st))
				}
				for i := 1; i < len(dues); i++ {
					if !dues[i].After(dues[i-1]) {
						t.Errorf("runs %d and %d (at %s and %s) belong to one firing (%s): fired twice",
							i-1, i, starts[i-1].Format("15:04:05.000"), starts[i].Format("15:04:05.000"), dues[i].Format("15:04:05.000"))
					}
				}
			})
		})
	}
}

func histogramCount(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	h.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// A firing while the previous run of the probe is still going (here a
// prober that ignores its context, within the grace the scheduler gives
// it) does not start a second run: it is skipped and counted.
func TestSchedulerSkipsOverlappingRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var started atomic.Int32
		stubs := map[string]stub{"slow": func(ctx context.Context, r *Report) {
			if started.Add(1) == 1 {
				<-release // ignores ctx: still going at the next firing
			}
			r.Pass("stub_ok", "done")
		}}
		s, log, _ := startScheduler(t, SchedulerOptions{Grace: time.Minute}, stubs,
			"  - {name: slow, component: api, kind: stub, interval: 1s, timeout: 500ms}\n")
		waitFor(t, 20*time.Second, "a skipped firing", func() bool { return runsOf(s, "skipped") >= 2 })
		if n := started.Load(); n != 1 {
			t.Fatalf("%d runs started while the first was going, want 1", n)
		}
		if n := len(log.of("slow")); n != 0 {
			t.Fatalf("%d results while the first run is going", n)
		}
		close(release)
		waitFor(t, 20*time.Second, "the next run after the slow one", func() bool { return len(log.of("slow")) >= 2 })
		first := log.of("slow")[0]
		if got := failedNames(first); !slices.Equal(got, []string{"probe_timeout"}) {
			t.Errorf("overrunning run failed %v, want [probe_timeout]", got)
		}
		if second := log.of("slow")[1]; !second.Success {
			t.Errorf("run after the overrun failed: %v", second.FailedChecks())
		}
	})
}

// A prober that panics is recovered, and the panic is probed's bug, not
// the target's failure: the run is probed_internal (reason prober_panic)
// naming the panic, counted apart, kept from the sink (the store, the
// incident engine) and from the probe's series, which keep the last run
// that reached the target; the probe keeps being scheduled.
func TestSchedulerRecoversPanic(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		stubs := map[string]stub{"crashy": func(ctx context.Context, r *Report) {
			r.Pass("stub_before", "ran")
			if calls.Add(1) == 1 {
				return // the first run reaches the target
			}
			var m map[string]int
			m["boom"]++ // a nil-map write: a real bug's panic
		}}
		s, log, reg := startScheduler(t, SchedulerOptions{}, stubs,
			"  - {name: crashy, component: api, kind: stub, interval: 1h, timeout: 500ms}\n")
		if res, err := s.RunNow(context.Background(), "crashy"); err != nil || !res.Success {
			t.Fatalf("first run: %+v, %v", res, err)
		}
		before := exposition(t, reg)
		for range 2 {
			res, err := s.RunNow(context.Background(), "crashy")
			if err != nil {
				t.Fatal(err)
			}
			if res.Success || !res.Internal {
				t.Fatalf("panicking run: %+v, want a failure of probed's own", res)
			}
			if got := failedNames(res); !slices.Equal(got, []string{"probed_internal"}) {
				t.Fatalf("failed checks %v, want [probed_internal]", got)
			}
			c := res.FailedChecks()[0]
			if !strings.Contains(c.Message, "the stub prober panicked: assignment to entry in nil map") || !strings.Contains(c.Message, "a bug in probed") ||
				!strings.Contains(c.Message, "the target was not judged") || c.Evidence["reason"] != "prober_panic" {
				t.Errorf("probed_internal = %q %v", c.Message, c.Evidence)
			}
		}
		if got := runsOf(s, "internal"); got != 2 {
			t.Errorf("probed_probe_runs_total{result=internal} = %v, want 2", got)
		}
		if got := runsOf(s, "failure"); got != 0 {
			t.Errorf("probed_probe_runs_total{result=failure} = %v, want 0", got)
		}
		if got := testutil.ToFloat64(s.internal.WithLabelValues("prober_panic")); got != 2 {
			t.Errorf("probed_probe_internal_failures_total{reason=prober_panic} = %v, want 2", got)
		}
		if n := len(log.of("crashy")); n != 1 {
			t.Errorf("%d results reached the sink, want only the first run's", n)
		}
		probeSeries := func(text string) []string {
			var out []string
			for _, l := range strings.Split(text, "\n") {
				if strings.HasPrefix(l, "probe_") {
					out = append(out, l)
				}
			}
			return out
		}
		if len(probeSeries(before)) == 0 {
			t.Fatalf("no probe series after the first run:\n%s", before)
		}
		if after := exposition(t, reg); !slices.Equal(probeSeries(after), probeSeries(before)) {
			t.Errorf("the probe's series changed with a panic:\n%s\nwant\n%s", strings.Join(probeSeries(after), "\n"), strings.Join(probeSeries(before), "\n"))
		}
	})
}

// A target that accepts the connection and never answers is cut at the
// probe's timeout: the run fails with http_connect (saying where it
// stalled) and probe_timeout, other probes keep their schedule meanwhile,
// and once everything stops no goroutine is left behind.
func TestSchedulerCutsHungTarget(t *testing.T) {
	before := runtime.NumGoroutine()
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the client gives up
	}))
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	reg := prometheus.NewRegistry()
	log := &resultLog{}
	col := NewCollector()
	reg.MustRegister(col)
	// Never starved: these runs are cut by the target, whatever the load
	// on the test machine (starvation: starvation_test.go).
	s := NewScheduler(SchedulerOptions{Registerer: reg, Sink: log, Collector: col, Starvation: &fakeStarvation{}})
	cfg := rtConfig(t, "", fmt.Sprintf(
		"  - {name: hung, component: api, kind: http, interval: 1s, timeout: 300ms, http: {url: %q}}\n"+
			"  - {name: fast, component: web, kind: http, interval: 1s, timeout: 500ms, http: {url: %q}}\n", hung.URL, fast.URL))
	if err := s.Apply(cfg, Env{}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	peak := 0
	waitFor(t, 30*time.Second, "four cut runs of hung and four runs of fast", func() bool {
		peak = max(peak, runtime.NumGoroutine())
		return len(log.of("hung")) >= 4 && len(log.of("fast")) >= 4
	})
	// Still responsive: a scrape answers while runs are cut.
	if text := exposition(t, reg); !strings.Contains(text, `probe_success{component="web",kind="http",location="test-1",probe="fast"} 1`) {
		t.Errorf("fast probe not exported as up:\n%s", strings.Join(seriesLines(text, "probe_success"), "\n"))
	}
	for _, res := range log.of("hung") {
		if got := failedNames(res); !slices.Equal(got, []string{"http_connect", "probe_timeout"}) {
			t.Fatalf("hung run failed %v, want [http_connect probe_timeout]: %v", got, res.FailedChecks())
		}
		for _, c := range res.FailedChecks() {
			switch c.Name {
			case "http_connect":
				if !strings.Contains(c.Message, "timed out") || !strings.Contains(c.Message, "waiting for the response headers") {
					t.Errorf("http_connect message = %q", c.Message)
				}
			case "probe_timeout":
				if c.Message != "the run did not finish within its 300ms timeout and was cut" {
					t.Errorf("probe_timeout message = %q", c.Message)
				}
			}
		}
		if res.Duration < 300*time.Millisecond || res.Duration >= 300*time.Millisecond+s.opts.Grace {
			t.Errorf("hung run took %s: not cut at its 300ms timeout", res.Duration)
		}
	}
	for _, res := range log.of("fast") {
		if !res.Success {
			t.Errorf("fast probe failed while hung was being cut: %v", res.FailedChecks())
		}
	}
	if peak > before+60 {
		t.Errorf("goroutines peaked at %d (from %d)", peak, before)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	hung.Close()
	fast.Close()
	waitFor(t, 10*time.Second, fmt.Sprintf("goroutines back to %d", before), func() bool { return runtime.NumGoroutine() <= before })
}

// A prober that ignores its context is given up on Grace after its
// timeout: the run is reported as probed's (probed_internal, reason
// prober_stuck: a bug in probed, not the target's failure), and further
// runs of that probe are skipped until the stuck one returns.
func TestSchedulerAbandonsStuckProber(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int32
		stubs := map[string]stub{"stuck": func(ctx context.Context, r *Report) {
			if calls.Add(1) == 1 {
				r.Pass("stub_started", "started")
				<-release
			}
			r.Pass("stub_ok", "done")
		}}
		s, _, _ := startScheduler(t, SchedulerOptions{Grace: 100 * time.Millisecond}, stubs,
			"  - {name: stuck, component: api, kind: stub, interval: 1h, timeout: 200ms}\n")
		res, err := s.RunNow(context.Background(), "stuck")
		if err != nil {
			t.Fatal(err)
		}
		if got := failedNames(res); !res.Internal || !slices.Equal(got, []string{"probed_internal"}) {
			t.Fatalf("stuck run failed %v (internal %v), want [probed_internal]", got, res.Internal)
		}
		if c := res.FailedChecks()[0]; !strings.Contains(c.Message, "the stub prober did not stop within 100ms after the run's 200ms timeout") ||
			!strings.Contains(c.Message, "a bug in probed") || c.Evidence["reason"] != "prober_stuck" {
			t.Errorf("probed_internal = %q %v", c.Message, c.Evidence)
		}
		if got := runsOf(s, "internal"); got != 1 {
			t.Errorf("probed_probe_runs_total{result=internal} = %v, want 1", got)
		}
		if _, err := s.RunNow(context.Background(), "stuck"); err == nil || !strings.Contains(err.Error(), "previous run still going") {
			t.Fatalf("second run while the first is stuck: %v", err)
		}
		if got := runsOf(s, "skipped"); got != 1 {
			t.Errorf("skipped = %v, want 1", got)
		}
		close(release)
		waitFor(t, 10*time.Second, "the stuck prober to return and free the probe", func() bool {
			res, err := s.RunNow(context.Background(), "stuck")
			return err == nil && res.Success
		})
	})
}

// Apply keeps unchanged probes running as they are (same entry, same cron
// slot), replaces changed ones, removes dropped ones and their series, and
// refuses a set with a bad probe whole, changing nothing.
func TestSchedulerApply(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ok := func(ctx context.Context, r *Report) { r.Pass("stub_ok", "fine") }
		stubs := map[string]stub{"a": ok, "b": ok, "c": ok, "d": ok}
		s, log, reg := startScheduler(t, SchedulerOptions{Clock: clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))}, stubs,
			"  - {name: a, component: api, kind: stub, interval: 1s, timeout: 500ms}\n"+
				"  - {name: b, component: api, kind: stub, interval: 1s, timeout: 500ms}\n"+
				"  - {name: c, component: web, kind: stub, interval: 1s, timeout: 500ms}\n")
		waitFor(t, 20*time.Second, "a, b and c to run", func() bool {
			return len(log.of("a")) > 0 && len(log.of("b")) > 0 && len(log.of("c")) > 0
		})
		if got := log.of("a")[0].Start; !got.Equal(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) {
			t.Errorf("result start %s, want the scheduler's clock", got)
		}
		snapshot := func() (map[string]*entry, map[slotKey]cronID) {
			s.mu.RLock()
			defer s.mu.RUnlock()
			ids := map[slotKey]cronID{}
			for k, sl := range s.slots {
				ids[k] = cronID(sl.id)
			}
			return maps.Clone(s.entries), ids
		}
		e1, slots1 := snapshot()

		// a untouched but moved down a line, b's timeout changed, c dropped, d added.
		if err := s.Apply(rtConfig(t, "", "\n"+
			"  - {name: d, component: web, kind: stub, interval: 1s, timeout: 500ms}\n"+
			"  - {name: a, component: api, kind: stub, interval: 1s, timeout: 500ms}\n"+
			"  - {name: b, component: api, kind: stub, interval: 1s, timeout: 400ms}\n", "stub"), Env{}); err != nil {
			t.Fatal(err)
		}
		e2, slots2 := snapshot()
		if e2["a"] != e1["a"] || slots2[e1["a"].slot] != slots1[e1["a"].slot] {
			t.Error("unchanged probe a was rescheduled")
		}
		if e2["b"] == e1["b"] || !e1["b"].removed.Load() {
			t.Error("changed probe b kept its old configuration")
		}
		if _, ok := e2["c"]; ok || !e1["c"].removed.Load() {
			t.Error("removed probe c is still scheduled")
		}
		if slices.Contains(s.Collector().Probes(), "c") {
			t.Error("removed probe c still has series")
		}
		if _, ok := e2["d"]; !ok {
			t.Error("added probe d is not scheduled")
		}
		cRuns := len(log.of("c"))
		waitFor(t, 20*time.Second, "d to run and a, b to run again", func() bool {
			return len(log.of("d")) > 0 && len(log.of("a")) > 1 && len(log.of("b")) > 1
		})
		text := exposition(t, reg)
		if strings.Contains(text, `probe="c"`) {
			t.Errorf("removed probe c still exported:\n%s", strings.Join(seriesLines(text, "probe_success"), "\n"))
		}
		if !strings.Contains(text, `probe_success{component="web",kind="stub",location="test-1",probe="d"} 1`) {
			t.Errorf("added probe d not exported")
		}
		if n := len(log.of("c")); n > cRuns+1 {
			t.Errorf("removed probe c ran %d more times", n-cRuns)
		}

		// A set with a probe that does not build is refused whole.
		bad := rtConfig(t, "",
			"  - {name: a, component: api, kind: stub, interval: 1s, timeout: 500ms}\n"+
				"  - {name: b, component: api, kind: stub, interval: 2s, timeout: 500ms}\n"+
				"  - {name: broken, component: web, kind: stub, interval: 1s, timeout: 500ms}\n", "stub")
		err := s.Apply(bad, Env{})
		if err == nil || !strings.Contains(err.Error(), "build probe broken: no stub for broken") {
			t.Fatalf("apply with a broken probe: %v", err)
		}
		e3, slots3 := snapshot()
		if !maps.Equal(e3, e2) {
			t.Errorf("refused apply changed the probes: %v → %v", keys(e2), keys(e3))
		}
		if !maps.Equal(slots3, slots2) {
			t.Errorf("refused apply changed the cron slots: %v → %v", slots2, slots3)
		}
		if n := len(s.cron.Entries()); n != len(slots2) {
			t.Errorf("cron has %d entries after a refused apply, want %d", n, len(slots2))
		}
		if e2["b"].removed.Load() {
			t.Error("refused apply marked b removed")
		}
	})
}

type cronID int

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Replacing the CA file behind an unchanged ca_file path restarts the
// probe (its roots changed); rewriting the same content does not.
func TestSchedulerApplySeesChangedFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca1, ca2 := newTestCA(t, "CA one"), newTestCA(t, "CA two")
	ca1.writePEM(t, dir, "ca.pem")
	probe := "  - {name: tls, component: api, kind: http, interval: 1m, http: {url: \"https://127.0.0.1:1/\", ca_file: ca.pem}}\n"
	s := NewScheduler(SchedulerOptions{})
	if err := s.Apply(rtConfig(t, dir, probe), Env{}); err != nil {
		t.Fatal(err)
	}
	first := s.entries["tls"]
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca1.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(rtConfig(t, dir, probe), Env{}); err != nil {
		t.Fatal(err)
	}
	if s.entries["tls"] != first {
		t.Error("same CA file content: probe restarted")
	}
	ca2.writePEM(t, dir, "ca.pem")
	if err := s.Apply(rtConfig(t, dir, probe), Env{}); err != nil {
		t.Fatal(err)
	}
	if s.entries["tls"] == first {
		t.Error("new CA file content: probe kept its old roots")
	}
}

// Spread offsets are stable (one name, one offset, across releases) and
// spread ten thousand probes of one interval evenly across it.
func TestSpread(t *testing.T) {
	t.Parallel()
	if got := Spread("ocsp-good", 30*time.Second).(spread).offset; got != goldenOffset {
		t.Errorf("offset of ocsp-good in 30s = %s, want %s (offsets must not change between releases)", got, goldenOffset)
	}
	const n, interval = 10000, time.Minute
	perSecond := make([]int, 60)
	perSlot := map[time.Duration]int{}
	for i := range n {
		name := fmt.Sprintf("probe-%05d", i)
		sp := Spread(name, interval).(spread)
		if again := Spread(name, interval).(spread); again != sp {
			t.Fatalf("%s: offset %s then %s", name, sp.offset, again.offset)
		}
		if sp.offset < 0 || sp.offset >= interval || sp.offset%(interval/spreadSlots) != 0 {
			t.Fatalf("%s: offset %s outside [0, %s) or off the %s grid", name, sp.offset, interval, interval/spreadSlots)
		}
		perSecond[sp.offset/time.Second]++
		perSlot[sp.offset]++
	}
	mean := n / 60
	for sec, c := range perSecond {
		if c < mean/2 || c > mean*3/2 {
			t.Errorf("second %d of the minute starts %d probes, want about %d", sec, c, mean)
		}
	}
	busiest := 0
	for _, c := range perSlot {
		busiest = max(busiest, c)
	}
	if len(perSlot) < spreadSlots*9/10 || busiest > 40 {
		t.Errorf("%d distinct start offsets, busiest has %d probes", len(perSlot), busiest)
	}
}

const goldenOffset = 6300 * time.Millisecond

// spread.Next is the first firing strictly after t, on the offset grid,
// before and after the epoch.
func TestSpreadNext(t *testing.T) {
	t.Parallel()
	sp := spread{period: 30 * time.Second, offset: 12630 * time.Millisecond}
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{
		base, base.Add(12630 * time.Millisecond), base.Add(12630*time.Millisecond - 1), base.Add(42630 * time.Millisecond),
		time.Unix(-45, 0), time.Unix(-17, 370_000_000), time.Unix(0, 0),
	} {
		next := sp.Next(at)
		if !next.After(at) || next.Sub(at) > sp.period {
			t.Errorf("Next(%s) = %s: not within one period after", at, next)
		}
		if r := (next.UnixNano() - int64(sp.offset)) % int64(sp.period); r != 0 {
			t.Errorf("Next(%s) = %s: off the grid by %s", at, next, time.Duration(r))
		}
	}
	if got := sp.Next(base.Add(12630 * time.Millisecond)); !got.Equal(base.Add(42630 * time.Millisecond)) {
		t.Errorf("Next at a firing = %s, want the one after", got)
	}
}

// A slot knows which firing it runs: the latest cron asked for at or
// before now, even though cron asks for the next one as the job starts.
func TestDueSchedule(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	d := &dueSchedule{inner: spread{period: time.Second}}
	first := d.Next(base.Add(-time.Millisecond)) // cron at start: due at base
	if !first.Equal(base) {
		t.Fatalf("first firing %s", first)
	}
	d.Next(base.Add(2 * time.Millisecond)) // cron after starting the job
	if got := d.last(base.Add(3 * time.Millisecond)); !got.Equal(base) {
		t.Errorf("due = %s, want %s", got, base)
	}
	if got := d.last(base.Add(-time.Second)); !got.IsZero() {
		t.Errorf("due before any firing = %s", got)
	}
}

// Stop stops scheduling, lets a run in flight finish within its timeout
// (a hung target is cut, and its result recorded), makes a run waiting for
// the concurrency limit give up, and starts nothing afterwards.
func TestSchedulerStop(t *testing.T) {
	t.Parallel()
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hung.Close()
	var queuedRan atomic.Bool
	reg := prometheus.NewRegistry()
	log := &resultLog{}
	s := NewScheduler(SchedulerOptions{Registerer: reg, Sink: log, MaxConcurrent: 1, Starvation: &fakeStarvation{}, Build: stubBuilder(map[string]stub{
		"queued": func(ctx context.Context, r *Report) { queuedRan.Store(true) },
	})})
	cfg := rtConfig(t, "", fmt.Sprintf(
		"  - {name: hung, component: api, kind: http, interval: 1h, timeout: 400ms, http: {url: %q}}\n"+
			"  - {name: queued, component: web, kind: stub, interval: 1h, timeout: 400ms}\n", hung.URL), "stub")
	if err := s.Apply(cfg, Env{}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	// Fire both slots by hand, as cron would: hung takes the only turn.
	fire := func(name string) {
		s.mu.RLock()
		sl := s.slots[s.entries[name].slot]
		s.mu.RUnlock()
		sl.Run()
	}
	fire("hung") // starts the run and returns, as under cron
	waitFor(t, 10*time.Second, "hung to be in flight", func() bool { return s.InFlight() == 1 })
	fire("queued")
	waitFor(t, 10*time.Second, "queued to wait for its turn", func() bool { return s.entries["queued"].busy.Load() })
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Stop did not return")
	}
	res := log.of("hung")
	if len(res) != 1 || !slices.Equal(failedNames(res[0]), []string{"http_connect", "probe_timeout"}) {
		t.Fatalf("hung run at Stop: %+v", res)
	}
	if queuedRan.Load() || len(log.of("queued")) != 0 {
		t.Error("a run waiting for its turn ran after Stop")
	}
	if s.entries["queued"].busy.Load() {
		t.Error("the run that gave up left its probe busy")
	}
	fire("queued")
	if _, err := s.RunNow(context.Background(), "queued"); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("RunNow after Stop: %v", err)
	}
	if queuedRan.Load() || s.InFlight() != 0 {
		t.Error("a run started after Stop")
	}
}
