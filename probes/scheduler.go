package probes

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/robfig/cron/v3"

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
	// Clock stamps results (Result.Start) and is what probers see as now.
	// Firing times, lag and durations follow the wall clock, as cron does.
	Clock      clock.Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Collector  *Collector
	Sink       Sink
	// MaxConcurrent bounds the runs in flight across all probes (default 256).
	MaxConcurrent int
	// Build makes each probe's prober (default: Build, the registry of kinds).
	Build Builder
	// Grace is how long the scheduler waits for a prober that ignores its
	// context after the run's timeout before it gives up on it and reports
	// the run as failed (default 5s).
	Grace time.Duration
	// Starvation tells how long probed itself was kept from running; a run
	// cut by its timeout while probed was stalled for StarvedShare of it is
	// probed's failure (reason starved), not the target's. Default: a
	// Heartbeat the scheduler runs between Start and Stop.
	Starvation StarvationMeter
}

// Scheduler runs each configured probe on its schedule, on robfig/cron:
//
//   - an interval probe fires every interval at a stable offset into it,
//     taken from a hash of its name, so ten thousand probes with one
//     interval start spread across it rather than in the same second;
//     a cron schedule (with seconds, or @every) fires as written;
//   - probes that fire at the same instant share one cron entry (a slot),
//     so cron, which sorts its entries at every wake, handles a few
//     hundred entries instead of one per probe;
//   - a firing while the previous run of the same probe is still going is
//     skipped and counted (probed_probe_runs_total{result="skipped"});
//   - at most MaxConcurrent runs are in flight; a run waiting for its turn
//     counts the wait as schedule lag;
//   - each run has its probe's timeout (a run cut by it fails probe_timeout);
//     a prober that panics, or ignores its deadline beyond Grace, is a bug
//     in probed: the run is probed_internal, never the target's failure.
type Scheduler struct {
	opts SchedulerOptions
	cron *cron.Cron
	sem  chan struct{}

	// stopping is closed by Stop: runs waiting for a turn give up and no
	// run starts. inflight counts the runs started (Stop waits for them).
	stopping chan struct{}
	inflight sync.WaitGroup

	// mu guards entries, slots and stopped; runs hold it shared while they
	// hand a result to the collector, so that Apply forgetting a removed
	// probe's series cannot race with its last run bringing them back.
	mu      sync.RWMutex
	entries map[string]*entry
	slots   map[slotKey]*slot
	started bool
	stopped bool

	runs     *prometheus.CounterVec
	internal *prometheus.CounterVec
	lag      prometheus.Histogram
	running  prometheus.Gauge
	inFlight atomic.Int64

	// heartbeat is the default StarvationMeter, run between Start and
	// Stop (nil when one was given); stopBeat ends it.
	heartbeat *Heartbeat
	stopBeat  context.CancelFunc
}

// entry is one probe as scheduled: one configuration of it. A reload that
// changes the probe replaces its entry; one that does not keeps it.
type entry struct {
	probe    config.Probe
	location string
	prober   Prober
	slot     slotKey
	busy     atomic.Bool // a run is going
	removed  atomic.Bool // replaced or removed by a reload
	// since is when this configuration of the probe was scheduled: a
	// reload that leaves the probe untouched keeps it.
	since time.Time
}

// slotKey identifies the probes that fire at the same instants: one spread
// interval and offset, or one cron spec.
type slotKey struct {
	period, offset time.Duration
	spec           string
}

