package probes

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
)

// probeLabels are on every probe series.
var probeLabels = []string{"probe", "kind", "component", "location"}

// lastRun is what /metrics shows for one probe: the series of its last
// finished run, built and checked when the run finished so that a scrape
// only sends them.
type lastRun struct {
	base   []*dto.LabelPair // probe, kind, component, location (shared by the series)
	series []gaugeSeries
}

// gaugeSeries is one gauge of a probe's last run. It is the compact form of
// a const metric: its label pairs are shared with the probe's other series
// (the base labels) and with every probe (check and phase names, interned),
// which matters at ten thousand probes and fifteen series each.
type gaugeSeries struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair // sorted by name; read-only once built
	value  float64
}

var _ prometheus.Metric = (*gaugeSeries)(nil)

// Desc returns the series' descriptor.
func (g *gaugeSeries) Desc() *prometheus.Desc { return g.desc }

// Write fills out as a gauge; the label pairs are shared, never written.
func (g *gaugeSeries) Write(out *dto.Metric) error {
	v := g.value
	out.Label = g.labels
	out.Gauge = &dto.Gauge{Value: &v}
	return nil
}

// maxInterned bounds the shared label pairs: past it, pairs are made per
// series (a prober exporting high-cardinality label values should not
// grow the table forever).
const maxInterned = 10000

// Collector exports the last run of every scheduled probe. A probe removed
// by a reload is forgotten, so its series disappear from the next scrape.
type Collector struct {
	mu    sync.RWMutex
	last  map[string]*lastRun
	descs map[string]descEntry         // by sample name
	pairs map[[2]string]*dto.LabelPair // interned extra label pairs
}

// descEntry is the one descriptor a sample name has.
type descEntry struct {
	desc       *prometheus.Desc
	help       string
	labelNames []string
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns an empty collector; register it once.
func NewCollector() *Collector {
	return &Collector{last: map[string]*lastRun{}, descs: map[string]descEntry{}, pairs: map[[2]string]*dto.LabelPair{}}
}

var (
	successDesc  = prometheus.NewDesc("probe_success", "Whether the probe's last run succeeded (1) or failed (0): no check of critical severity failed.", probeLabels, nil)
	durationDesc = prometheus.NewDesc("probe_duration_seconds", "How long the probe's last run took.", probeLabels, nil)
	lastRunDesc  = prometheus.NewDesc("probe_last_run_timestamp_seconds", "When the probe's last finished run started.", probeLabels, nil)
	// A check's severity is not a label: a check that passes has none, so
	// the label would flip between runs and split the series. Whether a
	// failure was critical shows in probe_success and in the stored result.
	checkDesc = prometheus.NewDesc("probe_check_success", "Whether a named check of the probe's last run held (1) or failed (0), critical or warning alike.", append(slices.Clone(probeLabels), "check"), nil)
)

// reservedLabels are the label names a prober's sample may not use.
var reservedLabels = append(slices.Clone(probeLabels), "check")

// Describe sends nothing: the series depend on the configuration, so the
// collector is unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every probe's last run.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, lr := range c.last {
		for i := range lr.series {
			ch <- &lr.series[i]
		}
	}
}

