// Package incident turns probe results and Alertmanager alerts into draft
// incidents an operator approves: per-probe hysteresis, a location quorum,
// per-component status, one draft per outage with its evidence and texts in
// English and Japanese, withdrawal when a failure clears before approval,
// resolve proposals, and maintenance windows that move on time. Every bit of
// state lives in SQLite, so a restart drafts nothing twice.
package incident

import (
	"context"
	"errors"
	"fmt"
	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
)

// Options configures an Engine. Store and Config are required.
type Options struct {
	Store *store.Store
	// Config returns the configuration in force (it changes on reload).
	Config     func() *config.Config
	Clock      clock.Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Interval is the longest the ticker waits between two looks at
	// maintenance windows and components (default 30s); it also wakes
	// exactly when a window opens or closes.
	Interval time.Duration
	// Words is the catalogue the proposed texts come from (nil: the built-in one).
	Words *words.Catalogue
	// Inbox bounds the results queued for evaluation (default DefaultInbox).
	Inbox int
	// Holder, when not empty, names this holder among several sharing one
	// PostgreSQL database (leader.go): the engine starts as a follower,
	// which drafts and evaluates nothing and hands Alertmanager deliveries
	// to the leader's inbox, until Lead; leading, Run also evaluates the
	// results and deliveries every holder put in the store's leader inbox.
	Holder string
	// InboxPoll is how often a leading engine of several holders reads the
	// leader inbox (default 500ms).
	InboxPoll time.Duration
}

// Engine evaluates results and keeps incidents in step with them.
type Engine struct {
	opts   Options
	st     *store.Store
	clock  clock.Clock
	logger *slog.Logger

	// mu serialises everything that reads and writes incidents, so the
	// engine and an operator never interleave half-made decisions. Runs
	// never wait for it: their results go through inbox.
	mu     engineLock
	probes map[probeKey]*store.ProbeHealth
	// byComp indexes probes by their component: evaluating a component
	// after every result must not walk every probe of the configuration
	// (with 10,000 probes that walk was half of probed's CPU).
	byComp map[string]map[probeKey]*store.ProbeHealth
	// ailing counts, per component, its probes down or slow at a
	// location: at zero, with no alert for it, the component is
	// operational without walking its probes (see evaluate).
	ailing map[string]int
	// pending holds the probe health changed since it was last saved.
	// The engine's goroutine writes it in one transaction outside mu
	// (saveHealth), so a hysteresis step never holds the lock across a
	// write; a decision that rests on it (a component's status, and the
	// incidents that follow) saves it first, under mu, so the database
	// never holds a decision newer than the health it rests on and a
	// restart drafts nothing twice.
	pending map[probeKey]store.ProbeHealth
	// healthMu serialises the writes of probe health, and guards unsaved
	// (what a failed write left, retried with the next). Taken after mu,
	// never before it.
	healthMu sync.Mutex
	unsaved  map[probeKey]store.ProbeHealth
	comps    map[string]store.ComponentHealth
	alerts   []store.Alert
	// counted holds, per failing component, the locations its status
	// rests on; ended, when each alert-fed location recovered (the
	// resolved alert's endsAt). Together they date a recovery.
	counted map[string][]probeKey
	ended   map[probeKey]time.Time
	// stale holds the locations that left the quorum by silence (logged
	// once each way).
	stale map[probeKey]bool
	// total is, per probe, how many locations probe it, as the latest
	// quorum alert delivered said (annotation locations).
	total map[string]int
	// started is when the engine was built: silence is logged from then.
	started time.Time
	// ensured holds the leaves whose status log is open (a reload may add some).
	ensured map[string]bool

	words *words.Catalogue

	hookMu sync.Mutex
	hooks  []func()
	wake   chan struct{}

	inbox   chan probes.Result // results queued by Inbox for Run
	dropped prometheus.Counter

	// leading is false on a follower (Options.Holder): Tick and Run do
	// nothing of what must happen once.
	leading atomic.Bool
	// mark is how far the view read from the database goes (Refresh reads
	// what changed after it); guarded by mu.
	mark store.EngineMark
	// viewLoads and viewRows count the view's reloads (whole or only what
	// changed) and the rows they read.
	viewLoads *prometheus.CounterVec
	viewRows  prometheus.Counter

	// epoch is the lease epoch Lead was given (store.FenceOf its ctx): an
	// Alertmanager delivery the leader receives is applied fenced with it.
	epoch atomic.Int64
}

