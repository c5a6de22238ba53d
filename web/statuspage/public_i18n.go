package statuspage

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/probed/probed/web/httpserver"
	"github.com/probed/probed/words"
)

// Lang holds one language's words (from the catalogue) and date formats.
type Lang struct {
	Code     string
	HTMLLang string
	// Tag is the language of the feeds (Atom xml:lang, RSS language).
	Tag string
	w   *words.Lang
	all languages
	// dateTime formats a timeline time ("Sep 02, 2021 - 17:23 UTC").
	dateTime string
	// day formats a bar's day ("Sep 2, 2021"); month a history heading;
	// short a feed entry's update time ("Sep 2, 17:23 UTC").
	day, month, short string
}

// languages are the languages the site has words for, by code.
type languages map[string]*Lang

// newLanguages makes a Lang of every language in the catalogue.
func newLanguages(c *words.Catalogue) languages {
	ls := languages{}
	for _, code := range c.Codes() {
		w := c.Lang(code)
		ls[code] = &Lang{Code: code, HTMLLang: w.T("lang.html"), Tag: w.T("lang.tag"), w: w, all: ls,
			dateTime: w.T("format.datetime"), day: w.T("format.day"), month: w.T("format.month"), short: w.T("format.short")}
	}
	return ls
}

// of returns the page's languages that have words, the default first.
func (ls languages) of(s *Snapshot) []string {
	var out []string
	for _, l := range s.Page.Languages {
		if ls[l] != nil {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		out = []string{"en"}
	}
	return out
}

// negotiate picks the response language: ?lang= first, then
// Accept-Language, among the page's languages; the first of those is the
// default. explicit reports a ?lang= choice (links then carry it on).
func (ls languages) negotiate(r *http.Request, allowed []string) (l *Lang, explicit bool) {
	code, explicit := httpserver.Negotiate(r, allowed, func(c string) bool { return ls[c] != nil })
	return ls[code], explicit
}

// T returns the text for key, or the key itself when the catalogue lacks
// it (a test checks every key the site uses is in the catalogue).
func (l *Lang) T(key string) string { return l.w.T(key) }

// Self is the language's name in itself ("日本語").
func (l *Lang) Self() string { return l.T("lang.name") }

// Status names a component status.
func (l *Lang) Status(s string) string { return l.w.Status(s) }

// Label names a timeline entry ("Resolved", "Update", "In progress").
func (l *Lang) Label(u *Update) string { return l.T("label." + u.Label()) }

// DateTime formats a time in the page's zone as the timeline shows it.
func (l *Lang) DateTime(t time.Time) string { return t.Format(l.dateTime) }

// Day formats a calendar day.
func (l *Lang) Day(t time.Time) string { return t.Format(l.day) }

// Month formats a month heading ("September 2021").
func (l *Lang) Month(t time.Time) string { return t.Format(l.month) }

// Posted is "Posted 14 days ago." relative to now.
func (l *Lang) Posted(t, now time.Time) string {
	return fmt.Sprintf(l.T("posted"), l.ago(now.Sub(t)))
}

// ago renders a duration the way hosted status pages do (Rails'
// time_ago_in_words).
func (l *Lang) ago(d time.Duration) string {
	m := int(math.Round(d.Minutes()))
	switch {
	case m < 1:
		return l.T("ago.lessminute")
	case m == 1:
		return l.T("ago.minute")
	case m < 45:
		return fmt.Sprintf(l.T("ago.minutes"), m)
	case m < 90:
		return l.T("ago.hour")
	case m < 1440:
		return fmt.Sprintf(l.T("ago.hours"), int(math.Round(float64(m)/60)))
	case m < 2520:
		return l.T("ago.day")
	case m < 43200:
		return fmt.Sprintf(l.T("ago.days"), int(math.Round(float64(m)/1440)))
	case m < 86400:
		return l.T("ago.month")
	case m < 525600:
		return fmt.Sprintf(l.T("ago.months"), int(math.Round(float64(m)/43200)))
	default:
		y := m / 525600
		if y == 1 {
			return l.T("ago.year")
		}
		return fmt.Sprintf(l.T("ago.years"), y)
	}
}

// Percent formats an uptime fraction, floored so 99.999% never reads 100.00%.
func (l *Lang) Percent(u float64) string {
	f := math.Floor(u*10000) / 100
	return strconv.FormatFloat(f, 'f', 2, 64) + "%"
}

// Minutes formats a duration in whole minutes or hours.
func (l *Lang) Minutes(d time.Duration) string {
	m := int(math.Ceil(d.Minutes()))
	if m < 60 {
		return fmt.Sprintf(l.T("dur.minutes"), m)
	}
	h, mm := m/60, m%60
	if mm == 0 {
		return fmt.Sprintf(l.T("dur.hours"), h)
	}
	return fmt.Sprintf(l.T("dur.hoursminutes"), h, mm)
}

// Body returns the update text in this language when there is one.
func (l *Lang) Body(u *Update) string {
	return u.Body.In(l.Code)
}

// Name returns the incident title in this language when there is one.
func (l *Lang) Name(i *Incident) string {
	return i.Name.In(l.Code)
}