// slot is one cron entry firing every probe of one slotKey.
type slot struct {
	s       *Scheduler
	id      cron.EntryID
	members map[string]*entry
	due     *dueSchedule
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
	if opts.Build == nil {
		opts.Build = Build
	}
	if opts.Grace <= 0 {
		opts.Grace = 5 * time.Second
	}
	var hb *Heartbeat
	if opts.Starvation == nil {
		hb = NewHeartbeat(0)
		opts.Starvation = hb
	}
	f := promauto.With(opts.Registerer)
	s := &Scheduler{
		heartbeat: hb,
		opts:      opts,
		sem:       make(chan struct{}, opts.MaxConcurrent),
		stopping:  make(chan struct{}),
		entries:   map[string]*entry{},
		slots:     map[slotKey]*slot{},
		cron:      cron.New(cron.WithLocation(time.UTC), cron.WithChain(cron.Recover(cronLogger{opts.Logger}))),
		runs: f.NewCounterVec(prometheus.CounterOpts{Name: "probed_probe_runs_total",
			Help: "Probe runs by result: success, failure, skipped because the previous run of the same probe was still going, or internal when probed's own limits failed the run (see probed_probe_internal_failures_total)."}, []string{"result"}),
		internal: f.NewCounterVec(prometheus.CounterOpts{Name: "probed_probe_internal_failures_total",
			Help: "Probe runs that failed because of probed itself, not the target, by reason (file_descriptors, system_file_descriptors, socket_memory, local_ports, prober_panic, prober_stuck, request, canceled, starved); they are neither exported as the probe's result nor recorded."}, []string{"reason"}),
		lag: f.NewHistogram(prometheus.HistogramOpts{Name: "probed_schedule_lag_seconds",
			Help:    "Delay between when a run was due and when it started (including any wait for the concurrency limit).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}),
		running: f.NewGauge(prometheus.GaugeOpts{Name: "probed_probe_runs_in_flight", Help: "Probe runs in flight."}),
	}
	for _, r := range []string{"success", "failure", "skipped", "internal"} {
		s.runs.WithLabelValues(r)
	}
	for _, r := range []string{InternalFileDescriptors, InternalSystemFileDescriptors, InternalSocketMemory, InternalStarved} {
		s.internal.WithLabelValues(r)
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
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	for _, e := range c.s.entries {
		ch <- prometheus.MustNewConstMetric(scheduledDesc, prometheus.GaugeValue, float64(e.since.UnixNano())/1e9,
			e.probe.Name, e.probe.Kind, e.probe.Component, e.location)
	}
}

// Collector returns the collector that holds the probes' last runs.
func (s *Scheduler) Collector() *Collector { return s.opts.Collector }

// Apply builds every prober of cfg and, only if all build, replaces the
// running set: probes whose configuration did not change keep running
// untouched (same entry, same schedule, a run in flight goes on), removed
// ones stop and their series disappear, new and changed ones start. On
// error nothing changes and the error names every probe that failed.
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
	next := make(map[string]*entry, len(cfg.Probes))
	var errs []error
	for i := range cfg.Probes {
		p := cfg.Probes[i]
		if old, ok := s.entries[p.Name]; ok && old.location == cfg.Location && sameProbe(&old.probe, &p) {
			next[p.Name] = old
			continue
		}
		key, sched, err := slotFor(&p)
		if err != nil {
			errs = append(errs, fmt.Errorf("probe %s: %w", p.Name, err))
			continue
		}
		pr, err := s.opts.Build(&p, env)
		if err != nil {
			errs = append(errs, fmt.Errorf("build probe %s: %w", p.Name, err))
			continue
		}
		if _, ok := s.slots[key]; !ok {
			// Remember the parsed schedule for the slot made below.
			s.slots[key] = &slot{s: s, members: map[string]*entry{}, due: &dueSchedule{inner: sched}}
		}
		next[p.Name] = &entry{probe: p, location: cfg.Location, prober: pr, slot: key, since: s.opts.Clock.Now()}
	}
	if len(errs) > 0 {
		for key, sl := range s.slots {
			if sl.id == 0 && len(sl.members) == 0 {
				delete(s.slots, key) // made above for a set that is refused
			}
		}
		return fmt.Errorf("apply probes: %w", errors.Join(errs...))
	}
	for name, old := range s.entries {
		e, still := next[name]
		if e == old {
			continue
		}
		old.removed.Store(true)
		sl := s.slots[old.slot]
		delete(sl.members, name)
		if !still || e.probe.Kind != old.probe.Kind || e.probe.Component != old.probe.Component || e.location != old.location {
			// Its last run's series would carry labels no longer true.
			s.opts.Collector.Forget(name)
		}
	}
	for name, e := range next {
		if s.entries[name] == e {
			continue
		}
		s.slots[e.slot].members[name] = e
	}
	for key, sl := range s.slots {
		switch {
		case len(sl.members) == 0 && sl.id != 0:
			s.cron.Remove(sl.id)
			delete(s.slots, key)
		case len(sl.members) == 0:
			delete(s.slots, key)
		case sl.id == 0:
			sl.id = s.cron.Schedule(sl.due, sl)
		}
	}
	s.entries = next
	return nil
}

// slotFor returns the slot a probe fires in and its schedule.
func slotFor(p *config.Probe) (slotKey, cron.Schedule, error) {
	if p.Schedule != "" {
		sched, err := config.ParseSchedule(p.Schedule)
		if err != nil {
			return slotKey{}, nil, fmt.Errorf("bad schedule %q: %w", p.Schedule, err)
		}
		return slotKey{spec: p.Schedule}, sched, nil
	}
	if p.Interval <= 0 {
		return slotKey{}, nil, fmt.Errorf("no interval and no schedule")
	}
	sp := Spread(p.Name, p.Interval.D()).(spread)
	return slotKey{period: sp.period, offset: sp.offset}, sp, nil
}

// Start begins scheduling.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started && !s.stopped {
		if s.heartbeat != nil {
			ctx, cancel := context.WithCancel(context.Background())
			s.stopBeat = cancel
			go s.heartbeat.Run(ctx)
		}
		s.cron.Start()
		s.started = true
	}
}

