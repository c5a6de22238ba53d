package config

import (
	"fmt"
	"github.com/probed/probed/words"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	// The page's time zone must load on hosts without /usr/share/zoneinfo
	// (distroless images): embed the database.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// SMTPPasswordEnv is the environment variable the SMTP password is read from
// when notify.smtp.password_file is not set.
const SMTPPasswordEnv = "PROBED_SMTP_PASSWORD"

// validate checks the decoded file as a whole, resolves paths, loads the
// files it names and fills in defaults that depend on other keys.
func (c *Config) validate(p *problems, kinds []string) {
	c.validatePage(p)
	if c.Server.Listen == "" {
		p.add("server.listen", "must not be empty")
	}
	if c.Server.AdminListen != "" && c.Server.AdminListen == c.Server.Listen {
		p.add("server.admin_listen", "must differ from server.listen (omit it to serve everything on listen)")
	}
	if c.Server.MaxConnections < 1 {
		p.add("server.max_connections", "must be at least 1, got %d", c.Server.MaxConnections)
	}
	if c.Server.MaxConnectionsPerClient < 1 || c.Server.MaxConnectionsPerClient > c.Server.MaxConnections {
		p.add("server.max_connections_per_client", "must be between 1 and server.max_connections (%d), got %d", c.Server.MaxConnections, c.Server.MaxConnectionsPerClient)
	}
	c.validateStorage(p)
	if c.Storage.Retention < Duration(time.Hour) {
		p.add("storage.retention", "must be at least 1h, got %s", c.Storage.Retention)
	}
	if c.Storage.RollupRetention < c.Storage.Retention {
		p.add("storage.rollup_retention", "must be at least storage.retention (%s), got %s", c.Storage.Retention, c.Storage.RollupRetention)
	}
	if ci := c.Storage.CheckInterval; ci < Duration(100*time.Millisecond) || ci > Duration(time.Hour) {
		p.add("storage.check_interval", "must be between 100ms and 1h (how often the database file is checked for deletion or replacement), got %s", ci)
	}
	if c.Location == "" {
		p.add("location", "must not be empty")
	}
	if c.Role != RoleHolder && c.Role != RoleProber {
		p.add("role", "must be holder (drafts incidents, serves the page) or prober (probes and metrics only), got %q", c.Role)
	}
	if c.Incidents.StaleIntervals < 1 {
		p.add("incidents.stale_intervals", "must be at least 1 (intervals a location may stay silent before it leaves the quorum), got %d", c.Incidents.StaleIntervals)
	}
	if c.Incidents.FailuresToOpen < 1 {
		p.add("incidents.failures_to_open", "must be at least 1, got %d", c.Incidents.FailuresToOpen)
	}
	if c.Incidents.SuccessesToClose < 1 {
		p.add("incidents.successes_to_close", "must be at least 1, got %d", c.Incidents.SuccessesToClose)
	}
	if c.Incidents.Quorum < 0 {
		p.add("incidents.quorum", "must be at least 1 (locations that must agree a probe is down), got %d", c.Incidents.Quorum)
	}
	c.validateNotify(p)
	c.validateComponents(p)
	c.validateProbes(p, kinds)
}

func (c *Config) validatePage(p *problems) {
	if c.Page.Name == "" {
		p.add("page.name", "must not be empty")
	}
	if u, err := url.Parse(c.Page.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add("page.url", "must be an absolute http(s) URL such as https://status.example.com, got %q", c.Page.URL)
	} else if u.RawQuery != "" || u.Fragment != "" {
		p.add("page.url", "must be a base URL without query or fragment, got %q", c.Page.URL)
	} else {
		// Links are built by appending paths: one canonical form.
		c.Page.URL = strings.TrimRight(c.Page.URL, "/")
	}
	switch loc, err := time.LoadLocation(c.Page.TimeZone); {
	case c.Page.TimeZone == "" || c.Page.TimeZone == "Local":
		p.add("page.time_zone", "must name an IANA time zone such as UTC or Asia/Tokyo, got %q", c.Page.TimeZone)
	case err != nil:
		p.add("page.time_zone", "unknown time zone %q: want an IANA name such as UTC or Asia/Tokyo", c.Page.TimeZone)
	default:
		c.Page.Location = loc
	}
	cat := words.Builtin()
	if len(c.Page.Languages) == 0 {
		p.add("page.languages", "must name at least one language (%s)", strings.Join(cat.Codes(), ", "))
	}
	seen := map[string]bool{}
	for i, l := range c.Page.Languages {
		switch {
		case !cat.Has(l):
			p.add(fmt.Sprintf("page.languages[%d]", i), "unknown language %q: probed has words for %s (a language is one catalogue file, words/LANG.json)", l, strings.Join(cat.Codes(), ", "))
		case seen[l]:
			p.add(fmt.Sprintf("page.languages[%d]", i), "language %q given twice", l)
		}
		seen[l] = true
	}
}

func (c *Config) validateNotify(p *problems) {
	n := &c.Notify
	if n.From != "" {
		if _, err := mail.ParseAddress(n.From); err != nil {
			p.add("notify.from", "not a mail address (want \"Name <addr@example.com>\" or addr@example.com): %q", n.From)
		}
	}
	if n.SMTP.Host == "" {
		p.add("notify.smtp.host", "must not be empty")
	}
	if n.SMTP.Port < 1 || n.SMTP.Port > 65535 {
		p.add("notify.smtp.port", "must be a TCP port (1-65535), got %d", n.SMTP.Port)
	}
	switch n.SMTP.TLS {
	case "starttls", "tls", "none":
	default:
		p.add("notify.smtp.tls", "must be starttls, tls or none, got %q", n.SMTP.TLS)
	}
	switch {
	case n.SMTP.PasswordFile != "":
		s, err := c.ReadSecret(n.SMTP.PasswordFile)
		if err != nil {
			p.add("notify.smtp.password_file", "cannot read the password file: %v", unwrapPathErr(err))
		}
		n.SMTP.Password = s
	default:
		n.SMTP.Password = os.Getenv(SMTPPasswordEnv)
	}
	if n.SMTP.Password != "" && n.SMTP.Username == "" {
		p.add("notify.smtp.username", "a password is given (password_file or %s) but no username", SMTPPasswordEnv)
	}
	c.validateDelivery(p)
}

func (c *Config) validateComponents(p *problems) {
	seen := map[string]int{}
	var walk func(list []Component, path string, depth int, parent string)
	walk = func(list []Component, path string, depth int, parent string) {
		for i := range list {
			comp := &list[i]
			key := fmt.Sprintf("%s[%d]", path, i)
			switch first, dup := seen[comp.ID]; {
			case comp.ID == "":
				p.add(key+".id", "must not be empty")
			case !idRE.MatchString(comp.ID):
				p.add(key+".id", "must be lower-case letters, digits, - and _, got %q", comp.ID)
			case dup:
				p.add(key+".id", "duplicate component id %q (first at line %d)", comp.ID, first)
			default:
				seen[comp.ID] = comp.Line
			}
			if comp.Name == "" {
				p.add(key+".name", "must not be empty")
			}
			if comp.IsGroup() && depth > 0 {
				p.add(key+".components", "%q is inside group %q and cannot have components of its own (groups nest one level only, as on Statuspage)", comp.ID, parent)
			}
			walk(comp.Components, key+".components", depth+1, comp.ID)
		}
	}
	walk(c.Components, "components", 0, "")
}

// section is one kind's section of a probe, in a fixed order so errors come
// out the same way every time.
type section struct {
	name     string
	set      bool
	validate func(p *problems, key string, c *Config)
}

func (pr *Probe) sections() []section {
	return []section{
		{"http", pr.HTTP != nil, func(p *problems, k string, c *Config) { pr.HTTP.validate(p, k, c) }},
		{"ocsp", pr.OCSP != nil, func(p *problems, k string, c *Config) { pr.OCSP.validate(p, k, c) }},
		{"crl", pr.CRL != nil, func(p *problems, k string, c *Config) { pr.CRL.validate(p, k, c) }},
		{"tsa", pr.TSA != nil, func(p *problems, k string, c *Config) { pr.TSA.validate(p, k, c) }},
		{"acme", pr.ACME != nil, func(p *problems, k string, c *Config) { pr.ACME.validate(p, k, c) }},
	}
}

func (c *Config) validateProbes(p *problems, kinds []string) {
	names := map[string]int{}
	for i := range c.Probes {
		pr := &c.Probes[i]
		key := fmt.Sprintf("probes[%d]", i)
		switch first, dup := names[pr.Name]; {
		case pr.Name == "":
			p.add(key+".name", "must not be empty")
		case !probeNameRE.MatchString(pr.Name):
			p.add(key+".name", "must be letters, digits, '.', '_' and '-', got %q", pr.Name)
		case dup:
			p.add(key+".name", "duplicate probe name %q (first at line %d)", pr.Name, first)
		default:
			names[pr.Name] = pr.Line
		}
		switch comp := c.Component(pr.Component); {
		case pr.Component == "":
			p.add(key+".component", "must name a leaf component")
		case comp == nil:
			p.add(key+".component", "unknown component %q%s", pr.Component, didYouMean(pr.Component, c.componentIDs()))
		case comp.IsGroup():
			p.add(key+".component", "component %q is a group: probes attach to leaf components (%s)", pr.Component, strings.Join(childIDs(comp), ", "))
		}
		known := slices.Contains(kinds, pr.Kind)
		switch {
		case pr.Kind == "":
			p.add(key+".kind", "must be one of %s", strings.Join(kinds, ", "))
		case !known:
			p.add(key+".kind", "unknown kind %q%s (known: %s)", pr.Kind, didYouMean(pr.Kind, kinds), strings.Join(kinds, ", "))
		}
		c.validateTiming(p, pr, key)
		for _, s := range pr.sections() {
			switch {
			case s.set && s.name != pr.Kind && known:
				p.add(key+"."+s.name, "%s: section given for a probe of kind %s", s.name, pr.Kind)
			case s.set && s.name != pr.Kind:
				// the unknown kind is the error to fix first
			case s.set:
				s.validate(p, key+"."+s.name, c)
			case s.name == pr.Kind && known:
				p.add(key+".kind", "kind %s needs its %s: section", pr.Kind, pr.Kind)
			}
		}
	}
}

func (c *Config) validateTiming(p *problems, pr *Probe, key string) {
	if pr.Interval != 0 && pr.Schedule != "" {
		p.add(key+".schedule", "give interval or schedule, not both")
		return
	}
	periodKey := key + ".interval"
	var period time.Duration
	switch {
	case pr.Schedule != "":
		periodKey = key + ".schedule"
		s, err := ParseSchedule(pr.Schedule)
		if err != nil {
			p.add(key+".schedule", "bad cron schedule %q: %v (want six fields, seconds first, or @every 30s)", pr.Schedule, err)
			return
		}
		period = shortestGap(s)
	case pr.Interval == 0:
		pr.Interval = Duration(DefaultInterval)
		period = DefaultInterval
	default:
		period = pr.Interval.D()
	}
	if period < time.Second {
		p.add(periodKey, "runs must be at least 1s apart, got %s", Duration(period))
		return
	}
	if pr.Timeout == 0 {
		pr.Timeout = Duration(min(DefaultTimeout, period*8/10))
	}
	if pr.Timeout.D() >= period {
		p.add(key+".timeout", "must be shorter than the interval (%s), got %s", Duration(period), pr.Timeout)
	}
}

// shortestGap is the shortest time between two firings of a schedule over
// its next 100 firings, the interval a timeout must stay under.
func shortestGap(s cron.Schedule) time.Duration {
	t := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if t.IsZero() {
		return 0
	}
	gap := time.Duration(1<<63 - 1)
	for range 100 {
		n := s.Next(t)
		if n.IsZero() {
			break
		}
		gap = min(gap, n.Sub(t))
		t = n
	}
	return gap
}

// Period returns the time between runs: the interval, or the shortest gap
// between the schedule's firings.
func (pr *Probe) Period() time.Duration {
	if pr.Schedule == "" {
		return pr.Interval.D()
	}
	s, err := ParseSchedule(pr.Schedule)
	if err != nil {
		return DefaultInterval
	}
	return shortestGap(s)
}

func (c *Config) componentIDs() []string {
	var out []string
	for _, g := range c.Components {
		out = append(out, g.ID)
		for _, l := range g.Components {
			out = append(out, l.ID)
		}
	}
	return out
}

func childIDs(g *Component) []string {
	out := make([]string, len(g.Components))
	for i, c := range g.Components {
		out[i] = c.ID
	}
	return out
}

// validateStorage checks the database settings and, for PostgreSQL, reads
// the DSN from its file or environment variable.
func (c *Config) validateStorage(p *problems) {
	st := &c.Storage
	switch st.Driver {
	case StorageSQLite:
		if st.DSNFile != "" {
			p.add("storage.dsn_file", "is for driver postgres; driver sqlite keeps the database at storage.path")
		}
		if st.DSNEnv != "" {
			p.add("storage.dsn_env", "is for driver postgres; driver sqlite keeps the database at storage.path")
		}
		if st.Holder != "" {
			p.add("storage.holder", "is for driver postgres (several holders on one database); driver sqlite has one")
		}
		if st.LeaseTTL != 0 {
			p.add("storage.lease_ttl", "is for driver postgres (several holders on one database); driver sqlite has one")
		}
		if st.Path == "" {
			p.add("storage.path", "must not be empty")
			return
		}
		st.Path = c.Path(st.Path)
		if fi, err := os.Stat(filepath.Dir(st.Path)); err != nil || !fi.IsDir() {
			p.add("storage.path", "folder %s does not exist", filepath.Dir(st.Path))
		}
	case StoragePostgres:
		if c.Role == RoleProber {
			// A prober holds no leader lease: it must not housekeep (or
			// otherwise write) the database the holders share.
			p.add("storage.driver", "postgres is for holders sharing one database; role prober keeps its results in its own SQLite file (driver sqlite)")
		}
		switch {
		case st.DSNFile != "" && st.DSNEnv != "":
			p.add("storage.dsn_env", "give the DSN in storage.dsn_file or storage.dsn_env, not both")
		case st.DSNFile != "":
			dsn, err := c.ReadSecret(st.DSNFile)
			switch {
			case err != nil:
				p.add("storage.dsn_file", "cannot read the DSN file %s: %v", st.DSNFile, unwrapPathErr(err))
			case strings.TrimSpace(dsn) == "":
				p.add("storage.dsn_file", "%s is empty", st.DSNFile)
			}
			st.DSN = strings.TrimSpace(dsn)
		case st.DSNEnv != "":
			st.DSN = strings.TrimSpace(os.Getenv(st.DSNEnv))
			if st.DSN == "" {
				p.add("storage.dsn_env", "environment variable %s is not set", st.DSNEnv)
			}
		default:
			p.add("storage.driver", "postgres needs the DSN (the connection string, a secret): give storage.dsn_file or storage.dsn_env")
		}
		switch {
		case st.LeaseTTL == 0:
			st.LeaseTTL = Duration(DefaultLeaseTTL)
		case st.LeaseTTL < Duration(time.Second) || st.LeaseTTL > Duration(5*time.Minute):
			p.add("storage.lease_ttl", "must be between 1s and 5m, got %s", st.LeaseTTL)
		}
		if strings.TrimSpace(st.Holder) != st.Holder || len(st.Holder) > 200 || strings.ContainsFunc(st.Holder, unicode.IsControl) {
			p.add("storage.holder", "must be a name of at most 200 characters without control characters or surrounding spaces, got %q", st.Holder)
		}
	default:
		p.add("storage.driver", "must be sqlite or postgres, got %q", st.Driver)
	}
}
