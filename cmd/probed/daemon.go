package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"

	"github.com/probed/probed/config"
	"github.com/probed/probed/incident"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/notify"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
	"github.com/probed/probed/web"
	"github.com/probed/probed/web/httpserver"
	"github.com/probed/probed/web/statuspage"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Daemon is a running probed: config, store, scheduler and HTTP servers.
type Daemon struct {
	path     string
	logger   *slog.Logger
	clock    clock.Clock
	registry *prometheus.Registry
	store    *store.Store
	sched    *probes.Scheduler
	web      *web.Server
	public   *statuspage.Site
	env      probes.Env
	// engine drafts incidents from results and serves the operator API;
	// engineDone closes when its ticker has stopped (before the store closes).
	engine     *incident.Engine
	engineDone chan struct{}
	// notify sends subscribers their mail (cmd/probed/notify.go); subs is
	// the subscription flow behind /subscribe.
	notify *notify.Worker
	subs   *notify.Subscriptions
	// opHooks posts drafts to notify.operator_webhooks (cmd/probed/notify.go).
	opHooks *notify.OperatorHooks
	// lead runs the leader's duties (engine, mail, operator webhooks,
	// housekeeping) while this holder leads (leader.go).
	lead    *leadership
	smtpTLS *tls.Config
	// storeCheck ticks the database file check (storage.check_interval;
	// a reload resets it).
	storeCheck *time.Ticker
	followOpts store.FollowOptions

	mu  sync.RWMutex
	cfg *config.Config
	// reloadMu makes a SIGHUP and a POST /-/reload arriving together apply
	// one after the other.
	reloadMu sync.Mutex

	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge

	// prober serves /metrics and health alone (role prober, prober.go);
	// nil on the holder.
	prober http.Handler

	// Addrs are the listeners' actual addresses once serving (public, admin).
	publicLn, adminLn net.Listener
}

// DaemonOptions tweaks a daemon for tests and the demo; the zero value is production.
type DaemonOptions struct {
	Clock     clock.Clock
	Transport http.RoundTripper
	// AdminRoutes adds routes to the operator listener (the demo's pages).
	AdminRoutes func(mux *http.ServeMux, auth func(http.HandlerFunc) http.Handler)
	// SMTPTLS verifies the SMTP relay (tests); nil: the system's roots.
	SMTPTLS *tls.Config
	// Follow tunes how other holders' changes are heard (follow.go).
	Follow store.FollowOptions
}

