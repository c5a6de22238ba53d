package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/probed/probed/config"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// The console's incident templates (list, create, edit, delete), the new
// incident form filled from one, and the postmortem of a resolved incident.

func (s *Console) templateAdminRoutes(mux *http.ServeMux) {
	mux.Handle("GET /admin/templates", s.consoleAuth(s.adminTemplates))
	mux.Handle("POST /admin/templates", s.consoleAuth(s.adminCreateTemplate))
	mux.Handle("GET /admin/templates/{id}", s.consoleAuth(s.adminTemplate))
	mux.Handle("POST /admin/templates/{id}/{action}", s.consoleAuth(s.adminTemplateAction))
}

type templatesData struct {
	List []status.Template
	// Form is the template being made (or the one shown, on its page).
	Form status.Template
}

func (s *Console) adminTemplates(w http.ResponseWriter, r *http.Request) {
	s.showTemplates(w, r, http.StatusOK, status.Template{}, nil)
}

// showTemplates renders the template list with the new-template form
// holding form, and err (from a failed create) shown.
func (s *Console) showTemplates(w http.ResponseWriter, r *http.Request, code int, form status.Template, actErr error) {
	list, err := s.store.ListTemplates(r.Context())
	if err != nil {
		s.render(w, "templates", errCode(err), s.viewErr(r, "console.title.templates", "templates", templatesData{Form: form}, err))
		return
	}
	v := s.view(r, "console.title.templates", "templates", templatesData{List: list, Form: form})
	if actErr != nil {
		v.Error, v.Notice = s.publicErr(r, actErr), ""
	}
	s.render(w, "templates", code, v)
}

// formTemplate reads the template form over old (the template edited, or
// an empty one): the languages the form gives replace old's, a blank one
// removes it, and a language the form does not show (one set through the
// API) is kept.
func formTemplate(r *http.Request, s *Console, old status.Template) status.Template {
	t := status.Template{ID: old.ID, Name: r.PostFormValue("name"), Title: old.Title.With(formText(r, "title")),
		Body: old.Body.With(formText(r, "message")), Impact: r.PostFormValue("impact"), Status: r.PostFormValue("status"),
		Components: formComponents(r, s.config().Leaves())}
	if t.Components == nil {
		t.Components = []status.ComponentImpact{}
	}
	return t
}

func (s *Console) adminCreateTemplate(w http.ResponseWriter, r *http.Request) {
	t := formTemplate(r, s, status.Template{})
	created, err := s.engine.CreateTemplate(r.Context(), actor(r), t)
	if err != nil {
		s.showTemplates(w, r, errCode(err), t, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/templates/%d?done=template_created", created.ID), http.StatusSeeOther)
}

func (s *Console) adminTemplate(w http.ResponseWriter, r *http.Request) {
	id, err := templateID(r)
	var t *status.Template
	if err == nil {
		t, err = s.store.GetTemplate(r.Context(), id)
	}
	if err != nil {
		s.showTemplates(w, r, errCode(err), status.Template{}, err)
		return
	}
	s.showTemplate(w, r, http.StatusOK, *t, nil)
}

func (s *Console) showTemplate(w http.ResponseWriter, r *http.Request, code int, t status.Template, actErr error) {
	v := s.view(r, "console.title.template", "templates", templatesData{Form: t})
	v.Title += " · " + t.Name
	if actErr != nil {
		v.Error, v.Notice = s.publicErr(r, actErr), ""
	}
	s.render(w, "template", code, v)
}

func (s *Console) adminTemplateAction(w http.ResponseWriter, r *http.Request) {
	id, err := templateID(r)
	var old *status.Template
	if err == nil {
		old, err = s.store.GetTemplate(r.Context(), id)
	}
	if err != nil {
		s.showTemplates(w, r, errCode(err), status.Template{}, err)
		return
	}
	switch r.PathValue("action") {
	case "edit":
		t := formTemplate(r, s, *old)
		if _, err := s.engine.UpdateTemplate(r.Context(), actor(r), id, t); err != nil {
			s.showTemplate(w, r, errCode(err), t, err)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/admin/templates/%d?done=template_saved", id), http.StatusSeeOther)
	case "delete":
		if err := s.engine.DeleteTemplate(r.Context(), actor(r), id); err != nil {
			s.showTemplate(w, r, errCode(err), *old, err)
			return
		}
		http.Redirect(w, r, "/admin/templates?done=template_deleted&what="+url.QueryEscape(old.Name), http.StatusSeeOther)
	default:
		s.showTemplate(w, r, http.StatusNotFound, *old, fmt.Errorf("unknown action %q: %w", r.PathValue("action"), store.ErrNotFound))
	}
}

// newData is the new-incident form: the incident being made, the
// templates to start from, and the one it was filled from.
type newData struct {
	In        status.NewIncident
	Templates []status.Template
	From      *status.Template
}

// newIncidentForm is the new-incident form, filled from ?template=ID when given.
func (s *Console) newIncidentForm(r *http.Request, in status.NewIncident) (newData, error) {
	d := newData{In: in}
	var err error
	if d.Templates, err = s.store.ListTemplates(r.Context()); err != nil {
		return d, err
	}
	if ref := r.URL.Query().Get("template"); ref != "" && r.Method == http.MethodGet {
		id, perr := strconv.ParseInt(ref, 10, 64)
		if perr != nil {
			return d, fmt.Errorf("template %q is not a template id: %w", ref, store.ErrInvalid)
		}
		t, err := s.store.GetTemplate(r.Context(), id)
		if err != nil {
			return d, err
		}
		d.From, d.In = t, t.Incident(status.NewIncident{})
	}
	if ref := r.PostFormValue("template"); ref != "" && r.Method == http.MethodPost {
		// A refused form shown again keeps naming its template (for the audit).
		if t, err := s.findTemplate(r.Context(), ref); err == nil {
			d.From = t
		}
	}
	return d, nil
}

// postmortemAction saves the postmortem draft from the incident page's
// form (publish false; languages the form does not show are kept), or
// publishes the saved draft — the one the page previews (the publish form
// carries no text, so what is published is what was seen). It returns the
// notice's key.
func (s *Console) postmortemAction(r *http.Request, id int64, publish bool) (string, error) {
	if publish {
		_, err := s.engine.PublishPostmortem(r.Context(), actor(r), id, r.PostFormValue("notify") == "1")
		return "postmortem_published", err
	}
	inc, err := s.store.GetIncident(r.Context(), id)
	if err != nil {
		return "", err
	}
	old := status.Text{}
	if inc.Postmortem != nil {
		old = inc.Postmortem.Draft
	}
	_, err = s.engine.SavePostmortem(r.Context(), actor(r), id, old.With(formText(r, "postmortem")))
	return "postmortem_saved", err
}

// compRows is the component table of a form: every leaf with the status
// the form holds for it ("" = not affected).
type compRows struct {
	Rows     []compRow
	Statuses []string
}

type compRow struct{ ID, Name, Cur string }

func compForm(leaves []config.Component, statuses []string, cur []status.ComponentImpact) compRows {
	out := compRows{Statuses: statuses}
	for _, c := range leaves {
		row := compRow{ID: c.ID, Name: c.Name}
		for _, ci := range cur {
			if ci.ID == c.ID {
				row.Cur = ci.Status
			}
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}