// Set records a probe's finished run. Series the exposition could not carry
// (a bad metric or label name or value, a reserved label, a name already
// used with other labels or help) are dropped and reported in the error;
// the rest are kept, so one prober's mistake never breaks the scrape.
func (c *Collector) Set(res Result, samples []Sample) error {
	values := []string{res.Probe, res.Kind, res.Component, res.Location}
	var errs []error
	for i, v := range values {
		if !utf8.ValidString(v) {
			return fmt.Errorf("probe %s: label %s value %q is not valid UTF-8", res.Probe, probeLabels[i], v)
		}
	}
	checks := mergeChecks(res.Checks)
	samples = dedupeSamples(samples)
	c.mu.Lock()
	defer c.mu.Unlock()
	lr := &lastRun{series: make([]gaugeSeries, 0, 3+len(checks)+len(samples))}
	if old := c.last[res.Probe]; old != nil && sameBase(old.base, values) {
		lr.base = old.base
	} else {
		for i, n := range probeLabels {
			lr.base = append(lr.base, newPair(n, values[i]))
		}
		sortPairs(lr.base)
	}
	add := func(d *prometheus.Desc, v float64, extra ...Label) {
		labels := lr.base
		if len(extra) > 0 {
			labels = make([]*dto.LabelPair, 0, len(lr.base)+len(extra))
			labels = append(labels, lr.base...)
			for _, l := range extra {
				if !utf8.ValidString(l.Value) {
					errs = append(errs, fmt.Errorf("%s: label %s value %q is not valid UTF-8", d, l.Name, l.Value))
					return
				}
				labels = append(labels, c.pair(l.Name, l.Value))
			}
			sortPairs(labels)
		}
		lr.series = append(lr.series, gaugeSeries{desc: d, labels: labels, value: v})
	}
	add(successDesc, b2f(res.Success))
	add(durationDesc, res.Duration.Seconds())
	add(lastRunDesc, float64(res.Start.UnixNano())/1e9)
	for _, chk := range checks {
		add(checkDesc, b2f(chk.OK), Label{"check", chk.Name})
	}
	for _, s := range samples {
		d, err := c.descFor(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		add(d, s.Value, s.Labels...)
	}
	c.last[res.Probe] = lr
	if len(errs) > 0 {
		return fmt.Errorf("probe %s: series dropped: %w", res.Probe, errors.Join(errs...))
	}
	return nil
}

// pair returns the shared label pair name=value. c.mu is held.
func (c *Collector) pair(name, value string) *dto.LabelPair {
	k := [2]string{name, value}
	if p, ok := c.pairs[k]; ok {
		return p
	}
	p := newPair(name, value)
	if len(c.pairs) < maxInterned {
		c.pairs[k] = p
	}
	return p
}

func newPair(name, value string) *dto.LabelPair { return &dto.LabelPair{Name: &name, Value: &value} }

func sortPairs(ps []*dto.LabelPair) {
	slices.SortFunc(ps, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
}

// sameBase reports whether base holds the label values (in probeLabels order).
func sameBase(base []*dto.LabelPair, values []string) bool {
	for _, p := range base {
		i := slices.Index(probeLabels, p.GetName())
		if i < 0 || values[i] != p.GetValue() {
			return false
		}
	}
	return len(base) == len(values)
}

// descFor returns the descriptor of a sample's metric, making it on first
// use. c.mu is held.
func (c *Collector) descFor(s Sample) (*prometheus.Desc, error) {
	// Classic names only: Prometheus before 3.0 and promtool's lint reject
	// the UTF-8 names client_golang would otherwise let through.
	if !model.IsValidLegacyMetricName(s.Name) {
		return nil, fmt.Errorf("%q is not a valid metric name", s.Name)
	}
	names := make([]string, 0, len(s.Labels))
	for _, l := range s.Labels {
		if !model.LabelName(l.Name).IsValidLegacy() || strings.HasPrefix(l.Name, "__") {
			return nil, fmt.Errorf("%s: %q is not a valid label name", s.Name, l.Name)
		}
		if slices.Contains(reservedLabels, l.Name) {
			return nil, fmt.Errorf("%s: label %q is set by probed", s.Name, l.Name)
		}
		names = append(names, l.Name)
	}
	if d, ok := c.descs[s.Name]; ok {
		if !slices.Equal(d.labelNames, names) || d.help != s.Help {
			return nil, fmt.Errorf("%s: labels %v and help %q differ from the first use (%v, %q)", s.Name, names, s.Help, d.labelNames, d.help)
		}
		return d.desc, nil
	}
	if strings.HasPrefix(s.Name, "probed_") || s.Name == "probe_success" || s.Name == "probe_duration_seconds" ||
		s.Name == "probe_check_success" || s.Name == "probe_last_run_timestamp_seconds" {
		return nil, fmt.Errorf("%s: a name probed sets itself", s.Name)
	}
	d := prometheus.NewDesc(s.Name, s.Help, append(slices.Clone(probeLabels), names...), nil)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	c.descs[s.Name] = descEntry{desc: d, help: s.Help, labelNames: names}
	return d, nil
}

// Forget drops a probe's series.
func (c *Collector) Forget(probe string) {
	c.mu.Lock()
	delete(c.last, probe)
	c.mu.Unlock()
}

// Probes lists the probes with a last run, sorted.
func (c *Collector) Probes() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.last))
	for p := range c.last {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
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
		k := s.Name
		for _, l := range s.Labels {
			k += "\x00" + l.Name + "\x01" + l.Value
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
