package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/incident"
	"github.com/probed/probed/store"
	"github.com/probed/probed/web/httpserver"
)

// The operator console: server-rendered pages that work without
// JavaScript. Every form posts back with the session's CSRF token; every
// action redirects (303) to the page it came from with a notice.

//go:embed templates/admin/*.html
var adminFS embed.FS

// consoleJS keeps the console's drafts current without a reload.
//
//go:embed static/console.js
var consoleJS []byte

// adminPages parses each page with the shared layout. The words funcs (t,
// tf, word, label, impact, lang) speak English here; render binds them to
// the request's language.
func adminPages(loc func() *time.Location) map[string]*template.Template {
	funcs := langFuncs(words.Builtin().Lang("en"))
	for name, f := range (template.FuncMap{
		"fmtTime": func(t any) string {
			var tt time.Time
			switch v := t.(type) {
			case time.Time:
				tt = v
			case *time.Time:
				if v == nil {
					return "—"
				}
				tt = *v
			default:
				return ""
			}
			if tt.IsZero() {
				return "—"
			}
			return tt.In(loc()).Format("2006-01-02 15:04:05 MST")
		},
		"list":      func(v ...string) []string { return v },
		"inputTime": func(t time.Time) string { return t.In(loc()).Format("2006-01-02T15:04") },
		"pretty": func(raw json.RawMessage) string {
			var b bytes.Buffer
			if len(raw) == 0 || json.Indent(&b, raw, "", "  ") != nil {
				return string(raw)
			}
			return b.String()
		},
		// changed keeps the status changes an update made (one that
		// changed nothing lists nothing).
		"changed": func(as []status.AffectedComponent) []status.AffectedComponent {
			var out []status.AffectedComponent
			for _, a := range as {
				if a.OldStatus != a.NewStatus {
					out = append(out, a)
				}
			}
			return out
		},
		// statusOf is the status a record gives a component now (a
		// maintenance window: only once it has started).
		"statusOf": func(inc *status.Incident, id string) string { return inc.StatusNow(id) },
		"compForm": compForm,
	}) {
		funcs[name] = f
	}
	out := map[string]*template.Template{}
	for _, page := range []string{"login", "dashboard", "incidents", "incident", "new", "maintenance", "audit", "subscribers", "templates", "template"} {
		files := []string{"templates/admin/layout.html", "templates/admin/" + page + ".html"}
		if page == "templates" || page == "template" {
			files = append(files, "templates/admin/tplform.html") // the template form both show
		}
		out[page] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(adminFS, files...))
	}
	return out
}

// langFuncs are the template funcs that give the console's words in l:
// t "console.key", tf "console.key" args... (fmt verbs), word (a component
// status), label (an incident or maintenance status), impact, state (an
// incident's state), and lang (the language's code).
func langFuncs(l *words.Lang) template.FuncMap {
	return template.FuncMap{
		"t":      l.T,
		"tf":     l.F,
		"word":   l.Status,
		"label":  l.Label,
		"impact": l.Impact,
		"state":  func(st string) string { return l.T("console.state." + st) },
		"lang":   func() string { return l.Code },
	}
}

// adminView is what every console page gets.
type adminView struct {
	Title      string
	Nav        string
	PageName   string
	Operator   string
	CSRF       string
	Notice     string
	Error      string
	Components []config.Component // leaves, in page order
	Statuses   []string           // incident component statuses, best first
	Languages  []string           // page.languages: a text field per language
	TimeZone   string
	Now        time.Time
	Next       string
	Data       any
	// Lang is the language the page is in: page.languages' first with a
	// catalogue, or the operator's browser's choice among them.
	Lang string
}