// NewDaemon loads the config, opens the store and builds every part; Serve runs it.
func NewDaemon(ctx context.Context, path string, logger *slog.Logger, opts DaemonOptions) (*Daemon, error) {
	cfg, err := config.Load(path, probes.Kinds())
	if err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	d := &Daemon{path: path, logger: logger, clock: opts.Clock, registry: prometheus.NewRegistry(), cfg: cfg, smtpTLS: opts.SMTPTLS,
		storeCheck: time.NewTicker(cfg.Storage.CheckInterval.D()), followOpts: opts.Follow}
	d.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := promauto.With(d.registry)
	f.NewGauge(prometheus.GaugeOpts{Name: "probed_build_info", Help: "Build information; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": goVersion()}}).Set(1)
	d.reloadOK = f.NewGauge(prometheus.GaugeOpts{Name: "probed_config_last_reload_successful", Help: "Whether the last configuration load or reload succeeded."})
	d.reloadTime = f.NewGauge(prometheus.GaugeOpts{Name: "probed_config_last_reload_success_timestamp_seconds", Help: "When the configuration was last loaded successfully."})
	d.reloadOK.Set(1)
	d.reloadTime.Set(float64(opts.Clock.Now().Unix()))

	// With several holders (PostgreSQL) results reach the leader's engine
	// through the store (leader.go); one holder hands them over in memory.
	var holder string
	if shared(cfg) && !cfg.Prober() {
		holder = holderName(cfg)
	}
	d.store, err = store.Open(ctx, store.Options{Driver: cfg.Storage.Driver, Path: cfg.Storage.Path, DSN: cfg.Storage.DSN, Clock: opts.Clock, Logger: logger.With("component", "store"), Registerer: d.registry,
		Retention: cfg.Storage.Retention.D(), RollupRetention: cfg.Storage.RollupRetention.D(), InboxHolder: holder})
	if err != nil {
		return nil, err
	}
	collector := probes.NewCollector()
	d.registry.MustRegister(collector)
	if cfg.Prober() {
		return d.newProber(opts, collector) // prober.go: probes and metrics only
	}
	d.engine, err = incident.New(ctx, incident.Options{Store: d.store, Config: d.Config, Clock: opts.Clock,
		Logger: logger.With("component", "incident"), Registerer: d.registry, Holder: holder})
	if err != nil {
		d.store.Close()
		return nil, err
	}
	d.engineDone = make(chan struct{})
	sinks := probes.Sinks{d.store, d.engine.Inbox()}
	if holder != "" {
		sinks = probes.Sinks{d.store}
	}
	d.sched = probes.NewScheduler(probes.SchedulerOptions{Clock: opts.Clock, Logger: logger, Registerer: d.registry,
		Collector: collector, Sink: sinks})
	d.env = probes.Env{Logger: logger, Clock: opts.Clock, State: d.store, Dialer: probes.DialerConfig{Transport: opts.Transport}}
	if err := d.sched.Apply(cfg, d.env); err != nil {
		d.store.Close()
		return nil, err
	}
	d.public, err = statuspage.New(statuspage.Options{Config: d.Config, Source: storeSource{Store: d.store}, Clock: opts.Clock,
		Logger: logger.With("component", "public"), Observer: newPageMetrics(d.registry)})
	if err != nil {
		d.store.Close()
		return nil, err
	}
	// The public snapshot is rebuilt whenever an incident or maintenance changes.
	d.engine.OnChange(d.public.Invalidate)
	if err := d.newNotify(ctx); err != nil {
		d.store.Close()
		return nil, err
	}
	d.lead = newLeadership(d.registry, d.store, holder != "", holder, cfg.Storage.LeaseTTL.D(), logger.With("component", "leader"), d.leaderDuties)
	d.lead.refresh = d.engine.Refresh
	d.web = web.New(web.Options{Config: d.Config, Gatherer: d.registry, Reload: d.Reload, Logger: logger, Clock: opts.Clock, Public: d.public, Incidents: d.engine, Store: d.store,
		AdminRoutes: opts.AdminRoutes, Subscriptions: d.subs, Ready: d.ready, Leader: d.lead.status})
	return d, nil
}

// Config returns the configuration in force.
func (d *Daemon) Config() *config.Config {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cfg
}

// Reload reads the config file again and applies it whole, or not at all:
// an invalid file leaves the running configuration (probes, schedules,
// page) exactly as it was, sets probed_config_last_reload_successful to 0
// and logs every error with its file and line. Reloads run one at a time.
func (d *Daemon) Reload(ctx context.Context) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	added, removed, err := d.reload(ctx)
	if err != nil {
		d.reloadOK.Set(0)
		if errs, ok := errors.AsType[config.Errors](err); ok {
			// One record per problem, so each file:line is greppable.
			for _, e := range errs {
				d.logger.Error("config error", "error", e.Error())
			}
		}
		d.logger.Error("config reload refused; the previous configuration keeps running", "file", d.path, "err", err)
		return err
	}
	d.reloadOK.Set(1)
	d.reloadTime.Set(float64(d.clock.Now().Unix()))
	if d.public != nil {
		d.public.Invalidate() // page name, components or languages may have changed
	}
	d.logger.Info("config reloaded", "file", d.path, "probes", len(d.Config().Probes), "added", added, "removed", removed)
	return nil
}

