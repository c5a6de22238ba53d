package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/probed/probed/incident"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/web/httpserver"
)

// newProber finishes a daemon of role prober: the scheduler writes results
// to the store (history, and the state the PKI kinds keep between runs) and
// to a tracker that exports whether each probe counts as down here
// (probed_probe_down, for the quorum rule); no incident engine, page, mail
// or console. The holder hears of this location through Prometheus and
// Alertmanager.
func (d *Daemon) newProber(opts DaemonOptions, collector *probes.Collector) (*Daemon, error) {
	tracker, err := incident.NewTracker(d.Config, d.registry)
	if err != nil {
		d.store.Close()
		return nil, err
	}
	d.sched = probes.NewScheduler(probes.SchedulerOptions{Clock: opts.Clock, Logger: d.logger, Registerer: d.registry,
		Collector: collector, Sink: probes.Sinks{d.store, tracker}})
	d.env = probes.Env{Logger: d.logger, Clock: opts.Clock, State: d.store, Dialer: probes.DialerConfig{Transport: opts.Transport}}
	if err := d.sched.Apply(d.Config(), d.env); err != nil {
		d.store.Close()
		return nil, err
	}
	d.prober = proberHandler(d)
	return d, nil
}

// proberHandler serves what a prober-only instance offers: /metrics,
// /healthz and /readyz. Every other path is 404, so nothing of the page,
// the console or the operator API can leak from a location instance.
func proberHandler(d *Daemon) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{}))
	ok := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte(body))
		}
	}
	mux.HandleFunc("GET /healthz", ok("ok\n"))
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		// A lost or full database fails readiness here too (see Storage).
		if err := d.store.Healthy(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		ok("ready\n")(w, r)
	})
	mux.HandleFunc("/", http.NotFound)
	return mux
}

// serveProber serves the prober's routes on the listener, and on the
// operator listener too when one is configured.
func (d *Daemon) serveProber(g *errgroup.Group) []*http.Server {
	var servers []*http.Server
	pub := connState(httpserver.New(d.publicLn.Addr().String(), d.prober, d.logger), d.publicLn)
	servers = append(servers, pub)
	g.Go(func() error { return serveHTTP(pub, d.publicLn) })
	if d.adminLn != nil {
		adm := connState(httpserver.New(d.adminLn.Addr().String(), d.prober, d.logger), d.adminLn)
		servers = append(servers, adm)
		g.Go(func() error { return serveHTTP(adm, d.adminLn) })
	}
	return servers
}