// Stop stops scheduling: no run starts any more and runs waiting for their
// turn give up; it then waits for the runs in flight, each bounded by its
// timeout, until ctx ends. The scheduler cannot be started again.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.stopping)
	}
	stopBeat := s.stopBeat
	s.mu.Unlock()
	// Slot firings already under way finish starting their runs (or see
	// stopping); only then is inflight complete and safe to wait on.
	cronDone := s.cron.Stop()
	done := make(chan struct{})
	go func() {
		<-cronDone.Done()
		s.inflight.Wait()
		if stopBeat != nil {
			stopBeat() // after the last run, which it measures
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop scheduler: runs still in flight: %w", ctx.Err())
	}
}

// InFlight is the number of runs going now.
func (s *Scheduler) InFlight() int { return int(s.inFlight.Load()) }

// Probes lists the scheduled probes' names.
func (s *Scheduler) Probes() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.entries))
	for n := range s.entries {
		out = append(out, n)
	}
	return out
}

// RunNow runs one probe at once, outside its schedule, and returns its result
// (also recorded like a scheduled run). It honours the skip rule and the
// concurrency limit.
func (s *Scheduler) RunNow(ctx context.Context, name string) (Result, error) {
	s.mu.RLock()
	e, ok := s.entries[name]
	stopped := s.stopped
	if ok && !stopped {
		s.inflight.Add(1)
	}
	s.mu.RUnlock()
	switch {
	case !ok:
		return Result{}, fmt.Errorf("run probe %s: no such probe", name)
	case stopped:
		return Result{}, fmt.Errorf("run probe %s: the scheduler is stopped", name)
	}
	defer s.inflight.Done()
	if !e.busy.CompareAndSwap(false, true) {
		s.runs.WithLabelValues("skipped").Inc()
		return Result{}, fmt.Errorf("run probe %s: previous run still going", name)
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		e.busy.Store(false)
		return Result{}, fmt.Errorf("run probe %s: waiting for a free run: %w", name, ctx.Err())
	}
	defer func() { <-s.sem }()
	return s.execute(ctx, e), nil
}

// Run is called by cron when the slot is due: it starts a run of each of
// its probes, skipping those whose previous run is still going.
func (sl *slot) Run() {
	s := sl.s
	due := sl.due.last(time.Now())
	s.mu.RLock()
	if s.stopped {
		s.mu.RUnlock()
		return
	}
	members := make([]*entry, 0, len(sl.members))
	for _, e := range sl.members {
		members = append(members, e)
	}
	// Added under the lock Stop takes, so Stop's Wait never races an Add.
	for _, e := range members {
		if e.busy.CompareAndSwap(false, true) {
			s.inflight.Add(1)
			go s.scheduled(e, due)
		} else {
			s.runs.WithLabelValues("skipped").Inc()
			s.opts.Logger.Warn("probe run skipped: the previous run is still going", "probe", e.probe.Name, "timeout", e.probe.Timeout)
		}
	}
	s.mu.RUnlock()
}

