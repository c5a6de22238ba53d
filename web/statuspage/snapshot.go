package statuspage

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
	"slices"
	"strconv"
	"time"

	"github.com/probed/probed/config"
)

// DefaultUptimeDays is how many days of uptime bars the page shows.
const DefaultUptimeDays = 90

// Interval is a half-open span of time [Start, End).
type Interval struct{ Start, End time.Time }

// StatusChange is one entry of the public component status log: from At on,
// the component shows Status (until the next change).
type StatusChange struct {
	Component string
	Status    string
	At        time.Time
}

// Record is an incident or maintenance as the store holds it, whatever its
// state; the snapshot keeps only what an operator published.
type Record struct {
	ID     int64
	Kind   string // status.KindIncident or status.KindMaintenance
	State  string // draft, published, resolved, rejected, withdrawn
	Status string // investigating..resolved, or scheduled..completed
	Impact string // none, minor, major, critical (maintenance: ignored)

	Title      status.Text // by language
	Components []RecordComponent
	Updates    []RecordUpdate // any order; sorted newest first in the snapshot

	CreatedAt, PublishedAt, StartedAt, MonitoringAt, ResolvedAt time.Time
	ScheduledFor, ScheduledUntil                                time.Time

	// Postmortem is the published postmortem of a resolved incident (by
	// language; empty: none), first published at PostmortemAt, last at
	// PostmortemUpdatedAt; PostmortemNotified: subscribers were told of it.
	Postmortem                        status.Text
	PostmortemAt, PostmortemUpdatedAt time.Time
	PostmortemNotified                bool
}

// RecordComponent is a component an incident affects and the status it gives it.
type RecordComponent struct {
	ID     string
	Status string
}

// RecordUpdate is one entry of a timeline.
type RecordUpdate struct {
	ID int64
	// Status is the record's status after this update; "update" (or the
	// same status as before) means the status did not change.
	Status    string
	Body      status.Text // by language
	CreatedAt time.Time
	DisplayAt time.Time // zero: CreatedAt
	Notify    bool
	Affected  []AffectedComponent
}

// AffectedComponent is a component status change an update announced.
type AffectedComponent struct {
	ID        string
	OldStatus string
	NewStatus string
}

// Input is everything a snapshot is built from: the configuration for the
// page and the component tree, and what the store holds.
type Input struct {
	// Words is the catalogue (nil: the built-in one); the API's banner
	// description is its English text.
	Words      *words.Catalogue
	Now        time.Time
	Page       config.Page
	Components []config.Component
	Records    []Record
	StatusLog  []StatusChange
	// Coverage is, per leaf component id, when probed was watching it; time
	// outside is "no data". A nil map means the store could not say: coverage
	// then runs from FirstData (or the first status change) to Now.
	Coverage  map[string][]Interval
	FirstData time.Time
	// Days of uptime to compute (default DefaultUptimeDays).
	Days int
}

// Snapshot is the public page's whole state at one moment, built once and
// shared read-only by every request until the next one replaces it.
type Snapshot struct {
	Version uint64
	Now     time.Time
	Loc     *time.Location

	Page       PageInfo
	Status     PageStatus
	Components []*Component // top level, in configured order
	ByID       map[string]*Component
	Flat       []*Component // every component, depth first (API order)

	Incidents    []*Incident // public incidents, newest first
	Maintenances []*Incident // public maintenances, newest scheduled_for first
	ByRecordID   map[int64]*Incident

	Days []time.Time // uptime day starts, oldest first, in Loc
}

// PageInfo is the API's page object.
type PageInfo struct {
	ID        string
	Name      string
	URL       string
	TimeZone  string
	UpdatedAt time.Time
	Languages []string
}

// defaultLanguage is the page's first language: the one the API and
// the feeds' fallback use.
func (p PageInfo) defaultLanguage() string {
	if len(p.Languages) > 0 {
		return p.Languages[0]
	}
	return "en"
}

