package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/probed/probed/status"
	htmltmpl "html/template"
	"mime"
	"net/mail"
	"net/url"
	"strings"
	texttmpl "text/template"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/probed/probed/config"
	"github.com/probed/probed/store"
)

// Labels of update statuses, as the seed's timelines show them.
var statusLabels = map[string][2]string{
	status.StatusInvestigating: {"Investigating", "調査中"},
	status.StatusIdentified:    {"Identified", "原因特定"},
	status.StatusMonitoring:    {"Monitoring", "経過観察中"},
	status.StatusResolved:      {"Resolved", "解決済み"},
	status.StatusUpdate:        {"Update", "更新"},
	status.StatusScheduled:     {"Scheduled", "予定"},
	status.StatusInProgress:    {"In progress", "実施中"},
	status.StatusVerifying:     {"Verifying", "検証中"},
	status.StatusCompleted:     {"Completed", "完了"},
}

var componentLabels = map[string][2]string{
	status.Operational:         {"Operational", "稼働中"},
	status.DegradedPerformance: {"Degraded performance", "パフォーマンス低下"},
	status.PartialOutage:       {"Partial outage", "部分的な障害"},
	status.MajorOutage:         {"Major outage", "重大な障害"},
	status.UnderMaintenance:    {"Under maintenance", "メンテナンス中"},
}

func label(m map[string][2]string, key string, ja bool) string {
	l, ok := m[key]
	if !ok {
		return key
	}
	if ja {
		return l[1]
	}
	return l[0]
}

// Placeholders stand for the per-subscriber links in a story's bodies,
// rendered once per event and filled in per message.
const (
	phManage = "@@PROBED-MANAGE-URL@@"
	phUnsub  = "@@PROBED-UNSUBSCRIBE-URL@@"
)

// Composer turns events into mails: the parts shared by every recipient
// of an event are rendered once (a story); each message then only fills in
// the recipient's address, links and ids.
type Composer struct {
	cfg   *config.Config
	links *Links
	from  string
	host  string
}

// NewComposer returns a composer for a configuration.
func NewComposer(cfg *config.Config, links *Links) (*Composer, error) {
	u, err := url.Parse(cfg.Page.URL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("new composer: page.url %q has no host", cfg.Page.URL)
	}
	from := cfg.Notify.From
	if from == "" {
		from = (&mail.Address{Name: cfg.Page.Name + " Status", Address: "noreply@" + u.Hostname()}).String()
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("new composer: notify.from %q: %w", from, err)
	}
	return &Composer{cfg: cfg, links: links, from: from, host: u.Hostname()}, nil
}

// Story is one event's mail, rendered once for all its recipients.
type Story struct {
	Event    store.Event
	Incident *status.Incident
	Update   status.Update
	Kind     string // incident or maintenance
	Subject  string
	URL      string
	Root     bool // the first mail of its thread
	text     string
	html     string
	err      error
}

// ErrNoStory is returned when an event's incident or update is gone.
var ErrNoStory = errors.New("event has no incident to tell")

type storyData struct {
	Page       string
	Kind       string
	KindJA     string
	Title      string
	TitleJA    string
	Label      string
	LabelJA    string
	Body       string
	BodyJA     string
	Posted     string
	PostedJA   string
	Window     string
	WindowJA   string
	Components []compLine
	URL        string
	Manage     string
	Unsub      string
}

type compLine struct{ Name, Status, StatusJA string }

// Story loads an event's incident and renders its mail.
func (c *Composer) Story(ctx context.Context, st *store.Store, ev store.Event) (*Story, error) {
	inc, err := st.GetIncident(ctx, ev.IncidentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: incident %d", ErrNoStory, ev.IncidentID)
	}
	if err != nil {
		return nil, fmt.Errorf("load story of event %d: %w", ev.ID, err)
	}
	return c.StoryOf(ev, inc)
}

