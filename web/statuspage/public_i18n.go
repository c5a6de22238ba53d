package statuspage

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/probed/probed/web/httpserver"
)

// Lang holds the fixed texts and date formats of one language.
type Lang struct {
	Code     string
	HTMLLang string
	// Tag is the language of the feeds (Atom xml:lang, RSS language).
	Tag   string
	texts map[string]string
	// dateTime formats a timeline time ("Sep 02, 2021 - 17:23 UTC").
	dateTime string
	// day formats a bar's day ("Sep 2, 2021"); month a history heading;
	// short a feed entry's update time ("Sep 2, 17:23 UTC").
	day, month, short string
}

// T returns the text for key, or the key itself when the language lacks it
// (a test checks that no key is missing).
func (l *Lang) T(key string) string {
	if s, ok := l.texts[key]; ok {
		return s
	}
	return key
}

// Status names a component status.
func (l *Lang) Status(s string) string { return l.T("status." + s) }

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

var en = &Lang{Code: "en", HTMLLang: "en", Tag: "en-US", dateTime: "Jan 02, 2006 - 15:04 MST", day: "Jan 2, 2006", month: "January 2006",
	short: "Jan 2, 15:04 MST",
	texts: map[string]string{
		"banner.none":        "All Systems Operational",
		"banner.minor":       "Minor Service Outage",
		"banner.major":       "Partial System Outage",
		"banner.critical":    "Major Service Outage",
		"banner.maintenance": "Service Under Maintenance",

		"status.operational":          "Operational",
		"status.degraded_performance": "Degraded Performance",
		"status.partial_outage":       "Partial Outage",
		"status.major_outage":         "Major Outage",
		"status.under_maintenance":    "Under Maintenance",

		"label.investigating": "Investigating",
		"label.identified":    "Identified",
		"label.monitoring":    "Monitoring",
		"label.resolved":      "Resolved",
		"label.postmortem":    "Postmortem",
		"label.update":        "Update",
		"label.scheduled":     "Scheduled",
		"label.in_progress":   "In progress",
		"label.verifying":     "Verifying",
		"label.completed":     "Completed",

		"impact.none":        "None",
		"impact.minor":       "Minor",
		"impact.major":       "Major",
		"impact.critical":    "Critical",
		"impact.maintenance": "Maintenance",

		"posted":           "Posted %s.",
		"ago.lessminute":   "less than a minute ago",
		"ago.minute":       "1 minute ago",
		"ago.minutes":      "%d minutes ago",
		"ago.hour":         "about 1 hour ago",
		"ago.hours":        "about %d hours ago",
		"ago.day":          "1 day ago",
		"ago.days":         "%d days ago",
		"ago.month":        "about 1 month ago",
		"ago.months":       "%d months ago",
		"ago.year":         "about 1 year ago",
		"ago.years":        "over %d years ago",
		"dur.minutes":      "%d min",
		"dur.hours":        "%d h",
		"dur.hoursminutes": "%d h %d min",

		"nav.status":           "Status",
		"nav.history":          "Incident History",
		"nav.uptime":           "Uptime",
		"nav.subscribe":        "Subscribe to Updates",
		"nav.language":         "Language",
		"page.title":           "%s Status",
		"incident.report":      "Incident Report for %s",
		"maintenance.report":   "Scheduled Maintenance Report for %s",
		"affects":              "This incident affected: %s",
		"maintenance.affects":  "This scheduled maintenance affected: %s",
		"active.incidents":     "Active Incidents",
		"maintenance.active":   "Maintenance In Progress",
		"maintenance.upcoming": "Scheduled Maintenance",
		"maintenance.window":   "Scheduled for %s to %s",
		"latest.update":        "Latest update",
		"components":           "Components",
		"uptime.days":          "%d days ago",
		"uptime.today":         "Today",
		"uptime.percent":       "%s uptime",
		"uptime.nodata":        "No data",
		"uptime.maint":         "Maintenance",
		"uptime.noincidents":   "No incidents",
		"uptime.major":         "Major outage",
		"uptime.partial":       "Partial outage",
		"uptime.degraded":      "Degraded",
		"uptime.title":         "Uptime",
		"uptime.range":         "Last %d days",
		"uptime.dips":          "Days below 100%",
		"uptime.nodips":        "No downtime in this period.",
		"uptime.component":     "Component",
		"uptime.overall":       "Uptime",
		"history.title":        "Incident History",
		"history.none":         "No incidents reported this month.",
		"history.newer":        "Newer",
		"history.older":        "Older",
		"history.filter":       "Filter by component",
		"history.all":          "All components",
		"history.apply":        "Apply",
		"past.incidents":       "Past Incidents",
		"past.none":            "No incidents reported.",
		"past.more":            "Incident History",
		"feeds":                "Feeds",
		"feed.title":           "%s Status - Incident History",
		"footer.powered":       "Powered by probed",
		"nodata.component":     "No data yet",
		"notfound.title":       "Page not found",
		"error.badrequest":     "Bad request",
		"notfound.body":        "The page you asked for does not exist.",
		"back":                 "Current status",
		"resolved.in":          "Resolved",
		"group.toggle":         "components",
		"legend.up":            "No downtime",
		"legend.minor":         "Up to 10 min",
		"legend.partial":       "Up to 1 h",
		"legend.major":         "Over 1 h",
		"legend.maint":         "Maintenance",
		"legend.nodata":        "No data",
	}}