// scheduled is one scheduled run of e, due at due; e is marked busy.
func (s *Scheduler) scheduled(e *entry, due time.Time) {
	defer s.inflight.Done()
	select {
	case s.sem <- struct{}{}:
	case <-s.stopping:
		e.busy.Store(false)
		return
	}
	defer func() { <-s.sem }()
	if !due.IsZero() {
		s.lag.Observe(max(0, time.Since(due).Seconds()))
	}
	s.execute(context.Background(), e)
}

// Run states shared by execute and the prober's goroutine: whoever moves
// the state away from runActive decides who clears the probe's busy flag.
const (
	runActive int32 = iota
	runReturned
	runAbandoned
)

// execute runs the prober once with the probe's timeout, recovers a panic as
// a failed check, and hands the result to the collector and the sink. e is
// marked busy; execute clears the mark, or leaves it to a prober it gave up
// on, which clears it when it finally returns, so that probe skips its
// firings meanwhile instead of piling up.
func (s *Scheduler) execute(parent context.Context, e *entry) Result {
	s.running.Inc()
	s.inFlight.Add(1)
	defer func() {
		s.running.Dec()
		s.inFlight.Add(-1)
	}()
	p := &e.probe
	logger := s.opts.Logger.With("probe", p.Name, "kind", p.Kind)
	ctx, cancel := context.WithTimeout(parent, p.Timeout.D())
	defer cancel()
	r := NewReport(s.opts.Clock, logger)
	start := s.opts.Clock.Now()
	began := time.Now()
	stalledBefore := s.opts.Starvation.Stalled()
	var state atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if !state.CompareAndSwap(runActive, runReturned) {
				e.busy.Store(false) // execute gave up on this run long ago
			}
		}()
		defer func() {
			if v := recover(); v != nil {
				logger.Error("prober panicked", "panic", v, "stack", string(debug.Stack()))
				r.internalFailure(InternalPanic, fmt.Errorf("the %s prober panicked: %v", p.Kind, v))
			}
		}()
		e.prober.Probe(ctx, r)
	}()
	abandoned := false
	select {
	case <-done:
	case <-ctx.Done():
		grace := time.NewTimer(s.opts.Grace)
		select {
		case <-done:
		case <-grace.C:
			abandoned = state.CompareAndSwap(runActive, runAbandoned)
			if !abandoned {
				<-done
			}
		}
		grace.Stop()
	}
	switch {
	case abandoned:
		logger.Error("prober did not return after its timeout; giving up on it", "timeout", p.Timeout, "grace", s.opts.Grace)
		r.internalFailure(InternalStuck, fmt.Errorf("the %s prober did not stop within %s after the run's %s timeout; the probe's next runs are skipped until it does",
			p.Kind, s.opts.Grace, p.Timeout))
	case parent.Err() != nil && !r.Success():
		// Cut by whoever asked for the run (RunNow's caller, such as
		// `probed probe` on Ctrl-C), not by its timeout: whatever failed
		// failed because probed stopped it.
		r.internalFailure(InternalCanceled, fmt.Errorf("probed cancelled the run before it finished (%v)", context.Cause(parent)))
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		if stalled := s.opts.Starvation.Stalled() - stalledBefore; starved(stalled, p.Timeout.D()) {
			// Cut by its deadline while probed itself could not run for
			// a good part of it: the target was not judged.
			r.internalFailure(InternalStarved, fmt.Errorf("the run was cut by its %s timeout while probed itself was kept from running for %s of it (at least 1/%d of the timeout)",
				p.Timeout, stalled.Round(time.Millisecond), StarvedShare))
			break
		}
		r.Fail("probe_timeout", fmt.Sprintf("the run did not finish within its %s timeout and was cut", p.Timeout),
			map[string]string{"timeout": p.Timeout.String()})
	}
	res := Result{Probe: p.Name, Kind: p.Kind, Component: p.Component, Location: e.location,
		Start: start, Duration: time.Since(began), Success: r.Success(), Checks: r.Checks()}
	if in := r.Internal(); in != nil {
		// The run says nothing about the target: it is probed's failure.
		// The probe's exported series and its history keep the last run
		// that reached the target, and the incident engine never sees it.
		res.Success, res.Internal = false, true
		res.Checks = []Check{{Name: "probed_internal", Severity: Critical, Message: in.message(),
			Evidence: map[string]string{"reason": in.Reason, "error": in.Err.Error()}}}
		s.runs.WithLabelValues("internal").Inc()
		s.internal.WithLabelValues(in.Reason).Inc()
		logger.Error("probe run failed because of probed itself; not recorded as the target's result", "check", "probed_internal", "reason", in.Reason, "err", in.Err)
		if !abandoned {
			e.busy.Store(false)
		}
		return res
	}
	if res.Success {
		s.runs.WithLabelValues("success").Inc()
	} else {
		s.runs.WithLabelValues("failure").Inc()
		logger.Info("probe failed", "checks", summarize(res.FailedChecks()))
	}
	s.mu.RLock()
	if !e.removed.Load() {
		if err := s.opts.Collector.Set(res, r.Samples()); err != nil {
			logger.Error("export probe metrics", "err", err)
		}
	}
	s.mu.RUnlock()
	if s.opts.Sink != nil {
		sinkCtx, cancel := context.WithTimeout(context.WithoutCancel(parent), 30*time.Second)
		defer cancel()
		if err := s.opts.Sink.Record(sinkCtx, res); err != nil {
			logger.Error("record result", "err", err)
		}
	}
	if !abandoned {
		e.busy.Store(false)
	}
	return res
}

