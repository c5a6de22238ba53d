package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
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
	words *words.Catalogue
}

// NewComposer returns a composer for a configuration.
func NewComposer(cfg *config.Config, links *Links) (*Composer, error) {
	return NewComposerWords(cfg, links, words.Builtin())
}

// NewComposerWords returns a composer that takes its words from a catalogue.
func NewComposerWords(cfg *config.Config, links *Links, w *words.Catalogue) (*Composer, error) {
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
	return &Composer{cfg: cfg, links: links, from: from, host: u.Hostname(), words: w}, nil
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

// storyData is a story's mail: one section per language of the page.
type storyData struct {
	Page     string
	Sections []storySection
	URL      string
	Manage   string // placeholders for the subscriber's links
	Unsub    string
	// ManageWords and UnsubWords name the links in every language ("Manage your subscription / 購読の管理").
	ManageWords, UnsubWords string
}

// storySection is a story told in one language, every word from its catalogue.
type storySection struct {
	Lang                                     string
	Kind, Title, Label, Body, Posted, Window string
	Affected, Details                        string
	Components                               []compLine
}

type compLine struct{ Name, Status string }

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
	if ev.Kind == store.EventPostmortemPublished {
		// The postmortem is the news: told like an update labelled Postmortem.
		pm := inc.Postmortem
		if !pm.Published() {
			return nil, fmt.Errorf("%w: incident %d has no published postmortem", ErrNoStory, inc.ID)
		}
		s.Update, found = PostmortemUpdate(inc), true
	}
	for _, u := range inc.Updates {
		if !found && u.ID == ev.UpdateID {
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
	langs := c.languages()
	s.Subject = Subject(c.cfg.Page.Name, inc, loc, c.words.Lang(langs[0]))

	at := s.Update.DisplayAt
	if at.IsZero() {
		at = s.Update.CreatedAt
	}
	statuses := map[string]string{}
	for _, ci := range inc.Components {
		if ev.Kind != store.EventPostmortemPublished { // long over: its components are listed without a status
			statuses[ci.ID] = inc.StatusNow(ci.ID) // a window not yet started: no status
		}
	}
	for _, a := range s.Update.Affected {
		statuses[a.ID] = a.NewStatus
	}
	ids := ev.Components
	if len(ids) == 0 {
		ids = inc.ComponentIDs()
	}
	d := storyData{Page: c.cfg.Page.Name, URL: s.URL, Manage: phManage, Unsub: phUnsub}
	var manage, unsub []string
	for _, code := range langs {
		w := c.words.Lang(code)
		sec := storySection{Lang: code, Kind: w.T("mail.kind." + s.Kind), Title: inc.Title.In(code, langs...),
			Label: w.Label(s.Update.Status), Body: s.Update.Body.In(code, langs...),
			Posted: w.F("mail.posted", FormatTime(at, loc, w)), Affected: w.T("mail.affected"), Details: w.T("mail.details")}
		if s.Kind == status.KindMaintenance && inc.ScheduledFor != nil && inc.ScheduledUntil != nil {
			sec.Window = w.F("mail.window", FormatTime(*inc.ScheduledFor, loc, w), FormatTime(*inc.ScheduledUntil, loc, w))
			if ev.Kind == store.EventMaintenanceReminder {
				sec.Label, sec.Body = w.T("mail.reminder"), w.F("mail.reminder.body", FormatTime(*inc.ScheduledFor, loc, w))
			}
		}
		for _, id := range ids {
			name := id
			if comp := c.cfg.Component(id); comp != nil {
				name = comp.Name
			}
			line := compLine{Name: name}
			if st := statuses[id]; st != "" {
				line.Status = w.Status(st)
			}
			sec.Components = append(sec.Components, line)
		}
		d.Sections = append(d.Sections, sec)
		manage, unsub = append(manage, w.T("mail.manage")), append(unsub, w.T("mail.unsubscribe"))
	}
	d.ManageWords, d.UnsubWords = strings.Join(manage, " / "), strings.Join(unsub, " / ")
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

// PostmortemUpdate is a resolved incident's published postmortem as a
// timeline entry (status postmortem, no id of the timeline's), dated its
// first publication and displayed at its latest.
func PostmortemUpdate(inc *status.Incident) status.Update {
	pm := inc.Postmortem
	u := status.Update{IncidentID: inc.ID, Status: status.StatusPostmortem, Body: pm.Body, Affected: []status.AffectedComponent{}}
	if pm.PublishedAt != nil {
		u.CreatedAt = *pm.PublishedAt
	}
	u.DisplayAt = u.CreatedAt
	if pm.BodyUpdatedAt != nil {
		u.DisplayAt = *pm.BodyUpdatedAt
	}
	return u
}

func (c *Composer) pageURL(format string, args ...any) string {
	return strings.TrimRight(c.cfg.Page.URL, "/") + fmt.Sprintf(format, args...)
}

// Subject is the seed's subject: "<page> Incident - <title> - <D Month YYYY>"
// (or Maintenance), dated by the incident's first public moment (the
// maintenance's start) in the page's time zone, so every mail of one
// incident has the same subject.
func Subject(page string, inc *status.Incident, loc *time.Location, w *words.Lang) string {
	kind, at := status.KindIncident, inc.CreatedAt
	if inc.PublishedAt != nil {
		at = *inc.PublishedAt
	}
	if inc.Kind == status.KindMaintenance {
		kind = status.KindMaintenance
		if inc.ScheduledFor != nil {
			at = *inc.ScheduledFor
		}
	}
	return w.F("mail.subject", page, w.T("mail.kind."+kind), oneLine(inc.Title.In(w.Code)), at.In(loc).Format(w.T("mail.subject.date")))
}

// languages are the page's languages that have a catalogue, the first the
// default (every mail tells its story in each, in this order).
func (c *Composer) languages() []string {
	var out []string
	for _, l := range c.cfg.Page.Languages {
		if c.words.Has(l) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		out = []string{"en"}
	}
	return out
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// FormatTime writes a time as a language's mail does ("Sep 2, 2021 -
// 17:23 UTC", the seed's timelines; mail.time in the catalogue).
func FormatTime(t time.Time, loc *time.Location, w *words.Lang) string {
	return t.In(loc).Format(w.T("mail.time"))
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
	langs := c.languages()
	var subj []string
	for _, code := range langs {
		subj = append(subj, c.words.T(code, "mail.confirm.subject"))
	}
	subject := c.cfg.Page.Name + " - " + strings.Join(subj, " / ")
	m, err := c.newMsg(sub.Address, subject, id, now)
	if err != nil {
		return nil, err
	}
	expires := sent.Add(c.cfg.Notify.Subscribe.PendingTTL.D())
	d := confirmData{URL: ConfirmURL(c.cfg, c.links, sub)}
	for _, id := range sub.PendingComponents {
		name := id
		if comp := c.cfg.Component(id); comp != nil {
			name = comp.Name
		}
		d.Components = append(d.Components, name)
	}
	for _, code := range langs {
		w := c.words.Lang(code)
		d.Sections = append(d.Sections, confirmSection{Lang: code, Asked: w.F("mail.confirm.asked", c.cfg.Page.Name, sub.Address),
			For: w.T("mail.confirm.for"), Open: w.T("mail.confirm.open"), Button: w.T("mail.confirm.button"), Note: w.T("mail.confirm.note"),
			Until: w.F("mail.confirm.until", FormatTime(expires, loc, w)), Ignore: w.T("mail.confirm.ignore")})
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

// confirmData is the confirmation mail: one section per language of the page.
type confirmData struct {
	URL        string
	Components []string
	Sections   []confirmSection
}

type confirmSection struct {
	Lang                                          string
	Asked, For, Open, Button, Note, Until, Ignore string
}

var textStory = texttmpl.Must(texttmpl.New("story").Parse(`{{range $i, $s := .Sections}}{{if $i}}
------------------------------------------------------------
{{end}}{{$.Page}} {{$s.Kind}}: {{$s.Title}}

{{$s.Label}} - {{$s.Body}}
{{$s.Posted}}
{{- if $s.Window}}
{{$s.Window}}{{end}}
{{if $s.Components}}
{{$s.Affected}}
{{range $s.Components}}- {{.Name}}{{if .Status}} ({{.Status}}){{end}}
{{end}}{{end}}
{{$s.Details}}: {{$.URL}}
{{end}}
--
{{.ManageWords}}: {{.Manage}}
{{.UnsubWords}}: {{.Unsub}}
`))

var htmlStory = htmltmpl.Must(htmltmpl.New("story").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{(index .Sections 0).Title}}</title></head>
<body style="font-family: sans-serif; color: #222; max-width: 640px">
{{range $i, $s := .Sections}}{{if $i}}<hr>
{{end}}<section lang="{{$s.Lang}}">
<p style="color:#666">{{$.Page}} {{$s.Kind}}</p>
<h1 style="font-size:1.3em">{{$s.Title}}</h1>
<p><strong>{{$s.Label}}</strong> - {{$s.Body}}<br><small>{{$s.Posted}}</small></p>
{{if $s.Window}}<p>{{$s.Window}}</p>{{end}}
{{if $s.Components}}<p>{{$s.Affected}}</p><ul>{{range $s.Components}}<li>{{.Name}}{{if .Status}} ({{.Status}}){{end}}</li>{{end}}</ul>{{end}}
<p>{{$s.Details}}: <a href="{{$.URL}}">{{$.URL}}</a></p>
</section>
{{end}}<hr>
<p style="font-size:0.85em;color:#666"><a href="` + phManage + `">{{.ManageWords}}</a> &middot; <a href="` + phUnsub + `">{{.UnsubWords}}</a></p>
</body></html>
`))

var textConfirm = texttmpl.Must(texttmpl.New("confirm").Parse(`{{range $i, $s := .Sections}}{{if $i}}
------------------------------------------------------------
{{end}}{{$s.Asked}}
{{if $.Components}}{{$s.For}}
{{range $.Components}}- {{.}}
{{end}}{{end}}
{{$s.Open}}
{{$.URL}}

{{$s.Until}} {{$s.Ignore}}
{{end}}`))

var htmlConfirm = htmltmpl.Must(htmltmpl.New("confirm").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{(index .Sections 0).Button}}</title></head>
<body style="font-family: sans-serif; color: #222; max-width: 640px">
{{range $i, $s := .Sections}}{{if $i}}<hr>
{{end}}<section lang="{{$s.Lang}}">
<p>{{$s.Asked}}</p>
{{if $.Components}}<p>{{$s.For}}</p><ul>{{range $.Components}}<li>{{.}}</li>{{end}}</ul>{{end}}
<p><a href="{{$.URL}}">{{$s.Button}}</a> ({{$s.Note}} {{$s.Until}})</p>
<p>{{$s.Ignore}}</p>
</section>
{{end}}</body></html>
`))
