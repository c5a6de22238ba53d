package incident

import (
	"context"
	"github.com/probed/probed/status"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probed/probed/config"
	"github.com/probed/probed/store"
)

// collector reads the public component statuses and incident counts from
// the store at scrape time, so the metrics can never drift from the page.
type collector struct{ e *Engine }

var (
	componentStatusDesc = prometheus.NewDesc("probed_component_status",
		"Public status of each component: 1 for the status in force, 0 for the others.", []string{"component", "status"}, nil)
	incidentsDesc = prometheus.NewDesc("probed_incidents",
		"Incidents (not maintenances) by state.", []string{"state"}, nil)
	maintenancesDesc = prometheus.NewDesc("probed_maintenances",
		"Scheduled maintenances not yet over, by status.", []string{"status"}, nil)
	detectedStatusDesc = prometheus.NewDesc("probed_component_detected_status",
		"Status the incident engine computed for each component from every location it knows, with the quorum (before any operator decision): 1 for the status in force, 0 for the others.",
		[]string{"component", "status"}, nil)
	oldestDraftDesc = prometheus.NewDesc("probed_oldest_draft_created_timestamp_seconds",
		"When the oldest draft incident still awaiting an operator was created; absent when no draft waits (the DraftAwaitingApproval alert).",
		nil, nil)
	locationStaleDesc = prometheus.NewDesc("probed_location_stale",
		"1 while a location's results for a probe have stopped (silent for incidents.stale_intervals of its intervals) and it is out of the probe's quorum, else 0.",
		[]string{"probe", "location"}, nil)
)

// detectedStatuses are the statuses the engine computes (never under_maintenance: that is a decision).
var detectedStatuses = []string{status.Operational, status.DegradedPerformance, status.PartialOutage, status.MajorOutage}

var states = []string{status.StateDraft, status.StatePublished, status.StateResolved, status.StateRejected, status.StateWithdrawn}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- componentStatusDesc
	ch <- incidentsDesc
	ch <- maintenancesDesc
	ch <- detectedStatusDesc
	ch <- locationStaleDesc
	ch <- oldestDraftDesc
	ch <- probeDownDesc
	ch <- probeDownSinceDesc
}

// collectEngine writes what the engine holds in memory: the detected
// statuses, this location's down states, and which locations are silent.
func (c *collector) collectEngine(ctx context.Context, ch chan<- prometheus.Metric, cfg *config.Config) {
	e := c.e
	now := e.clock.Now()
	// A scrape never hangs on the engine waiting for a locked database:
	// after a second these series are left out of it instead.
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := e.mu.LockContext(ctx); err != nil {
		e.logger.Warn("metrics: the incident engine is busy with the database; its series are left out of this scrape", "err", err)
		return
	}
	defer e.mu.Unlock()
	for _, comp := range cfg.Leaves() {
		cur := status.Operational
		if h, ok := e.comps[comp.ID]; ok {
			cur = h.Status
		}
		for _, s := range detectedStatuses {
			v := 0.0
			if s == cur {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(detectedStatusDesc, prometheus.GaugeValue, v, comp.ID, s)
		}
	}
	collectDown(ch, cfg, e.probes)
	for _, h := range e.probes {
		if cfg.Probe(h.Probe) == nil {
			continue
		}
		v := 0.0
		if e.silent(cfg, h, now) {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(locationStaleDesc, prometheus.GaugeValue, v, h.Probe, h.Location)
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	cfg := c.e.opts.Config()
	c.collectEngine(context.Background(), ch, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cur, err := c.e.st.ComponentStatuses(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(componentStatusDesc, err)
	} else {
		for _, comp := range cfg.Leaves() {
			now := status.Operational
			if iv, ok := cur[comp.ID]; ok {
				now = iv.Status
			}
			for _, s := range status.ComponentStatuses() {
				v := 0.0
				if s == now {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(componentStatusDesc, prometheus.GaugeValue, v, comp.ID, s)
			}
		}
	}
	counts, err := c.e.st.CountIncidents(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(incidentsDesc, err)
	} else {
		for _, s := range states {
			ch <- prometheus.MustNewConstMetric(incidentsDesc, prometheus.GaugeValue, float64(counts[s]), s)
		}
	}
	drafts, err := c.e.st.ListIncidents(ctx, store.IncidentFilter{Kind: status.KindIncident, State: status.StateDraft, Limit: 10000})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(oldestDraftDesc, err)
	} else if len(drafts) > 0 {
		oldest := drafts[0].CreatedAt
		for _, d := range drafts {
			if d.CreatedAt.Before(oldest) {
				oldest = d.CreatedAt
			}
		}
		ch <- prometheus.MustNewConstMetric(oldestDraftDesc, prometheus.GaugeValue, float64(oldest.UnixMilli())/1000)
	}
	live, err := c.e.st.ListIncidents(ctx, store.IncidentFilter{Kind: status.KindMaintenance, State: status.StatePublished, Limit: 10000})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(maintenancesDesc, err)
		return
	}
	by := map[string]int{}
	for _, m := range live {
		by[m.Status]++
	}
	for _, s := range []string{status.StatusScheduled, status.StatusInProgress, status.StatusVerifying} {
		ch <- prometheus.MustNewConstMetric(maintenancesDesc, prometheus.GaugeValue, float64(by[s]), s)
	}
}