// restartOnly names the keys that changed between old and cfg but take
// effect only on restart. The connection string is a secret: a change is
// named, never shown.
func restartOnly(old, cfg *config.Config) []string {
	var fixed []string
	if cfg.Storage.Driver != old.Storage.Driver {
		fixed = append(fixed, fmt.Sprintf("storage.driver (%s → %s)", old.Storage.Driver, cfg.Storage.Driver))
	}
	if cfg.Storage.Path != old.Storage.Path {
		fixed = append(fixed, fmt.Sprintf("storage.path (%s → %s)", old.Storage.Path, cfg.Storage.Path))
	}
	if cfg.Storage.DSN != old.Storage.DSN {
		fixed = append(fixed, "storage.dsn_file/dsn_env (the connection string)")
	}
	if cfg.Storage.Holder != old.Storage.Holder {
		fixed = append(fixed, fmt.Sprintf("storage.holder (%q → %q)", old.Storage.Holder, cfg.Storage.Holder))
	}
	if cfg.Storage.LeaseTTL != old.Storage.LeaseTTL {
		fixed = append(fixed, fmt.Sprintf("storage.lease_ttl (%s → %s)", old.Storage.LeaseTTL, cfg.Storage.LeaseTTL))
	}
	if cfg.Server.Listen != old.Server.Listen {
		fixed = append(fixed, fmt.Sprintf("server.listen (%s → %s)", old.Server.Listen, cfg.Server.Listen))
	}
	if cfg.Role != old.Role {
		fixed = append(fixed, fmt.Sprintf("role (%s → %s)", old.Role, cfg.Role))
	}
	if cfg.Server.AdminListen != old.Server.AdminListen {
		fixed = append(fixed, fmt.Sprintf("server.admin_listen (%q → %q)", old.Server.AdminListen, cfg.Server.AdminListen))
	}
	return fixed
}

func (d *Daemon) reload(ctx context.Context) (added, removed []string, err error) {
	cfg, err := config.Load(d.path, probes.Kinds())
	if err != nil {
		return nil, nil, err
	}
	old := d.Config()
	if fixed := restartOnly(old, cfg); len(fixed) > 0 {
		return nil, nil, fmt.Errorf("%s: %s changed: these take effect only on restart; change them back to reload, or restart probed", d.path, strings.Join(fixed, ", "))
	}
	if err := d.sched.Apply(cfg, d.env); err != nil {
		return nil, nil, err
	}
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	d.store.SetRetention(cfg.Storage.Retention.D(), cfg.Storage.RollupRetention.D())
	if cfg.Storage.CheckInterval != old.Storage.CheckInterval {
		d.storeCheck.Reset(cfg.Storage.CheckInterval.D())
	}
	for _, p := range cfg.Probes {
		if old.Probe(p.Name) == nil {
			added = append(added, p.Name)
		}
	}
	for _, p := range old.Probes {
		if cfg.Probe(p.Name) == nil {
			removed = append(removed, p.Name)
		}
	}
	return added, removed, nil
}

