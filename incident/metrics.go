package incident

import (
	"context"
	"github.com/probed/probed/status"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
)

var states = []string{status.StateDraft, status.StatePublished, status.StateResolved, status.StateRejected, status.StateWithdrawn}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- componentStatusDesc
	ch <- incidentsDesc
	ch <- maintenancesDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := c.e.opts.Config()
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
