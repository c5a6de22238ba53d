// Package config reads probes.yaml: strictly (unknown keys are errors),
// with defaults set inside the types, validated as a whole, and every problem
// reported at once with its file, line and key.
package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// Config is a whole probes.yaml.
type Config struct {
	Page     Page    `yaml:"page"`
	Server   Server  `yaml:"server"`
	Storage  Storage `yaml:"storage"`
	Location string  `yaml:"location"`
	// Role is what this instance does: RoleHolder (the default) probes,
	// drafts incidents and serves the page; RoleProber only probes and
	// exports metrics, for the other locations of a deployment.
	Role       string      `yaml:"role"`
	Components []Component `yaml:"components"`
	Probes     []Probe     `yaml:"probes"`
	Incidents  Incidents   `yaml:"incidents"`
	Notify     Notify      `yaml:"notify"`

	// File is the path the config was read from; Dir is its folder, against
	// which relative paths in the file are resolved.
	File string `yaml:"-"`
	Dir  string `yaml:"-"`

	// probeIndex maps probe names to their place in Probes (set by Parse).
	probeIndex map[string]int
}

// Page describes the public status page.
type Page struct {
	Name      string   `yaml:"name"`
	URL       string   `yaml:"url"`
	TimeZone  string   `yaml:"time_zone"`
	Languages []string `yaml:"languages"`

	// Location is TimeZone loaded.
	Location *time.Location `yaml:"-"`
}

// DefaultPage is used for what page: leaves out.
var DefaultPage = Page{Name: "probed", URL: "http://127.0.0.1:8080", TimeZone: "UTC", Languages: []string{"en", "ja"}}

// UnmarshalYAML sets defaults, then decodes.
func (p *Page) UnmarshalYAML(unmarshal func(any) error) error {
	*p = DefaultPage
	p.Languages = slices.Clone(DefaultPage.Languages)
	type plain Page
	return unmarshal((*plain)(p))
}

// Server says where probed listens.
type Server struct {
	Listen      string `yaml:"listen"`
	AdminListen string `yaml:"admin_listen"`
	// MaxConnections caps the connections each listener holds.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerClient caps them per client address (trusted
	// proxies of notify.subscribe.trusted_proxies excepted).
	MaxConnectionsPerClient int `yaml:"max_connections_per_client"`
}

// DefaultServer listens on loopback only.
var DefaultServer = Server{Listen: "127.0.0.1:8080", MaxConnections: 1024, MaxConnectionsPerClient: 64}

// UnmarshalYAML sets defaults, then decodes.
func (s *Server) UnmarshalYAML(unmarshal func(any) error) error {
	*s = DefaultServer
	type plain Server
	return unmarshal((*plain)(s))
}

// Storage says where history is kept and for how long.
type Storage struct {
	// Driver is the database: sqlite (the default: the file at Path) or
	// postgres (the server named by the DSN in DSNFile or the environment
	// variable DSNEnv, a secret like every other).
	Driver  string `yaml:"driver"`
	Path    string `yaml:"path"`
	DSNFile string `yaml:"dsn_file"`
	DSNEnv  string `yaml:"dsn_env"`
	// DSN is the PostgreSQL connection string read from DSNFile or DSNEnv
	// by Load; never logged.
	DSN string `yaml:"-"`
	// Retention is how long raw results are kept; hourly and daily rollups
	// are kept for RollupRetention.
	Retention       Duration `yaml:"retention"`
	RollupRetention Duration `yaml:"rollup_retention"`
	// CheckInterval is how often the SQLite file is checked for deletion
	// or replacement: a lost database is noticed within it.
	CheckInterval Duration `yaml:"check_interval"`
	// Holder names this holder among several on one PostgreSQL database,
	// in the leader lease, the logs and GET /-/leader (default: the host
	// name and the process id). LeaseTTL is how long the leader's lease
	// lasts unrenewed (renewed every third of it): another holder leads
	// within about LeaseTTL of the leader dying (DefaultLeaseTTL). Both are
	// for driver postgres.
	Holder   string   `yaml:"holder"`
	LeaseTTL Duration `yaml:"lease_ttl"`
}