func (s *Console) adminRoutes(mux *http.ServeMux) {
	s.adminTmpl = adminPages(func() *time.Location {
		if l := s.config().Page.Location; l != nil {
			return l
		}
		return time.UTC
	})
	mux.HandleFunc("GET /admin/login", s.adminLoginPage)
	mux.Handle("POST /admin/login", s.cop.Handler(http.HandlerFunc(s.adminLogin)))
	mux.Handle("POST /admin/logout", s.consoleAuth(s.adminLogout))
	mux.Handle("GET /admin/{$}", s.consoleAuth(s.adminDashboard))
	mux.Handle("GET /admin/drafts.json", s.consoleAuth(s.adminDraftsJSON))
	mux.HandleFunc("GET /admin/console.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(consoleJS)
	})
	mux.Handle("GET /admin/incidents", s.consoleAuth(s.adminIncidents))
	mux.Handle("GET /admin/incidents/new", s.consoleAuth(s.adminNew))
	mux.Handle("POST /admin/incidents", s.consoleAuth(s.adminCreate))
	mux.Handle("GET /admin/incidents/{id}", s.consoleAuth(s.adminIncident))
	mux.Handle("POST /admin/incidents/{id}/{action}", s.consoleAuth(s.adminIncidentAction))
	mux.Handle("GET /admin/maintenance", s.consoleAuth(s.adminMaintenance))
	mux.Handle("POST /admin/maintenance", s.consoleAuth(s.adminSchedule))
	mux.Handle("POST /admin/maintenance/{id}/{action}", s.consoleAuth(s.adminMaintenanceAction))
	mux.Handle("GET /admin/audit", s.consoleAuth(s.adminAudit))
	s.templateAdminRoutes(mux)
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/", http.StatusMovedPermanently)
	})
}

// view builds a page's view; title is a catalogue key (console.title.*).
func (s *Console) view(r *http.Request, title, nav string, data any) adminView {
	cfg := s.config()
	op, _ := OperatorFrom(r.Context())
	lang := s.lang(r)
	v := adminView{Lang: lang, Title: s.words.T(lang, title), Nav: nav, PageName: cfg.Page.Name, Operator: op.Name, Components: cfg.Leaves(), Languages: cfg.Page.Languages,
		Statuses: []string{status.Operational, status.DegradedPerformance, status.PartialOutage, status.MajorOutage},
		TimeZone: cfg.Page.TimeZone, Now: s.clock.Now(), Notice: s.notice(lang, r), Data: data}
	if op.Session != nil {
		v.CSRF = op.Session.CSRF
	}
	return v
}

// notice is the words for ?done=ACTION[&what=X] after an action redirected
// back: the catalogue's console.done.ACTION (X fills its %s); an action
// without words shows nothing.
func (s *Console) notice(lang string, r *http.Request) string {
	done := r.URL.Query().Get("done")
	if done == "" {
		return ""
	}
	key := "console.done." + done
	text := s.words.T(lang, key)
	if text == key {
		return ""
	}
	if strings.Contains(text, "%s") {
		return fmt.Sprintf(text, r.URL.Query().Get("what"))
	}
	return text
}

func (s *Console) render(w http.ResponseWriter, page string, code int, v adminView) {
	var b bytes.Buffer
	t, err := s.adminTmpl[page].Clone()
	if err == nil {
		l := s.words.Lang(v.Lang)
		if l == nil {
			l = s.words.Lang("en")
		}
		err = t.Funcs(langFuncs(l)).Execute(&b, v)
	}
	if err != nil {
		s.logger.Error("render console page", "page", page, "err", err)
		http.Error(w, "500 "+s.words.T(v.Lang, "console.error.internal"), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "same-origin")
	if code == http.StatusServiceUnavailable {
		h.Set("Retry-After", retryAfter)
	}
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

func errCode(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrState):
		return http.StatusConflict
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrBusy):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (s *Console) publicErr(r *http.Request, err error) string {
	if errCode(err) == http.StatusInternalServerError {
		s.logger.Error("console", "path", r.URL.Path, "err", err)
		return s.words.T(s.lang(r), "console.error.internal")
	}
	return err.Error()
}

// lang is the language of the console's pages for r: page.languages' first
// with a catalogue, or the one the operator's browser asks for among them.
func (s *Console) lang(r *http.Request) string {
	lang, _ := httpserver.Negotiate(r, s.config().Page.Languages, s.words.Has)
	return lang
}

func (s *Console) adminLoginPage(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "console.title.login", "", nil)
	v.Next = safeNext(r.URL.Query().Get("next"))
	s.render(w, "login", http.StatusOK, v)
}

// SafeNext keeps a post-login redirect on the console (/admin/…), else
// /admin/; the demo's one-time login uses it too.
func SafeNext(next string) string { return safeNext(next) }

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/admin/"
	}
	return next
}

// errNotAToken: what was typed is not even in the form of a token.
var errNotAToken = errors.New("not a token")

