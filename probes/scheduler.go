package probes

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
)

// Sink receives every finished run: the store keeps it, the incident engine
// evaluates it. A Sink error is logged; it never changes the result.
type Sink interface {
	Record(ctx context.Context, r Result) error
}

// Sinks sends each result to several sinks in order.
type Sinks []Sink

// Record sends r to every sink and joins their errors.
func (ss Sinks) Record(ctx context.Context, r Result) error {
	var errs []error
	for _, s := range ss {
		if s == nil {
			continue
		}
		if err := s.Record(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SchedulerOptions configures a Scheduler. The zero value of every field is safe.
type SchedulerOptions struct {
	Clock      clock.Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Collector  *Collector
	Sink       Sink
	// MaxConcurrent bounds the runs in flight across all probes (default 256).
	MaxConcurrent int
}

// Scheduler runs each configured probe on its schedule (robfig/cron): start
// times spread by a stable per-probe offset, a run skipped (and counted) while
// the previous one of the same probe is still going, panics recovered as
// failures, a global concurrency limit and a timeout per run.
type Scheduler struct {
	opts    SchedulerOptions
	cron    *cron.Cron
	sem     chan struct{}
	mu      sync.Mutex
	entries map[string]*entry
	started bool

	runs    *prometheus.CounterVec
	lag     prometheus.Histogram
	running prometheus.Gauge
}

type entry struct {
	s           *Scheduler
	id          cron.EntryID
	probe       config.Probe
	location    string
	fingerprint string
	prober      Prober
	sched       cron.Schedule
	period      time.Duration
	busy        atomic.Bool
	removed     atomic.Bool
	// since is when this configuration of the probe was scheduled: a
	// reload that leaves the probe untouched keeps it.
	since time.Time
}

// NewScheduler returns a scheduler with no probes; Apply gives it some.
func NewScheduler(opts SchedulerOptions) *Scheduler {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Collector == nil {
		opts.Collector = NewCollector()
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 256
	}
	f := promauto.With(opts.Registerer)
	s := &Scheduler{
		opts:    opts,
		sem:     make(chan struct{}, opts.MaxConcurrent),
		entries: map[string]*entry{},
		cron:    cron.New(cron.WithLocation(time.UTC), cron.WithChain(cron.Recover(cronLogger{opts.Logger}))),
		runs: f.NewCounterVec(prometheus.CounterOpts{Name: "probed_probe_runs_total",
			Help: "Probe runs by result: success, failure, or skipped because the previous run of the same probe was still going."}, []string{"result"}),
		lag: f.NewHistogram(prometheus.HistogramOpts{Name: "probed_schedule_lag_seconds",
			Help:    "Delay between when a run was due and when it started.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
		running: f.NewGauge(prometheus.GaugeOpts{Name: "probed_probe_runs_in_flight", Help: "Probe runs in flight."}),
	}
	for _, r := range []string{"success", "failure", "skipped"} {
		s.runs.WithLabelValues(r)
	}
	opts.Registerer.MustRegister(scheduledCollector{s})
	return s
}

var scheduledDesc = prometheus.NewDesc("probed_probe_scheduled_timestamp_seconds",
	"When the probe's current configuration was scheduled (start-up, or the reload that added or changed it); a reload that leaves the probe untouched keeps it.",
	probeLabels, nil)

// scheduledCollector exports when each scheduled probe's configuration took
// effect, so an operator (and the reload test) can tell which probes a
// reload restarted.
type scheduledCollector struct{ s *Scheduler }

var _ prometheus.Collector = scheduledCollector{}

// Describe sends the one descriptor.
func (c scheduledCollector) Describe(ch chan<- *prometheus.Desc) { ch <- scheduledDesc }

// Collect sends one series per scheduled probe.
func (c scheduledCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, e := range c.s.entries {
		ch <- prometheus.MustNewConstMetric(scheduledDesc, prometheus.GaugeValue, float64(e.since.UnixNano())/1e9,
			e.probe.Name, e.probe.Kind, e.probe.Component, e.location)
	}
}

// Collector returns the collector that holds the probes' last runs.
func (s *Scheduler) Collector() *Collector { return s.opts.Collector }

// Apply builds every prober of cfg and, only if all build, replaces the
// running set: probes whose configuration did not change keep running
// untouched, removed ones stop and lose their series, new and changed ones
// start. On error nothing changes.
func (s *Scheduler) Apply(cfg *config.Config, env Env) error {
	if env.Clock == nil {
		env.Clock = s.opts.Clock
	}
	if env.Logger == nil {
		env.Logger = s.opts.Logger
	}
	env.Location = cfg.Location
	s.mu.Lock()
	defer s.mu.Unlock()
	next := map[string]*entry{}
	var errs []error
	for i := range cfg.Probes {
		p := cfg.Probes[i]
		fp := fingerprint(&p, cfg.Location)
		if old, ok := s.entries[p.Name]; ok && old.fingerprint == fp {
			next[p.Name] = old
			continue
		}
		pr, err := Build(&p, env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e := &entry{s: s, probe: p, location: cfg.Location, fingerprint: fp, prober: pr, period: p.Period(), since: s.opts.Clock.Now()}
		if p.Schedule != "" {
			sched, err := config.ParseSchedule(p.Schedule)
			if err != nil {
				errs = append(errs, fmt.Errorf("probe %s: %w", p.Name, err))
				continue
			}
			e.sched = sched
		} else {
			e.sched = Spread(p.Name, p.Interval.D())
		}
		next[p.Name] = e
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for name, old := range s.entries {
		if next[name] != old {
			s.cron.Remove(old.id)
			old.removed.Store(true)
			if _, still := next[name]; !still {
				s.opts.Collector.Forget(name)
			}
		}
	}
	for name, e := range next {
		if s.entries[name] != e {
			e.id = s.cron.Schedule(e.sched, e)
		}
	}
	s.entries = next
	return nil
}

// fingerprint identifies a probe's configuration, to leave unchanged probes
// running across a reload.
func fingerprint(p *config.Probe, location string) string {
	b, err := yaml.Marshal(p)
	if err != nil {
		return fmt.Sprintf("unmarshalable-%p", p)
	}
	return location + "\x00" + string(b)
}

// Start begins scheduling.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.cron.Start()
		s.started = true
	}
}

// Stop stops scheduling and waits for runs in flight (each bounded by its
// timeout) until ctx ends.
func (s *Scheduler) Stop(ctx context.Context) error {
	done := s.cron.Stop()
	select {
	case <-done.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop scheduler: %w", ctx.Err())
	}
}

// Probes lists the scheduled probes' names.
func (s *Scheduler) Probes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.entries))
	for n := range s.entries {
		out = append(out, n)
	}
	return out
}

// RunNow runs one probe at once, outside its schedule, and returns its result
// (also recorded like a scheduled run). It honours the skip rule.
func (s *Scheduler) RunNow(ctx context.Context, name string) (Result, error) {
	s.mu.Lock()
	e, ok := s.entries[name]
	s.mu.Unlock()
	if !ok {
		return Result{}, fmt.Errorf("run probe %s: no such probe", name)
	}
	if !e.busy.CompareAndSwap(false, true) {
		s.runs.WithLabelValues("skipped").Inc()
		return Result{}, fmt.Errorf("run probe %s: previous run still going", name)
	}
	defer e.busy.Store(false)
	return s.execute(ctx, e), nil
}

// Run is called by cron at each firing.
func (e *entry) Run() {
	s := e.s
	if e.removed.Load() {
		return
	}
	now := s.opts.Clock.Now()
	if !e.busy.CompareAndSwap(false, true) {
		s.runs.WithLabelValues("skipped").Inc()
		s.opts.Logger.Warn("probe run skipped: previous run still going", "probe", e.probe.Name)
		return
	}
	defer e.busy.Store(false)
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	if due := previous(e.sched, e.period, now); !due.IsZero() {
		s.lag.Observe(max(0, s.opts.Clock.Now().Sub(due).Seconds()))
	}
	s.execute(context.Background(), e)
}

// execute runs the prober once with the probe's timeout, recovers a panic as
// a failed check, and hands the result to the collector and the sink.
func (s *Scheduler) execute(parent context.Context, e *entry) Result {
	s.running.Inc()
	defer s.running.Dec()
	p := &e.probe
	logger := s.opts.Logger.With("probe", p.Name, "kind", p.Kind)
	ctx, cancel := context.WithTimeout(parent, p.Timeout.D())
	defer cancel()
	r := NewReport(s.opts.Clock, logger)
	start := s.opts.Clock.Now()
	func() {
		defer func() {
			if v := recover(); v != nil {
				logger.Error("prober panicked", "panic", v, "stack", string(debug.Stack()))
				r.Fail("probe_panic", fmt.Sprintf("the %s prober crashed: %v (a probed bug; please report it)", p.Kind, v), map[string]string{"panic": fmt.Sprint(v)})
			}
		}()
		e.prober.Probe(ctx, r)
	}()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		r.Fail("probe_timeout", fmt.Sprintf("run cut at its %s timeout", p.Timeout), map[string]string{"timeout": p.Timeout.String()})
	}
	res := Result{Probe: p.Name, Kind: p.Kind, Component: p.Component, Location: e.location,
		Start: start, Duration: s.opts.Clock.Now().Sub(start), Success: r.Success(), Checks: r.Checks()}
	if res.Success {
		s.runs.WithLabelValues("success").Inc()
	} else {
		s.runs.WithLabelValues("failure").Inc()
		logger.Info("probe failed", "checks", summarize(res.FailedChecks()))
	}
	if !e.removed.Load() {
		s.opts.Collector.Set(res, r.Samples())
	}
	if s.opts.Sink != nil {
		sinkCtx, cancel := context.WithTimeout(context.WithoutCancel(parent), 30*time.Second)
		defer cancel()
		if err := s.opts.Sink.Record(sinkCtx, res); err != nil {
			logger.Error("record result", "err", err)
		}
	}
	return res
}

func summarize(checks []Check) string {
	out := ""
	for i, c := range checks {
		if i > 0 {
			out += "; "
		}
		out += c.Name + ": " + c.Message
	}
	return out
}

// spread fires every period at a stable offset into the period, so that many
// probes with one interval do not all start in the same second.
type spread struct {
	period time.Duration
	offset time.Duration
}

// Spread returns the schedule for an interval probe: every interval, offset
// by a hash of the probe's name.
func Spread(name string, interval time.Duration) cron.Schedule {
	h := fnv.New64a()
	h.Write([]byte(name))
	return spread{period: interval, offset: time.Duration(h.Sum64() % uint64(interval))}
}

// Next returns the first firing strictly after t.
func (s spread) Next(t time.Time) time.Time {
	n := t.UnixNano() - int64(s.offset)
	k := n/int64(s.period) + 1
	if n < 0 && n%int64(s.period) != 0 {
		k--
	}
	return time.Unix(0, k*int64(s.period)+int64(s.offset)).In(t.Location())
}

// previous is the firing a run that starts at now was due at.
func previous(sched cron.Schedule, period time.Duration, now time.Time) time.Time {
	if sp, ok := sched.(spread); ok {
		return sp.Next(now.Add(-sp.period))
	}
	t := sched.Next(now.Add(-period - time.Second))
	if t.After(now) {
		return time.Time{}
	}
	for {
		n := sched.Next(t)
		if n.After(now) {
			return t
		}
		t = n
	}
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}