// PageStatus is the page's top-level status: the API indicator and the key
// of the banner's words (status.PageTopLevel).
type PageStatus struct {
	Indicator   string // none, minor, major, critical or maintenance
	Key         string // status.Top*
	description string
}

// Description is the English banner text the API uses.
func (s PageStatus) Description() string { return s.description }

func (s PageStatus) bannerKey() string { return "banner." + s.Key }

// Component is one node of the tree with its public status and uptime.
type Component struct {
	ID, Name, Description string
	Status                string
	Group                 bool
	Parent                *Component
	Children              []*Component
	Position              int
	OnlyShowIfDegraded    bool
	CreatedAt, UpdatedAt  time.Time
	StartDate             time.Time // first day with data; zero if none yet

	Uptime []Day // one per Snapshot.Days
	// Total over the days shown.
	Total Day
}

// Visible reports whether the page shows the component now.
func (c *Component) Visible() bool {
	return !c.OnlyShowIfDegraded || c.Status != status.Operational
}

// Incident is a public incident or maintenance with its timeline.
type Incident struct {
	ID             int64
	Kind           string
	Name           status.Text // by language
	Status, Impact string
	Components     []*Component
	CompStatus     map[string]string
	Updates        []*Update // newest first

	CreatedAt, UpdatedAt, StartedAt, MonitoringAt, ResolvedAt time.Time
	ScheduledFor, ScheduledUntil                              time.Time
}

// Maintenance reports whether the record is a scheduled maintenance.
func (i *Incident) Maintenance() bool { return i.Kind == status.KindMaintenance }

// Resolved reports whether the incident or maintenance is over.
func (i *Incident) Resolved() bool {
	return i.Status == "resolved" || i.Status == "postmortem" || i.Status == "completed"
}

// Active reports an in-progress maintenance.
func (i *Incident) Active() bool {
	return i.Kind == status.KindMaintenance && (i.Status == "in_progress" || i.Status == "verifying")
}

// Upcoming reports a maintenance that has not started.
func (i *Incident) Upcoming() bool {
	return i.Kind == status.KindMaintenance && i.Status == "scheduled"
}

// Path is the incident's page on the site.
func (i *Incident) Path() string {
	if i.Kind == status.KindMaintenance {
		return "/maintenance/" + strconv.FormatInt(i.ID, 10)
	}
	return "/incidents/" + strconv.FormatInt(i.ID, 10)
}

// Span is when the incident affected its components: from its start to its
// resolution (or now).
func (i *Incident) Span(now time.Time) Interval {
	start := i.StartedAt
	if i.Kind == status.KindMaintenance {
		start = i.ScheduledFor
		if !i.StartedAt.IsZero() {
			start = i.StartedAt
		}
	}
	if start.IsZero() {
		start = i.CreatedAt
	}
	end := now
	if i.Resolved() && !i.ResolvedAt.IsZero() {
		end = i.ResolvedAt
	} else if i.Kind == status.KindMaintenance && i.Status == "scheduled" {
		end = i.ScheduledUntil
	}
	return Interval{start, end}
}

// Update is one timeline entry.
type Update struct {
	ID        int64
	Status    string      // the record's status after the update (never "update")
	Changed   bool        // the status changed with this update (else it is shown as "Update")
	Body      status.Text // by language
	CreatedAt time.Time
	DisplayAt time.Time
	Notify    bool
	Affected  []AffectedComponent
	// Postmortem marks the incident's published postmortem, shown as the
	// newest entry of its timeline (status postmortem), as hosted pages do.
	Postmortem bool
}

// Label is the timeline label key: the status for a change, "update" otherwise.
func (u *Update) Label() string {
	if !u.Changed {
		return "update"
	}
	return u.Status
}

