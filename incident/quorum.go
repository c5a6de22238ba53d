package incident

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// One truth for a component: the holder knows each probe from several
// locations — its own results, and the alerts Prometheus sends through
// Alertmanager for the other locations (labels probe and location, see
// prometheus/probed.rules.yml) — and applies the quorum to all of them at
// once. A location silent for incidents.stale_intervals of the probe's
// intervals leaves the quorum: it counts neither up nor down.

// Source levels, worst last.
const (
	levelUp      = 0
	levelSlow    = 1 // slow at a quorum of locations
	levelPartial = 2 // down at a quorum of locations, not at all of them
	levelAll     = 3 // down at every location that reports it
)

// source is one input to a component's status: a probe over its locations,
// with the quorum applied, or an alert that names no location.
type source struct {
	level    int
	since    time.Time
	evidence []status.Evidence
	// counted are the locations the level rests on (empty when up).
	counted []probeKey
	// answers is whether the service still answers where it fails (see
	// findings.go): it calibrates the status the level stands for.
	answers answer
}

// answersOf is how much of a service the failures at these locations
// leave: the worst known among them; a location only an alert speaks for
// takes the others' answer, and with none known it counts as no answer.
func answersOf(locs []*locState, kind string) answer {
	out, known := answerNone, false
	for _, l := range locs {
		for _, ev := range l.evidence {
			f := diagnose(ev, kind)
			if f.answers == answerUnknown {
				continue
			}
			if !known || f.answers < out {
				out, known = f.answers, true
			}
		}
	}
	return out
}

// full is the status a failure of this kind stands for when every probe
// of the component fails at every location (the README's impact table);
// anything less is one step lower (stepDown).
func full(a answer) string {
	switch a {
	case answerWrong:
		return status.PartialOutage
	case answerInaccurate:
		return status.DegradedPerformance
	}
	return status.MajorOutage
}

func stepDown(s string) string {
	switch s {
	case status.MajorOutage:
		return status.PartialOutage
	case status.PartialOutage:
		return status.DegradedPerformance
	}
	return s
}

// locState is what one location says about one probe.
type locState struct {
	key      probeKey
	own      bool // from this instance's results, not an alert
	down     bool
	slow     bool
	since    time.Time
	evidence []status.Evidence
}

// probeView is one probe seen from every location the holder knows.
type probeView struct {
	locs map[string]*locState
	// total is how many locations probe it, as the alerts report
	// (annotation "locations"); at least the locations known here.
	total int
}

// stale reports whether a probe's results at a location stopped arriving:
// nothing for incidents.stale_intervals of the probe's intervals.
func stale(cfg *config.Config, h *store.ProbeHealth, now time.Time) bool {
	p := cfg.Probe(h.Probe)
	if p == nil {
		return true
	}
	period := p.Interval.D()
	if p.Schedule != "" {
		period = p.Period()
	}
	if period <= 0 {
		return false
	}
	return now.Sub(h.Last) > time.Duration(cfg.Incidents.StaleIntervals)*period
}

// silent is stale counted from the engine's start at the earliest: after a
// restart (even a long one) every location keeps its say for its intervals
// and is out only if it does not report within them.
func (e *Engine) silent(cfg *config.Config, h *store.ProbeHealth, now time.Time) bool {
	if h.Last.Before(e.started) {
		since := *h
		since.Last = e.started
		return stale(cfg, &since, now)
	}
	return stale(cfg, h, now)
}

// alertSince is when the outage an alert reports began at its location:
// the prober's first failed run (annotation down_since, Unix seconds), else
// the alert's startsAt. A down_since later than startsAt or a day before
// it is not believed.
func alertSince(a store.Alert) time.Time {
	v, err := strconv.ParseFloat(a.Annotations["down_since"], 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return a.StartsAt
	}
	t := time.UnixMilli(int64(v * 1000))
	if t.After(a.StartsAt) || t.Before(a.StartsAt.Add(-24*time.Hour)) {
		return a.StartsAt
	}
	return t
}