// StoryOf renders the mail of an event about inc.
func (c *Composer) StoryOf(ev store.Event, inc *status.Incident) (*Story, error) {
	s := &Story{Event: ev, Incident: inc, Kind: inc.Kind}
	if s.Kind != status.KindMaintenance {
		s.Kind = status.KindIncident
	}
	found := false
	for _, u := range inc.Updates {
		if u.ID == ev.UpdateID {
			s.Update, found = u, true
			break
		}
	}
	if !found {
		if len(inc.Updates) == 0 || ev.UpdateID != 0 {
			return nil, fmt.Errorf("%w: update %d of incident %d", ErrNoStory, ev.UpdateID, inc.ID)
		}
		s.Update = inc.Updates[0] // newest first
	}
	loc := c.cfg.Page.Location
	if loc == nil {
		loc = time.UTC
	}
	s.Root = ev.Kind == store.EventIncidentPublished || ev.Kind == store.EventMaintenanceScheduled
	if s.Kind == status.KindMaintenance {
		s.URL = c.pageURL("/maintenance/%d", inc.ID)
	} else {
		s.URL = c.pageURL("/incidents/%d", inc.ID)
	}
	s.Subject = Subject(c.cfg.Page.Name, inc, loc)

	d := storyData{Page: c.cfg.Page.Name, Kind: "Incident", KindJA: "障害情報", Title: inc.Title.In("en"), TitleJA: inc.Title.In("ja"),
		Label: label(statusLabels, s.Update.Status, false), LabelJA: label(statusLabels, s.Update.Status, true),
		Body: s.Update.Body.In("en"), BodyJA: s.Update.Body.In("ja"), URL: s.URL, Manage: phManage, Unsub: phUnsub}
	at := s.Update.DisplayAt
	if at.IsZero() {
		at = s.Update.CreatedAt
	}
	d.Posted, d.PostedJA = FormatTime(at, loc, false), FormatTime(at, loc, true)
	if s.Kind == status.KindMaintenance {
		d.Kind, d.KindJA = "Maintenance", "メンテナンス情報"
		if inc.ScheduledFor != nil && inc.ScheduledUntil != nil {
			d.Window = FormatTime(*inc.ScheduledFor, loc, false) + " to " + FormatTime(*inc.ScheduledUntil, loc, false)
			d.WindowJA = FormatTime(*inc.ScheduledFor, loc, true) + " ～ " + FormatTime(*inc.ScheduledUntil, loc, true)
		}
	}
	status := map[string]string{}
	for _, ci := range inc.Components {
		status[ci.ID] = ci.Status
	}
	for _, a := range s.Update.Affected {
		status[a.ID] = a.NewStatus
	}
	ids := ev.Components
	if len(ids) == 0 {
		ids = inc.ComponentIDs()
	}
	for _, id := range ids {
		name := id
		if comp := c.cfg.Component(id); comp != nil {
			name = comp.Name
		}
		line := compLine{Name: name}
		if st := status[id]; st != "" {
			line.Status, line.StatusJA = label(componentLabels, st, false), label(componentLabels, st, true)
		}
		d.Components = append(d.Components, line)
	}
	var tb, hb bytes.Buffer
	if err := textStory.Execute(&tb, d); err != nil {
		return nil, fmt.Errorf("render mail of event %d: %w", ev.ID, err)
	}
	if err := htmlStory.Execute(&hb, d); err != nil {
		return nil, fmt.Errorf("render mail of event %d: %w", ev.ID, err)
	}
	s.text, s.html = tb.String(), hb.String()
	return s, nil
}

func (c *Composer) pageURL(format string, args ...any) string {
	return strings.TrimRight(c.cfg.Page.URL, "/") + fmt.Sprintf(format, args...)
}

// Subject is the seed's subject: "<page> Incident - <title> - <D Month YYYY>"
// (or Maintenance), dated by the incident's first public moment (the
// maintenance's start) in the page's time zone, so every mail of one
// incident has the same subject.
func Subject(page string, inc *status.Incident, loc *time.Location) string {
	kind, at := "Incident", inc.CreatedAt
	if inc.PublishedAt != nil {
		at = *inc.PublishedAt
	}
	if inc.Kind == status.KindMaintenance {
		kind = "Maintenance"
		if inc.ScheduledFor != nil {
			at = *inc.ScheduledFor
		}
	}
	return page + " " + kind + " - " + oneLine(inc.Title.In("en")) + " - " + at.In(loc).Format("2 January 2006")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// FormatTime writes a time as the seed's timelines do ("Sep 2, 2021 - 17:23
// UTC"), or in Japanese order.
func FormatTime(t time.Time, loc *time.Location, ja bool) string {
	t = t.In(loc)
	if ja {
		return t.Format("2006年1月2日 15:04 MST")
	}
	return t.Format("Jan 2, 2006 - 15:04 MST")
}

// MessageIDs returns the Message-ID of a story's mail to a subscriber and
// the thread root it answers ("" for the root itself). Both derive from the
// incident, update and subscriber only, so a mail sent again after a crash
// carries the same id and mail clients fold the two.
func (c *Composer) MessageIDs(s *Story, subscriber int64) (id, root string) {
	root = fmt.Sprintf("%s-%d.%d@%s", s.Kind, s.Incident.ID, subscriber, c.host)
	if s.Root {
		return root, ""
	}
	part := fmt.Sprintf("u%d", s.Update.ID)
	if s.Event.UpdateID == 0 {
		part = fmt.Sprintf("e%d", s.Event.ID)
	}
	return fmt.Sprintf("%s-%d.%s.%d@%s", s.Kind, s.Incident.ID, part, subscriber, c.host), root
}

func (c *Composer) newMsg(to, subject, messageID string, now time.Time) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP))
	if err := m.From(c.from); err != nil {
		return nil, fmt.Errorf("compose mail: from %q: %w", c.from, err)
	}
	if err := m.To(to); err != nil {
		return nil, fmt.Errorf("compose mail: to %q: %w", to, err)
	}
	m.Subject(subject)
	m.SetMessageIDWithValue(messageID)
	m.SetDateWithValue(now)
	m.SetUserAgent("probed")
	// RFC 3834: no out-of-office replies to a notification.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	return m, nil
}