// Day is one day of one component's uptime.
type Day struct {
	Start       time.Time
	Covered     time.Duration // watched, outside maintenance
	Maintenance time.Duration
	Major       time.Duration
	Partial     time.Duration
	Degraded    time.Duration
	Incidents   []*Incident
}

// partialWeight: like Statuspage, a partial outage counts as 30% downtime.
const partialWeight = 0.3

// NoData reports a day probed did not watch at all.
func (d *Day) NoData() bool { return d.Covered == 0 && d.Maintenance == 0 }

// Downtime is the weighted downtime of the day.
func (d *Day) Downtime() time.Duration {
	return d.Major + time.Duration(float64(d.Partial)*partialWeight)
}

// Uptime is the fraction of watched time the component was up (1 when
// nothing was watched outside maintenance).
func (d *Day) Uptime() float64 {
	if d.Covered <= 0 {
		return 1
	}
	u := 1 - float64(d.Downtime())/float64(d.Covered)
	return max(u, 0)
}

// Level is the bar colour class: nodata, maint, up, minor, partial, major.
func (d *Day) Level() string {
	switch dt := d.Downtime(); {
	case d.NoData():
		return "nodata"
	case d.Covered == 0:
		return "maint"
	case dt == 0:
		return "up"
	case dt <= 10*time.Minute:
		return "minor"
	case dt <= time.Hour:
		return "partial"
	default:
		return "major"
	}
}

func (d *Day) add(o *Day) {
	d.Covered += o.Covered
	d.Maintenance += o.Maintenance
	d.Major += o.Major
	d.Partial += o.Partial
	d.Degraded += o.Degraded
}

