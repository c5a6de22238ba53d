// Package console serves the operator's side of probed on the operator
// listener: the console pages (/admin/), the operator API (/api/v1/), the
// Alertmanager receiver and the subscriber administration, all behind a
// token or a console session.
package console

import (
	"context"
	"github.com/probed/probed/status"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/incident"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/notify"
	"github.com/probed/probed/store"
	"github.com/probed/probed/words"
)

// Store is what the console reads and writes directly: tokens, sessions,
// listings and the audit log. Every change to an incident goes through the
// incident engine instead.
type Store interface {
	Authenticate(ctx context.Context, secret string) (string, error)
	CreateSession(ctx context.Context, tokenName string, ttl time.Duration) (string, store.Session, error)
	GetSession(ctx context.Context, secret string) (store.Session, error)
	DeleteSession(ctx context.Context, secret string) error
	ListIncidents(ctx context.Context, f store.IncidentFilter) ([]status.Incident, error)
	GetIncident(ctx context.Context, id int64) (*status.Incident, error)
	ComponentStatuses(ctx context.Context) (map[string]store.StatusInterval, error)
	Audit(ctx context.Context, actor, action, detail string) error
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
	Subscriber(ctx context.Context, id int64) (store.Subscriber, error)
	SubscriberCounts(ctx context.Context) (map[string]int, error)
	Deliveries(ctx context.Context, subscriber int64, limit int) ([]store.DeliveryLog, error)
	ListTemplates(ctx context.Context) ([]status.Template, error)
	GetTemplate(ctx context.Context, id int64) (*status.Template, error)
	TemplateNamed(ctx context.Context, name string) (*status.Template, error)
}

var _ Store = (*store.Store)(nil)

// Options is what the console needs. Config returns the configuration in
// force (it changes on reload).
type Options struct {
	Config func() *config.Config
	// Store and Engine back every operator route; without either the
	// operator routes answer 503.
	Store  Store
	Engine *incident.Engine
	// Subscriptions is the subscription flow behind the subscriber
	// administration; nil: those routes answer 503.
	Subscriptions *notify.Subscriptions
	Logger        *slog.Logger
	Clock         clock.Clock
	// Words is the catalogue the console's pages speak (nil: the builtin
	// one); a page is in page.languages' first language, or in the one the
	// operator's browser asks for among them.
	Words *words.Catalogue
	// Leader says which holder leads; the dashboard shows it when several
	// holders share the store (Holder not empty). nil: nothing shown.
	Leader func(ctx context.Context) (LeaderStatus, error)
}

// LeaderStatus is this holder, whether it leads, and the leader lease as
// the database has it (GET /-/leader answers it; the dashboard shows it).
// Holder is empty on SQLite, where the one process leads.
type LeaderStatus struct {
	Holder  string           `json:"holder"`
	Leading bool             `json:"leading"`
	Lease   store.Leadership `json:"lease"`
}

// Console serves the operator routes.
type Console struct {
	config func() *config.Config
	store  Store
	engine *incident.Engine
	subs   *notify.Subscriptions
	logger *slog.Logger
	clock  clock.Clock
	words  *words.Catalogue
	leader func(ctx context.Context) (LeaderStatus, error)
	cop    *http.CrossOriginProtection
	// adminTmpl holds the console's pages (admin.go).
	adminTmpl map[string]*template.Template
	// loginLimit counts POST /admin/login attempts per client (loginlimit.go).
	loginLimit *notify.Limiter
}

// New builds the console.
func New(opts Options) *Console {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Words == nil {
		opts.Words = words.Builtin()
	}
	c := &Console{words: opts.Words, leader: opts.Leader, config: opts.Config, store: opts.Store, engine: opts.Engine, subs: opts.Subscriptions,
		logger: opts.Logger, clock: opts.Clock, cop: http.NewCrossOriginProtection(),
		loginLimit: notify.NewLimiter(opts.Clock, loginLimitKeys)}
	if c.store == nil || c.engine == nil {
		c.store, c.engine = nil, nil
	}
	return c
}

// Routes mounts the operator routes on the operator mux.
func (s *Console) Routes(mux *http.ServeMux) {
	s.operatorRoutes(mux)
	s.subscriberAdminRoutes(mux)
}

func (s *Console) needSubscriptions(f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.subs == nil {
			http.Error(w, "503 subscriptions are not available on this server", http.StatusServiceUnavailable)
			return
		}
		f(w, r)
	}
}

// Handler serves the operator routes on a mux of their own.
func (s *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Routes(mux)
	return mux
}
