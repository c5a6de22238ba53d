// Package config reads probes.yaml: strictly (unknown keys are errors),
// with defaults set inside the types, validated as a whole, and every problem
// reported at once with its file, line and key.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// Config is a whole probes.yaml.
type Config struct {
	Page       Page        `yaml:"page"`
	Server     Server      `yaml:"server"`
	Storage    Storage     `yaml:"storage"`
	Location   string      `yaml:"location"`
	Components []Component `yaml:"components"`
	Probes     []Probe     `yaml:"probes"`
	Incidents  Incidents   `yaml:"incidents"`
	Notify     Notify      `yaml:"notify"`

	// File is the path the config was read from; Dir is its folder, against
	// which relative paths in the file are resolved.
	File string `yaml:"-"`
	Dir  string `yaml:"-"`
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
func (p *Page) UnmarshalYAML(n *yaml.Node) error {
	*p = DefaultPage
	p.Languages = slices.Clone(DefaultPage.Languages)
	type plain Page
	return n.Decode((*plain)(p))
}

// Server says where probed listens.
type Server struct {
	Listen      string `yaml:"listen"`
	AdminListen string `yaml:"admin_listen"`
}

// DefaultServer listens on loopback only.
var DefaultServer = Server{Listen: "127.0.0.1:8080"}

// UnmarshalYAML sets defaults, then decodes.
func (s *Server) UnmarshalYAML(n *yaml.Node) error {
	*s = DefaultServer
	type plain Server
	return n.Decode((*plain)(s))
}

// Storage says where history is kept and for how long.
type Storage struct {
	Path string `yaml:"path"`
	// Retention is how long raw results are kept; hourly and daily rollups
	// are kept for RollupRetention.
	Retention       Duration `yaml:"retention"`
	RollupRetention Duration `yaml:"rollup_retention"`
}

// DefaultStorage keeps raw results 14 days and rollups 400 days.
var DefaultStorage = Storage{Path: "probed.db", Retention: Duration(14 * 24 * time.Hour), RollupRetention: Duration(400 * 24 * time.Hour)}

// UnmarshalYAML sets defaults, then decodes.
func (s *Storage) UnmarshalYAML(n *yaml.Node) error {
	*s = DefaultStorage
	type plain Storage
	return n.Decode((*plain)(s))
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
}

// DefaultTimeout is a probe's timeout when none is given (and the interval
// allows it; otherwise 80% of the interval).
const DefaultTimeout = 10 * time.Second

// DefaultInterval is a probe's interval when neither interval nor schedule is given.
const DefaultInterval = time.Minute

// UnmarshalYAML decodes and remembers the probe's line.
func (p *Probe) UnmarshalYAML(n *yaml.Node) error {
	type plain Probe
	if err := n.Decode((*plain)(p)); err != nil {
		return err
	}
	p.Line = n.Line
	return nil
}

// Incidents tunes how results become draft incidents.
type Incidents struct {
	FailuresToOpen   int `yaml:"failures_to_open"`
	SuccessesToClose int `yaml:"successes_to_close"`
}

// DefaultIncidents: three failures in a row to open, two successes to close.
var DefaultIncidents = Incidents{FailuresToOpen: 3, SuccessesToClose: 2}

// UnmarshalYAML sets defaults, then decodes.
func (i *Incidents) UnmarshalYAML(n *yaml.Node) error {
	*i = DefaultIncidents
	type plain Incidents
	return n.Decode((*plain)(i))
}

// Notify configures outgoing mail.
type Notify struct {
	From string `yaml:"from"`
	SMTP SMTP   `yaml:"smtp"`
}

// SMTP is the relay mail goes through.
type SMTP struct {
	Host         string `yaml:"host"`
	Port         int    `yaml:"port"`
	TLS          string `yaml:"tls"` // starttls | tls | none
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

// DefaultSMTP is a local relay with STARTTLS.
var DefaultSMTP = SMTP{Host: "127.0.0.1", Port: 25, TLS: "starttls"}

// UnmarshalYAML sets defaults, then decodes.
func (s *SMTP) UnmarshalYAML(n *yaml.Node) error {
	*s = DefaultSMTP
	type plain SMTP
	return n.Decode((*plain)(s))
}

// Default returns the configuration of an empty file.
func Default() Config {
	c := Config{Page: DefaultPage, Server: DefaultServer, Storage: DefaultStorage, Location: "default", Incidents: DefaultIncidents}
	c.Page.Languages = slices.Clone(DefaultPage.Languages)
	c.Notify.SMTP = DefaultSMTP
	return c
}

// Load reads and validates a config file. kinds is the list of probe kinds
// the binary knows (probes.Kinds()). The error, when not nil, is Errors.
func Load(path string, kinds []string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("read config: %v", err)}}
	}
	return Parse(data, path, kinds)
}