// DefaultLeaseTTL is storage.lease_ttl's default: a leader that dies is
// replaced within about 10 s, plus a renewal period of the holder taking over.
const DefaultLeaseTTL = 10 * time.Second

// The storage drivers.
const (
	StorageSQLite   = "sqlite"
	StoragePostgres = "postgres"
)

// DefaultStorage keeps raw results 14 days and rollups 400 days.
var DefaultStorage = Storage{Driver: StorageSQLite, Path: "probed.db", Retention: Duration(14 * 24 * time.Hour), RollupRetention: Duration(400 * 24 * time.Hour),
	CheckInterval: Duration(30 * time.Second)}

// UnmarshalYAML sets defaults, then decodes.
func (s *Storage) UnmarshalYAML(unmarshal func(any) error) error {
	*s = DefaultStorage
	type plain Storage
	return unmarshal((*plain)(s))
}

// Component is a node of the component tree shown on the page. A component
// with children is a group; probes attach to leaves.
type Component struct {
	ID          string      `yaml:"id"`
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Components  []Component `yaml:"components"`
	// LatencyObjective: a component whose probes are up but slower than this
	// counts as degraded_performance. Zero turns the rule off.
	LatencyObjective Duration `yaml:"latency_objective"`
	// OnlyShowIfDegraded hides the component on the page while operational.
	OnlyShowIfDegraded bool `yaml:"only_show_if_degraded"`

	// Line is where the component starts in the file.
	Line int `yaml:"-"`
	// decodeErrs keeps what could not be decoded; see Probe.decodeErrs.
	decodeErrs []string
	// notMapping: the element is not a mapping at all; see Probe.notMapping.
	notMapping bool
}

// UnmarshalYAML decodes and remembers the component's line.
func (c *Component) UnmarshalYAML(unmarshal func(any) error) error {
	n, err := nodeOf(unmarshal)
	if err != nil {
		return err
	}
	type plain Component
	err = unmarshal((*plain)(c))
	c.Line = n.Line
	c.notMapping = n.Kind != yaml.MappingNode && err != nil
	return keepTypeErrors(err, &c.decodeErrs)
}

// IsGroup reports whether the component has children.
func (c *Component) IsGroup() bool { return len(c.Components) > 0 }

// Probe is one scheduled probe. Exactly the section named by Kind is set.
type Probe struct {
	Name      string   `yaml:"name"`
	Component string   `yaml:"component"`
	Kind      string   `yaml:"kind"`
	Interval  Duration `yaml:"interval"`
	Schedule  string   `yaml:"schedule"`
	Timeout   Duration `yaml:"timeout"`

	HTTP *HTTPProbe `yaml:"http"`
	OCSP *OCSPProbe `yaml:"ocsp"`
	CRL  *CRLProbe  `yaml:"crl"`
	TSA  *TSAProbe  `yaml:"tsa"`
	ACME *ACMEProbe `yaml:"acme"`

	// Line is where the probe starts in the file.
	Line int `yaml:"-"`
	// decodeErrs keeps what could not be decoded: yaml drops a list element
	// whose unmarshaler fails, which would shift every later probe's index
	// and so the line of every later error.
	decodeErrs []string
	// notMapping: the element is not a mapping at all (a word or a list
	// where a probe belongs); validating its empty fields would only echo
	// the decode error.
	notMapping bool
}

// DefaultTimeout is a probe's timeout when none is given (and the interval
// allows it; otherwise 80% of the interval).
const DefaultTimeout = 10 * time.Second

// DefaultInterval is a probe's interval when neither interval nor schedule is given.
const DefaultInterval = time.Minute

// UnmarshalYAML decodes and remembers the probe's line.
func (p *Probe) UnmarshalYAML(unmarshal func(any) error) error {
	n, err := nodeOf(unmarshal)
	if err != nil {
		return err
	}
	type plain Probe
	err = unmarshal((*plain)(p))
	p.Line = n.Line
	p.notMapping = n.Kind != yaml.MappingNode && err != nil
	return keepTypeErrors(err, &p.decodeErrs)
}