var ja = &Lang{Code: "ja", HTMLLang: "ja", Tag: "ja", dateTime: "2006年01月02日 15:04 MST", day: "2006年1月2日", month: "2006年1月",
	short: "1月2日 15:04 MST",
	texts: map[string]string{
		"banner.none":        "すべてのシステムが正常に稼働しています",
		"banner.minor":       "軽微なサービス障害が発生しています",
		"banner.major":       "一部のシステムで障害が発生しています",
		"banner.critical":    "重大なサービス障害が発生しています",
		"banner.maintenance": "メンテナンス中です",

		"status.operational":          "正常",
		"status.degraded_performance": "パフォーマンス低下",
		"status.partial_outage":       "一部障害",
		"status.major_outage":         "重大な障害",
		"status.under_maintenance":    "メンテナンス中",

		"label.investigating": "調査中",
		"label.identified":    "原因特定",
		"label.monitoring":    "経過観察中",
		"label.resolved":      "解決済み",
		"label.postmortem":    "事後報告",
		"label.update":        "更新",
		"label.scheduled":     "予定",
		"label.in_progress":   "実施中",
		"label.verifying":     "確認中",
		"label.completed":     "完了",

		"impact.none":        "なし",
		"impact.minor":       "軽微",
		"impact.major":       "重大",
		"impact.critical":    "致命的",
		"impact.maintenance": "メンテナンス",

		"posted":           "%sに投稿。",
		"ago.lessminute":   "1分以内",
		"ago.minute":       "1分前",
		"ago.minutes":      "%d分前",
		"ago.hour":         "約1時間前",
		"ago.hours":        "約%d時間前",
		"ago.day":          "1日前",
		"ago.days":         "%d日前",
		"ago.month":        "約1か月前",
		"ago.months":       "%dか月前",
		"ago.year":         "約1年前",
		"ago.years":        "%d年以上前",
		"dur.minutes":      "%d分",
		"dur.hours":        "%d時間",
		"dur.hoursminutes": "%d時間%d分",

		"nav.status":           "稼働状況",
		"nav.history":          "インシデント履歴",
		"nav.uptime":           "稼働率",
		"nav.subscribe":        "更新情報を受け取る",
		"nav.language":         "言語",
		"page.title":           "%s 稼働状況",
		"incident.report":      "%s のインシデント報告",
		"maintenance.report":   "%s の定期メンテナンス報告",
		"affects":              "影響を受けたコンポーネント: %s",
		"maintenance.affects":  "メンテナンス対象のコンポーネント: %s",
		"active.incidents":     "発生中のインシデント",
		"maintenance.active":   "実施中のメンテナンス",
		"maintenance.upcoming": "予定されているメンテナンス",
		"maintenance.window":   "%s から %s まで",
		"latest.update":        "最新情報",
		"components":           "コンポーネント",
		"uptime.days":          "%d日前",
		"uptime.today":         "今日",
		"uptime.percent":       "稼働率 %s",
		"uptime.nodata":        "データなし",
		"uptime.maint":         "メンテナンス",
		"uptime.noincidents":   "インシデントなし",
		"uptime.major":         "重大な障害",
		"uptime.partial":       "一部障害",
		"uptime.degraded":      "パフォーマンス低下",
		"uptime.title":         "稼働率",
		"uptime.range":         "過去%d日間",
		"uptime.dips":          "稼働率が100%未満の日",
		"uptime.nodips":        "この期間に停止はありません。",
		"uptime.component":     "コンポーネント",
		"uptime.overall":       "稼働率",
		"history.title":        "インシデント履歴",
		"history.none":         "この月に報告されたインシデントはありません。",
		"history.newer":        "新しい月",
		"history.older":        "古い月",
		"history.filter":       "コンポーネントで絞り込む",
		"history.all":          "すべてのコンポーネント",
		"history.apply":        "表示",
		"past.incidents":       "過去のインシデント",
		"past.none":            "報告されたインシデントはありません。",
		"past.more":            "インシデント履歴",
		"feeds":                "フィード",
		"feed.title":           "%s 稼働状況 - インシデント履歴",
		"footer.powered":       "Powered by probed",
		"nodata.component":     "データはまだありません",
		"notfound.title":       "ページが見つかりません",
		"error.badrequest":     "リクエストが正しくありません",
		"notfound.body":        "お探しのページは存在しません。",
		"back":                 "現在の稼働状況",
		"resolved.in":          "解決済み",
		"group.toggle":         "コンポーネント",
		"legend.up":            "停止なし",
		"legend.minor":         "10分以内",
		"legend.partial":       "1時間以内",
		"legend.major":         "1時間超",
		"legend.maint":         "メンテナンス",
		"legend.nodata":        "データなし",
	}}

// langs are the languages probed ships texts for.
var langs = map[string]*Lang{"en": en, "ja": ja}

// negotiate picks the response language: ?lang= first, then
// Accept-Language, among the page's languages; the first of those is the
// default. explicit reports a ?lang= choice (links then carry it on).
func negotiate(r *http.Request, allowed []string) (l *Lang, explicit bool) {
	code, explicit := httpserver.Negotiate(r, allowed, func(c string) bool { return langs[c] != nil })
	return langs[code], explicit
}
