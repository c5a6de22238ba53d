package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// templateRoutes registers the operator API's incident templates and
// postmortems.
func (s *Console) templateRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/templates", s.apiAuth(s.apiListTemplates))
	mux.Handle("POST /api/v1/templates", s.apiAuth(s.apiCreateTemplate))
	mux.Handle("GET /api/v1/templates/{id}", s.apiAuth(s.apiGetTemplate))
	mux.Handle("PUT /api/v1/templates/{id}", s.apiAuth(s.apiUpdateTemplate))
	mux.Handle("DELETE /api/v1/templates/{id}", s.apiAuth(s.apiDeleteTemplate))
	mux.Handle("PUT /api/v1/incidents/{id}/postmortem", s.apiAuth(s.apiSavePostmortem))
	mux.Handle("POST /api/v1/incidents/{id}/postmortem/publish", s.apiAuth(s.apiPublishPostmortem))
}

// TemplateRequest is the body of POST /api/v1/templates and PUT
// /api/v1/templates/{id} (which replaces the template whole). Texts are
// given like an incident's: titles/messages per language, with the
// shorthands title, title_ja, message, message_ja. Impact empty: from the
// component statuses; status empty: investigating.
type TemplateRequest struct {
	Name       string                   `json:"name"`
	Title      string                   `json:"title"`
	TitleJA    string                   `json:"title_ja"`
	Titles     status.Text              `json:"titles"`
	Message    string                   `json:"message"`
	MessageJA  string                   `json:"message_ja"`
	Messages   status.Text              `json:"messages"`
	Impact     string                   `json:"impact"`
	Status     string                   `json:"status"`
	Components []status.ComponentImpact `json:"components"`
}

func (r TemplateRequest) template() status.Template {
	comps := r.Components
	if comps == nil {
		comps = []status.ComponentImpact{}
	}
	return status.Template{Name: r.Name, Title: texts(r.Titles, r.Title, r.TitleJA), Body: texts(r.Messages, r.Message, r.MessageJA),
		Impact: r.Impact, Status: r.Status, Components: comps}
}

// PostmortemRequest is the body of PUT /api/v1/incidents/{id}/postmortem:
// the draft's text per language (bodies), with the shorthands body
// (English) and body_ja. It replaces the whole draft.
type PostmortemRequest struct {
	Body   string      `json:"body"`
	BodyJA string      `json:"body_ja"`
	Bodies status.Text `json:"bodies"`
}

func templateID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("template id %q is not a positive number: %w", r.PathValue("id"), store.ErrInvalid)
	}
	return id, nil
}

// findTemplate reads a template by id or by name; one that does not exist
// is bad input of the request naming it.
func (s *Console) findTemplate(ctx context.Context, ref string) (*status.Template, error) {
	ref = strings.TrimSpace(ref)
	var t *status.Template
	var err error
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil && id > 0 {
		t, err = s.store.GetTemplate(ctx, id)
	} else {
		t, err = s.store.TemplateNamed(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("template %q: no template has this name or id (GET /api/v1/templates lists them): %w", ref, store.ErrInvalid)
	}
	return t, err
}

func (s *Console) apiListTemplates(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.ListTemplates(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, list)
}

func (s *Console) apiGetTemplate(w http.ResponseWriter, r *http.Request) {
	id, err := templateID(r)
	var t *status.Template
	if err == nil {
		t, err = s.store.GetTemplate(r.Context(), id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, t)
}

func (s *Console) apiCreateTemplate(w http.ResponseWriter, r *http.Request) {
	var req TemplateRequest
	if err := decode(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	t, err := s.engine.CreateTemplate(r.Context(), actor(r), req.template())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/templates/%d", t.ID))
	apiJSON(w, http.StatusCreated, t)
}

func (s *Console) apiUpdateTemplate(w http.ResponseWriter, r *http.Request) {
	id, err := templateID(r)
	var req TemplateRequest
	if err == nil {
		err = decode(r, &req)
	}
	var t *status.Template
	if err == nil {
		t, err = s.engine.UpdateTemplate(r.Context(), actor(r), id, req.template())
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, t)
}

func (s *Console) apiDeleteTemplate(w http.ResponseWriter, r *http.Request) {
	id, err := templateID(r)
	if err == nil {
		err = s.engine.DeleteTemplate(r.Context(), actor(r), id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Console) apiSavePostmortem(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var req PostmortemRequest
	if err == nil {
		err = decode(r, &req)
	}
	var inc *status.Incident
	if err == nil {
		inc, err = s.engine.SavePostmortem(r.Context(), actor(r), id, texts(req.Bodies, req.Body, req.BodyJA))
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, inc)
}

// PublishPostmortemRequest is the (optional) body of POST
// /api/v1/incidents/{id}/postmortem/publish: notify true tells the
// subscribers of the incident's components; absent or false, nobody is
// told (they had the resolution; the feeds show the postmortem).
type PublishPostmortemRequest struct {
	Notify bool `json:"notify"`
}

func (s *Console) apiPublishPostmortem(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var req PublishPostmortemRequest
	if err == nil {
		err = decodeOptional(r, &req)
	}
	var inc *status.Incident
	if err == nil {
		inc, err = s.engine.PublishPostmortem(r.Context(), actor(r), id, req.Notify)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, inc)
}