type probeKey struct{ probe, location string }

var _ probes.Sink = (*Engine)(nil)

// New builds an engine from what the database remembers (probe health,
// component statuses, firing alerts) and registers its metrics.
func New(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Store == nil || opts.Config == nil {
		return nil, errors.New("new incident engine: Store and Config are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Interval <= 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.Words == nil {
		opts.Words = words.Builtin()
	}
	if opts.Inbox <= 0 {
		opts.Inbox = DefaultInbox
	}
	if opts.InboxPoll <= 0 {
		opts.InboxPoll = 500 * time.Millisecond
	}
	e := &Engine{opts: opts, st: opts.Store, clock: opts.Clock, logger: opts.Logger, mu: newEngineLock(), inbox: make(chan probes.Result, opts.Inbox),
		probes: map[probeKey]*store.ProbeHealth{}, byComp: map[string]map[probeKey]*store.ProbeHealth{}, ailing: map[string]int{}, pending: map[probeKey]store.ProbeHealth{}, unsaved: map[probeKey]store.ProbeHealth{}, wake: make(chan struct{}, 1), words: opts.Words,
		counted: map[string][]probeKey{}, ended: map[probeKey]time.Time{}, stale: map[probeKey]bool{}, started: opts.Clock.Now(), total: map[string]int{}}
	e.leading.Store(opts.Holder == "")
	f := promauto.With(opts.Registerer)
	e.viewLoads = f.NewCounterVec(prometheus.CounterOpts{Name: "probed_incident_view_loads_total",
		Help: "Times the incident engine read its view (probe health, component statuses, firing alerts) from the database, by how much: whole (start, taking or losing the lead, a probe's health deleted) or changes (a follower reading what changed since its last read)."},
		[]string{"read"})
	e.viewRows = f.NewCounter(prometheus.CounterOpts{Name: "probed_incident_view_rows_read_total",
		Help: "Rows the incident engine read from the database for its view (probed_incident_view_loads_total)."})
	for _, r := range []string{"whole", "changes"} {
		e.viewLoads.WithLabelValues(r)
	}
	if err := e.load(ctx, true); err != nil {
		return nil, fmt.Errorf("new incident engine: %w", err)
	}
	e.dropped = f.NewCounter(prometheus.CounterOpts{Name: "probed_incident_results_dropped_total",
		Help: "Probe results the incident engine never evaluated: its inbox was full (it waited on the database for long)."})
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "probed_incident_results_queued", Help: "Probe results waiting for the incident engine."},
		func() float64 { return float64(len(e.inbox)) })
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(&collector{e: e}); err != nil {
			return nil, fmt.Errorf("new incident engine: register metrics: %w", err)
		}
	}
	return e, nil
}

// load reads what the database remembers (probe health, component
// statuses, firing alerts) into the engine, forgetting what it held; all
// or nothing. With ensure it also opens the status log of the leaves.
func (e *Engine) load(ctx context.Context, ensure bool) error {
	v, err := e.st.LoadEngineView(ctx, store.EngineMark{})
	if err != nil {
		return err
	}
	e.viewReads(v)
	e.setProbes(v.Probes)
	e.comps, e.alerts, e.mark = v.Components, v.Alerts, v.Mark
	// Health not saved yet is the previous term's (or older than what was
	// just read): never written over what the database says now.
	e.healthMu.Lock()
	clear(e.pending)
	clear(e.unsaved)
	e.healthMu.Unlock()
	e.counted, e.ended, e.stale, e.total = map[string][]probeKey{}, map[probeKey]time.Time{}, map[probeKey]bool{}, map[string]int{}
	e.started = e.clock.Now()
	if !ensure {
		return nil
	}
	e.ensured = map[string]bool{}
	return e.ensureLeaves(ctx, e.opts.Config())
}

