package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
	"github.com/probed/probed/web/statuspage"
)

// storeSource reads the public page's data from the store: published and
// resolved incidents and maintenances (the store's filter; Build filters
// again), and the public component status log.
type storeSource struct {
	Store *store.Store
	// MaxRecords bounds the incidents read per rebuild (default 5000): the
	// history pages and feeds show at most this many.
	MaxRecords int
}

var _ statuspage.Source = storeSource{}

// PublicData implements Source.
func (s storeSource) PublicData(ctx context.Context, from, to time.Time) (statuspage.Data, error) {
	limit := s.MaxRecords
	if limit <= 0 {
		limit = 5000
	}
	incs, err := s.Store.ListIncidents(ctx, store.IncidentFilter{State: status.StatePublished + "," + status.StateResolved, Limit: limit})
	if err != nil {
		return statuspage.Data{}, fmt.Errorf("read public incidents: %w", err)
	}
	var d statuspage.Data
	for _, inc := range incs {
		d.Records = append(d.Records, recordOf(inc))
	}
	log, err := s.Store.ComponentStatusLog(ctx, "", from, to)
	if err != nil {
		return statuspage.Data{}, fmt.Errorf("read component status log: %w", err)
	}
	// A component is watched from its first status interval (opened when
	// probed first knew it) on, while probed was up (the store's heartbeat
	// coverage; its gaps are no data).
	up, err := s.coverage(ctx, from, to)
	if err != nil {
		return statuspage.Data{}, err
	}
	d.Coverage = map[string][]statuspage.Interval{}
	for _, iv := range log {
		d.StatusLog = append(d.StatusLog, statuspage.StatusChange{Component: iv.Component, Status: iv.Status, At: iv.From})
		if _, ok := d.Coverage[iv.Component]; !ok {
			d.Coverage[iv.Component] = statuspage.Intersect(up, []statuspage.Interval{{Start: iv.From, End: to}})
		}
	}
	return d, nil
}

// coverage is when probed was up within [from, to). A store that has never
// recorded a heartbeat (the daemon does not run one) cannot tell: the whole
// span counts, as the status log is all there is.
func (s storeSource) coverage(ctx context.Context, from, to time.Time) ([]statuspage.Interval, error) {
	cov, err := s.Store.Coverage(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("read coverage: %w", err)
	}
	if len(cov) == 0 {
		ever, err := s.Store.Coverage(ctx, time.Unix(0, 0), to)
		if err != nil {
			return nil, fmt.Errorf("read coverage: %w", err)
		}
		if len(ever) == 0 {
			return []statuspage.Interval{{Start: from, End: to}}, nil
		}
	}
	out := make([]statuspage.Interval, len(cov))
	for i, iv := range cov {
		out[i] = statuspage.Interval{Start: iv.Start, End: iv.End}
	}
	return statuspage.Normalize(out), nil
}

func recordOf(inc status.Incident) statuspage.Record {
	r := statuspage.Record{ID: inc.ID, Kind: inc.Kind, State: inc.State, Status: inc.Status, Impact: inc.Impact,
		Title: inc.Title, CreatedAt: inc.CreatedAt}
	r.PublishedAt = deref(inc.PublishedAt)
	r.MonitoringAt = deref(inc.MonitoringAt)
	r.ResolvedAt = deref(inc.ResolvedAt)
	r.ScheduledFor = deref(inc.ScheduledFor)
	r.ScheduledUntil = deref(inc.ScheduledUntil)
	for _, c := range inc.Components {
		r.Components = append(r.Components, statuspage.RecordComponent{ID: c.ID, Status: c.Status})
		// The outage began when the engine saw it, which can be before publication.
		if c.Since != nil && (r.StartedAt.IsZero() || c.Since.Before(r.StartedAt)) && inc.Kind == status.KindIncident {
			r.StartedAt = *c.Since
		}
	}
	for _, u := range inc.Updates {
		ru := statuspage.RecordUpdate{ID: u.ID, Status: u.Status, Body: u.Body, CreatedAt: u.CreatedAt,
			DisplayAt: u.DisplayAt, Notify: u.Notify}
		for _, a := range u.Affected {
			ru.Affected = append(ru.Affected, statuspage.AffectedComponent{ID: a.ID, OldStatus: a.OldStatus, NewStatus: a.NewStatus})
		}
		r.Updates = append(r.Updates, ru)
	}
	if pm := inc.Postmortem; pm.Published() {
		r.Postmortem, r.PostmortemAt, r.PostmortemUpdatedAt = pm.Body, deref(pm.PublishedAt), deref(pm.BodyUpdatedAt)
		r.PostmortemNotified = pm.NotifiedSubscribers
	}
	return r
}

// pageMetrics are the status page's snapshot metrics (statuspage.BuildObserver).
type pageMetrics struct {
	builds  *prometheus.CounterVec
	seconds prometheus.Histogram
	at      prometheus.Gauge
}

var _ statuspage.BuildObserver = (*pageMetrics)(nil)

func newPageMetrics(reg prometheus.Registerer) *pageMetrics {
	f := promauto.With(reg)
	m := &pageMetrics{
		builds: f.NewCounterVec(prometheus.CounterOpts{Name: "probed_status_snapshot_builds_total",
			Help: "Public page snapshot builds, by result (ok, error)."}, []string{"result"}),
		seconds: f.NewHistogram(prometheus.HistogramOpts{Name: "probed_status_snapshot_build_seconds",
			Help: "Time to read, build and render a public page snapshot.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}),
		at: f.NewGauge(prometheus.GaugeOpts{Name: "probed_status_snapshot_timestamp_seconds",
			Help: "When the public page snapshot in use was built."}),
	}
	m.builds.WithLabelValues("ok")
	m.builds.WithLabelValues("error")
	return m
}

// Built implements statuspage.BuildObserver.
func (m *pageMetrics) Built(ok bool, took time.Duration, at time.Time) {
	if !ok {
		m.builds.WithLabelValues("error").Inc()
		return
	}
	m.builds.WithLabelValues("ok").Inc()
	m.seconds.Observe(took.Seconds())
	m.at.Set(float64(at.Unix()))
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