// Build turns the input into a snapshot. It is pure: same input, same snapshot.
func Build(in Input) *Snapshot {
	if in.Days <= 0 {
		in.Days = DefaultUptimeDays
	}
	loc := in.Page.Location
	if loc == nil {
		if l, err := time.LoadLocation(cmp.Or(in.Page.TimeZone, "UTC")); err == nil {
			loc = l
		} else {
			loc = time.UTC
		}
	}
	now := in.Now.In(loc)
	s := &Snapshot{Now: now, Loc: loc, ByID: map[string]*Component{}, ByRecordID: map[int64]*Incident{}}
	s.Page = PageInfo{ID: pageID(in.Page), Name: in.Page.Name, URL: trimSlash(in.Page.URL),
		TimeZone: apiZone(in.Page.TimeZone), Languages: in.Page.Languages}

	// The component tree, as configured.
	var walk func(cs []config.Component, parent *Component) []*Component
	walk = func(cs []config.Component, parent *Component) []*Component {
		var out []*Component
		for i, cc := range cs {
			c := &Component{ID: cc.ID, Name: cc.Name, Description: cc.Description, Group: cc.IsGroup(),
				Parent: parent, OnlyShowIfDegraded: cc.OnlyShowIfDegraded, Status: status.Operational}
			s.Flat = append(s.Flat, c)
			c.Position = i + 1 // within its parent (or the top level), as hosted pages count
			s.ByID[c.ID] = c
			c.Children = walk(cc.Components, c)
			out = append(out, c)
		}
		return out
	}
	s.Components = walk(in.Components, nil)

	// Public records only: drafts, rejected and withdrawn never leave the store.
	for _, r := range in.Records {
		if r.State != status.StatePublished && r.State != status.StateResolved {
			continue
		}
		inc := newIncident(r, s.ByID, now)
		s.ByRecordID[inc.ID] = inc
		if inc.Kind == status.KindMaintenance {
			s.Maintenances = append(s.Maintenances, inc)
		} else {
			s.Incidents = append(s.Incidents, inc)
		}
	}
	slices.SortFunc(s.Incidents, func(a, b *Incident) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	slices.SortFunc(s.Maintenances, func(a, b *Incident) int {
		return cmp.Or(b.ScheduledFor.Compare(a.ScheduledFor), cmp.Compare(b.ID, a.ID))
	})

	// Current statuses from the public status log; components under an
	// in-progress maintenance show it unless something worse was published.
	log := slices.Clone(in.StatusLog)
	slices.SortStableFunc(log, func(a, b StatusChange) int { return a.At.Compare(b.At) })
	first := in.FirstData
	for _, e := range log {
		if e.At.After(in.Now) {
			continue
		}
		if c := s.ByID[e.Component]; c != nil && !c.Group {
			c.Status = e.Status
			c.UpdatedAt = e.At
			if c.CreatedAt.IsZero() {
				c.CreatedAt = e.At
			}
		}
		if first.IsZero() || e.At.Before(first) {
			first = e.At
		}
	}
	for _, m := range s.Maintenances {
		if !m.Active() {
			continue
		}
		for _, c := range m.Components {
			for _, leaf := range leaves(c) {
				if leaf.Status == status.Operational {
					leaf.Status = status.UnderMaintenance
					if m.StartedAt.After(leaf.UpdatedAt) {
						leaf.UpdatedAt = m.StartedAt
					}
				}
			}
		}
	}

	s.computeUptime(in, log, first)

	// Groups take the worst status of their children.
	var roll func(c *Component)
	roll = func(c *Component) {
		if !c.Group {
			return
		}
		c.Status = status.Operational
		for _, ch := range c.Children {
			roll(ch)
			c.Status = status.Worse(c.Status, ch.Status)
			if ch.UpdatedAt.After(c.UpdatedAt) {
				c.UpdatedAt = ch.UpdatedAt
			}
			if c.CreatedAt.IsZero() || (!ch.CreatedAt.IsZero() && ch.CreatedAt.Before(c.CreatedAt)) {
				c.CreatedAt = ch.CreatedAt
			}
		}
	}
	for _, c := range s.Components {
		roll(c)
	}
	for _, c := range s.Flat {
		if c.CreatedAt.IsZero() {
			c.CreatedAt = cmp.Or(first, in.Now)
		}
		if c.UpdatedAt.IsZero() {
			c.UpdatedAt = c.CreatedAt
		}
	}

	s.Status = s.rollup()
	if in.Words == nil {
		in.Words = words.Builtin()
	}
	s.Status.description = in.Words.T("en", s.Status.bannerKey())
	s.Page.UpdatedAt = s.updatedAt(first, in.Now)
	return s
}

// rollup computes the page's top-level status the way Statuspage does:
// the blend of every leaf component's status, open incidents counting only
// when the components show nothing wrong (status.PageTopLevel).
func (s *Snapshot) rollup() PageStatus {
	var statuses, open []string
	for _, c := range s.Flat {
		if !c.Group {
			statuses = append(statuses, c.Status)
		}
	}
	for _, inc := range s.Incidents {
		if !inc.Resolved() {
			open = append(open, inc.Impact)
		}
	}
	t := status.PageTopLevel(statuses, open)
	return PageStatus{Indicator: t.Indicator, Key: t.Key}
}

// updatedAt is the newest public change: a status change or a timeline entry.
func (s *Snapshot) updatedAt(first, now time.Time) time.Time {
	t := first
	for _, c := range s.Flat {
		if c.UpdatedAt.After(t) {
			t = c.UpdatedAt
		}
	}
	for _, list := range [][]*Incident{s.Incidents, s.Maintenances} {
		for _, inc := range list {
			if inc.UpdatedAt.After(t) && !inc.UpdatedAt.After(now) {
				t = inc.UpdatedAt
			}
		}
	}
	if t.IsZero() {
		t = now
	}
	return t.In(s.Loc)
}

func newIncident(r Record, byID map[string]*Component, now time.Time) *Incident {
	inc := &Incident{ID: r.ID, Kind: cmp.Or(r.Kind, status.KindIncident), Name: r.Title,
		Status: r.Status, Impact: cmp.Or(r.Impact, status.ImpactNone), CompStatus: map[string]string{},
		CreatedAt: cmp.Or(r.PublishedAt, r.CreatedAt), StartedAt: cmp.Or(r.StartedAt, r.PublishedAt, r.CreatedAt),
		MonitoringAt: r.MonitoringAt, ResolvedAt: r.ResolvedAt,
		ScheduledFor: r.ScheduledFor, ScheduledUntil: r.ScheduledUntil}
	if inc.Kind == status.KindMaintenance {
		inc.Impact = "maintenance"
		inc.StartedAt = r.StartedAt
	}
	for _, rc := range r.Components {
		if c := byID[rc.ID]; c != nil {
			inc.Components = append(inc.Components, c)
			inc.CompStatus[c.ID] = rc.Status
		}
	}
	ups := slices.Clone(r.Updates)
	slices.SortStableFunc(ups, func(a, b RecordUpdate) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	prev := ""
	for _, u := range ups {
		st := u.Status
		changed := st != "update" && st != "" && st != prev
		if !changed {
			st = cmp.Or(prev, inc.Status)
		}
		if !inc.Maintenance() && st == "monitoring" && inc.MonitoringAt.IsZero() {
			inc.MonitoringAt = u.CreatedAt
		}
		prev = st
		inc.Updates = append(inc.Updates, &Update{ID: u.ID, Status: st, Changed: changed, Body: u.Body,
			CreatedAt: u.CreatedAt, DisplayAt: cmp.Or(u.DisplayAt, u.CreatedAt), Notify: u.Notify, Affected: u.Affected})
	}
	slices.Reverse(inc.Updates)
	inc.UpdatedAt = inc.CreatedAt
	if len(inc.Updates) > 0 && inc.Updates[0].CreatedAt.After(inc.UpdatedAt) {
		inc.UpdatedAt = inc.Updates[0].CreatedAt
	}
	if inc.Resolved() && inc.ResolvedAt.IsZero() && len(inc.Updates) > 0 {
		inc.ResolvedAt = inc.Updates[0].CreatedAt
	}
	if inc.Kind == status.KindIncident && r.State == status.StateResolved && !r.Postmortem.Empty() {
		// Hosted pages call an incident with a published postmortem
		// "postmortem" and show the write-up as its newest entry.
		at := cmp.Or(r.PostmortemAt, r.PostmortemUpdatedAt, inc.UpdatedAt)
		last := cmp.Or(r.PostmortemUpdatedAt, at)
		inc.Status = status.StatusPostmortem
		inc.Updates = append([]*Update{{Status: status.StatusPostmortem, Changed: true, Body: r.Postmortem, CreatedAt: at, DisplayAt: last,
			Notify: r.PostmortemNotified, Postmortem: true}}, inc.Updates...)
		if last.After(inc.UpdatedAt) {
			inc.UpdatedAt = last
		}
	}
	if inc.Maintenance() && inc.StartedAt.IsZero() {
		for _, u := range ups {
			if u.Status == "in_progress" {
				inc.StartedAt = u.CreatedAt
				break
			}
		}
	}
	return inc
}

func leaves(c *Component) []*Component {
	if !c.Group {
		return []*Component{c}
	}
	var out []*Component
	for _, ch := range c.Children {
		out = append(out, leaves(ch)...)
	}
	return out
}

// pageID is a stable id for the page (the API's page.id): derived from its
// URL so it survives restarts and differs between pages.
func pageID(p config.Page) string {
	sum := sha256.Sum256([]byte(p.URL))
	return hex.EncodeToString(sum[:6])
}

// apiZone is the page's zone as hosted pages write page.time_zone: an IANA
// name, UTC spelled "Etc/UTC".
func apiZone(tz string) string {
	switch tz {
	case "", "UTC", "Etc/UTC", "UCT", "Etc/UCT", "Zulu", "Etc/Zulu":
		return "Etc/UTC"
	}
	return tz
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
