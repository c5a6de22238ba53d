package probes

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// probeLabels are on every probe series.
var probeLabels = []string{"probe", "kind", "component", "location"}

// lastRun is what /metrics shows for one probe: its last finished run.
type lastRun struct {
	labels   []string // values of probeLabels
	success  bool
	duration float64
	checks   []Check
	samples  []Sample
}

// Collector exports the last run of every scheduled probe. A probe removed
// by a reload is forgotten, so its series disappear from the next scrape.
type Collector struct {
	mu    sync.RWMutex
	last  map[string]*lastRun
	descs map[string]*prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns an empty collector; register it once.
func NewCollector() *Collector {
	return &Collector{last: map[string]*lastRun{}, descs: map[string]*prometheus.Desc{}}
}

var (
	successDesc  = prometheus.NewDesc("probe_success", "Whether the probe's last run succeeded (1) or failed (0).", probeLabels, nil)
	durationDesc = prometheus.NewDesc("probe_duration_seconds", "How long the probe's last run took.", probeLabels, nil)
	checkDesc    = prometheus.NewDesc("probe_check_success", "Whether a named check of the probe's last run held (1) or failed (0).", append(append([]string{}, probeLabels...), "check", "severity"), nil)
)

// Describe sends nothing: the series depend on the configuration, so the
// collector is unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every probe's last run.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, lr := range c.last {
		ch <- prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, b2f(lr.success), lr.labels...)
		ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, lr.duration, lr.labels...)
		for _, chk := range mergeChecks(lr.checks) {
			ch <- prometheus.MustNewConstMetric(checkDesc, prometheus.GaugeValue, b2f(chk.OK), append(append([]string{}, lr.labels...), chk.Name, chk.Severity.String())...)
		}
		for _, s := range lr.samples {
			desc := c.descs[descKey(s)]
			vals := append([]string{}, lr.labels...)
			for _, l := range s.Labels {
				vals = append(vals, l.Value)
			}
			m, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, s.Value, vals...)
			if err != nil {
				ch <- prometheus.NewInvalidMetric(desc, err)
				continue
			}
			ch <- m
		}
	}
}

// Set records a probe's finished run.
func (c *Collector) Set(res Result, samples []Sample) {
	lr := &lastRun{labels: []string{res.Probe, res.Kind, res.Component, res.Location}, success: res.Success,
		duration: res.Duration.Seconds(), checks: res.Checks, samples: dedupeSamples(samples)}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range lr.samples {
		k := descKey(s)
		if _, ok := c.descs[k]; !ok {
			names := append([]string{}, probeLabels...)
			for _, l := range s.Labels {
				names = append(names, l.Name)
			}
			c.descs[k] = prometheus.NewDesc(s.Name, s.Help, names, nil)
		}
	}
	c.last[res.Probe] = lr
}

// Forget drops a probe's series.
func (c *Collector) Forget(probe string) {
	c.mu.Lock()
	delete(c.last, probe)
	c.mu.Unlock()
}

func descKey(s Sample) string {
	k := s.Name
	for _, l := range s.Labels {
		k += "\x00" + l.Name
	}
	return k
}

// mergeChecks folds repeated check names into one series: a check that ran
// several times (one regexp each) held only if every run held; a critical
// failure outranks a warning.
func mergeChecks(checks []Check) []Check {
	idx := map[string]int{}
	var out []Check
	for _, c := range checks {
		i, ok := idx[c.Name]
		if !ok {
			idx[c.Name] = len(out)
			out = append(out, c)
			continue
		}
		if !c.OK && (out[i].OK || c.Severity == Critical) {
			out[i] = c
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// dedupeSamples keeps the last value of each series (name and label values).
func dedupeSamples(in []Sample) []Sample {
	idx := map[string]int{}
	var out []Sample
	for _, s := range in {
		k := descKey(s)
		for _, l := range s.Labels {
			k += "\x01" + l.Value
		}
		if i, ok := idx[k]; ok {
			out[i] = s
			continue
		}
		idx[k] = len(out)
		out = append(out, s)
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