// Listen opens the listeners; Serve uses them. Separate so tests and the
// demo can learn the ports before serving.
func (d *Daemon) Listen() error {
	cfg := d.Config()
	var err error
	if d.publicLn, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Server.Listen, err)
	}
	if cfg.Server.AdminListen != "" {
		if d.adminLn, err = net.Listen("tcp", cfg.Server.AdminListen); err != nil {
			d.publicLn.Close()
			return fmt.Errorf("listen %s: %w", cfg.Server.AdminListen, err)
		}
	} else if host, _, _ := net.SplitHostPort(cfg.Server.Listen); !isLoopback(host) && !cfg.Prober() {
		d.logger.Warn("operator routes are served on a public listener: set server.admin_listen to keep them inside", "listen", cfg.Server.Listen)
	}
	if d.adminLn != nil {
		d.publicLn, d.adminLn = d.capListener(d.publicLn, "public", 2), d.capListener(d.adminLn, "operator", 2)
	} else {
		d.publicLn = d.capListener(d.publicLn, "public", 1)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve runs the scheduler and the HTTP servers until ctx ends, reloading
// on SIGHUP; then it stops scheduling, lets runs finish, flushes the store.
func (d *Daemon) Serve(ctx context.Context) error {
	if d.publicLn == nil {
		if err := d.Listen(); err != nil {
			// Nothing ran yet: close the store NewDaemon opened.
			return errors.Join(err, d.store.Close())
		}
	}
	if d.public != nil {
		// The first snapshot is built before any listener answers, so the
		// first visitor gets the incidents under way, never a page
		// without them. Should it fail, the page answers 503 with
		// Retry-After (and /readyz fails) until Run builds one.
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := d.public.Rebuild(bctx); err != nil {
			d.logger.Error("public page: first snapshot not built; the page answers 503 until it is", "err", err)
		}
		cancel()
	}
	d.sched.Start()
	g, gctx := errgroup.WithContext(ctx)
	// The heartbeat marks when probed was up (the rest is "no data"); the
	// housekeeping rolls results up and applies the retention. Both end
	// with ctx, and store.Close waits for them.
	g.Go(func() error { return d.store.Heartbeat(gctx, runHolder(d.Config()), 0) })
	if d.engine == nil {
		g.Go(func() error { return d.store.Housekeep(gctx, 0) }) // a holder keeps house while it leads
	}
	// A deleted or replaced database file is an ERROR, a metric and a
	// failing /readyz within one check.
	g.Go(func() error {
		defer d.storeCheck.Stop()
		return d.store.WatchFile(gctx, d.storeCheck.C)
	})
	var servers []*http.Server
	if d.engine != nil {
		g.Go(func() error { return d.public.Run(gctx) })
		// The engine, the mail and the housekeeping run while this
		// holder leads (leader.go).
		g.Go(func() error {
			defer close(d.engineDone)
			return d.lead.run(gctx)
		})
		g.Go(func() error { return d.follow(gctx) })
	}
	if d.prober != nil {
		servers = d.serveProber(g)
	} else if d.adminLn != nil {
		pub := connState(httpserver.New(d.publicLn.Addr().String(), d.web.PublicHandler(), d.logger), d.publicLn)
		adm := connState(httpserver.New(d.adminLn.Addr().String(), d.web.AdminHandler(), d.logger), d.adminLn)
		servers = append(servers, pub, adm)
		g.Go(func() error { return serveHTTP(pub, d.publicLn) })
		g.Go(func() error { return serveHTTP(adm, d.adminLn) })
	} else {
		srv := connState(httpserver.New(d.publicLn.Addr().String(), d.web.Handler(), d.logger), d.publicLn)
		servers = append(servers, srv)
		g.Go(func() error { return serveHTTP(srv, d.publicLn) })
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-hup:
				_ = d.Reload(gctx)
			}
		}
	})
	d.logger.Info("probed started", "listen", d.publicLn.Addr().String(), "admin", addrOf(d.adminLn), "probes", len(d.Config().Probes), "location", d.Config().Location, "role", d.Config().Role)
	g.Go(func() error {
		<-gctx.Done()
		return d.shutdown(servers)
	})
	return g.Wait()
}

// ready is /readyz: the store reachable and the public page's first
// snapshot built (a balancer sends no visitor to a page that has none).
func (d *Daemon) ready() error {
	if err := d.store.Healthy(); err != nil {
		return err
	}
	if d.public != nil && !d.public.Built() {
		return errors.New("the public page's first snapshot is not built yet")
	}
	return nil
}

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

func serveHTTP(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// shutdown: stop scheduling and let the runs in flight finish (each within
// its timeout, plus the scheduler's grace for a prober that overruns it),
// close the HTTP servers (which serve /metrics until then), wait for the
// incident engine, flush the store's queue and close the database.
func (d *Daemon) shutdown(servers []*http.Server) error {
	var longest time.Duration
	for _, p := range d.Config().Probes {
		longest = max(longest, p.Timeout.D())
	}
	d.logger.Info("shutting down: scheduling stopped, waiting for runs in flight", "runs", d.sched.InFlight(), "longest_timeout", longest)
	ctx, cancel := context.WithTimeout(context.Background(), longest+10*time.Second)
	defer cancel()
	var errs []error
	if err := d.sched.Stop(ctx); err != nil {
		errs = append(errs, err)
	} else {
		d.logger.Info("runs in flight finished")
	}
	for _, s := range servers {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if d.engine != nil {
		select {
		case <-d.engineDone: // the leader's duties stopped (and the lease given up)
		case <-ctx.Done():
		}
	}
	if err := d.store.Close(); err != nil {
		errs = append(errs, err)
	} else {
		d.logger.Info("store flushed and closed")
	}
	d.logger.Info("stopped")
	return errors.Join(errs...)
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "probes.yaml", "config file")
	level := fs.String("log.level", "info", "log level: debug, info, warn, error")
	format := fs.String("log.format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	d, err := NewDaemon(ctx, *path, logger, DaemonOptions{})
	if err != nil {
		if errs, ok := errors.AsType[config.Errors](err); ok {
			printErrors(stderr, *path, errs)
			return exitError{1}
		}
		return err
	}
	return d.Serve(ctx)
}