// EventMail composes a story's message to one subscriber.
func (c *Composer) EventMail(s *Story, sub store.Subscriber, now time.Time) (*gomail.Msg, error) {
	id, root := c.MessageIDs(s, sub.ID)
	m, err := c.newMsg(sub.Address, s.Subject, id, now)
	if err != nil {
		return nil, err
	}
	if root != "" {
		m.SetGenHeaderPreformatted(gomail.HeaderInReplyTo, "<"+root+">")
		m.SetGenHeaderPreformatted(gomail.HeaderReferences, "<"+root+">")
	}
	unsub := UnsubscribeURL(c.cfg, c.links, sub)
	manage := ManageURL(c.cfg, c.links, sub)
	m.SetGenHeaderPreformatted(gomail.HeaderListUnsubscribe, "<"+unsub+">")
	m.SetGenHeaderPreformatted(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	m.SetGenHeaderPreformatted("List-Id", fmt.Sprintf("%s <%s>", mimeWord(c.cfg.Page.Name), c.host))
	text := strings.NewReplacer(phManage, manage, phUnsub, unsub).Replace(s.text)
	html := strings.NewReplacer(phManage, htmltmpl.HTMLEscapeString(manage), phUnsub, htmltmpl.HTMLEscapeString(unsub)).Replace(s.html)
	m.SetBodyString(gomail.TypeTextPlain, text)
	m.AddAlternativeString(gomail.TypeTextHTML, html)
	return m, nil
}

// mimeWord encodes a phrase for a preformatted header when it is not ASCII.
func mimeWord(s string) string {
	for _, r := range s {
		if r > 126 || r < 32 || r == '"' || r == '<' || r == '>' {
			return strings.ReplaceAll(mime.QEncoding.Encode("utf-8", s), "\r\n", "")
		}
	}
	return s
}

// ConfirmMail composes the double opt-in mail: a link to a page that
// confirms with a button (a POST), since mail scanners open links.
func (c *Composer) ConfirmMail(sub store.Subscriber, now time.Time) (*gomail.Msg, error) {
	loc := c.cfg.Page.Location
	if loc == nil {
		loc = time.UTC
	}
	sent := sub.ConfirmSentAt
	if sent.IsZero() {
		sent = sub.CreatedAt
	}
	id := fmt.Sprintf("confirm-%d.%d@%s", sub.ID, sent.UnixMilli(), c.host)
	subject := c.cfg.Page.Name + " - Confirm your subscription / 購読の確認"
	m, err := c.newMsg(sub.Address, subject, id, now)
	if err != nil {
		return nil, err
	}
	expires := sent.Add(c.cfg.Notify.Subscribe.PendingTTL.D())
	d := confirmData{Page: c.cfg.Page.Name, Address: sub.Address, URL: ConfirmURL(c.cfg, c.links, sub),
		Expires: FormatTime(expires, loc, false), ExpiresJA: FormatTime(expires, loc, true)}
	for _, id := range sub.PendingComponents {
		name := id
		if comp := c.cfg.Component(id); comp != nil {
			name = comp.Name
		}
		d.Components = append(d.Components, name)
	}
	var tb, hb bytes.Buffer
	if err := textConfirm.Execute(&tb, d); err != nil {
		return nil, fmt.Errorf("render confirmation: %w", err)
	}
	if err := htmlConfirm.Execute(&hb, d); err != nil {
		return nil, fmt.Errorf("render confirmation: %w", err)
	}
	m.SetBodyString(gomail.TypeTextPlain, tb.String())
	m.AddAlternativeString(gomail.TypeTextHTML, hb.String())
	return m, nil
}

type confirmData struct {
	Page, Address, URL, Expires, ExpiresJA string
	Components                             []string
}

var textStory = texttmpl.Must(texttmpl.New("story").Parse(`{{.Page}} {{.Kind}}: {{.Title}}

{{.Label}} - {{.Body}}
Posted {{.Posted}}
{{- if .Window}}
Scheduled for {{.Window}}{{end}}
{{if .Components}}
Affected components:
{{range .Components}}- {{.Name}}{{if .Status}} ({{.Status}}){{end}}
{{end}}{{end}}
Details: {{.URL}}

------------------------------------------------------------
{{.Page}} {{.KindJA}}: {{.TitleJA}}

{{.LabelJA}} - {{.BodyJA}}
投稿日時: {{.PostedJA}}
{{- if .WindowJA}}
予定: {{.WindowJA}}{{end}}
{{if .Components}}
影響を受けるコンポーネント:
{{range .Components}}- {{.Name}}{{if .StatusJA}}（{{.StatusJA}}）{{end}}
{{end}}{{end}}
詳細: {{.URL}}

--
Manage your subscription / 購読の管理: {{.Manage}}
Unsubscribe / 配信停止: {{.Unsub}}
`))

var htmlStory = htmltmpl.Must(htmltmpl.New("story").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: sans-serif; color: #222; max-width: 640px">
<section lang="en">
<p style="color:#666">{{.Page}} {{.Kind}}</p>
<h1 style="font-size:1.3em">{{.Title}}</h1>
<p><strong>{{.Label}}</strong> - {{.Body}}<br><small>Posted {{.Posted}}</small></p>
{{if .Window}}<p>Scheduled for {{.Window}}</p>{{end}}
{{if .Components}}<p>Affected components:</p><ul>{{range .Components}}<li>{{.Name}}{{if .Status}} ({{.Status}}){{end}}</li>{{end}}</ul>{{end}}
<p><a href="{{.URL}}">{{.URL}}</a></p>
</section>
<hr>
<section lang="ja">
<p style="color:#666">{{.Page}} {{.KindJA}}</p>
<h1 style="font-size:1.3em">{{.TitleJA}}</h1>
<p><strong>{{.LabelJA}}</strong> - {{.BodyJA}}<br><small>投稿日時: {{.PostedJA}}</small></p>
{{if .WindowJA}}<p>予定: {{.WindowJA}}</p>{{end}}
{{if .Components}}<p>影響を受けるコンポーネント:</p><ul>{{range .Components}}<li>{{.Name}}{{if .StatusJA}}（{{.StatusJA}}）{{end}}</li>{{end}}</ul>{{end}}
<p>詳細: <a href="{{.URL}}">{{.URL}}</a></p>
</section>
<hr>
<p style="font-size:0.85em;color:#666"><a href="` + phManage + `">Manage your subscription / 購読の管理</a> &middot; <a href="` + phUnsub + `">Unsubscribe / 配信停止</a></p>
</body></html>
`))

var textConfirm = texttmpl.Must(texttmpl.New("confirm").Parse(`Someone, hopefully you, asked to receive {{.Page}} status updates at {{.Address}}{{if .Components}} for:
{{range .Components}}- {{.}}
{{end}}{{else}}.
{{end}}
To confirm, open this link and press "Confirm subscription":
{{.URL}}

The link works until {{.Expires}}. If you did not ask for this, ignore this mail: nothing more will be sent to you.

------------------------------------------------------------
{{.Address}} で {{.Page}} のステータス更新通知の受信が申し込まれました。
{{if .Components}}{{range .Components}}- {{.}}
{{end}}{{end}}
登録を完了するには、次のリンクを開いて「確認」ボタンを押してください:
{{.URL}}

このリンクは {{.ExpiresJA}} まで有効です。お心当たりのない場合は、このメールを破棄してください。今後配信されることはありません。
`))

var htmlConfirm = htmltmpl.Must(htmltmpl.New("confirm").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Confirm your subscription</title></head>
<body style="font-family: sans-serif; color: #222; max-width: 640px">
<section lang="en">
<p>Someone, hopefully you, asked to receive {{.Page}} status updates at {{.Address}}{{if .Components}} for:</p>
<ul>{{range .Components}}<li>{{.}}</li>{{end}}</ul>{{else}}.</p>{{end}}
<p><a href="{{.URL}}">Confirm subscription</a> (opens a page with a confirm button; works until {{.Expires}}).</p>
<p>If you did not ask for this, ignore this mail: nothing more will be sent to you.</p>
</section>
<hr>
<section lang="ja">
<p>{{.Address}} で {{.Page}} のステータス更新通知の受信が申し込まれました。</p>
{{if .Components}}<ul>{{range .Components}}<li>{{.}}</li>{{end}}</ul>{{end}}
<p><a href="{{.URL}}">購読を確認する</a>（確認ボタンのあるページが開きます。{{.ExpiresJA}} まで有効）</p>
<p>お心当たりのない場合は、このメールを破棄してください。今後配信されることはありません。</p>
</section>
</body></html>
`))