// nodeOf returns the node an unmarshaler is decoding, for its line and kind.
// The func-style unmarshalers (`type plain T; unmarshal((*plain)(x))`) keep
// the decoder's KnownFields; yaml.Node.Decode would start a lax one.
func nodeOf(unmarshal func(any) error) (yaml.Node, error) {
	var c nodeCapture
	err := unmarshal(&c)
	return c.n, err
}

// nodeCapture keeps the node it is decoded from (decoding into a *yaml.Node
// through a func-style unmarshaler would treat Node as a struct).
type nodeCapture struct{ n yaml.Node }

func (c *nodeCapture) UnmarshalYAML(n *yaml.Node) error {
	c.n = *n
	return nil
}

// List is a YAML list of scalars that keeps every element in its place. yaml
// drops an element it cannot decode, which would shift every later element,
// and so the index validation reports for it (status: [1e400, -1] would call
// -1 status[0], and an error at status[0] would hide it). Here a bad element
// stays as T's zero value and its error is reported with the others.
type List[T any] []T

// UnmarshalYAML decodes each element on its own.
func (l *List[T]) UnmarshalYAML(unmarshal func(any) error) error {
	var nodes []nodeCapture
	if err := unmarshal(&nodes); err != nil {
		return err
	}
	out := make(List[T], len(nodes))
	var errs []string
	for i := range nodes {
		// A scalar: the lax decoder of Node.Decode has no keys to miss.
		if err := nodes[i].n.Decode(&out[i]); err != nil {
			te, ok := errors.AsType[*yaml.TypeError](err)
			if !ok {
				return err
			}
			errs = append(errs, te.Errors...)
		}
	}
	*l = out
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

// keepTypeErrors stores yaml type errors in dst and reports them as no
// error, so the element stays in its list; other errors pass through.
func keepTypeErrors(err error, dst *[]string) error {
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		// A copy: yaml hands a func-style unmarshaler a slice of its own
		// error list, which later errors overwrite.
		*dst = slices.Clone(te.Errors)
		return nil
	}
	return err
}

// Incidents tunes how results become draft incidents.
type Incidents struct {
	FailuresToOpen   int `yaml:"failures_to_open"`
	SuccessesToClose int `yaml:"successes_to_close"`
	// Quorum is how many locations must see a probe down before it counts
	// as down; 0 means 1. An instance alone with a quorum above 1 drafts
	// only from Alertmanager alerts.
	Quorum int `yaml:"quorum"`
	// AutoResolve resolves a published incident by itself once all its
	// components have recovered, instead of proposing it to the operator.
	AutoResolve bool `yaml:"auto_resolve"`
	// StaleIntervals is how many of a probe's intervals a location may stay
	// silent before it leaves the quorum (it counts neither up nor down).
	StaleIntervals int `yaml:"stale_intervals"`
}

// EffectiveQuorum is Quorum with its default applied.
func (i Incidents) EffectiveQuorum() int { return max(1, i.Quorum) }

// DefaultIncidents: three failures in a row to open, two successes to
// close, a location silent for three intervals leaves the quorum.
var DefaultIncidents = Incidents{FailuresToOpen: 3, SuccessesToClose: 2, StaleIntervals: 3}

// UnmarshalYAML sets defaults, then decodes.
func (i *Incidents) UnmarshalYAML(unmarshal func(any) error) error {
	*i = DefaultIncidents
	type plain Incidents
	return unmarshal((*plain)(i))
}

