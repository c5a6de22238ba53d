package statuspage

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/public/*.html
var publicTemplates embed.FS

//go:embed static/*
var staticFiles embed.FS

// pageTemplates holds one parsed set per page (layout + page).
type pageTemplates struct {
	sets     map[string]*template.Template
	cssPath  string
	jsPath   string
	cssBytes []byte
}

var pageNames = []string{"index", "incident", "history", "uptime", "error"}

func parsePageTemplates() (*pageTemplates, error) {
	pt := &pageTemplates{sets: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).ParseFS(publicTemplates, "templates/public/layout.html", "templates/public/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse public templates %s: %w", name, err)
		}
		pt.sets[name] = t
	}
	return pt, nil
}

// loadStatic makes the embedded assets ready-to-send entries with long
// cache lifetimes (their URLs carry a content hash).
func loadStatic() (map[string]*entry, error) {
	out := map[string]*entry{}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		ctype := "application/octet-stream"
		switch path.Ext(p) {
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		e := newEntry(200, ctype, b, time.Time{})
		e.cache = "public, max-age=86400"
		out[path.Base(p)] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static assets: %w", err)
	}
	return out, nil
}

// view is what every page template gets.
type view struct {
	L     *Lang
	S     *Snapshot
	Title string
	// self is the page's path and query without lang, for the language links.
	self string
	CSS  string
	JS   string
	Icon string
}

// refreshSeconds is how often a page reloads itself while an incident is
// open or a maintenance runs (a meta refresh: no script needed).
const refreshSeconds = 60

// Refresh is the page's self-reload interval in seconds, 0 when all is calm.
func (v *view) Refresh() int {
	for _, i := range v.S.Incidents {
		if !i.Resolved() {
			return refreshSeconds
		}
	}
	for _, m := range v.S.Maintenances {
		if m.Active() {
			return refreshSeconds
		}
	}
	return 0
}

// Link adds the language to a site path when it is not the page's default,
// so a visitor who chose Japanese stays in Japanese.
func (v *view) Link(p string) string {
	if v.LangParam() == "" {
		return p
	}
	sep := "?"
	if strings.Contains(p, "?") {
		sep = "&"
	}
	return p + sep + "lang=" + v.L.Code
}

// LangParam is the ?lang= value the page's links and forms carry ("" for
// the page's default language).
func (v *view) LangParam() string {
	if v.L.Code == v.L.all.of(v.S)[0] {
		return ""
	}
	return v.L.Code
}

// LangLink is the current page in another language.
func (v *view) LangLink(code string) string {
	sep := "?"
	if strings.Contains(v.self, "?") {
		sep = "&"
	}
	return v.self + sep + "lang=" + code
}

// Langs lists the page's languages for the switcher.
func (v *view) Langs() []string { return v.L.all.of(v.S) }

// LangName is a language's own name.
func (v *view) LangName(code string) string {
	if l := v.L.all[code]; l != nil {
		return l.Self()
	}
	return code
}

// T is a shortcut for the language's texts; with args it formats.
func (v *view) T(key string, args ...any) string {
	if len(args) == 0 {
		return v.L.T(key)
	}
	return fmt.Sprintf(v.L.T(key), args...)
}

// DateTime formats t in the page's time zone as timelines show it.
func (v *view) DateTime(t time.Time) string { return v.L.DateTime(t.In(v.S.Loc)) }

// Posted is "Posted 14 days ago." against the snapshot's now.
func (v *view) Posted(t time.Time) string { return v.L.Posted(t, v.S.Now) }

// Day formats a calendar day.
func (v *view) Day(t time.Time) string { return v.L.Day(t.In(v.S.Loc)) }

// Status names a component status.
func (v *view) Status(s string) string { return v.L.Status(s) }

// Label names an update.
func (v *view) Label(u *Update) string { return v.L.Label(u) }

// Body is an update's text in the page language.
func (v *view) Body(u *Update) string { return v.L.Body(u) }

// Name is an incident's title in the page language.
func (v *view) Name(i *Incident) string { return v.L.Name(i) }

// Names lists components' names.
func (v *view) Names(cs []*Component) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// Window is a maintenance's scheduled window.
func (v *view) Window(i *Incident) string {
	return fmt.Sprintf(v.L.T("maintenance.window"), v.DateTime(i.ScheduledFor), v.DateTime(i.ScheduledUntil))
}

// Banner is the overall status text.
func (v *view) Banner() string { return v.L.T(v.S.Status.bannerKey()) }

// BannerClass colours the banner.
func (v *view) BannerClass() string { return v.S.Status.Indicator }

// Latest is an incident's newest update, or nil.
func (v *view) Latest(i *Incident) *Update {
	if len(i.Updates) == 0 {
		return nil
	}
	return i.Updates[0]
}

func newView(p *Site, s *Snapshot, l *Lang, title, self string) view {
	return view{L: l, S: s, Title: title, self: self, CSS: "/static/style.css?v=" + strings.Trim(p.static["style.css"].etag, `"`),
		JS:   "/static/tooltip.js?v=" + strings.Trim(p.static["tooltip.js"].etag, `"`),
		Icon: "/static/favicon.svg?v=" + strings.Trim(p.static["favicon.svg"].etag, `"`)}
}

// bar is one day of an uptime row. A plain day (up all day, nothing to
// report) carries neither class nor title, which keeps a page of 200
// components small; tooltip.js describes it from its position.
type bar struct {
	Class, Title string
}

// row is one component line with its bars.
type row struct {
	V        *view
	C        *Component
	First    string // the first bar's day, for tooltip.js
	Bars     []bar
	Uptime   string
	Scale    scale  // under the bars: what they span and the uptime over it
	Narrow   *scale // the same over the last 30 days, shown at phone width (which shows 30 bars); nil when the row has no more
	Children []*row
	Dips     []dip
}

// dip is a day below 100% and the incidents behind it.
type dip struct {
	Day       time.Time
	Uptime    string
	Detail    string
	Incidents []*Incident
}

// bars builds the last n days of a component's row in language l.
func (v *view) row(c *Component, n int, withDips bool) *row {
	days := c.Uptime
	if n < len(days) {
		days = days[len(days)-n:]
	}
	r := &row{V: v, C: c, Bars: make([]bar, len(days))}
	if len(days) > 0 {
		r.First = days[0].Start.Format(time.DateOnly)
	}
	var tot Day
	for i := range days {
		d := &days[i]
		tot.add(d)
		switch lvl := d.Level(); {
		case lvl == "up" && d.Degraded == 0 && d.Maintenance == 0 && len(d.Incidents) == 0:
		case lvl == "nodata" && len(d.Incidents) == 0:
			r.Bars[i] = bar{Class: lvl, Title: v.L.T("uptime.nodata")}
		default:
			r.Bars[i] = bar{Class: lvl, Title: v.dayTitle(d)}
		}
		if withDips && d.Downtime() > 0 {
			r.Dips = append(r.Dips, dip{Day: d.Start, Uptime: v.L.Percent(d.Uptime()), Detail: v.downDetail(d), Incidents: d.Incidents})
		}
	}
	if withDips {
		slices.Reverse(r.Dips)
	}
	r.Scale = v.scale(c, days)
	r.Uptime = r.Scale.Uptime
	if len(days) > phoneDays {
		sc := v.scale(c, days[len(days)-phoneDays:])
		r.Narrow = &sc
	}
	for _, ch := range c.Children {
		if ch.Visible() {
			r.Children = append(r.Children, v.row(ch, n, withDips))
		}
	}
	return r
}

// phoneDays is how many bars the page shows at phone width (style.css).
const phoneDays = 30

// scale is the line under a row's bars: where they start and the uptime.
type scale struct{ Label, Uptime string }

// scale says what days span and the uptime over them. A component watched
// for less than the span says "since <first day>", so a young page's
// figure is not read as one over the whole window.
func (v *view) scale(c *Component, days []Day) scale {
	var tot Day
	for i := range days {
		tot.add(&days[i])
	}
	sc := scale{Label: fmt.Sprintf(v.L.T("uptime.days"), len(days))}
	if len(days) > 0 && !c.StartDate.IsZero() && c.StartDate.After(days[0].Start) {
		sc.Label = fmt.Sprintf(v.L.T("uptime.since"), v.Day(c.StartDate))
	}
	if tot.Covered > 0 {
		sc.Uptime = fmt.Sprintf(v.L.T("uptime.percent"), v.L.Percent(tot.Uptime()))
	} else {
		sc.Uptime = v.L.T("nodata.component")
	}
	return sc
}

// dayTitle is a bar's tooltip: the day, its uptime, what went wrong and the
// incidents of the day.
func (v *view) dayTitle(d *Day) string {
	var b strings.Builder
	b.WriteString(v.L.Day(d.Start))
	switch {
	case d.NoData():
		b.WriteString("\n" + v.L.T("uptime.nodata"))
	case d.Covered == 0:
		b.WriteString("\n" + v.L.T("uptime.maint") + " " + v.L.Minutes(d.Maintenance))
	default:
		b.WriteString("\n" + fmt.Sprintf(v.L.T("uptime.percent"), v.L.Percent(d.Uptime())))
		if det := v.downDetail(d); det != "" {
			b.WriteString("\n" + det)
		}
		if d.Maintenance > 0 {
			b.WriteString("\n" + v.L.T("uptime.maint") + " " + v.L.Minutes(d.Maintenance))
		}
	}
	if len(d.Incidents) == 0 {
		if !d.NoData() {
			b.WriteString("\n" + v.L.T("uptime.noincidents"))
		}
	}
	for _, inc := range d.Incidents {
		b.WriteString("\n• " + v.L.Name(inc))
	}
	return b.String()
}

func (v *view) downDetail(d *Day) string {
	var parts []string
	if d.Major > 0 {
		parts = append(parts, v.L.T("uptime.major")+" "+v.L.Minutes(d.Major))
	}
	if d.Partial > 0 {
		parts = append(parts, v.L.T("uptime.partial")+" "+v.L.Minutes(d.Partial))
	}
	if d.Degraded > 0 {
		parts = append(parts, v.L.T("uptime.degraded")+" "+v.L.Minutes(d.Degraded))
	}
	return strings.Join(parts, ", ")
}

// indexView is the front page.
type indexView struct {
	view
	Active        []*Incident
	MaintActive   []*Incident
	MaintUpcoming []*Incident
	Rows          []*row
	Past          []pastDay
	Days          int
}

// pastDay is one day of the front page's recent history.
type pastDay struct {
	Day       time.Time
	Incidents []*Incident
}

// pastDays is how many days of recent history the front page lists.
const pastDays = 7

func (p *Site) renderIndex(s *Snapshot, l *Lang) (*entry, error) {
	v := &indexView{view: newView(p, s, l, fmt.Sprintf(l.T("page.title"), s.Page.Name), "/"), Days: len(s.Days)}
	for _, i := range s.Incidents {
		if !i.Resolved() {
			v.Active = append(v.Active, i)
		}
	}
	for _, m := range upcomingFirst(s.Maintenances) {
		switch {
		case m.Active():
			v.MaintActive = append(v.MaintActive, m)
		case m.Upcoming():
			v.MaintUpcoming = append(v.MaintUpcoming, m)
		}
	}
	for _, c := range s.Components {
		if c.Visible() {
			v.Rows = append(v.Rows, v.row(c, len(s.Days), false))
		}
	}
	y, mo, d := s.Now.Date()
	today := time.Date(y, mo, d, 0, 0, 0, 0, s.Loc)
	for i := range pastDays {
		ds := today.AddDate(0, 0, -i)
		de := ds.AddDate(0, 0, 1)
		pd := pastDay{Day: ds}
		for _, list := range [][]*Incident{s.Incidents, s.Maintenances} {
			for _, inc := range list {
				at := inc.CreatedAt
				if inc.Maintenance() {
					at = inc.ScheduledFor
				}
				if !at.Before(ds) && at.Before(de) && (!inc.Maintenance() || !at.After(s.Now)) {
					pd.Incidents = append(pd.Incidents, inc)
				}
			}
		}
		v.Past = append(v.Past, pd)
	}
	return p.renderHTML("index", v, 200)
}

// incidentView is one incident's or maintenance's timeline.
type incidentView struct {
	view
	I      *Incident
	Report string
}

func (p *Site) renderIncident(s *Snapshot, l *Lang, inc *Incident) (*entry, error) {
	report := fmt.Sprintf(l.T("incident.report"), s.Page.Name)
	if inc.Maintenance() {
		report = fmt.Sprintf(l.T("maintenance.report"), s.Page.Name)
	}
	v := &incidentView{view: newView(p, s, l, l.Name(inc)+" - "+s.Page.Name, inc.Path()), I: inc, Report: report}
	return p.renderHTML("incident", v, 200)
}

// historyView is one page of the incident history.
type historyView struct {
	view
	Months    []historyMonth
	Page      int
	Pages     int
	Component string
	Options   []*Component
	Newer     string
	Older     string
	// The months each page covers, oldest – newest ("July 2021 – September 2021"):
	// the pager names them instead of page numbers alone.
	PageMonths, NewerMonths, OlderMonths string
}

type historyMonth struct {
	Start     time.Time
	Incidents []*Incident
}

// historyMonthsPerPage is how many months one history page shows.
const historyMonthsPerPage = 3

// errBadRequest marks a query a visitor got wrong; the page says why.
type errBadRequest struct{ msg string }

func (e errBadRequest) Error() string { return e.msg }

type errNotFound struct{}

func (errNotFound) Error() string { return "not found" }

func (p *Site) renderHistory(s *Snapshot, l *Lang, q url.Values) (*entry, error) {
	page := 1
	if ps := q.Get("page"); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 {
			return nil, errBadRequest{fmt.Sprintf("page must be a whole number from 1, not %q", ps)}
		}
		page = n
	}
	comp := q.Get("component")
	var filter map[string]bool
	if comp != "" {
		c := s.ByID[comp]
		if c == nil {
			return nil, errBadRequest{fmt.Sprintf("unknown component %q", comp)}
		}
		filter = map[string]bool{}
		for _, l := range leaves(c) {
			filter[l.ID] = true
		}
		filter[c.ID] = true
	}
	var all []*Incident
	for _, list := range [][]*Incident{s.Incidents, s.Maintenances} {
		for _, inc := range list {
			if inc.Maintenance() && inc.Upcoming() {
				continue
			}
			if filter != nil && !slices.ContainsFunc(inc.Components, func(c *Component) bool {
				return filter[c.ID] || slices.ContainsFunc(leaves(c), func(l *Component) bool { return filter[l.ID] })
			}) {
				continue
			}
			all = append(all, inc)
		}
	}
	at := func(i *Incident) time.Time {
		if i.Maintenance() {
			return i.ScheduledFor.In(s.Loc)
		}
		return i.CreatedAt.In(s.Loc)
	}
	slices.SortStableFunc(all, func(a, b *Incident) int { return at(b).Compare(at(a)) })
	y, m, _ := s.Now.Date()
	thisMonth := time.Date(y, m, 1, 0, 0, 0, 0, s.Loc)
	months := 1
	if len(all) > 0 {
		oldest := at(all[len(all)-1])
		oy, om, _ := oldest.Date()
		months = (y-oy)*12 + int(m-om) + 1
	}
	pages := max(1, (months+historyMonthsPerPage-1)/historyMonthsPerPage)
	if page > pages {
		return nil, errNotFound{}
	}
	v := &historyView{view: newView(p, s, l, l.T("history.title")+" - "+s.Page.Name, historySelf(page, comp)),
		Page: page, Pages: pages, Component: comp}
	for i := range historyMonthsPerPage {
		start := thisMonth.AddDate(0, -((page-1)*historyMonthsPerPage + i), 0)
		if (page-1)*historyMonthsPerPage+i >= max(months, historyMonthsPerPage) {
			break
		}
		end := start.AddDate(0, 1, 0)
		hm := historyMonth{Start: start}
		for _, inc := range all {
			if t := at(inc); !t.Before(start) && t.Before(end) {
				hm.Incidents = append(hm.Incidents, inc)
			}
		}
		v.Months = append(v.Months, hm)
	}
	for _, c := range s.Flat {
		v.Options = append(v.Options, c)
	}
	span := func(pg int) string {
		first := (pg - 1) * historyMonthsPerPage
		last := min(first+historyMonthsPerPage, max(months, historyMonthsPerPage)) - 1
		newest, oldest := thisMonth.AddDate(0, -first, 0), thisMonth.AddDate(0, -last, 0)
		if first == last {
			return l.Month(newest)
		}
		return l.Month(oldest) + " – " + l.Month(newest)
	}
	v.PageMonths = span(page)
	if page > 1 {
		v.Newer = v.Link(historySelf(page-1, comp))
		v.NewerMonths = span(page - 1)
	}
	if page < pages {
		v.Older = v.Link(historySelf(page+1, comp))
		v.OlderMonths = span(page + 1)
	}
	return p.renderHTML("history", v, 200)
}

func historySelf(page int, comp string) string {
	q := url.Values{}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if comp != "" {
		q.Set("component", comp)
	}
	if len(q) == 0 {
		return "/history"
	}
	return "/history?" + q.Encode()
}

// MonthName formats a history month heading.
func (v *historyView) MonthName(t time.Time) string { return v.L.Month(t) }

// Span is an incident's time range as the history lists it.
func (v *view) Span(i *Incident) string {
	start := i.CreatedAt
	if i.Maintenance() {
		start = i.ScheduledFor
	}
	if i.Resolved() && !i.ResolvedAt.IsZero() {
		return v.DateTime(start) + " – " + v.DateTime(i.ResolvedAt)
	}
	return v.DateTime(start)
}

// uptimeView is the uptime report.
type uptimeView struct {
	view
	Days  int
	Rows  []*row
	Other int
}

func (p *Site) renderUptime(s *Snapshot, l *Lang, q url.Values) (*entry, error) {
	days := 90
	if ds := q.Get("days"); ds != "" {
		switch ds {
		case "30":
			days = 30
		case "90":
			days = 90
		default:
			return nil, errBadRequest{fmt.Sprintf("days must be 30 or 90, not %q", ds)}
		}
	}
	days = min(days, len(s.Days))
	self := "/uptime"
	other := 30
	if days == 30 {
		self, other = "/uptime?days=30", 90
	}
	v := &uptimeView{view: newView(p, s, l, l.T("uptime.title")+" - "+s.Page.Name, self), Days: days, Other: other}
	for _, c := range s.Components {
		if c.Visible() {
			v.Rows = append(v.Rows, v.row(c, days, true))
		}
	}
	return p.renderHTML("uptime", v, 200)
}

// OtherLink is the uptime page for the other range.
func (v *uptimeView) OtherLink() string {
	if v.Other == 30 {
		return "/uptime?days=30"
	}
	return "/uptime"
}

// errorView is a 4xx page.
type errorView struct {
	view
	Heading, Message string
}

func (p *Site) renderError(s *Snapshot, l *Lang, status int, heading, msg string) (*entry, error) {
	v := &errorView{view: newView(p, s, l, heading+" - "+s.Page.Name, "/"), Heading: heading, Message: msg}
	return p.renderHTML("error", v, status)
}

func (p *Site) renderHTML(name string, v any, status int) (*entry, error) {
	var b bytes.Buffer
	if err := p.pages.sets[name].ExecuteTemplate(&b, "layout", v); err != nil {
		return nil, fmt.Errorf("render %s page: %w", name, err)
	}
	e := newEntry(status, "text/html; charset=utf-8", b.Bytes(), time.Time{})
	e.vary = "Accept-Encoding, Accept-Language"
	return e, nil
}
