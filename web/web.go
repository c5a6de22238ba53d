// Package web puts probed's HTTP surfaces on their listeners: the public
// site (statuspage) and the subscriber pages (subscription) on the public
// listener; the console and operator API (console), metrics and reload on
// the operator listener (or both on one, SPEC §4).
package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/probed/probed/config"
	"github.com/probed/probed/incident"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/notify"
	"github.com/probed/probed/web/console"
	"github.com/probed/probed/web/statuspage"
	"github.com/probed/probed/web/subscription"
)

// Options is what the server needs. Config returns the configuration in
// force (it changes on reload).
type Options struct {
	Config   func() *config.Config
	Gatherer prometheus.Gatherer
	Reload   func(ctx context.Context) error
	Ready    func() error
	Logger   *slog.Logger
	Clock    clock.Clock
	// Public is the status page; nil: one built from Config alone, with
	// no history.
	Public *statuspage.Site
	// Incidents is the incident engine and Store the records behind the
	// operator API and the console; without either those routes answer 503.
	Incidents *incident.Engine
	Store     console.Store
	// AdminRoutes adds routes to the operator mux (the demo's fault panel
	// and mailbox); auth wraps a handler with the console's operator
	// authentication and CSRF rules.
	AdminRoutes func(mux *http.ServeMux, auth func(http.HandlerFunc) http.Handler)
	// Subscriptions is the subscription flow behind /subscribe and the
	// subscriber pages; nil: those routes answer 503.
	Subscriptions *notify.Subscriptions
	// Leader says which holder leads (GET /-/leader); nil: 404.
	Leader func(ctx context.Context) (LeaderStatus, error)
}

// LeaderStatus is GET /-/leader's answer: this holder, whether it leads,
// and the leader lease as the database has it (the console's dashboard
// shows the same).
type LeaderStatus = console.LeaderStatus

// Server holds the two route sets.
type Server struct {
	opts    Options
	public  *http.ServeMux
	admin   *http.ServeMux
	console *console.Console
}

// New builds the routes.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.NewRegistry()
	}
	s := &Server{opts: opts, public: http.NewServeMux(), admin: http.NewServeMux(),
		console: console.New(console.Options{Config: opts.Config, Store: opts.Store, Engine: opts.Incidents,
			Subscriptions: opts.Subscriptions, Logger: opts.Logger, Clock: opts.Clock, Leader: opts.Leader})}
	s.routes()
	return s
}

func (s *Server) routes() {
	for _, m := range []*http.ServeMux{s.public, s.admin} {
		m.HandleFunc("GET /healthz", s.healthz)
		m.HandleFunc("GET /readyz", s.readyz)
	}
	// A metric that cannot be read (the incident engine's, from a database
	// that is down) is left out and logged: the probes' metrics are still
	// served, never a whole scrape failing with it.
	s.admin.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{ErrorLog: slogErrorLog{s.opts.Logger}, ErrorHandling: promhttp.ContinueOnError}))
	s.publicRoutes()
	s.console.Routes(s.admin)
	if s.opts.AdminRoutes != nil {
		s.opts.AdminRoutes(s.admin, s.console.OperatorAuth)
	}
	// Reload is an operator action (SPEC §4): it takes a token like the API.
	s.admin.Handle("POST /-/reload", s.console.OperatorOnly(s.reload))
	if s.opts.Leader != nil {
		s.admin.Handle("GET /-/leader", s.console.OperatorOnly(s.leader))
	}
	// Go's profiler, as Prometheus and Alertmanager offer it, behind the
	// operator's token: a profile shows what probed is doing and costs CPU.
	s.admin.Handle("GET /debug/pprof/", s.console.OperatorOnly(pprof.Index))
	s.admin.Handle("GET /debug/pprof/cmdline", s.console.OperatorOnly(pprof.Cmdline))
	s.admin.Handle("GET /debug/pprof/profile", s.console.OperatorOnly(pprof.Profile))
	s.admin.Handle("GET /debug/pprof/symbol", s.console.OperatorOnly(pprof.Symbol))
	s.admin.Handle("POST /debug/pprof/symbol", s.console.OperatorOnly(pprof.Symbol))
	s.admin.Handle("GET /debug/pprof/trace", s.console.OperatorOnly(pprof.Trace))
	subscription.New(subscription.Options{Subscriptions: s.opts.Subscriptions, Logger: s.opts.Logger}).Routes(s.public)
}

// publicRoutes mounts the status page on the public mux.
func (s *Server) publicRoutes() {
	p := s.opts.Public
	if p == nil {
		if s.opts.Config == nil {
			return
		}
		var err error
		if p, err = statuspage.New(statuspage.Options{Config: s.opts.Config, Clock: s.opts.Clock, Logger: s.opts.Logger}); err != nil {
			s.opts.Logger.Error("status page unavailable", "err", err)
			return
		}
	}
	p.Routes(s.public)
}

// PublicHandler serves the public routes only.
func (s *Server) PublicHandler() http.Handler { return s.public }

// AdminHandler serves the operator routes only.
func (s *Server) AdminHandler() http.Handler { return s.admin }

// Handler serves both route sets on one listener (no admin_listen): the
// operator routes win where a path is on both.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ServeHTTP, not the handler Handler returns: only ServeHTTP sets
		// the request's path values ({id}).
		if _, pattern := s.admin.Handler(r); pattern != "" {
			s.admin.ServeHTTP(w, r)
			return
		}
		s.public.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.opts.Ready != nil {
		if err := s.opts.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Write([]byte("ready\n"))
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reload == nil {
		http.Error(w, "reload not available", http.StatusNotImplemented)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	if err := s.opts.Reload(ctx); err != nil {
		http.Error(w, "reload refused, the previous configuration keeps running:\n"+err.Error(), http.StatusBadRequest)
		return
	}
	w.Write([]byte("reloaded\n"))
}

func (s *Server) leader(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := s.opts.Leader(ctx)
	if err != nil {
		http.Error(w, "leader lease unreadable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

type slogErrorLog struct{ l *slog.Logger }

func (e slogErrorLog) Println(v ...any) { e.l.Error("metrics", "err", v) }