// Notify configures outgoing mail and webhooks (config/notify.go has the
// rest of its types, defaults and validation).
type Notify struct {
	From string `yaml:"from"`
	SMTP SMTP   `yaml:"smtp"`
	// Concurrency is how many SMTP connections (and webhook posts) run at once.
	Concurrency int `yaml:"concurrency"`
	// Rate caps messages per second over all connections; 0 means no cap.
	Rate float64 `yaml:"rate"`
	// PerConnection is the most messages sent over one SMTP connection.
	PerConnection   int      `yaml:"per_connection"`
	Retry           Retry    `yaml:"retry"`
	QuarantineAfter int      `yaml:"quarantine_after"`
	WebhookTimeout  Duration `yaml:"webhook_timeout"`
	// MaintenanceReminder is how long before a scheduled window starts its
	// subscribers get a reminder (once per window); 0 sends none.
	MaintenanceReminder Duration  `yaml:"maintenance_reminder"`
	Subscribe           Subscribe `yaml:"subscribe"`
	// OperatorWebhooks tell the on-call operator about drafts (operator_webhooks.go).
	OperatorWebhooks []OperatorWebhook `yaml:"operator_webhooks"`
}

// SMTP is the relay mail goes through.
type SMTP struct {
	Host         string `yaml:"host"`
	Port         int    `yaml:"port"`
	TLS          string `yaml:"tls"` // starttls | tls | none
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// Timeout bounds dialling and each SMTP command.
	Timeout Duration `yaml:"timeout"`

	// Password is read at load from PasswordFile or, without it, from the
	// environment (SMTPPasswordEnv). Never log it.
	Password string `yaml:"-"`
}

// DefaultSMTP is a local relay with STARTTLS.
var DefaultSMTP = SMTP{Host: "127.0.0.1", Port: 25, TLS: "starttls", Timeout: Duration(30 * time.Second)}

// UnmarshalYAML sets defaults, then decodes.
func (s *SMTP) UnmarshalYAML(unmarshal func(any) error) error {
	*s = DefaultSMTP
	type plain SMTP
	return unmarshal((*plain)(s))
}

// The roles an instance can play (the role key).
const (
	RoleHolder = "holder"
	RoleProber = "prober"
)

// Prober reports whether the instance only probes and exports metrics.
func (c *Config) Prober() bool { return c.Role == RoleProber }

// Default returns the configuration of an empty file.
func Default() Config {
	c := Config{Page: DefaultPage, Server: DefaultServer, Storage: DefaultStorage, Location: "default", Role: RoleHolder, Incidents: DefaultIncidents}
	c.Page.Languages = slices.Clone(DefaultPage.Languages)
	c.Notify = DefaultNotify()
	return c
}

var (
	idRE        = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	probeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	cronParser  = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
)

// ParseSchedule parses a cron spec with seconds, or a descriptor such as @every 30s.
func ParseSchedule(spec string) (cron.Schedule, error) { return cronParser.Parse(spec) }

// Path resolves a path from the file against the config's folder.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// Component returns the component with an id, or nil.
func (c *Config) Component(id string) *Component {
	for i := range c.Components {
		if c.Components[i].ID == id {
			return &c.Components[i]
		}
		for j := range c.Components[i].Components {
			if c.Components[i].Components[j].ID == id {
				return &c.Components[i].Components[j]
			}
		}
	}
	return nil
}

// Leaves returns the leaf components in page order.
func (c *Config) Leaves() []Component {
	var out []Component
	for _, g := range c.Components {
		if g.IsGroup() {
			out = append(out, g.Components...)
		} else {
			out = append(out, g)
		}
	}
	return out
}

// Probe returns the probe with a name, or nil.
func (c *Config) Probe(name string) *Probe {
	// Callers look probes up per result: with thousands of probes a scan
	// per lookup dominated probed's CPU. The index is checked against the
	// slice, so a Config assembled or changed by hand is still answered.
	if i, ok := c.probeIndex[name]; ok && i < len(c.Probes) && c.Probes[i].Name == name {
		return &c.Probes[i]
	}
	for i := range c.Probes {
		if c.Probes[i].Name == name {
			return &c.Probes[i]
		}
	}
	return nil
}

// ReadSecret reads a *_file secret (a regular file of at most MaxFileBytes),
// trimming one trailing newline.
func (c *Config) ReadSecret(path string) (string, error) {
	b, err := readFile(c.Path(path), MaxFileBytes)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