// Parse validates a config held in memory; file names it in errors and its
// folder anchors relative paths.
func Parse(data []byte, file string, kinds []string) (*Config, error) {
	dir, _ := filepath.Abs(filepath.Dir(file))
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{{File: file, Line: yamlErrLine(err.Error()), Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	cfg := Default()
	cfg.File, cfg.Dir = file, dir
	var p problems
	unknownKeys(&root, reflectTypeOfConfig, "", &p)
	if len(root.Content) > 0 {
		if err := root.Decode(&cfg); err != nil {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				p.list = append(p.list, Error{Line: yamlErrLine(err.Error()), Msg: err.Error()})
			} else {
				for _, msg := range te.Errors {
					line := yamlErrLine(msg)
					key, _ := keyAt(&root, line, "")
					p.list = append(p.list, Error{Line: line, Key: key, Msg: stripLine(msg)})
				}
			}
			return nil, finish(p.list, &root, file)
		}
	}
	cfg.validate(&p, kinds)
	if len(p.list) > 0 {
		return nil, finish(p.list, &root, file)
	}
	return &cfg, nil
}

// finish fills in files and lines and sorts the errors by line.
func finish(list []Error, root *yaml.Node, file string) Errors {
	out := make(Errors, len(list))
	for i, e := range list {
		e.File = file
		if e.Line == 0 && e.Key != "" {
			e.Line = lineOf(root, e.Key)
		}
		out[i] = e
	}
	slices.SortStableFunc(out, func(a, b Error) int { return a.Line - b.Line })
	return out
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrLine(msg string) int {
	m := yamlLineRE.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func stripLine(msg string) string {
	msg = strings.TrimSpace(msg)
	if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "line ") {
		return msg[i+2:]
	}
	return msg
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
	for i := range c.Probes {
		if c.Probes[i].Name == name {
			return &c.Probes[i]
		}
	}
	return nil
}

// ReadSecret reads a *_file secret, trimming one trailing newline.
func (c *Config) ReadSecret(path string) (string, error) {
	b, err := os.ReadFile(c.Path(path))
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func (c *Config) validate(p *problems, kinds []string) {
	if c.Page.Name == "" {
		p.add("page.name", "must not be empty")
	}
	if u, err := url.Parse(c.Page.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add("page.url", "must be an absolute http(s) URL, got %q", c.Page.URL)
	}
	loc, err := time.LoadLocation(c.Page.TimeZone)
	if err != nil {
		p.add("page.time_zone", "unknown time zone %q", c.Page.TimeZone)
	} else {
		c.Page.Location = loc
	}
	if len(c.Page.Languages) == 0 {
		p.add("page.languages", "must name at least one language (en, ja)")
	}
	for i, l := range c.Page.Languages {
		if l != "en" && l != "ja" {
			p.add(fmt.Sprintf("page.languages[%d]", i), "unknown language %q: probed ships en and ja", l)
		}
	}
	if c.Server.Listen == "" {
		p.add("server.listen", "must not be empty")
	}
	if c.Server.AdminListen != "" && c.Server.AdminListen == c.Server.Listen {
		p.add("server.admin_listen", "must differ from server.listen (omit it to serve everything on listen)")
	}
	if c.Storage.Path == "" {
		p.add("storage.path", "must not be empty")
	} else {
		c.Storage.Path = c.Path(c.Storage.Path)
	}
	if c.Storage.Retention < Duration(time.Hour) {
		p.add("storage.retention", "must be at least 1h, got %s", c.Storage.Retention)
	}
	if c.Storage.RollupRetention < c.Storage.Retention {
		p.add("storage.rollup_retention", "must be at least storage.retention (%s)", c.Storage.Retention)
	}
	if c.Location == "" {
		p.add("location", "must not be empty")
	}
	if c.Incidents.FailuresToOpen < 1 {
		p.add("incidents.failures_to_open", "must be at least 1")
	}
	if c.Incidents.SuccessesToClose < 1 {
		p.add("incidents.successes_to_close", "must be at least 1")
	}
	switch c.Notify.SMTP.TLS {
	case "starttls", "tls", "none":
	default:
		p.add("notify.smtp.tls", "must be starttls, tls or none, got %q", c.Notify.SMTP.TLS)
	}
	if c.Notify.SMTP.PasswordFile != "" {
		if _, err := os.Stat(c.Path(c.Notify.SMTP.PasswordFile)); err != nil {
			p.add("notify.smtp.password_file", "cannot read: %v", err)
		}
	}
	c.validateComponents(p)
	c.validateProbes(p, kinds)
}

func (c *Config) validateComponents(p *problems) {
	seen := map[string]bool{}
	var walk func(list []Component, path string, depth int)
	walk = func(list []Component, path string, depth int) {
		for i := range list {
			comp := &list[i]
			key := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case !idRE.MatchString(comp.ID):
				p.add(key+".id", "must be lower-case letters, digits, - and _, got %q", comp.ID)
			case seen[comp.ID]:
				p.add(key+".id", "duplicate component id %q", comp.ID)
			}
			seen[comp.ID] = true
			if comp.Name == "" {
				p.add(key+".name", "must not be empty")
			}
			if comp.IsGroup() && depth > 0 {
				p.add(key+".components", "groups nest one level only (as on Statuspage): %q is inside a group", comp.ID)
			}
			walk(comp.Components, key+".components", depth+1)
		}
	}
	walk(c.Components, "components", 0)
}

func (c *Config) validateProbes(p *problems, kinds []string) {
	names := map[string]int{}
	for i := range c.Probes {
		pr := &c.Probes[i]
		key := fmt.Sprintf("probes[%d]", i)
		switch {
		case !probeNameRE.MatchString(pr.Name):
			p.add(key+".name", "must be letters, digits, '.', '_' and '-', got %q", pr.Name)
		default:
			if first, dup := names[pr.Name]; dup {
				p.add(key+".name", "duplicate probe name %q (first at probes[%d])", pr.Name, first)
			} else {
				names[pr.Name] = i
			}
		}
		switch comp := c.Component(pr.Component); {
		case pr.Component == "":
			p.add(key+".component", "must name a leaf component")
		case comp == nil:
			p.add(key+".component", "unknown component %q", pr.Component)
		case comp.IsGroup():
			p.add(key+".component", "component %q is a group: probes attach to leaf components", pr.Component)
		}
		if !slices.Contains(kinds, pr.Kind) {
			p.add(key+".kind", "unknown kind %q (known: %s)", pr.Kind, strings.Join(kinds, ", "))
		}
		c.validateTiming(p, pr, key)
		sections := map[string]bool{"http": pr.HTTP != nil, "ocsp": pr.OCSP != nil, "crl": pr.CRL != nil, "tsa": pr.TSA != nil, "acme": pr.ACME != nil}
		for name, set := range sections {
			if set && name != pr.Kind {
				p.add(key+"."+name, "section %s given for a probe of kind %q", name, pr.Kind)
			}
		}
		if slices.Contains(kinds, pr.Kind) {
			if has, known := sections[pr.Kind]; known && !has {
				p.add(key+".kind", "kind %s needs its %s: section", pr.Kind, pr.Kind)
			}
		}
		for _, s := range []interface {
			validate(p *problems, key string, c *Config)
		}{pr.HTTP, pr.OCSP, pr.CRL, pr.TSA, pr.ACME} {
			switch v := s.(type) {
			case *HTTPProbe:
				if v != nil {
					v.validate(p, key+".http", c)
				}
			case *OCSPProbe:
				if v != nil {
					v.validate(p, key+".ocsp", c)
				}
			case *CRLProbe:
				if v != nil {
					v.validate(p, key+".crl", c)
				}
			case *TSAProbe:
				if v != nil {
					v.validate(p, key+".tsa", c)
				}
			case *ACMEProbe:
				if v != nil {
					v.validate(p, key+".acme", c)
				}
			}
		}
	}
}

func (c *Config) validateTiming(p *problems, pr *Probe, key string) {
	if pr.Interval != 0 && pr.Schedule != "" {
		p.add(key+".schedule", "give interval or schedule, not both")
		return
	}
	period := pr.Interval.D()
	if pr.Schedule != "" {
		s, err := ParseSchedule(pr.Schedule)
		if err != nil {
			p.add(key+".schedule", "bad cron schedule %q: %v (six fields, seconds first, or @every 30s)", pr.Schedule, err)
			return
		}
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		first := s.Next(base)
		period = s.Next(first).Sub(first)
	} else if pr.Interval == 0 {
		pr.Interval = Duration(DefaultInterval)
		period = DefaultInterval
	}
	if period < time.Second {
		p.add(key+".interval", "must be at least 1s, got %s", Duration(period))
		return
	}
	if pr.Timeout == 0 {
		pr.Timeout = Duration(min(DefaultTimeout, period*8/10))
	}
	if pr.Timeout.D() >= period {
		k := ".timeout"
		p.add(key+k, "timeout %s must be shorter than the interval %s", pr.Timeout, Duration(period))
	}
}

// Period returns the time between runs: the interval, or the gap between the
// schedule's first two firings.
func (p *Probe) Period() time.Duration {
	if p.Schedule == "" {
		return p.Interval.D()
	}
	s, err := ParseSchedule(p.Schedule)
	if err != nil {
		return DefaultInterval
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	first := s.Next(base)
	return s.Next(first).Sub(first)
}