// viewReads counts one read of the engine's view.
func (e *Engine) viewReads(v store.EngineView) {
	read := "changes"
	if v.Full {
		read = "whole"
	}
	e.viewLoads.WithLabelValues(read).Inc()
	e.viewRows.Add(float64(v.Rows))
}

// setProbes makes hs every probe's health the engine knows.
func (e *Engine) setProbes(hs []store.ProbeHealth) {
	e.probes = make(map[probeKey]*store.ProbeHealth, len(hs))
	e.byComp = map[string]map[probeKey]*store.ProbeHealth{}
	e.ailing = map[string]int{}
	for i := range hs {
		e.putProbe(hs[i])
	}
}

// putProbe replaces what the engine knows of one probe's health with h.
func (e *Engine) putProbe(h store.ProbeHealth) {
	k := probeKey{h.Probe, h.Location}
	old, from := e.probes[k], ""
	if old != nil {
		from = old.Component
	}
	e.probes[k] = &h
	e.index(k, from, &h)
	e.countAiling(old, &h)
}

// Refresh brings a follower's view (the component health, alerts and
// locations the console and /metrics show) up to date with what the
// leader wrote, reading only what changed since the last time (a few rows
// of 10,000 probes; store.LoadEngineView); it does nothing on the leader,
// whose state is its own.
func (e *Engine) Refresh(ctx context.Context) error {
	if e.leading.Load() {
		return nil
	}
	if err := e.mu.LockContext(ctx); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if e.leading.Load() {
		return nil
	}
	v, err := e.st.LoadEngineView(ctx, e.mark)
	if err != nil {
		return fmt.Errorf("incident engine: refresh the follower's view: %w", err)
	}
	e.viewReads(v)
	if v.Full {
		e.setProbes(v.Probes)
	} else {
		for _, h := range v.Probes {
			e.putProbe(h)
		}
	}
	if v.Components != nil {
		e.comps = v.Components
	}
	if v.AlertsRead {
		e.alerts = v.Alerts
	}
	// The rest (the quorum's memory, when the engine started) is the
	// leader's evaluation, which a follower does not make.
	e.mark = v.Mark
	return nil
}

// Lead makes a follower engine (Options.Holder) the leader's: it rebuilds
// its state from the database, which the previous leader kept there, and
// from then on Tick and Run act. Run it with the leader's fenced context
// (store.Fenced).
func (e *Engine) Lead(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.load(ctx, true); err != nil {
		return fmt.Errorf("incident engine: take the lead: %w", err)
	}
	ep, _ := store.FenceOf(ctx)
	e.epoch.Store(ep)
	e.leading.Store(true)
	return nil
}

// Follow stops the engine acting as the leader's (the lease was lost);
// it waits for a decision in progress to end.
func (e *Engine) Follow() {
	e.mu.Lock()
	e.leading.Store(false)
	// What it held as the leader may hold health it never saved: the
	// first refresh reads the whole view again.
	e.mark = store.EngineMark{}
	e.mu.Unlock()
}

// Leading tells whether the engine acts as the leader's.
func (e *Engine) Leading() bool { return e.leading.Load() }