func (s *Console) adminLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	tok := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	client := s.loginClient(r)
	// What is not even a token is refused before the client's bucket is
	// charged: junk from many addresses must not use up the limiter.
	// (Not logged above Debug either: unlimited, it would flood the log.)
	var name string
	err := errNotAToken
	if store.WellFormedToken(tok) {
		if s.loginLimited(w, r, client, next) {
			return
		}
		name, err = s.store.Authenticate(r.Context(), tok)
	}
	st := s.store
	if err != nil {
		v := s.view(r, "console.title.login", "", nil)
		v.Next = next
		v.Error = s.words.T(v.Lang, "console.login.invalid")
		code := http.StatusUnauthorized
		switch {
		case errors.Is(err, errNotAToken):
			s.logger.Debug("console login failed: not a token", "client", client)
		case errors.Is(err, store.ErrUnauthorized):
			s.logger.Warn("console login failed: unknown token", "client", client) // never the token
		default:
			s.logger.Error("console login", "err", err)
			v.Error, code = s.words.T(v.Lang, "console.error.internal"), http.StatusInternalServerError
		}
		s.render(w, "login", code, v)
		return
	}
	secret, _, err := st.CreateSession(r.Context(), name, sessionTTL)
	if err != nil {
		s.logger.Error("console login", "err", err)
		http.Error(w, "500 "+s.words.T(s.lang(r), "console.error.internal"), http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", MaxAge: int(sessionTTL.Seconds()), HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secureCookies()})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Console) adminLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := s.store.DeleteSession(r.Context(), c.Value); err != nil {
			s.logger.Error("console logout", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies()})
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

type dashboardData struct {
	Drafts       []status.Incident
	Open         []status.Incident
	Maintenances []status.Incident
	Recent       []status.Incident
	Health       map[string]store.ComponentHealth
	Public       map[string]store.StatusInterval
	// Silent are the locations out of a probe's quorum for silence.
	Silent []incident.Location
	// Leader is who leads, when several holders share the store (nil on
	// SQLite); LeaderErr is why the lease could not be read.
	Leader    *LeaderStatus
	LeaderErr string
}

func (s *Console) adminDashboard(w http.ResponseWriter, r *http.Request) {
	st, ctx := s.store, r.Context()
	var d dashboardData
	var err error
	if d.Drafts, err = st.ListIncidents(ctx, store.IncidentFilter{Kind: status.KindIncident, State: status.StateDraft}); err == nil {
		if d.Open, err = st.ListIncidents(ctx, store.IncidentFilter{Kind: status.KindIncident, State: status.StatePublished}); err == nil {
			if d.Maintenances, err = st.ListIncidents(ctx, store.IncidentFilter{Kind: status.KindMaintenance, State: status.StatePublished}); err == nil {
				if d.Recent, err = st.ListIncidents(ctx, store.IncidentFilter{Kind: status.KindIncident, State: "resolved,rejected,withdrawn", Limit: 10}); err == nil {
					d.Public, err = st.ComponentStatuses(ctx)
				}
			}
		}
	}
	if err != nil {
		s.render(w, "dashboard", http.StatusInternalServerError, s.viewErr(r, "console.title.dashboard", "drafts", d, err))
		return
	}
	// The engine's own view waits for its lock within the request's
	// deadline: an engine busy with a locked database gives 503 and
	// Retry-After, as the store's own waits do.
	var locs []incident.Location
	if d.Health, err = s.engine.ComponentHealth(ctx); err == nil {
		locs, err = s.engine.Locations(ctx)
	}
	if err != nil {
		s.render(w, "dashboard", errCode(err), s.viewErr(r, "console.title.dashboard", "drafts", d, err))
		return
	}
	for _, l := range locs {
		if l.Stale {
			d.Silent = append(d.Silent, l)
		}
	}
	d.Leader, d.LeaderErr = s.leadership(r)
	s.render(w, "dashboard", http.StatusOK, s.view(r, "console.title.dashboard", "drafts", d))
}

// leadership reads who leads for the dashboard: nil on SQLite (one
// process leads). An unreadable lease is shown, not a failed page: the
// operator needs the rest of the dashboard most when the database is in
// trouble.
func (s *Console) leadership(r *http.Request) (*LeaderStatus, string) {
	if s.leader == nil {
		return nil, ""
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := s.leader(ctx)
	if err != nil {
		return &st, s.publicErr(r, err)
	}
	if st.Holder == "" {
		return nil, ""
	}
	return &st, ""
}

// draftBrief is one waiting draft in /admin/drafts.json.
type draftBrief struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`
	Impact    string    `json:"impact"`
	CreatedAt time.Time `json:"created_at"`
}

// adminDraftsJSON lists the drafts waiting, newest first, for the
// console's script (session-authenticated like the pages).
func (s *Console) adminDraftsJSON(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.ListIncidents(r.Context(), store.IncidentFilter{Kind: status.KindIncident, State: status.StateDraft})
	if err != nil {
		http.Error(w, s.publicErr(r, err), http.StatusInternalServerError)
		return
	}
	out := struct {
		Drafts []draftBrief `json:"drafts"`
	}{Drafts: []draftBrief{}}
	for _, d := range list {
		out.Drafts = append(out.Drafts, draftBrief{ID: d.ID, Title: d.Title.In("en"), Impact: d.Impact, CreatedAt: d.CreatedAt})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

func (s *Console) viewErr(r *http.Request, title, nav string, data any, err error) adminView {
	v := s.view(r, title, nav, data)
	v.Error = s.publicErr(r, err)
	return v
}

type incidentsData struct {
	State string
	List  []status.Incident
}

func (s *Console) adminIncidents(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	if state != "" && !status.ValidState(state) {
		s.render(w, "incidents", http.StatusBadRequest, s.viewErr(r, "console.title.incidents", "incidents", incidentsData{}, fmt.Errorf("unknown state %q: %w", state, store.ErrInvalid)))
		return
	}
	list, err := s.store.ListIncidents(r.Context(), store.IncidentFilter{Kind: status.KindIncident, State: state, Limit: 200})
	if err != nil {
		s.render(w, "incidents", errCode(err), s.viewErr(r, "console.title.incidents", "incidents", incidentsData{}, err))
		return
	}
	s.render(w, "incidents", http.StatusOK, s.view(r, "console.title.incidents", "incidents", incidentsData{State: state, List: list}))
}

type incidentData struct {
	Inc   *status.Incident
	Audit []store.AuditEntry
}

func (s *Console) adminIncident(w http.ResponseWriter, r *http.Request) {
	s.showIncident(w, r, http.StatusOK, nil)
}

// showIncident renders an incident's page, with err (from a failed action) shown on it.
func (s *Console) showIncident(w http.ResponseWriter, r *http.Request, code int, actErr error) {
	id, err := pathID(r)
	var inc *status.Incident
	if err == nil {
		inc, err = s.store.GetIncident(r.Context(), id)
	}
	if err != nil {
		s.render(w, "incidents", errCode(err), s.viewErr(r, "console.title.incident", "incidents", incidentsData{}, err))
		return
	}
	audit, err := s.store.ListAudit(r.Context(), store.AuditFilter{IncidentID: id, Limit: 50})
	if err != nil {
		s.render(w, "incidents", errCode(err), s.viewErr(r, "console.title.incident", "incidents", incidentsData{}, err))
		return
	}
	nav := "incidents"
	if inc.Kind == status.KindMaintenance {
		nav = "maintenance"
	}
	v := s.view(r, fmt.Sprintf("#%d %s", inc.ID, inc.Title.In(s.lang(r))), nav, incidentData{Inc: inc, Audit: audit})
	if actErr != nil {
		v.Error = s.publicErr(r, actErr)
		v.Notice = ""
	}
	s.render(w, "incident", code, v)
}

func (s *Console) adminNew(w http.ResponseWriter, r *http.Request) {
	d, err := s.newIncidentForm(r, status.NewIncident{})
	if err != nil {
		s.render(w, "new", errCode(err), s.viewErr(r, "console.title.new", "incidents", d, err))
		return
	}
	v := s.view(r, "console.title.new", "incidents", d)
	if d.From != nil && v.Notice == "" {
		v.Notice = fmt.Sprintf(s.words.T(v.Lang, "console.new.filled"), d.From.Name)
	}
	s.render(w, "new", http.StatusOK, v)
}

// formComponents reads component.<id> selects; empty ones are not part of
// the incident.
func formComponents(r *http.Request, leaves []config.Component) []status.ComponentImpact {
	var out []status.ComponentImpact
	for _, c := range leaves {
		if v := r.PostFormValue("component." + c.ID); v != "" {
			out = append(out, status.ComponentImpact{ID: c.ID, Status: v})
		}
	}
	return out
}

func (s *Console) adminCreate(w http.ResponseWriter, r *http.Request) {
	in := status.NewIncident{Title: formText(r, "title").Clean(), Impact: r.PostFormValue("impact"),
		Status: r.PostFormValue("status"), Body: formText(r, "message").Clean(),
		Components: formComponents(r, s.config().Leaves()), Publish: r.PostFormValue("publish") != ""}
	if ref := r.PostFormValue("template"); ref != "" {
		// Filled from a template: the audit log names it (the form's values win).
		if t, err := s.findTemplate(r.Context(), ref); err == nil {
			in.Template = t.Name
		}
	}
	inc, err := s.engine.CreateIncident(r.Context(), actor(r), in)
	if err != nil {
		d, _ := s.newIncidentForm(r, in)
		s.render(w, "new", errCode(err), s.viewErr(r, "console.title.new", "incidents", d, err))
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/incidents/%d?done=%s", inc.ID, url.QueryEscape("created")), http.StatusSeeOther)
}

func (s *Console) adminIncidentAction(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.showIncident(w, r, http.StatusBadRequest, err)
		return
	}
	e, ctx, who := s.engine, r.Context(), actor(r)
	action := r.PathValue("action")
	var done string
	switch action {
	case "approve":
		// The form's checkbox is notify=1; a form without the switch
		// (no notify_shown) notifies, as before it existed.
		notify := r.PostFormValue("notify") == "1" || r.PostFormValue("notify_shown") == ""
		_, err = e.Approve(ctx, who, id, notify)
		done = "approved"
		if !notify {
			done = "approved_silently"
		}
	case "reject":
		_, err = e.Reject(ctx, who, id, r.PostFormValue("reason"))
		done = "rejected"
	case "edit":
		ed := status.DraftEdit{Title: formText(r, "title"), Body: formText(r, "message")}
		for field, dst := range map[string]**string{"impact": &ed.Impact, "status": &ed.Status} {
			if _, ok := r.PostForm[field]; ok {
				v := r.PostFormValue(field)
				*dst = &v
			}
		}
		ed.Components = formComponents(r, s.config().Leaves())
		if ed.Components == nil {
			ed.Components = []status.ComponentImpact{}
		}
		_, err = e.EditDraft(ctx, who, id, ed)
		done = "saved"
	case "update":
		_, err = e.PostUpdate(ctx, who, id, status.NewUpdate{Status: r.PostFormValue("status"), Body: formText(r, "message").Clean(),
			Notify: r.PostFormValue("notify") != "", Components: formComponents(r, s.config().Leaves())})
		done = "update"
	case "resolve":
		_, err = e.Resolve(ctx, who, id, formText(r, "message").Clean())
		done = "resolved"
	case "postmortem", "publish_postmortem":
		done, err = s.postmortemAction(r, id, action == "publish_postmortem")
	default:
		err = fmt.Errorf("unknown action %q: %w", action, store.ErrNotFound)
	}
	if err != nil {
		s.showIncident(w, r, errCode(err), err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/incidents/%d?done=%s", id, url.QueryEscape(done)), http.StatusSeeOther)
}

type maintenanceData struct {
	Upcoming []status.Incident
	Active   []status.Incident
	Past     []status.Incident
	Days     []calendarDay
	Form     status.NewMaintenance
}

// calendarDay is one day of the next four weeks with the windows touching it.
type calendarDay struct {
	Date    time.Time
	Windows []status.Incident
}

func (s *Console) maintenanceView(r *http.Request, form status.NewMaintenance) (maintenanceData, error) {
	st, ctx := s.store, r.Context()
	d := maintenanceData{Form: form}
	live, err := st.ListIncidents(ctx, store.IncidentFilter{Kind: status.KindMaintenance, State: status.StatePublished, Limit: 500})
	if err != nil {
		return d, err
	}
	for _, m := range live {
		if m.Status == status.StatusScheduled {
			d.Upcoming = append(d.Upcoming, m)
		} else {
			d.Active = append(d.Active, m)
		}
	}
	if d.Past, err = st.ListIncidents(ctx, store.IncidentFilter{Kind: status.KindMaintenance, State: "resolved,withdrawn", Limit: 20}); err != nil {
		return d, err
	}
	loc := s.config().Page.Location
	if loc == nil {
		loc = time.UTC
	}
	now := s.clock.Now().In(loc)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	for i := range 28 {
		start := day.AddDate(0, 0, i)
		end := start.AddDate(0, 0, 1)
		cd := calendarDay{Date: start}
		for _, m := range live {
			if m.ScheduledFor != nil && m.ScheduledUntil != nil && m.ScheduledFor.Before(end) && m.ScheduledUntil.After(start) {
				cd.Windows = append(cd.Windows, m)
			}
		}
		d.Days = append(d.Days, cd)
	}
	return d, nil
}

func (s *Console) adminMaintenance(w http.ResponseWriter, r *http.Request) {
	now := s.clock.Now()
	d, err := s.maintenanceView(r, status.NewMaintenance{Start: now.Add(24 * time.Hour).Truncate(time.Hour), End: now.Add(26 * time.Hour).Truncate(time.Hour)})
	if err != nil {
		s.render(w, "maintenance", errCode(err), s.viewErr(r, "console.title.maintenance", "maintenance", d, err))
		return
	}
	s.render(w, "maintenance", http.StatusOK, s.view(r, "console.title.maintenance", "maintenance", d))
}

// parseFormTime reads a datetime-local value in the page's time zone, or RFC 3339.
func (s *Console) parseFormTime(field, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	loc := s.config().Page.Location
	if loc == nil {
		loc = time.UTC
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q: want a date and time such as 2026-03-01T10:00: %w", field, v, store.ErrInvalid)
}

func (s *Console) adminSchedule(w http.ResponseWriter, r *http.Request) {
	in := status.NewMaintenance{Title: formText(r, "title").Clean(), Body: formText(r, "message").Clean(), Components: r.PostForm["components"]}
	start, err := s.parseFormTime("start", r.PostFormValue("start"))
	if err == nil {
		in.Start = start
		var end time.Time
		end, err = s.parseFormTime("end", r.PostFormValue("end"))
		in.End = end
	}
	var m *status.Incident
	if err == nil {
		m, err = s.engine.ScheduleMaintenance(r.Context(), actor(r), in)
	}
	if err != nil {
		d, verr := s.maintenanceView(r, in)
		if verr != nil {
			err = errors.Join(err, verr)
		}
		s.render(w, "maintenance", errCode(err), s.viewErr(r, "console.title.maintenance", "maintenance", d, err))
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/incidents/%d?done=%s", m.ID, url.QueryEscape("scheduled")), http.StatusSeeOther)
}

func (s *Console) adminMaintenanceAction(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.showIncident(w, r, http.StatusBadRequest, err)
		return
	}
	e, ctx, who := s.engine, r.Context(), actor(r)
	msg, body := r.PostFormValue("message"), formText(r, "message").Clean()
	action := r.PathValue("action")
	switch action {
	case "cancel":
		_, err = e.CancelMaintenance(ctx, who, id, msg)
	case "start":
		_, err = e.StartMaintenance(ctx, who, id, body)
	case "verifying":
		_, err = e.VerifyMaintenance(ctx, who, id, body)
	case "complete":
		_, err = e.CompleteMaintenance(ctx, who, id, body)
	default:
		err = fmt.Errorf("unknown action %q: %w", action, store.ErrNotFound)
	}
	if err != nil {
		s.showIncident(w, r, errCode(err), err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/incidents/%d?done=%s", id, url.QueryEscape(action)), http.StatusSeeOther)
}

type auditData struct {
	Actor   string
	Entries []store.AuditEntry
}

func (s *Console) adminAudit(w http.ResponseWriter, r *http.Request) {
	f := store.AuditFilter{Actor: r.URL.Query().Get("actor"), Limit: 300}
	if v := r.URL.Query().Get("incident"); v != "" {
		f.IncidentID, _ = strconv.ParseInt(v, 10, 64)
	}
	list, err := s.store.ListAudit(r.Context(), f)
	if err != nil {
		s.render(w, "audit", errCode(err), s.viewErr(r, "console.title.audit", "audit", auditData{}, err))
		return
	}
	s.render(w, "audit", http.StatusOK, s.view(r, "console.title.audit", "audit", auditData{Actor: f.Actor, Entries: list}))
}

// formText reads a text a form gives per language: field in English and
// field_LANG (title_ja, message_fr) in any other; nil when the form has
// none of them (an edit then leaves the text as it is).
func formText(r *http.Request, field string) status.Text {
	var out status.Text
	for k, v := range r.PostForm {
		lang := ""
		if k == field {
			lang = "en"
		} else if l, ok := strings.CutPrefix(k, field+"_"); ok && l != "" {
			lang = l
		}
		if lang == "" || len(v) == 0 {
			continue
		}
		if out == nil {
			out = status.Text{}
		}
		// Browsers send a textarea's line breaks as CRLF; texts keep LF.
		out[lang] = strings.ReplaceAll(v[0], "\r\n", "\n")
	}
	return out
}