func summarize(checks []Check) string {
	var b strings.Builder
	for i, c := range checks {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Name + ": " + c.Message)
	}
	return b.String()
}

// spreadSlots is how many distinct start offsets an interval is cut into:
// fine enough that probes sharing an offset are few (ten per slot for ten
// thousand probes), coarse enough that cron keeps few entries.
const spreadSlots = 1000

// spread fires every period at a stable offset into the period, so that many
// probes with one interval do not all start in the same second.
type spread struct {
	period time.Duration
	offset time.Duration
}

// Spread returns the schedule for an interval probe: every interval, offset
// into it by a hash of the probe's name (FNV-1a, so the same name keeps its
// offset across restarts and releases), in steps of interval/1000.
func Spread(name string, interval time.Duration) cron.Schedule {
	h := fnv.New64a()
	h.Write([]byte(name))
	step := interval / spreadSlots
	if step <= 0 {
		return spread{period: interval, offset: time.Duration(h.Sum64() % uint64(interval))}
	}
	return spread{period: interval, offset: time.Duration(h.Sum64()%spreadSlots) * step}
}

// Next returns the first firing strictly after t.
func (s spread) Next(t time.Time) time.Time {
	n := t.UnixNano() - int64(s.offset)
	k := n / int64(s.period)
	if n < 0 && n%int64(s.period) != 0 {
		k-- // floor, not truncation, before the epoch
	}
	return time.Unix(0, (k+1)*int64(s.period)+int64(s.offset)).In(t.Location())
}

// dueSchedule wraps a slot's schedule to remember the firing times cron
// asked it for, so that a firing knows when it was due and lag is exact
// for any schedule.
type dueSchedule struct {
	inner cron.Schedule
	mu    sync.Mutex
	times [2]time.Time // the last two answers of Next
}

// Next asks the inner schedule and remembers the answer.
func (d *dueSchedule) Next(t time.Time) time.Time {
	n := d.inner.Next(t)
	d.mu.Lock()
	d.times[0], d.times[1] = d.times[1], n
	d.mu.Unlock()
	return n
}

// last returns the latest remembered firing at or before now: cron asks
// for the next firing right after starting this one, so the one being run
// is either of the last two answers.
func (d *dueSchedule) last(now time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	var due time.Time
	for _, t := range d.times {
		if !t.IsZero() && !t.After(now) && t.After(due) {
			due = t
		}
	}
	return due
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}