// alertLocation is the probe and location an alert speaks for, or "" when
// it names no location (a component-wide alert).
func alertLocation(a store.Alert) (probe, location string) {
	probe, location = a.Labels["probe"], a.Labels["location"]
	if probe == "" || location == "" {
		return "", ""
	}
	return probe, location
}

// sources gathers the probes and alerts that speak for a component.
func (e *Engine) sources(cfg *config.Config, component string) []source {
	now := e.clock.Now()
	views := map[string]*probeView{}
	view := func(probe string) *probeView {
		v := views[probe]
		if v == nil {
			v = &probeView{locs: map[string]*locState{}}
			views[probe] = v
		}
		return v
	}
	for k, h := range e.byComp[component] {
		if h.Component != component {
			continue
		}
		if p := cfg.Probe(h.Probe); p == nil || p.Component != component {
			continue
		}
		if e.silent(cfg, h, now) {
			continue
		}
		ls := &locState{key: k, own: true, down: h.Down, slow: h.Slow, since: h.Since}
		if h.Down || h.Slow {
			ls.evidence = probeEvidence(h)
		}
		view(h.Probe).locs[h.Location] = ls
	}
	var out []source
	for _, a := range e.alerts {
		if a.Component != component {
			continue
		}
		probe, loc := alertLocation(a)
		if probe == "" {
			lvl := levelAll
			if a.CompStatus == status.DegradedPerformance {
				lvl = levelSlow
			}
			ev := alertEvidence(a)
			ans := diagnose(ev, "").answers
			if ans == answerUnknown {
				ans = answerNone
			}
			out = append(out, source{level: lvl, since: a.StartsAt, evidence: []status.Evidence{ev},
				counted: []probeKey{{a.Alertname, "alertmanager"}}, answers: ans})
			continue
		}
		v := view(probe)
		if n, ok := e.total[probe]; ok {
			v.total = n // the latest delivery's count
		} else if n, err := strconv.Atoi(a.Annotations["locations"]); err == nil && n > v.total {
			v.total = n // after a restart: what the stored alerts said
		}
		cur := v.locs[loc]
		if cur != nil && cur.own {
			continue // this instance's own results for the location are first-hand
		}
		since := alertSince(a)
		if cur == nil {
			cur = &locState{key: probeKey{probe, loc}, since: since}
			v.locs[loc] = cur
		}
		if a.CompStatus == status.DegradedPerformance {
			cur.slow = true
		} else {
			cur.down = true
		}
		if since.Before(cur.since) {
			cur.since = since
		}
		cur.evidence = append(cur.evidence, alertEvidence(a))
	}
	names := make([]string, 0, len(views))
	for n := range views {
		names = append(names, n)
	}
	slices.Sort(names)
	quorum := cfg.Incidents.EffectiveQuorum()
	for _, n := range names {
		v := views[n]
		locs := make([]*locState, 0, len(v.locs))
		for _, l := range v.locs {
			locs = append(locs, l)
		}
		slices.SortFunc(locs, func(a, b *locState) int { return strings.Compare(a.key.location, b.key.location) })
		total := max(v.total, len(locs))
		var down, slow []*locState
		for _, l := range locs {
			switch {
			case l.down:
				down = append(down, l)
			case l.slow:
				slow = append(slow, l)
			}
		}
		// A strict count: an instance alone with quorum 2 never drafts from
		// its own results; the other locations speak through alerts.
		src := source{}
		var these []*locState
		switch {
		case len(down) >= quorum && len(down) >= total:
			src.level, these = levelAll, down
		case len(down) >= quorum:
			src.level, these = levelPartial, down
		case len(down)+len(slow) >= quorum && len(slow) > 0:
			src.level, these = levelSlow, append(down, slow...)
		}
		kind := ""
		if p := cfg.Probe(n); p != nil {
			kind = p.Kind
		}
		src.answers = answersOf(these, kind)
		for _, l := range these {
			if src.since.IsZero() || l.since.Before(src.since) {
				src.since = l.since
			}
			src.evidence = append(src.evidence, l.evidence...)
			src.counted = append(src.counted, l.key)
		}
		out = append(out, src)
	}
	return out
}

