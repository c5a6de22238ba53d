// Package web serves probed's HTTP routes: the public status page, feeds and
// API v2 on the public listener; the console, operator API, metrics and
// reload on the operator listener (or both on one, SPEC §4).
package web

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/probed/probed/config"
	"github.com/probed/probed/incident"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/notify"
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
	// Public is the status page (public*.go); nil: one built from Config
	// alone, with no history.
	Public *Public
	// Incidents is the incident engine behind the operator API and the
	// console (api_v1*.go, admin*.go); nil: those routes answer 503.
	Incidents *incident.Engine
	// AdminRoutes adds routes to the operator mux (the demo's fault panel
	// and mailbox); auth wraps a handler with the console's operator
	// authentication and CSRF rules.
	AdminRoutes func(mux *http.ServeMux, auth func(http.HandlerFunc) http.Handler)
	// Subscriptions is the subscription flow behind /subscribe and the
	// subscriber pages (subscribe*.go); nil: those routes answer 503.
	Subscriptions *notify.Subscriptions
}

// Server holds the two route sets.
type Server struct {
	opts   Options
	public *http.ServeMux
	admin  *http.ServeMux
	cop    *http.CrossOriginProtection
	// adminTmpl holds the console's pages (admin.go).
	adminTmpl map[string]*template.Template
	// loginLimit counts POST /admin/login attempts per client (loginlimit.go).
	loginLimit *notify.Limiter
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
		loginLimit: notify.NewLimiter(opts.Clock, loginLimitKeys)}
	s.routes()
	return s
}

func (s *Server) routes() {
	for _, m := range []*http.ServeMux{s.public, s.admin} {
		m.HandleFunc("GET /healthz", s.healthz)
		m.HandleFunc("GET /readyz", s.readyz)
	}
	s.admin.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{ErrorLog: slogErrorLog{s.opts.Logger}}))
	s.publicRoutes()
	s.operatorRoutes()
	if s.opts.AdminRoutes != nil {
		s.opts.AdminRoutes(s.admin, s.OperatorAuth)
	}
	// Reload is an operator action (SPEC §4): it takes a token like the API.
	s.admin.Handle("POST /-/reload", s.operatorOnly(s.reload))
	s.subscribeRoutes()
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

// NewHTTPServer wraps a handler with the timeouts every listener needs.
func NewHTTPServer(addr string, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

type slogErrorLog struct{ l *slog.Logger }

func (e slogErrorLog) Println(v ...any) { e.l.Error("metrics", "err", v) }