// ensureLeaves opens the status log of leaves not seen yet, so uptime
// counts from when probed first knew a component.
func (e *Engine) ensureLeaves(ctx context.Context, cfg *config.Config) error {
	var fresh []string
	for _, c := range cfg.Leaves() {
		if !e.ensured[c.ID] {
			fresh = append(fresh, c.ID)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := e.st.EnsureComponents(ctx, fresh); err != nil {
		return err
	}
	for _, c := range fresh {
		e.ensured[c] = true
	}
	return nil
}

// OnChange registers fn to be called after anything public or operator-
// visible changed (a draft, an approval, a maintenance step). fn must be quick.
func (e *Engine) OnChange(fn func()) {
	e.hookMu.Lock()
	e.hooks = append(e.hooks, fn)
	e.hookMu.Unlock()
}

// Wake makes a running engine tick soon: another holder changed something
// (a maintenance scheduled or started there) that it should act on now
// rather than at its next Interval.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) changed() {
	e.hookMu.Lock()
	hooks := slices.Clone(e.hooks)
	e.hookMu.Unlock()
	for _, h := range hooks {
		h()
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Record evaluates one finished probe run at once, waiting for the engine's
// lock, and saves the probe health it changed (tests; the scheduler hands
// results to Inbox instead).
func (e *Engine) Record(ctx context.Context, r probes.Result) error {
	cfg := e.opts.Config()
	e.mu.Lock()
	changed, err := e.record(ctx, cfg, r)
	e.mu.Unlock()
	if changed {
		e.changed()
	}
	return errors.Join(err, e.saveHealth(ctx))
}

// saveHealth writes the pending probe health outside the engine's lock
// (taking it only to collect what is pending).
func (e *Engine) saveHealth(ctx context.Context) error {
	e.mu.Lock()
	if len(e.pending) == 0 {
		e.mu.Unlock()
		return nil
	}
	e.healthMu.Lock()
	e.collectPending()
	e.mu.Unlock()
	defer e.healthMu.Unlock()
	return e.writeUnsaved(ctx)
}

// saveHealthLocked writes the pending probe health now; mu is held (a
// decision that rests on it follows).
func (e *Engine) saveHealthLocked(ctx context.Context) error {
	e.healthMu.Lock()
	defer e.healthMu.Unlock()
	e.collectPending()
	return e.writeUnsaved(ctx)
}

// collectPending moves pending into unsaved, the newer health of a probe
// replacing what an earlier write left; mu and healthMu are held.
func (e *Engine) collectPending() {
	for k, h := range e.pending {
		e.unsaved[k] = h
	}
	clear(e.pending)
}

// writeUnsaved writes unsaved in one transaction; on failure it stays for
// the next write. healthMu is held.
func (e *Engine) writeUnsaved(ctx context.Context) error {
	if len(e.unsaved) == 0 {
		return nil
	}
	batch := slices.Collect(maps.Values(e.unsaved))
	if err := e.st.SaveProbeHealths(ctx, batch); err != nil {
		return err
	}
	clear(e.unsaved)
	return nil
}

func (e *Engine) record(ctx context.Context, cfg *config.Config, r probes.Result) (bool, error) {
	if r.Component == "" || cfg.Component(r.Component) == nil {
		return false, nil // a probe of a component no longer configured
	}
	k := probeKey{r.Probe, r.Location}
	h, ok := e.probes[k]
	if !ok {
		h = &store.ProbeHealth{Probe: r.Probe, Location: r.Location, Component: r.Component, Since: r.Start}
		e.probes[k] = h
	}
	before := *h
	step(h, r, cfg.Incidents, latencyObjective(cfg, r.Component))
	if !ok || before.Component != h.Component {
		e.index(k, before.Component, h)
	}
	if ok {
		e.countAiling(&before, h)
	} else {
		e.countAiling(nil, h)
	}
	if healthChanged(before, *h) {
		e.pending[k] = *h // saved by saveHealth, or before a decision
	}
	if e.stale[k] {
		delete(e.stale, k)
		e.logger.Info("location reports again and is back in the quorum", "probe", r.Probe, "location", r.Location)
	}
	if !r.Success {
		// Fresh evidence for an incident already following this component
		// (before evaluating: a draft made now gets it with its creation).
		if err := e.refreshEvidence(ctx, cfg, h); err != nil {
			return false, err
		}
	}
	return e.evaluate(ctx, cfg, r.Component)
}

// index files h under its component, and out of from when it moved.
func (e *Engine) index(k probeKey, from string, h *store.ProbeHealth) {
	if m := e.byComp[from]; m != nil && from != h.Component {
		delete(m, k)
	}
	m := e.byComp[h.Component]
	if m == nil {
		m = map[probeKey]*store.ProbeHealth{}
		e.byComp[h.Component] = m
	}
	m[k] = h
}

// countAiling keeps ailing in step with one probe's health moving from
// before (nil: new) to after.
func (e *Engine) countAiling(before, after *store.ProbeHealth) {
	if before != nil && (before.Down || before.Slow) {
		if e.ailing[before.Component]--; e.ailing[before.Component] <= 0 {
			delete(e.ailing, before.Component)
		}
	}
	if after.Down || after.Slow {
		e.ailing[after.Component]++
	}
}

// quiet reports that nothing speaks against component: none of its probes
// is down or slow at any location and no alert names it. Its status is
// then operational whatever the quorum, stale locations or evidence, which
// sources would find only by walking every probe of the component after
// every result (a quarter of probed's CPU with 100 probes a component).
func (e *Engine) quiet(component string) bool {
	if e.ailing[component] > 0 {
		return false
	}
	for _, a := range e.alerts {
		if a.Component == component {
			return false
		}
	}
	return true
}

func latencyObjective(cfg *config.Config, component string) time.Duration {
	if c := cfg.Component(component); c != nil {
		return c.LatencyObjective.D()
	}
	return 0
}

// step applies one result to a probe's hysteresis. Counters are capped so a
// steady state changes nothing (and writes nothing).
func step(h *store.ProbeHealth, r probes.Result, inc config.Incidents, objective time.Duration) {
	open, closeN := inc.FailuresToOpen, inc.SuccessesToClose
	h.Component = r.Component
	h.Last = r.Start
	if !r.Success {
		if h.Fails == 0 {
			h.Since = r.Start // first failure of this run
		}
		h.Fails = min(h.Fails+1, open)
		h.OKs = 0
		h.Slows = 0
		h.Checks = r.FailedChecks()
		if h.Fails >= open {
			h.Down = true
			h.Slow = false
		}
		return
	}
	if h.OKs == 0 {
		h.Since = r.Start
	}
	h.OKs = min(h.OKs+1, closeN)
	h.Fails = 0
	if h.Down && h.OKs >= closeN {
		h.Down = false
	}
	// Slows counts consecutive slow successes up, fast ones down, so that
	// degraded_performance has the same hysteresis as an outage.
	slow := objective > 0 && r.Duration > objective
	switch {
	case slow && h.Slows < 0:
		h.Slows = 1
	case slow:
		h.Slows = min(h.Slows+1, open)
	case h.Slows > 0:
		h.Slows = -1
	default:
		h.Slows = max(h.Slows-1, -closeN)
	}
	if h.Slows >= open {
		if !h.Slow {
			h.Checks = []probes.Check{{Name: "latency_objective", Message: fmt.Sprintf("runs took %s, slower than the %s objective", r.Duration.Round(time.Millisecond), objective),
				Evidence: map[string]string{"duration": r.Duration.String(), "objective": objective.String()}}}
		}
		h.Slow = true
	} else if h.Slows <= -closeN || objective == 0 {
		h.Slow = false
	}
	if h.Down {
		h.Slow = false
	}
}

func healthChanged(a, b store.ProbeHealth) bool {
	if a.Down != b.Down || a.Slow != b.Slow || a.Fails != b.Fails || a.OKs != b.OKs || a.Slows != b.Slows || !a.Since.Equal(b.Since) || a.Component != b.Component {
		return true
	}
	if len(a.Checks) != len(b.Checks) {
		return true
	}
	for i := range a.Checks {
		if a.Checks[i].Name != b.Checks[i].Name {
			return true
		}
	}
	return false
}

func probeEvidence(h *store.ProbeHealth) []status.Evidence {
	var out []status.Evidence
	for _, c := range h.Checks {
		out = append(out, status.Evidence{Component: h.Component, Source: status.OriginProbe, Probe: h.Probe, Location: h.Location,
			Check: c.Name, Message: c.Message, Since: h.Since, Last: h.Last, Values: maps.Clone(c.Evidence)})
	}
	if len(out) == 0 {
		out = append(out, status.Evidence{Component: h.Component, Source: status.OriginProbe, Probe: h.Probe, Location: h.Location,
			Check: "probe", Message: "the probe failed", Since: h.Since, Last: h.Last})
	}
	return out
}

func alertEvidence(a store.Alert) status.Evidence {
	vals := map[string]string{}
	for k, v := range a.Labels {
		vals["label."+k] = v
	}
	for k, v := range a.Annotations {
		vals["annotation."+k] = v
	}
	msg := a.Annotations["summary"]
	if msg == "" {
		msg = a.Annotations["description"]
	}
	if msg == "" {
		msg = "alert " + a.Alertname + " is firing"
	}
	probe, loc := a.Labels["probe"], a.Labels["location"]
	if probe == "" {
		probe = a.Alertname
	}
	if loc == "" {
		loc = "alertmanager"
	}
	return status.Evidence{Component: a.Component, Source: status.OriginAlertmanager, Probe: probe, Location: loc, Check: a.Alertname,
		Message: msg, Since: alertSince(a), Last: a.ReceivedAt, Values: vals}
}

// evaluate recomputes a component's status and, when it changed, saves it
// and brings the incidents in line. An outage begins at the earliest
// failure among the locations that count (a location joining later with an
// earlier failure moves it back); it ends at the last of their recoveries.
func (e *Engine) evaluate(ctx context.Context, cfg *config.Config, component string) (bool, error) {
	var srcs []source
	if !e.quiet(component) {
		srcs = e.sources(cfg, component)
	}
	st, since := componentStatus(srcs)
	cur, known := e.comps[component]
	if !known {
		cur = store.ComponentHealth{Component: component, Status: status.Operational}
	}
	if st != status.Operational {
		e.counted[component] = counted(srcs)
	}
	earlier := st != status.Operational && cur.Status != status.Operational && !since.IsZero() && since.Before(cur.Since)
	if cur.Status == st && known && !earlier {
		return false, nil
	}
	next := store.ComponentHealth{Component: component, Status: st, Since: cur.Since}
	now := e.clock.Now()
	switch {
	case st == status.Operational:
		next.Since = e.recoveredAt(e.counted[component], now)
		delete(e.counted, component)
	case cur.Status == status.Operational || !known || earlier:
		next.Since = since // a new outage begins at its first failure
	}
	if next.Since.IsZero() {
		next.Since = now
	}
	// The probe health this status rests on is saved before it.
	if err := e.saveHealthLocked(ctx); err != nil {
		return false, err
	}
	if err := e.st.SaveComponentHealth(ctx, next); err != nil {
		return false, err
	}
	e.comps[component] = next
	return e.reconcile(ctx, cfg, component)
}

// ComponentHealth returns the engine's computed (not public) status of
// every component it has seen. It waits for the engine's lock as an
// operator action does: until ctx ends or LockWait has passed, then an
// error wrapping store.ErrBusy.
func (e *Engine) ComponentHealth(ctx context.Context) (map[string]store.ComponentHealth, error) {
	if err := e.mu.LockContext(ctx); err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	return maps.Clone(e.comps), nil
}