// componentStatus applies the impact table: whether the service still
// answers (the worst answer among the sources that are down) gives the
// status of a failure at every probe and location — major_outage with no
// answer, partial_outage with wrong answers, degraded_performance with
// inaccurate ones — and a failure at fewer (a probe of several, a quorum
// of locations but not all) is one step lower; slow at a quorum is
// degraded_performance. It returns the earliest failure among what counted.
func componentStatus(srcs []source) (string, time.Time) {
	worst := status.Operational
	every := len(srcs) > 0
	var since time.Time
	for _, s := range srcs {
		if s.level != levelAll {
			every = false
		}
		switch s.level {
		case levelUp:
			continue
		case levelSlow:
			worst = status.Worse(worst, status.DegradedPerformance)
		default:
			worst = status.Worse(worst, full(s.answers))
		}
		if since.IsZero() || s.since.Before(since) {
			since = s.since
		}
	}
	if worst == status.Operational {
		return worst, time.Time{}
	}
	if !every {
		worst = stepDown(worst)
	}
	return worst, since
}

// counted lists every location a component's status rests on.
func counted(srcs []source) []probeKey {
	var out []probeKey
	for _, s := range srcs {
		out = append(out, s.counted...)
	}
	return out
}

// recoveredAt is when an outage ended: the last recovery among the
// locations that counted for it (a probe's first successful run here, an
// alert's endsAt for the others), never after now; now when none is known.
func (e *Engine) recoveredAt(keys []probeKey, now time.Time) time.Time {
	var last time.Time
	for _, k := range keys {
		var t time.Time
		if h, ok := e.probes[k]; ok && !h.Down && !h.Slow {
			t = h.Since
		} else if end, ok := e.ended[k]; ok {
			t = end
		}
		if t.After(last) {
			last = t
		}
	}
	if last.IsZero() || last.After(now) {
		return now
	}
	return last
}

// noteStale logs each location that fell silent and left a probe's quorum
// (once; a result brings it back, see record).
func (e *Engine) noteStale(cfg *config.Config) {
	now := e.clock.Now()
	for k, h := range e.probes {
		if e.stale[k] || cfg.Probe(h.Probe) == nil || !e.silent(cfg, h, now) {
			continue
		}

		e.stale[k] = true
		e.logger.Warn("location left the quorum: no results", "probe", h.Probe, "location", h.Location,
			"last_result", h.Last, "silent_for", now.Sub(h.Last).Round(time.Second), "stale_intervals", cfg.Incidents.StaleIntervals)
	}
}

// Location is one location's standing in a probe's quorum, for the console.
type Location struct {
	Probe, Location, Component string
	Down, Slow, Stale          bool
	Since, Last                time.Time
}

// Locations lists every probe and location the engine holds results for,
// with whether each is silent (out of the quorum). It waits for the
// engine's lock as ComponentHealth does (store.ErrBusy past the wait).
func (e *Engine) Locations(ctx context.Context) ([]Location, error) {
	cfg := e.opts.Config()
	now := e.clock.Now()
	if err := e.mu.LockContext(ctx); err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	out := make([]Location, 0, len(e.probes))
	for _, h := range e.probes {
		if cfg.Probe(h.Probe) == nil {
			continue
		}
		out = append(out, Location{Probe: h.Probe, Location: h.Location, Component: h.Component, Down: h.Down, Slow: h.Slow,
			Stale: e.silent(cfg, h, now), Since: h.Since, Last: h.Last})
	}
	slices.SortFunc(out, func(a, b Location) int {
		if c := strings.Compare(a.Probe, b.Probe); c != 0 {
			return c
		}
		return strings.Compare(a.Location, b.Location)
	})
	return out, nil
}
