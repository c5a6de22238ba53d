package incident

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probed/probed/config"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
)

// Tracker applies the engine's per-probe hysteresis on an instance that
// holds no incidents (role prober): it exports whether each probe counts as
// down at this location (probed_probe_down and its since), judged exactly
// as the holder judges its own results, for the quorum rule in Prometheus.
// It keeps nothing on disk: after a restart a probe counts as up until
// incidents.failures_to_open runs fail again.
type Tracker struct {
	config func() *config.Config
	mu     sync.Mutex
	health map[probeKey]*store.ProbeHealth
}

var _ probes.Sink = (*Tracker)(nil)

// NewTracker builds a tracker and registers its metrics on reg.
func NewTracker(cfg func() *config.Config, reg prometheus.Registerer) (*Tracker, error) {
	if cfg == nil || reg == nil {
		return nil, errors.New("new tracker: config and registerer are required")
	}
	t := &Tracker{config: cfg, health: map[probeKey]*store.ProbeHealth{}}
	if err := reg.Register(trackerCollector{t}); err != nil {
		return nil, fmt.Errorf("new tracker: register metrics: %w", err)
	}
	return t, nil
}

// Record applies one finished run (probes.Sink).
func (t *Tracker) Record(_ context.Context, r probes.Result) error {
	cfg := t.config()
	t.mu.Lock()
	defer t.mu.Unlock()
	k := probeKey{r.Probe, r.Location}
	h, ok := t.health[k]
	if !ok {
		h = &store.ProbeHealth{Probe: r.Probe, Location: r.Location, Component: r.Component, Since: r.Start}
		t.health[k] = h
	}
	step(h, r, cfg.Incidents, latencyObjective(cfg, r.Component))
	return nil
}

type trackerCollector struct{ t *Tracker }

func (c trackerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- probeDownDesc
	ch <- probeDownSinceDesc
}

func (c trackerCollector) Collect(ch chan<- prometheus.Metric) {
	cfg := c.t.config()
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	collectDown(ch, cfg, c.t.health)
}

var (
	probeDownDesc = prometheus.NewDesc("probed_probe_down",
		"1 while the probe counts as down at this location (incidents.failures_to_open failed runs in a row, until incidents.successes_to_close succeed), else 0.",
		[]string{"probe", "component", "kind", "location"}, nil)
	probeDownSinceDesc = prometheus.NewDesc("probed_probe_down_since_timestamp_seconds",
		"While the probe counts as down at this location: when its first failed run began.",
		[]string{"probe", "component", "kind", "location"}, nil)
)

// collectDown writes the down state of this location's configured probes.
func collectDown(ch chan<- prometheus.Metric, cfg *config.Config, health map[probeKey]*store.ProbeHealth) {
	for i := range cfg.Probes {
		p := &cfg.Probes[i]
		h := health[probeKey{p.Name, cfg.Location}]
		down := h != nil && h.Down && h.Component == p.Component
		v := 0.0
		if down {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(probeDownDesc, prometheus.GaugeValue, v, p.Name, p.Component, p.Kind, cfg.Location)
		if down {
			ch <- prometheus.MustNewConstMetric(probeDownSinceDesc, prometheus.GaugeValue, float64(h.Since.UnixMilli())/1000, p.Name, p.Component, p.Kind, cfg.Location)
		}
	}
}
